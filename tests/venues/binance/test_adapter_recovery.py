"""The adapter recovers from what the chaos run found: a refused user-stream subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from stanchion.model.commands import CancelOrder, SubmitOrder
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.binance.faults import Fault
from stanchion.venues.binance.adapter import BinanceAdapter, BinanceAdapterConfig, _Pending
from stanchion.venues.binance.auth import HmacSigner
from tests.venues.binance.adapter_support import Query, Sink, make_adapter, until


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=20, ping_interval_s=1, pong_timeout_s=30)) as server:
        yield server


async def test_a_subscription_refused_for_clock_skew_is_retried_after_fresh_time_samples(
    sim: BinanceSimServer,
) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=1.0)
    sink = Sink()
    try:
        await adapter.start(sink)
        assert await adapter.wait_books_live(15.0)
        # The venue's clock jumps 9 s ahead: our next signed request is outside recvWindow (-1021).
        # The first one is the resubscription after the venue ends the user stream.
        sim.inject(Fault("clock_skew", offset_ms=9_000))
        sim.inject(Fault("user_stream_drop"))
        await until(lambda: not adapter._user_subscribed.is_set(), 5.0)
        await until(adapter._user_subscribed.is_set, 10.0)
        assert adapter.stats.clock_resyncs >= 1
        assert abs(adapter.clock_offset_s() - 9.0) < 0.5
        # The user stream works again: a cancel's CANCELED only arrives over it.
        book = adapter.live_book("BTCUSDT")
        assert book is not None and book.best_bid_price() is not None
        instrument = adapter._instruments["BTCUSDT"]
        price = (book.best_bid_price() * 9 // 10) // instrument.tick * instrument.tick  # type: ignore[operator]
        qty = (instrument.min_notional // price // instrument.step + 2) * instrument.step
        cid = "t4resub00000000000001"
        adapter.submit(SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.GTC))
        await until(lambda: OrderStatus.NEW in sink.statuses(cid))
        adapter.cancel(CancelOrder("BTCUSDT", cid))
        await until(lambda: OrderStatus.CANCELED in sink.statuses(cid))
        assert sink.rejected == []
    finally:
        await adapter.stop()


async def test_a_burst_of_minus_1021_refreshes_the_clock_once_and_repeated_queries_are_not_doubled(
    sim: BinanceSimServer,
) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=1.0)
    sink = Sink()
    try:
        await adapter.start(sink)
        sim.inject(Fault("clock_skew", offset_ms=9_000))
        ids = [f"t4burst{i:014d}" for i in range(12)]
        for cid in ids:
            adapter.query(Query("BTCUSDT", cid))
        for _ in range(4):
            adapter.query(Query("BTCUSDT", ids[0]))  # asked again while the first is in flight
        assert adapter.stats.queries == len(ids)
        # Every one of the 12 is refused (-1021): one resync, not twelve, and the estimate is right.
        await until(lambda: abs(adapter.clock_offset_s() - 9.0) < 0.5, 10.0)
        await until(lambda: not adapter._queries_inflight, 10.0)
        assert adapter.stats.clock_resyncs == 1
        # Signed with the fresh offset, the same queries now reach the venue.
        for cid in ids:
            adapter.query(Query("BTCUSDT", cid))
        await until(lambda: sorted(sink.not_found) == ids, 10.0)
        assert adapter.stats.clock_resyncs == 1
    finally:
        await adapter.stop()


async def test_the_timeout_sweep_outlives_an_engine_callback_that_raises() -> None:
    """One request's timeout handling failing must not stop every later request from ever
    timing out (its order would stay SUBMITTING or CANCEL_PENDING for good)."""
    adapter = BinanceAdapter(
        BinanceAdapterConfig(name="binance", rest_url="http://127.0.0.1:1", ws_stream_url="ws://127.0.0.1:1/ws",
                             ws_api_url="ws://127.0.0.1:1/ws-api/v3", symbols=("BTCUSDT",)),
        HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET),
    )

    class Raising(Sink):
        def on_cancel_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
            if client_order_id == "first":
                raise RuntimeError("a bug downstream")
            super().on_cancel_rejected(venue, client_order_id, reason)

    sink = Raising()
    adapter._sink = sink
    adapter._pending[1] = _Pending("cancel", "first", "BTCUSDT", 0)
    adapter._pending[2] = _Pending("cancel", "second", "BTCUSDT", 0)
    sweep = asyncio.create_task(adapter._sweep_timeouts())
    try:
        await until(lambda: adapter._pending == {} and bool(sink.cancel_rejected), 5.0)
        assert [cid for cid, _ in sink.cancel_rejected] == ["second"]
        adapter._pending[3] = _Pending("cancel", "third", "BTCUSDT", 0)  # the sweep still runs
        await until(lambda: len(sink.cancel_rejected) == 2, 5.0)
    finally:
        adapter._stop.set()
        await sweep
