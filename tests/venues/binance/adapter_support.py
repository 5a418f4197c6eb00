"""What the adapter tests share: a recording engine sink, a book-state log, a query, a bounded wait."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from stanchion.book.l2 import L2Book
from stanchion.model.execution import ExecutionReport
from stanchion.model.orders import OrderStatus
from stanchion.sim.binance import BinanceSimServer
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.venues.binance.adapter import AdapterEvents, BinanceAdapter, BinanceAdapterConfig
from stanchion.venues.binance.auth import HmacSigner


@dataclass
class Sink:
    """Records everything the adapter tells the engine (satisfies ``EngineSink``)."""

    books: dict[str, int] = field(default_factory=dict)
    book_updates: int = 0
    lost: list[str] = field(default_factory=list)
    reports: list[ExecutionReport] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    cancel_rejected: list[tuple[str, str]] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    armed_fired: list[tuple[str, int | None]] = field(default_factory=list)
    armed_failed: list[tuple[str, str]] = field(default_factory=list)

    def on_book(self, key: str, book: L2Book, received_ns: int | None = None) -> None:
        self.books[key] = self.books.get(key, 0) + 1
        self.book_updates += 1

    def on_book_lost(self, key: str) -> None:
        self.lost.append(key)

    def on_execution_report(self, venue: str, report: ExecutionReport) -> None:
        self.reports.append(report)

    def on_request_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        self.rejected.append((client_order_id, reason))

    def on_request_unknown(self, venue: str, client_order_id: str, reason: str) -> None:
        self.unknown.append((client_order_id, reason))

    def on_cancel_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        self.cancel_rejected.append((client_order_id, reason))

    def on_query_not_found(self, venue: str, client_order_id: str) -> None:
        self.not_found.append(client_order_id)

    def on_armed_fired(self, venue: str, client_order_id: str, latency_ns: int | None) -> None:
        self.armed_fired.append((client_order_id, latency_ns))

    def on_armed_failed(self, venue: str, client_order_id: str, reason: str) -> None:
        self.armed_failed.append((client_order_id, reason))

    def statuses(self, cid: str) -> list[OrderStatus]:
        return [r.status for r in self.reports if r.client_order_id == cid]


class StateLog(AdapterEvents):
    """Book state changes with their monotonic time."""

    def __init__(self) -> None:
        self.book_states: list[tuple[str, str, float]] = []

    def on_book_state(self, venue: str, symbol: str, state: str) -> None:
        self.book_states.append((symbol, state, time.monotonic()))


@dataclass(frozen=True)
class Query:
    symbol: str
    client_order_id: str


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for ``condition``; ``TimeoutError`` after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling a plain predicate, bounded by the timeout
            await asyncio.sleep(0.01)


def make_adapter(
    sim: BinanceSimServer,
    *,
    name: str = "binance",
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"),
    events: AdapterEvents | None = None,
    **overrides: object,
) -> BinanceAdapter:
    """An adapter on ``sim``'s URLs with the simulator's default key; ``overrides``: config fields."""
    config = BinanceAdapterConfig(
        name=name, rest_url=sim.rest_url, ws_stream_url=sim.ws_stream_url, ws_api_url=sim.ws_api_url,
        symbols=symbols, subscribe_interval_s=0.0, **overrides,  # type: ignore[arg-type]
    )
    return BinanceAdapter(config, HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET), events=events)


@contextlib.asynccontextmanager
async def started(adapter: BinanceAdapter, live_within_s: float = 15.0) -> AsyncIterator[Sink]:
    """The adapter started on a recording sink with its books LIVE; stopped on exit."""
    sink = Sink()
    try:
        await adapter.start(sink)
        assert await adapter.wait_books_live(live_within_s)
        yield sink
    finally:
        await adapter.stop()
