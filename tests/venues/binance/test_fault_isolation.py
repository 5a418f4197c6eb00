"""Fault isolation: two simulators as two venues, one adapter each. Stalling, killing, flooding
or banning one venue leaves the other's books LIVE (and equal to its truth) and its orders
flowing — place + cancel round trips succeed on the healthy venue while the other is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from stanchion.model.commands import CancelOrder, SubmitOrder
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import RateLimitSpec
from stanchion.sim.binance.faults import Fault
from stanchion.sim.types import MarketConfig
from stanchion.venues.binance.adapter import BinanceAdapter
from tests.venues.binance.adapter_support import Query, Sink, StateLog, make_adapter, until

SYMBOLS = ("BTCUSDT", "ETHUSDT")
FAULT_WINDOW_S = 3.0


def sim_config(**overrides: object) -> SimServerConfig:
    return SimServerConfig(rate=20, ping_interval_s=0.5, pong_timeout_s=30, **overrides)  # type: ignore[arg-type]


@dataclass
class Venue:
    sim: BinanceSimServer
    adapter: BinanceAdapter
    sink: Sink
    events: StateLog


@pytest.fixture
async def venues(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Venue, Venue]]:
    """``sick`` (binance) and ``healthy`` (binance2), each on its own simulator. The sick one has a
    small weight limit and a short ban so the ban scenario can earn one."""
    sick_config = sim_config(
        rate_limits=(RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 700), RateLimitSpec("ORDERS", "SECOND", 10, 100)),
        ban_after_429=2, ban_first_s=4,
    )
    market = MarketConfig(levels_per_side=300)
    async with (
        BinanceSimServer(sick_config, market=market) as sim_a,
        BinanceSimServer(sim_config(seed=2), market=market) as sim_b,
    ):
        out = []
        for sim, name in ((sim_a, "binance"), (sim_b, "binance2")):
            events = StateLog()
            out.append(Venue(sim, make_adapter(
                sim, name=name, symbols=SYMBOLS, events=events, request_timeout_s=1.0, book_stale_after_s=1.0,
                liveness_timeout_s=1.5, snapshot_limit=500,
            ), Sink(), events))
        try:
            for venue in out:
                await venue.adapter.start(venue.sink)
                assert await venue.adapter.wait_books_live(15.0)
            yield out[0], out[1]
        finally:
            for venue in out:
                await venue.adapter.stop()


def assert_book_is_the_truth(venue: Venue, symbol: str) -> None:
    syncer = venue.adapter._session.syncer(symbol)
    book = venue.adapter.live_book(symbol)
    assert syncer is not None and book is not None
    truth = venue.sim.exchange.book_at(symbol, syncer.last_update_id)
    assert truth is not None
    assert book.bid_levels() == {p: q for p, q in truth[0].items() if q}
    assert book.ask_levels() == {p: q for p, q in truth[1].items() if q}


async def round_trip(venue: Venue, symbol: str, cid: str) -> None:
    """Place far from the touch, see it NEW, cancel it, see it CANCELED (over the user stream)."""
    adapter = venue.adapter
    book = adapter.live_book(symbol)
    assert book is not None
    bid = book.best_bid_price()
    assert bid is not None
    instrument = adapter._instruments[symbol]
    price = (bid * 9 // 10) // instrument.tick * instrument.tick
    qty = (instrument.min_notional // price // instrument.step + 2) * instrument.step
    adapter.submit(SubmitOrder(symbol, cid, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.GTC))
    await until(lambda: OrderStatus.NEW in venue.sink.statuses(cid), 2.0)
    adapter.cancel(CancelOrder(symbol, cid))
    await until(lambda: OrderStatus.CANCELED in venue.sink.statuses(cid), 2.0)


async def stall(sick: Venue) -> Callable[[], bool]:
    sick.sim.inject(Fault("stall", duration_s=FAULT_WINDOW_S + 1, answer_pings=False))
    return lambda: any(s != "live" for _, s, _ in sick.events.book_states)


async def kill(sick: Venue) -> Callable[[], bool]:
    await sick.sim.stop()  # the venue is gone: every reconnect fails
    return lambda: sick.adapter.connection_states()["market_data"] != "live" and not sick.adapter._api_live()


async def flood(sick: Venue) -> Callable[[], bool]:
    """A burst of market activity (thousands of book changes at once) plus a 429 storm."""
    before = sick.adapter.stats.md_messages
    sick.sim.inject(Fault("rate_limit_storm", count=50))
    for _ in range(10):
        sick.sim.step(300)
        await asyncio.sleep(0)
    for symbol in SYMBOLS:
        sick.adapter.query(Query(symbol, "t4flood0000000000001"))  # meets the storm
    limiter = sick.adapter._http.limiter
    assert limiter is not None
    return lambda: (sick.adapter.stats.md_messages > before + 10
                    and limiter.statistics()["rate_limited_total"] != 0)


async def ban(sick: Venue) -> Callable[[], bool]:
    """Run the sick venue's weight past its limit from the same IP: 429, then the 418 ban."""
    async with aiohttp.ClientSession() as session:
        for _ in range(40):
            async with session.get(f"{sick.sim.rest_url}/api/v3/depth", params={"symbol": "BTCUSDT",
                                                                                "limit": "500"}) as response:
                await response.read()
                if response.status == 418:
                    break
    assert sick.sim.limiter._ips["127.0.0.1"].bans == 1
    sick.adapter.query(Query("BTCUSDT", "t4banned000000000001"))  # the adapter meets the ban
    limiter = sick.adapter._http.limiter
    assert limiter is not None
    return lambda: limiter.banned


SCENARIOS = {"stall": stall, "kill": kill, "flood": flood, "ban": ban}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_a_sick_venue_leaves_the_other_live_and_trading(venues: tuple[Venue, Venue], scenario: str) -> None:
    sick, healthy = venues
    healthy_states_before = len(healthy.events.book_states)
    lost_before = list(healthy.sink.lost)
    affected = await SCENARIOS[scenario](sick)
    started = time.monotonic()
    await until(affected, FAULT_WINDOW_S)  # the fault really hit the sick venue
    n = 0
    while time.monotonic() - started < FAULT_WINDOW_S:
        n += 1
        await round_trip(healthy, SYMBOLS[n % 2], f"t4iso{scenario[:4]}{n:011d}")
        books = healthy.sink.book_updates
        await until(lambda books=books: healthy.sink.book_updates > books, 1.0)  # still flowing
        for symbol in SYMBOLS:
            assert_book_is_the_truth(healthy, symbol)
    assert n >= 2
    assert healthy.adapter.book_states() == {s: "live" for s in SYMBOLS}
    assert healthy.events.book_states[healthy_states_before:] == []  # never left LIVE
    assert healthy.sink.lost == lost_before
    assert healthy.adapter.connection_states() == {"market_data": "live", "ws_api": "live"}
