"""binance-sdk-spot 13.2.0 (official) against the simulator: configuration URLs only."""

from __future__ import annotations

import asyncio

import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_sdk_spot.rest_api.models import NewOrderSideEnum, NewOrderTimeInForceEnum, NewOrderTypeEnum
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api.models import OrderPlaceSideEnum, OrderPlaceTimeInForceEnum, OrderPlaceTypeEnum

from stanchion.sim.binance import BinanceSimServer
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

# binance-common 4.6.0 passes a float timeout to aiohttp's ws_connect, deprecated in aiohttp 3.14: theirs, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:parameter 'timeout' of type 'float' is deprecated:DeprecationWarning")


def _rest_round_trip(sim: BinanceSimServer) -> dict[str, object]:
    config = ConfigurationRestAPI(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, base_path=sim.rest_url,
                                  timeout=5000)
    rest = Spot(config_rest_api=config).rest_api
    info = rest.exchange_info(symbol="BTCUSDT").data()
    depth = rest.depth(symbol="BTCUSDT", limit=5).data()
    order = rest.new_order(symbol="BTCUSDT", side=NewOrderSideEnum["BUY"], type=NewOrderTypeEnum["LIMIT"],
                           time_in_force=NewOrderTimeInForceEnum["GTC"], quantity=0.001, price=50000.0).data()
    fetched = rest.get_order(symbol="BTCUSDT", order_id=order.order_id).data()
    canceled = rest.delete_order(symbol="BTCUSDT", order_id=order.order_id).data()
    account = rest.get_account().data()
    return {"info": info, "depth": depth, "order": order, "fetched": fetched, "canceled": canceled, "account": account}


async def test_official_sdk_rest(sim: BinanceSimServer) -> None:
    got = await asyncio.to_thread(_rest_round_trip, sim)
    assert got["info"].symbols[0].symbol == "BTCUSDT"  # type: ignore[attr-defined]
    assert got["depth"].last_update_id >= 1000 and len(got["depth"].bids) == 5  # type: ignore[attr-defined]
    assert got["order"].status == "NEW" and got["fetched"].status == "NEW"  # type: ignore[attr-defined]
    assert got["canceled"].status == "CANCELED"  # type: ignore[attr-defined]
    balances = {b.asset: b.free for b in got["account"].balances}  # type: ignore[attr-defined]
    assert balances["BTC"] == "10.00000000"


async def test_official_sdk_depth_stream_and_user_data(sim: BinanceSimServer) -> None:
    client = Spot(
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=sim.ws_base_url),
        config_ws_api=ConfigurationWebSocketAPI(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                                                stream_url=sim.ws_api_url),
    )
    streams = await client.websocket_streams.create_connection()
    diffs: asyncio.Queue[object] = asyncio.Queue()
    try:
        handle = await streams.diff_book_depth(symbol="btcusdt", update_speed="100ms")
        handle.on("message", diffs.put_nowait)
        first = await asyncio.wait_for(diffs.get(), 5)
        second = await asyncio.wait_for(diffs.get(), 5)
        assert first.u + 1 == second.U  # type: ignore[attr-defined]
    finally:
        await streams.close_connection()
    api = await client.websocket_api.create_connection()
    events: asyncio.Queue[object] = asyncio.Queue()
    try:
        assert (await api.time()).data().result.server_time > 0
        subscription = await api.user_data_stream_subscribe_signature()
        subscription.stream.on("message", events.put_nowait)
        placed = (await api.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum["BUY"], type=OrderPlaceTypeEnum["LIMIT"],
                                        time_in_force=OrderPlaceTimeInForceEnum["GTC"], quantity=0.001,
                                        price=50000.0)).data()
        assert placed.status == 200 and placed.result.status == "NEW"
        event = await asyncio.wait_for(events.get(), 5)
        report = event.actual_instance  # type: ignore[attr-defined]
        assert report.x == "NEW" and report.i == placed.result.order_id
    finally:
        await api.close_connection()
