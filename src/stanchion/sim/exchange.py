"""The simulated Binance Spot exchange: pure core (no I/O, no asyncio, no wall clock).

Time comes from the injected :class:`~stanchion.core.clock.Clock`, randomness
from a seeded :class:`random.Random`. The server (``sim/binance``) parses the
wire into :class:`OrderRequest` / ints at scale 8, calls these methods and
renders Binance JSON from the returned views and drained events.
"""

from __future__ import annotations

from collections.abc import Sequence

from stanchion.core.clock import Clock
from stanchion.sim.filters import SymbolSpec
from stanchion.sim.types import (
    Accepted,
    AccountSpec,
    AccountUpdate,
    AvgPrice,
    BalanceUpdate,
    BalanceView,
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    ExecutionEvent,
    FillView,
    MarketConfig,
    OrderRequest,
    OrderView,
    PublicTrade,
    Rejected,
    SimEvent,
    Trade,
)

__all__ = [
    "Accepted",
    "AccountSpec",
    "AccountUpdate",
    "AvgPrice",
    "BalanceUpdate",
    "BalanceView",
    "BookTicker",
    "DepthDiff",
    "DepthSnapshot",
    "ExecutionEvent",
    "FillView",
    "MarketConfig",
    "OrderRequest",
    "OrderView",
    "PublicTrade",
    "Rejected",
    "SimEvent",
    "SimExchange",
    "SymbolSpec",
    "Trade",
]


class SimExchange:
    """All symbols and accounts of one simulated venue.

    ``market=None`` disables the synthetic market: books hold only user orders
    and ``step()`` only flushes pending depth diffs.
    """

    def __init__(
        self,
        symbols: Sequence[SymbolSpec],
        accounts: Sequence[AccountSpec],
        clock: Clock,
        seed: int = 0,
        market: MarketConfig | None = None,
        truth_window: int = 10_000,
    ) -> None:
        raise NotImplementedError

    # ---- reference data ---------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        raise NotImplementedError

    def spec(self, symbol: str) -> SymbolSpec | None:
        """The symbol's spec, or None when unknown."""
        raise NotImplementedError

    def exchange_info_symbols(self) -> list[dict[str, object]]:
        """exchangeInfo ``symbols`` array (``SymbolSpec.exchange_info_json`` per symbol)."""
        raise NotImplementedError

    @property
    def accounts(self) -> tuple[str, ...]:
        raise NotImplementedError

    def server_time_ms(self) -> int:
        raise NotImplementedError

    # ---- orders -------------------------------------------------------------
    def place_order(self, account: str, req: OrderRequest) -> Accepted | Rejected:
        """Validate, match, rest. Rejections are ``Rejected(code, msg)`` with Binance's text."""
        raise NotImplementedError

    def test_order(self, account: str, req: OrderRequest) -> Rejected | None:
        """POST /api/v3/order/test: validate only (None = would be accepted)."""
        raise NotImplementedError

    def cancel_order(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
        new_client_order_id: str | None = None,
    ) -> Accepted | Rejected:
        """Cancel one open order. The view's ``client_order_id`` is the cancel's id and
        ``orig_client_order_id`` the order's. Unknown → -2011 "Unknown order sent."."""
        raise NotImplementedError

    def cancel_open_orders(self, account: str, symbol: str) -> list[OrderView] | Rejected:
        """DELETE /api/v3/openOrders. No open order → -2011 "Unknown order sent."."""
        raise NotImplementedError

    def get_order(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> OrderView | Rejected:
        """Unknown → Rejected(-2013, "Order does not exist.")."""
        raise NotImplementedError

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderView] | Rejected:
        raise NotImplementedError

    def all_orders(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[OrderView] | Rejected:
        raise NotImplementedError

    def my_trades(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[FillView] | Rejected:
        raise NotImplementedError

    def balances(self, account: str) -> list[BalanceView] | Rejected:
        raise NotImplementedError

    def deposit(self, account: str, asset: str, amount: int) -> BalanceUpdate | Rejected:
        """Credit (or, negative, debit free) balance; emits a BalanceUpdate event."""
        raise NotImplementedError

    def fee_bps(self, account: str) -> tuple[int, int] | Rejected:
        """(maker, taker) commission in basis points."""
        raise NotImplementedError

    # ---- market data ---------------------------------------------------------
    def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot | Rejected:
        raise NotImplementedError

    def book_ticker(self, symbol: str) -> BookTicker | Rejected:
        raise NotImplementedError

    def recent_trades(self, symbol: str, limit: int = 500) -> list[PublicTrade] | Rejected:
        raise NotImplementedError

    def avg_price(self, symbol: str) -> AvgPrice | Rejected:
        raise NotImplementedError

    def current_update_id(self, symbol: str) -> int:
        raise NotImplementedError

    # ---- time steps and events ------------------------------------------------
    def step(self) -> None:
        """One market tick for every symbol; each symbol then emits one DepthDiff."""
        raise NotImplementedError

    def step_symbol(self, symbol: str) -> None:
        raise NotImplementedError

    def flush_depth(self, symbol: str | None = None) -> None:
        """Emit pending book changes (e.g. user orders between steps) as DepthDiffs now."""
        raise NotImplementedError

    def drain_events(self) -> list[SimEvent]:
        """Every event since the last drain, in order."""
        raise NotImplementedError

    # ---- truth -------------------------------------------------------------------
    def book_at(
        self, symbol: str, update_id: int
    ) -> tuple[dict[int, int], dict[int, int]] | None:
        """(bids, asks) {price: qty} exactly as after ``update_id``; None outside the window."""
        raise NotImplementedError

    def book_now(self, symbol: str) -> tuple[int, dict[int, int], dict[int, int]]:
        """(update id, bids, asks) of the full current book."""
        raise NotImplementedError
