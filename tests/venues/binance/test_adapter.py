"""The Binance adapter against the simulator on loopback: books, orders, unknown outcomes, stalls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from stanchion.model.commands import CancelOrder, SubmitOrder
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.binance.faults import Fault
from stanchion.venues.binance.adapter import BinanceAdapter, BinanceAdapterConfig
from stanchion.venues.binance.auth import HmacSigner
from tests.venues.binance.adapter_support import Query, Sink, StateLog, make_adapter, started, until


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=50, ping_interval_s=1, pong_timeout_s=30)) as server:
        yield server


@pytest.fixture
async def connected(sim: BinanceSimServer) -> AsyncIterator[tuple[BinanceAdapter, Sink]]:
    adapter = make_adapter(sim, request_timeout_s=1.0)
    async with started(adapter) as sink:
        yield adapter, sink


def far_bid(adapter: BinanceAdapter, symbol: str) -> int:
    book = adapter.live_book(symbol)
    assert book is not None
    bid = book.best_bid_price()
    assert bid is not None
    tick = adapter._instruments[symbol].tick
    return (bid * 9 // 10) // tick * tick


def min_qty(adapter: BinanceAdapter, symbol: str, price: int) -> int:
    instrument = adapter._instruments[symbol]
    return (instrument.min_notional // price // instrument.step + 2) * instrument.step


async def test_books_go_live_and_equal_the_truth(connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer) -> None:
    adapter, sink = connected
    await until(lambda: all(sink.books.get(f"binance:{s}", 0) > 5 for s in ("BTCUSDT", "ETHUSDT")))
    for symbol in ("BTCUSDT", "ETHUSDT"):
        syncer = adapter._session.syncer(symbol)
        book = adapter.live_book(symbol)
        assert syncer is not None and book is not None
        truth = sim.exchange.book_at(symbol, syncer.last_update_id)
        assert truth is not None
        assert book.bid_levels() == {p: q for p, q in truth[0].items() if q}
        assert book.ask_levels() == {p: q for p, q in truth[1].items() if q}
    assert adapter.connection_states() == {"market_data": "live", "ws_api": "live"}
    assert 0 < adapter.rate_limit_usage() < 1


async def test_order_round_trip_over_the_ws_api(connected: tuple[BinanceAdapter, Sink]) -> None:
    adapter, sink = connected
    cid = "t1roundtrip0000000001"
    price = far_bid(adapter, "BTCUSDT")
    adapter.submit(SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, min_qty(adapter, "BTCUSDT", price), price,
                               TimeInForce.GTC))
    await until(lambda: OrderStatus.NEW in sink.statuses(cid))
    assert adapter.stats.orders_sent_ws == 1
    adapter.cancel(CancelOrder("BTCUSDT", cid))
    await until(lambda: OrderStatus.CANCELED in sink.statuses(cid))
    assert sink.rejected == [] and sink.unknown == []


async def test_a_rejected_order_is_reported_with_its_reason(connected: tuple[BinanceAdapter, Sink]) -> None:
    adapter, sink = connected
    cid = "t1reject0000000000001"
    step = adapter._instruments["BTCUSDT"].step
    # Far below min notional: the venue refuses it (filter failure).
    adapter.submit(SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, step, adapter._instruments["BTCUSDT"].tick,
                               TimeInForce.GTC))
    await until(lambda: bool(sink.rejected))
    assert sink.rejected[0][0] == cid
    assert "Filter failure" in sink.rejected[0][1] or "NOTIONAL" in sink.rejected[0][1]
    assert sink.unknown == []


async def test_timeout_after_accept_is_unknown_then_resolved_by_query(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    sim.inject(Fault("timeout_after_accept", count=1, hold_s=3.0))
    cid = "t1timeout000000000001"
    price = far_bid(adapter, "BTCUSDT")
    adapter.submit(SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, min_qty(adapter, "BTCUSDT", price), price,
                               TimeInForce.GTC))
    await until(lambda: bool(sink.unknown), timeout_s=10)
    assert sink.unknown[0][0] == cid
    # Resolve by query (what the engine does): the venue has the order, exactly once.
    await until(adapter._api_live, timeout_s=10)


    adapter.query(Query("BTCUSDT", cid))
    await until(lambda: OrderStatus.NEW in sink.statuses(cid))
    truth = sim.exchange.account_truth("default")
    assert sum(1 for o in truth.orders if o.client_order_id == cid) == 1  # type: ignore[union-attr]


async def test_unknown_order_query_says_not_found(connected: tuple[BinanceAdapter, Sink]) -> None:
    adapter, sink = connected


    adapter.query(Query("BTCUSDT", "t1never00000000000001"))
    await until(lambda: sink.not_found == ["t1never00000000000001"])


async def test_malformed_frame_is_counted_and_books_stay_in_sync(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    sim.inject(Fault("malformed_frame"))
    await until(lambda: adapter.stats.malformed_frames >= 1)
    before = dict(sink.books)
    await until(lambda: all(sink.books[k] > before[k] + 3 for k in before))


async def test_gap_resyncs_one_symbol_only(connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer) -> None:
    adapter, sink = connected
    sim.inject(Fault("skip_diff", symbol="ETHUSDT", count=1))
    await until(lambda: "binance:ETHUSDT" in sink.lost)
    assert "binance:BTCUSDT" not in sink.lost
    await until(lambda: adapter.book_states()["ETHUSDT"] == "live")


async def test_silent_stall_goes_stale_within_threshold_plus_one_second(sim: BinanceSimServer) -> None:
    events = StateLog()
    adapter = make_adapter(sim, events=events, book_stale_after_s=1.0)
    sink = Sink()
    try:
        await adapter.start(sink)
        assert await adapter.wait_books_live(15.0)
        stalled_at = time.monotonic()
        sim.inject(Fault("stall", duration_s=4.0, answer_pings=True))
        await until(lambda: any(s == "stale" for _, s, _ in events.book_states), timeout_s=2.0)
        first_stale = min(t for _, s, t in events.book_states if s == "stale")
        # Data stops at most one message interval after the fault: threshold 1 s, + 1 s allowed.
        assert first_stale - stalled_at <= 2.0
        assert await adapter.wait_books_live(15.0)  # back to LIVE once the stall ends
    finally:
        await adapter.stop()


async def test_quiet_symbol_is_not_declared_dead(sim: BinanceSimServer) -> None:
    """A symbol with no book changes while the other flows is STALE only past its threshold,
    and the connection is not reconnected for it."""
    events = StateLog()
    adapter = make_adapter(sim, events=events, book_stale_after_s=30.0)
    sink = Sink()
    try:
        await adapter.start(sink)
        assert await adapter.wait_books_live(15.0)
        sim.inject(Fault("symbol_outage", symbol="ETHUSDT", duration_s=2.0))
        await asyncio.sleep(0)  # let the fault take effect
        before = adapter.statistics()["market_data"]
        await until(lambda: sink.books.get("binance:BTCUSDT", 0) > 50, timeout_s=10.0)
        assert not any(s == "stale" for _, s, _ in events.book_states)
        after = adapter.statistics()["market_data"]
        assert after["reconnects"] == before["reconnects"]  # type: ignore[index]
    finally:
        await adapter.stop()


def test_a_cancel_answer_reports_the_order_canceled_without_the_user_stream() -> None:
    """If the stream's CANCELED event is lost, the cancel's own answer still closes the order."""
    from stanchion.venues.binance.adapter import _Pending
    from stanchion.venues.binance.codec import decode_ws_api_response

    adapter = BinanceAdapter(
        BinanceAdapterConfig(name="binance", rest_url="http://127.0.0.1:1", ws_stream_url="ws://127.0.0.1:1/ws",
                             ws_api_url="ws://127.0.0.1:1/ws-api/v3", symbols=("BTCUSDT",)),
        HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET),
    )
    sink = Sink()
    adapter._sink = sink
    adapter._pending[7] = _Pending("cancel", "S01abc", "BTCUSDT", 0)
    frame = (
        b'{"id":7,"status":200,"result":{"symbol":"BTCUSDT","origClientOrderId":"S01abc","orderId":12,'
        b'"orderListId":-1,"clientOrderId":"cxl1","transactTime":1700000000000,"price":"50000.00000000",'
        b'"origQty":"0.01000000","executedQty":"0.00400000","cummulativeQuoteQty":"200.00000000",'
        b'"status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"},'
        b'"rateLimits":[]}'
    )
    adapter._on_api_response(decode_ws_api_response(frame))
    assert [(r.client_order_id, r.status, r.cumulative_qty, r.venue_order_id) for r in sink.reports] == [
        ("S01abc", OrderStatus.CANCELED, 400_000, 12)
    ]
    assert adapter._pending == {}
