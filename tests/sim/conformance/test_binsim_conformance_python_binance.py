"""python-binance 1.0.37 against the simulator: class URL attributes overridden, nothing else."""

from __future__ import annotations

import asyncio
import warnings

import pytest

# python-binance 1.0.37 imports websockets' legacy client API, deprecated in websockets >= 14: the
# warning is theirs, not ours, so it is silenced for that import and these tests only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from binance import AsyncClient, BinanceSocketManager, Client
    from binance.ws.reconnecting_websocket import ReconnectingWebsocket

pytestmark = pytest.mark.filterwarnings("ignore:websockets.*:DeprecationWarning")

from stanchion.sim.binance import BinanceSimServer  # noqa: E402
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET  # noqa: E402


def _rest_round_trip(sim: BinanceSimServer) -> dict[str, object]:
    class LocalClient(Client):
        API_URL = sim.rest_url + "/api"
        MARGIN_API_URL = sim.rest_url + "/sapi"
        WS_API_URL = sim.ws_api_url

    loop = asyncio.new_event_loop()  # the sync client takes this thread's loop for its WS API; closed below
    asyncio.set_event_loop(loop)
    client = LocalClient(DEFAULT_API_KEY, DEFAULT_API_SECRET)  # pings /api/v3/ping on construction
    try:
        info = client.get_symbol_info("BTCUSDT")
        book = client.get_order_book(symbol="BTCUSDT", limit=5)
        order = client.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                                    quantity="0.001", price="50000")
        fetched = client.get_order(symbol="BTCUSDT", orderId=order["orderId"])
        canceled = client.cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
        balance = client.get_asset_balance(asset="USDT")
    finally:
        client.close_connection()
        asyncio.set_event_loop(None)
        loop.close()
    return {"info": info, "book": book, "order": order, "fetched": fetched, "canceled": canceled, "balance": balance}


async def test_python_binance_rest(sim: BinanceSimServer) -> None:
    got = await asyncio.to_thread(_rest_round_trip, sim)
    assert got["info"]["symbol"] == "BTCUSDT"  # type: ignore[index]
    assert len(got["book"]["asks"]) == 5  # type: ignore[index]
    assert got["order"]["status"] == "NEW" and got["fetched"]["status"] == "NEW"  # type: ignore[index]
    assert got["canceled"]["status"] == "CANCELED"  # type: ignore[index]
    assert got["balance"] == {"asset": "USDT", "free": "1000000.00000000", "locked": "0.00000000"}


async def test_python_binance_depth_socket_and_user_socket(sim: BinanceSimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ReconnectingWebsocket, "TIMEOUT", 1)  # tooling.md §6: otherwise leaving a socket takes 10 s

    class LocalAsyncClient(AsyncClient):
        API_URL = sim.rest_url + "/api"
        MARGIN_API_URL = sim.rest_url + "/sapi"
        WS_API_URL = sim.ws_api_url

    client = await LocalAsyncClient.create(DEFAULT_API_KEY, DEFAULT_API_SECRET)
    try:
        manager = BinanceSocketManager(client)
        manager.STREAM_URL = sim.ws_base_url + "/"
        async with manager.depth_socket("BTCUSDT") as socket:
            first = await asyncio.wait_for(socket.recv(), 5)
            second = await asyncio.wait_for(socket.recv(), 5)
        assert first["e"] == "depthUpdate" and second["U"] == first["u"] + 1
        async with manager.user_socket() as user:
            async with asyncio.timeout(5):
                while not (sim.hub.user_sessions or any(c.kind == "listenKey" for c in sim.hub.connections.values())):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            order = await client.create_order(symbol="ETHUSDT", side="SELL", type="LIMIT", timeInForce="GTC",
                                              quantity="0.01", price="5000")
            event = await asyncio.wait_for(user.recv(), 5)
        assert event["e"] == "executionReport" and event["i"] == order["orderId"] and event["x"] == "NEW"
    finally:
        await client.close_connection()
