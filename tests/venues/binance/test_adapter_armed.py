"""Armed orders at the Binance adapter, end to end against the simulator: signed ahead, written
by the depth frame that shows their condition (before the book is updated), held while no order
could be sent, re-signed so a late one is still inside ``recvWindow``, withdrawn for good."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from stanchion.model.commands import SubmitOrder
from stanchion.model.instrument import Instrument
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.types import OrderView, Rejected
from stanchion.transport.state import ConnectionState
from stanchion.venues.binance.adapter import BinanceAdapter, BinanceAdapterConfig
from stanchion.venues.binance.auth import HmacSigner
from tests.venues.binance.adapter_support import make_adapter, started, until


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=50, ping_interval_s=1, pong_timeout_s=30)) as server:
        yield server


def _orders(sim: BinanceSimServer) -> dict[str, list[OrderView]]:
    """Every order the venue holds for the account (any status), by client order id."""
    truth = sim.exchange.account_truth("default")
    assert not isinstance(truth, Rejected)
    seen: dict[str, list[OrderView]] = {}
    for order in truth.orders:
        seen.setdefault(order.client_order_id, []).append(order)
    return seen


def _touch(adapter: BinanceAdapter) -> tuple[int, int, int]:
    """(best bid, best ask, a quantity just over the minimum notional at the ask)."""
    book = adapter.live_book("BTCUSDT")
    assert book is not None
    bid, ask = book.best_bid_price(), book.best_ask_price()
    assert bid is not None and ask is not None
    instrument = adapter._instruments["BTCUSDT"]
    return bid, ask, (instrument.min_notional // ask // instrument.step + 2) * instrument.step


def _low(adapter: BinanceAdapter, ask: int) -> tuple[int, int]:
    """A buy price half the ask (on the tick grid: nothing will offer that low) and a quantity
    that passes the notional filter there."""
    instrument = adapter._instruments["BTCUSDT"]
    price = (ask // 2) // instrument.tick * instrument.tick
    return price, (instrument.min_notional // price // instrument.step + 2) * instrument.step


def _buy(cid: str, qty: int, price: int) -> SubmitOrder:
    return SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.IOC)


def _frame_timestamp(frame: bytes) -> int:
    return int(msgspec.json.decode(frame)["params"]["timestamp"])


async def test_an_armed_buy_goes_out_on_the_first_frame_with_an_ask_at_its_trigger(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        _bid, ask, qty = _touch(adapter)
        tick = adapter._instruments["BTCUSDT"].tick
        trigger = (ask + ask // 100) // tick * tick  # every ask level near the touch is at or below it
        assert adapter.arm(_buy("t9arm0000000000000001", qty, trigger), trigger) is None
        assert adapter.armed_count() == 1 and "t9arm0000000000000001" not in _orders(sim)
        await until(lambda: bool(sink.armed_fired))
        assert [cid for cid, _ in sink.armed_fired] == ["t9arm0000000000000001"]
        assert sink.armed_fired[0][1] > 0  # the frame's latency, written before the book was updated
        await until(lambda: any(s in sink.statuses("t9arm0000000000000001")
                                for s in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED)))
        assert len(_orders(sim)["t9arm0000000000000001"]) == 1  # one order, never a second
        assert adapter.armed_count() == 0 and adapter.stats.armed_fired == 1
        assert sink.rejected == sink.unknown == sink.armed_failed == []


async def test_an_armed_sell_waits_for_a_bid_at_or_above_its_trigger(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        bid, _ask, qty = _touch(adapter)
        far = bid * 2  # no bid will reach it
        command = SubmitOrder("BTCUSDT", "t9arm0000000000000002", Side.SELL, OrderType.LIMIT, qty, far,
                              TimeInForce.IOC)
        assert adapter.arm(command, far) is None
        frames = adapter.stats.md_messages
        await until(lambda: adapter.stats.md_messages >= frames + 10)
        assert sink.armed_fired == [] and adapter.armed_count() == 1
        assert adapter.disarm("t9arm0000000000000002") is True
        assert adapter.disarm("t9arm0000000000000002") is False  # once
        assert adapter.armed_count() == 0 and "t9arm0000000000000002" not in _orders(sim)


async def test_disarmed_orders_never_leave_and_give_their_rate_limit_charge_back(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter):
        await until(adapter._api_live)
        _bid, ask, _qty = _touch(adapter)
        before = adapter.rate_limiter.statistics()
        low, qty = _low(adapter, ask)
        assert adapter.arm(_buy("t9arm0000000000000003", qty, low), low) is None
        charged = adapter.rate_limiter.statistics()
        assert charged != before
        assert adapter.disarm("t9arm0000000000000003")
        assert adapter.rate_limiter.statistics() == before
        frames = adapter.stats.md_messages
        await until(lambda: adapter.stats.md_messages >= frames + 5)
        assert "t9arm0000000000000003" not in _orders(sim)


async def test_an_order_the_filters_refuse_is_not_armed(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter):
        await until(adapter._api_live)
        _bid, ask, qty = _touch(adapter)
        tick = adapter._instruments["BTCUSDT"].tick
        refused = adapter.arm(_buy("t9arm0000000000000004", qty, ask + tick // 2), ask)  # off the tick grid
        assert refused is not None and "tick" in refused.lower()
        assert adapter.arm(_buy("t9arm0000000000000005", qty, ask), 0) is not None  # no trigger
        assert adapter.arm(SubmitOrder("ETHUSDT", "t9arm0000000000000006", Side.BUY, OrderType.LIMIT, qty, ask,
                                       TimeInForce.IOC), ask) == "unknown symbol ETHUSDT"
        assert adapter.armed_count() == 0


async def test_armed_orders_are_held_while_the_websocket_api_is_down(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        _bid, ask, _qty = _touch(adapter)
        low, qty = _low(adapter, ask)
        assert adapter.arm(_buy("t9arm0000000000000007", qty, low), low) is None
        assert adapter._api is not None
        adapter._on_api_state(ConnectionState.DISCONNECTED)  # what the transport reports on a drop
        assert adapter._reflex.paused
        syncer = adapter._session.syncer("BTCUSDT")
        assert syncer is not None
        u = syncer.last_update_id + 1
        crossing = (f'{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{u},"u":{u},"b":[],'
                    f'"a":[["{low // 10**8}.{low % 10**8:08d}","1.00000000"]]}}').encode()
        assert adapter._reflex.match(crossing) is None  # held: nothing fires
        assert sink.armed_fired == [] and adapter.armed_count() == 1
        assert adapter.disarm("t9arm0000000000000007")


async def test_armed_orders_are_held_during_a_429_pause_and_released_after_it(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter):
        await until(adapter._api_live)
        _bid, ask, _qty = _touch(adapter)
        low, qty = _low(adapter, ask)
        assert adapter.arm(_buy("t9arm000000000000000a", qty, low), low) is None
        assert not adapter._reflex.paused
        adapter.rate_limiter.on_rate_limited(429, 0.3)  # what a 429's Retry-After does
        assert adapter._reflex.paused
        await until(lambda: not adapter._reflex.paused, 5.0)
        assert adapter.rate_limiter.blocked_for_s == 0
        assert adapter.disarm("t9arm000000000000000a")


async def test_a_frame_resigned_after_arming_is_accepted_and_carries_a_fresh_timestamp(
    sim: BinanceSimServer,
) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0, armed_resign_s=0.05)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        _bid, ask, qty = _touch(adapter)
        low = (ask // 2) // adapter._instruments["BTCUSDT"].tick * adapter._instruments["BTCUSDT"].tick
        instrument = adapter._instruments["BTCUSDT"]
        qty = (instrument.min_notional // low // instrument.step + 2) * instrument.step  # the notional filter
        assert adapter.arm(_buy("t9arm0000000000000008", qty, low), low) is None
        armed = adapter._armed["t9arm0000000000000008"]
        first = _frame_timestamp(armed.frame)
        await until(lambda: _frame_timestamp(armed.frame) >= first + 100)  # re-signed, later
        assert b'"newClientOrderId":"t9arm0000000000000008"' in armed.frame
        # A frame whose ask reaches the trigger, in sequence with the LIVE book: it fires.
        syncer = adapter._session.syncer("BTCUSDT")
        assert syncer is not None
        u = syncer.last_update_id + 1
        price = f"{low // 10**8}.{low % 10**8:08d}"
        crossing = f'{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{u},"u":{u},"b":[],"a":[["{price}","1.0"]]}}'
        adapter._on_md_message(crossing.encode())
        assert [cid for cid, _ in sink.armed_fired] == ["t9arm0000000000000008"]
        # The venue accepted the re-signed frame (an IOC far under the market: it expires unfilled).
        await until(lambda: OrderStatus.EXPIRED in sink.statuses("t9arm0000000000000008") or bool(sink.rejected))
        assert sink.rejected == [] and len(_orders(sim)["t9arm0000000000000008"]) == 1


async def test_a_frame_out_of_sequence_fires_nothing(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        _bid, ask, qty = _touch(adapter)
        low = (ask // 2) // adapter._instruments["BTCUSDT"].tick * adapter._instruments["BTCUSDT"].tick
        assert adapter.arm(_buy("t9arm0000000000000009", qty, low), low) is None
        syncer = adapter._session.syncer("BTCUSDT")
        assert syncer is not None
        gap = syncer.last_update_id + 5  # a gap: the book resyncs, nothing is sent on it
        price = f"{low // 10**8}.{low % 10**8:08d}"
        frame = f'{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{gap},"u":{gap},"b":[],"a":[["{price}","1.0"]]}}'
        adapter._on_md_message(frame.encode())
        assert sink.armed_fired == [] and adapter.armed_count() == 1
        assert adapter.disarm("t9arm0000000000000009")


def test_a_combined_stream_endpoint_cannot_carry_armed_orders() -> None:
    adapter = BinanceAdapter(
        BinanceAdapterConfig(name="binance", rest_url="http://127.0.0.1:1",
                             ws_stream_url="ws://127.0.0.1:1/stream?streams=btcusdt@depth@100ms",
                             ws_api_url="ws://127.0.0.1:1/ws-api/v3", symbols=("BTCUSDT",)),
        HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET),
    )
    adapter._instruments["BTCUSDT"] = Instrument(
        "binance", "BTCUSDT", "BTC", "USDT", 8, 8, tick=10**6, step=10**3, min_qty=10**3, max_qty=10**12,
        min_notional=5 * 10**16,
    )
    refused = adapter.arm(_buy("t9arm000000000000000b", 10**6, 60_000 * 10**8), 60_000 * 10**8)
    assert refused is not None and "/stream" in refused and adapter.armed_count() == 0


async def test_fire_armed_sends_now_unless_orders_are_held(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        await until(adapter._api_live)
        _bid, ask, _qty = _touch(adapter)
        instrument = adapter._instruments["BTCUSDT"]
        low = (ask // 2) // instrument.tick * instrument.tick
        qty = (instrument.min_notional // low // instrument.step + 2) * instrument.step
        assert adapter.arm(_buy("t9arm000000000000000c", qty, low), low) is None
        adapter._reflex.paused = True
        assert adapter.fire_armed("t9arm000000000000000c") is False and adapter.armed_count() == 1
        adapter._update_hold()
        assert adapter.fire_armed("t9arm000000000000000c") is True
        assert sink.armed_fired == [("t9arm000000000000000c", None)]  # no frame fired it: no latency
        assert adapter.fire_armed("t9arm000000000000000c") is False  # once
        await until(lambda: OrderStatus.EXPIRED in sink.statuses("t9arm000000000000000c") or bool(sink.rejected))
        assert sink.rejected == [] and len(_orders(sim)["t9arm000000000000000c"]) == 1
