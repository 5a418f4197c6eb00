"""The interfaces the engine sees of a venue: market data, execution, instruments.

Protocols only (no I/O here): each venue's ``adapter.py`` implements them over
its pure codec/session and the shared transport; the simulator and the replay
implement them too, so the engine runs unchanged live, paper and backtest.

Conventions every implementation keeps:

* prices and quantities are ints at the instrument's scales;
* a book is visible only while it is in sync (``book()`` returns None otherwise);
* market events and execution reports are delivered through the handlers given
  at ``start``; execution reports are never dropped, market data may be (and
  the affected book then resyncs);
* ``submit``/``cancel``/``replace`` return once the request is *sent*; the
  outcome arrives as an :class:`~stanchion.model.execution.ExecutionReport`.
  A request whose outcome is unknown raises
  :class:`~stanchion.core.errors.OrderOutcomeUnknownError` (resolve by
  :meth:`ExecutionPort.query_order`, never by resending).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport
from stanchion.model.instrument import Instrument
from stanchion.model.market import BestBidAsk, BookDelta, BookSnapshot, Level, TradeTick


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What the venue says about the account right now (reconciliation's input)."""

    balances: Mapping[str, int]
    """Total (free + locked) per asset, at quantity scale."""
    open_orders: Mapping[str, ExecutionReport]
    """By client order id."""


MarketEvent = BookDelta | BookSnapshot | BestBidAsk | TradeTick
MarketEventHandler = Callable[[MarketEvent], None]
ExecutionHandler = Callable[[ExecutionReport], None]


@runtime_checkable
class BookView(Protocol):
    """Read-only view of an in-sync L2 book (``stanchion.book.l2.L2Book`` satisfies it)."""

    symbol: str

    def best_bid(self) -> Level | None: ...

    def best_ask(self) -> Level | None: ...

    def top(self, depth: int) -> tuple[list[Level], list[Level]]: ...

    def is_crossed(self) -> bool: ...


@runtime_checkable
class InstrumentPort(Protocol):
    async def load_instruments(self) -> Mapping[str, Instrument]:
        """Fetch the venue's trading rules (Binance: exchangeInfo)."""
        ...

    def instrument(self, symbol: str) -> Instrument | None: ...


@runtime_checkable
class MarketDataPort(Protocol):
    venue: str

    async def start(self, on_event: MarketEventHandler) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe_books(self, symbols: Sequence[str]) -> None: ...

    async def unsubscribe_books(self, symbols: Sequence[str]) -> None: ...

    async def subscribe_trades(self, symbols: Sequence[str]) -> None: ...

    def book(self, symbol: str) -> BookView | None:
        """The symbol's book if it is LIVE (in sync and fresh), else None."""
        ...


@runtime_checkable
class ExecutionPort(Protocol):
    venue: str

    async def start(self, on_report: ExecutionHandler) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, command: SubmitOrder) -> None: ...

    async def cancel(self, command: CancelOrder) -> None: ...

    async def replace(self, command: ReplaceOrder) -> None: ...

    async def query_order(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        """The venue's current view of one order (None: the venue does not know it)."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[ExecutionReport]: ...
