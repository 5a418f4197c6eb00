"""Binance Spot wire structs, with the venue's own field names.

Decoded straight from bytes by msgspec; unknown fields are ignored (Binance
adds fields over time). Prices and quantities stay strings here: the codec
parses them to scaled ints. Sources: binance-spot-api-docs (web-socket-streams.md,
web-socket-api.md, user-data-stream.md, rest-api.md); see reference/protocols.md §1.
"""

from __future__ import annotations

import msgspec

WireLevel = tuple[str, str]


# --- market data streams ---------------------------------------------------------------


class BinanceDepthUpdate(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@depth[@100ms]`` diff."""

    e: str
    E: int
    s: str
    U: int
    u: int
    b: list[WireLevel]
    a: list[WireLevel]


class BinanceDepthWire(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@depth[@100ms]`` diff with the level arrays left as their JSON bytes
    (validated by the decoder, parsed by the book: ``L2Book.apply_json_crossed``)."""

    e: str
    E: int
    s: str
    U: int
    u: int
    b: msgspec.Raw
    a: msgspec.Raw


class BinanceDepthSnapshot(msgspec.Struct, frozen=True, gc=False):
    """``GET /api/v3/depth`` response, and the ``@depth<N>`` partial-book payload."""

    lastUpdateId: int
    bids: list[WireLevel]
    asks: list[WireLevel]


class BinanceBookTicker(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@bookTicker``: best bid/ask with the book update id ``u``."""

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str


class BinanceTrade(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@trade``. ``m``: the buyer is the maker (so the aggressor sold)."""

    e: str
    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class BinanceAggTrade(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@aggTrade``."""

    e: str
    E: int
    s: str
    a: int
    p: str
    q: str
    f: int
    l: int  # noqa: E741  (the venue's name)
    T: int
    m: bool


class BinanceServerShutdown(msgspec.Struct, frozen=True, gc=False):
    """``{"e":"serverShutdown","E":ms}``: reconnect as soon as possible."""

    e: str
    E: int


class BinanceStreamFrame(msgspec.Struct, frozen=True, gc=False):
    """Combined-stream envelope ``{"stream": name, "data": payload}``."""

    stream: str
    data: msgspec.Raw


class BinanceControlResponse(msgspec.Struct, frozen=True, gc=False):
    """Answer to SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS: ``{"result": ..., "id": ...}``."""

    id: int | str | None
    result: msgspec.Raw = msgspec.Raw()  # raw JSON; ``null`` when the request returns nothing
    error: BinanceError | None = None


# --- errors, WS API envelope -----------------------------------------------------------


class BinanceError(msgspec.Struct, frozen=True, gc=False):
    """``{"code": -1121, "msg": "Invalid symbol."}``."""

    code: int
    msg: str


class BinanceRateLimit(msgspec.Struct, frozen=True, gc=False):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int
    count: int | None = None


class BinanceWsApiResponse(msgspec.Struct, frozen=True, gc=False):
    """WebSocket API response: ``{id, status, result | error, rateLimits}``."""

    id: int | str | None
    status: int
    result: msgspec.Raw = msgspec.Raw()  # empty when absent (error responses)
    error: BinanceError | None = None
    rateLimits: list[BinanceRateLimit] = []


# --- user data -------------------------------------------------------------------------


class BinanceExecutionReport(msgspec.Struct, frozen=True, gc=False):
    """``executionReport`` (user-data-stream.md). Conditional keys default to None."""

    e: str
    E: int
    s: str
    c: str
    S: str
    o: str
    f: str
    q: str
    p: str
    P: str
    F: str
    g: int
    C: str
    x: str
    X: str
    r: str
    i: int
    l: str  # noqa: E741
    z: str
    L: str
    n: str
    N: str | None
    T: int
    t: int
    v: int | None = None
    I: int | None = None  # noqa: E741
    w: bool = False
    m: bool = False
    M: bool = False
    O: int = 0  # noqa: E741
    Z: str = "0"
    Y: str = "0"
    Q: str = "0"
    W: int | None = None
    V: str | None = None
    # conditional
    d: int | None = None
    D: int | None = None
    j: int | None = None
    J: int | None = None
    A: str | None = None
    B: str | None = None
    u: int | None = None
    U: int | None = None
    k: str | None = None
    eR: str | None = None


class BinanceBalance(msgspec.Struct, frozen=True, gc=False):
    a: str
    f: str
    l: str  # noqa: E741


class BinanceOutboundAccountPosition(msgspec.Struct, frozen=True, gc=False):
    e: str
    E: int
    u: int
    B: list[BinanceBalance]


class BinanceBalanceUpdate(msgspec.Struct, frozen=True, gc=False):
    e: str
    E: int
    a: str
    d: str
    T: int


class BinanceEventStreamTerminated(msgspec.Struct, frozen=True, gc=False):
    e: str
    E: int


class BinanceUserEventFrame(msgspec.Struct, frozen=True, gc=False):
    """WS API user data stream wrapper ``{"subscriptionId": 0, "event": {...}}``."""

    event: msgspec.Raw
    subscriptionId: int | None = None


class BinanceEventType(msgspec.Struct, frozen=True, gc=False):
    """Just the event type, to dispatch a bare event."""

    e: str


# --- REST order responses --------------------------------------------------------------


class BinanceOrderFill(msgspec.Struct, frozen=True, gc=False):
    price: str
    qty: str
    commission: str
    commissionAsset: str
    tradeId: int


class BinanceOrderResponse(msgspec.Struct, frozen=True, gc=False):
    """``POST /api/v3/order`` response: ACK fields, RESULT adds status and amounts,
    FULL adds ``fills``. Which one came back is visible from the optional fields."""

    symbol: str
    orderId: int
    orderListId: int
    clientOrderId: str
    transactTime: int
    price: str | None = None
    origQty: str | None = None
    executedQty: str | None = None
    origQuoteOrderQty: str | None = None
    cummulativeQuoteQty: str | None = None
    status: str | None = None
    timeInForce: str | None = None
    type: str | None = None
    side: str | None = None
    workingTime: int | None = None
    selfTradePreventionMode: str | None = None
    fills: list[BinanceOrderFill] | None = None


# --- exchangeInfo ----------------------------------------------------------------------


class BinanceSymbolInfo(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    filters: list[dict[str, str | int | bool | None]]
    baseAssetPrecision: int | None = None
    quotePrecision: int | None = None
    cancelReplaceAllowed: bool = False


class BinanceExchangeInfo(msgspec.Struct, frozen=True, gc=False):
    symbols: list[BinanceSymbolInfo]
    rateLimits: list[BinanceRateLimit] = []
    serverTime: int | None = None
