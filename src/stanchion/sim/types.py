"""Value types of the simulated exchange: requests, results, views and events.

Every price and quantity is an ``int`` at scale 8 (Binance prints 8 decimals);
every time is Unix milliseconds read from the injected clock. These objects are
immutable snapshots: the server renders Binance JSON from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

SCALE: Final = 8
ONE: Final = 10**SCALE

BUY: Final = "BUY"
SELL: Final = "SELL"

# Order types / time in force / STP modes supported by the matching engine.
LIMIT: Final = "LIMIT"
MARKET: Final = "MARKET"
LIMIT_MAKER: Final = "LIMIT_MAKER"
ORDER_TYPES: Final = (LIMIT, LIMIT_MAKER, MARKET)
GTC: Final = "GTC"
IOC: Final = "IOC"
FOK: Final = "FOK"
TIME_IN_FORCES: Final = (GTC, IOC, FOK)
STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
UNSUPPORTED_STP_MODES: Final = ("DECREMENT", "TRANSFER")
"""Binance modes this simulator does not offer (absent from allowedSelfTradePreventionModes)."""
DEFAULT_STP_MODE: Final = "EXPIRE_MAKER"

# Order status (X) and execution type (x).
NEW: Final = "NEW"
PARTIALLY_FILLED: Final = "PARTIALLY_FILLED"
FILLED: Final = "FILLED"
CANCELED: Final = "CANCELED"
REJECTED: Final = "REJECTED"
EXPIRED: Final = "EXPIRED"
EXPIRED_IN_MATCH: Final = "EXPIRED_IN_MATCH"
TRADE: Final = "TRADE"
TRADE_PREVENTION: Final = "TRADE_PREVENTION"
OPEN_STATUSES: Final = frozenset({NEW, PARTIALLY_FILLED})
CANCEL_RESTRICTIONS: Final = {"ONLY_NEW": NEW, "ONLY_PARTIALLY_FILLED": PARTIALLY_FILLED}
"""``cancelRestrictions`` value → the status an order must have for the cancel to go through."""


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """A user account. API keys are the server's business; the core knows names."""

    name: str
    balances: dict[str, int] = field(default_factory=dict)
    maker_fee_bps: int = 10
    taker_fee_bps: int = 10


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """The synthetic market: a seeded fair-price walk and agents around it."""

    levels_per_side: int = 5000
    changes_per_step_min: int = 10
    changes_per_step_max: int = 30
    volatility_ticks: float = 1.0
    """Standard deviation of the fair price's move per step, in ticks."""
    taker_probability: float = 0.03
    """Chance, per change, that the change is a synthetic market order."""
    mean_level_qty_steps: int = 1000
    """Mean resting quantity of a synthetic level, in LOT_SIZE steps."""
    near_touch_levels: int = 40
    """Most synthetic adds/cancels land within this many ticks of the touch."""
    seed: int | None = None
    """None: derived from the exchange's seed."""

    def __post_init__(self) -> None:
        if self.levels_per_side < 1:
            raise ValueError("levels_per_side must be at least 1")
        if not 1 <= self.changes_per_step_min <= self.changes_per_step_max:
            raise ValueError("need 1 <= changes_per_step_min <= changes_per_step_max")
        if self.volatility_ticks < 0:
            raise ValueError("volatility_ticks must not be negative")
        if not 0.0 <= self.taker_probability < 1.0:
            raise ValueError("taker_probability must be in [0, 1)")
        if self.mean_level_qty_steps < 1 or self.near_touch_levels < 1:
            raise ValueError("mean_level_qty_steps and near_touch_levels must be at least 1")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One new order, already parsed from the wire (ints at scale 8)."""

    symbol: str
    side: str
    type: str
    time_in_force: str | None = None
    quantity: int | None = None
    quote_order_qty: int | None = None
    price: int | None = None
    client_order_id: str | None = None
    stp_mode: str | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as Binance reports it (GET /api/v3/order and the RESULT shape)."""

    account: str
    symbol: str
    order_id: int
    client_order_id: str
    price: int
    orig_qty: int
    executed_qty: int
    cumulative_quote_qty: int
    status: str
    time_in_force: str
    type: str
    side: str
    time: int
    """Creation time (ms)."""
    update_time: int
    working_time: int
    """-1 when the order never worked (rejected before reaching the book)."""
    orig_quote_order_qty: int = 0
    stop_price: int = 0
    iceberg_qty: int = 0
    order_list_id: int = -1
    stp_mode: str = DEFAULT_STP_MODE
    is_working: bool = True
    """True while the order is (or was) on the book."""
    prevented_match_id: int | None = None
    prevented_quantity: int | None = None
    orig_client_order_id: str | None = None
    """For a cancel result: the id of the canceled order (the new id is client_order_id)."""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class FillView:
    """One trade of one user order (FULL response fills and GET /api/v3/myTrades)."""

    symbol: str
    account: str
    order_id: int
    trade_id: int
    price: int
    qty: int
    quote_qty: int
    commission: int
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    order_list_id: int = -1
    is_best_match: bool = True


@dataclass(frozen=True, slots=True)
class BalanceView:
    asset: str
    free: int
    locked: int


@dataclass(frozen=True, slots=True)
class PreventedMatchView:
    """One ``preventedMatches`` entry of an order response (STP)."""

    prevented_match_id: int
    maker_order_id: int
    price: int
    maker_prevented_quantity: int | None
    """Set when the maker expired (EXPIRE_MAKER / EXPIRE_BOTH)."""
    taker_prevented_quantity: int | None
    """Set when the taker expired (EXPIRE_TAKER / EXPIRE_BOTH)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that the matching engine accepted (the order may still be EXPIRED)."""

    order: OrderView
    fills: tuple[FillView, ...] = ()
    prevented_matches: tuple[PreventedMatchView, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A Binance error: ``{"code": code, "msg": msg}``."""

    code: int
    msg: str


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """GET /api/v3/depth: ``lastUpdateId`` and top-N levels, best first."""

    last_update_id: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """GET /api/v3/trades entry."""

    trade_id: int
    price: int
    qty: int
    quote_qty: int
    time: int
    is_buyer_maker: bool
    is_best_match: bool = True


@dataclass(frozen=True, slots=True)
class AvgPrice:
    """GET /api/v3/avgPrice: ``mins``, ``price``, ``closeTime``."""

    mins: int
    price: int
    close_time: int


@dataclass(frozen=True, slots=True)
class AccountTruth:
    """Everything the exchange knows about one account (truth endpoint, tests)."""

    account: str
    maker_fee_bps: int
    taker_fee_bps: int
    balances: tuple[BalanceView, ...]
    open_orders: tuple[OrderView, ...]
    orders: tuple[OrderView, ...]
    """Every kept order (open and closed), per symbol, oldest first."""
    fills: tuple[FillView, ...]
    """Every kept fill, per symbol, oldest first."""


# ---- events (drain_events) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """``depthUpdate``: absolute quantities, qty 0 removes the level."""

    symbol: str
    first_update_id: int
    final_update_id: int
    event_time: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Trade:
    """``trade`` stream event (synthetic and user trades alike)."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    buyer_order_id: int
    seller_order_id: int
    time: int
    is_buyer_maker: bool
    event_time: int = 0


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """Everything a Binance ``executionReport`` carries, for one user order change."""

    account: str
    event_time: int  # E
    symbol: str  # s
    client_order_id: str  # c
    side: str  # S
    order_type: str  # o
    time_in_force: str  # f
    quantity: int  # q
    price: int  # p
    stop_price: int  # P
    iceberg_qty: int  # F
    order_list_id: int  # g
    orig_client_order_id: str  # C ("" unless canceled)
    execution_type: str  # x
    status: str  # X
    reject_reason: str  # r
    order_id: int  # i
    last_executed_qty: int  # l
    cumulative_qty: int  # z
    last_executed_price: int  # L
    commission: int  # n
    commission_asset: str | None  # N
    transaction_time: int  # T
    trade_id: int  # t (-1 when not a trade)
    prevented_match_id_or_none: int | None  # v
    is_working: bool  # w
    is_maker: bool  # m
    order_creation_time: int  # O
    cumulative_quote_qty: int  # Z
    last_quote_qty: int  # Y
    quote_order_qty: int  # Q
    working_time: int  # W
    stp_mode: str  # V
    prevented_quantity: int | None = None  # A
    last_prevented_quantity: int | None = None  # B
    counter_order_id: int | None = None  # U
    trade_group_id: int | None = None  # u

    @property
    def prevented_match_id(self) -> int | None:
        return self.prevented_match_id_or_none


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``outboundAccountPosition``: the balances that changed."""

    account: str
    event_time: int
    last_update_time: int
    balances: tuple[BalanceView, ...]


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """``balanceUpdate``: a deposit or withdrawal (``deposit``)."""

    account: str
    event_time: int
    asset: str
    delta: int
    clear_time: int


SimEvent = DepthDiff | Trade | ExecutionEvent | AccountUpdate | BalanceUpdate
