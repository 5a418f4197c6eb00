"""Binance Spot codec: frame bytes → domain events, commands → request params.

Pure functions and one small stateful object (:class:`BinanceCodec`, which only
holds bounded parse caches). Every malformed input raises
:class:`~stanchion.core.errors.ParseError` (or a subclass) with a message that
says what was being decoded; nothing else escapes.

Numbers: Binance prices and quantities are decimal strings with up to 8
decimals; they become ints at scale 8 (``BINANCE_SCALE``) through
``parse_fixed`` — never a float or a Decimal. Depth streams repeat the same
strings constantly, so the codec memoises recent strings in two bounded dicts
(prices, quantities) that are cleared when full.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Final, TypeVar

import msgspec

from stanchion.book.l2 import decode_levels
from stanchion.core.errors import LocalFatalError, ParseError
from stanchion.core.fixedpoint import format_fixed, parse_fixed
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.instrument import Instrument
from stanchion.model.market import AggressorSide, BestBidAsk, BookDelta, BookSnapshot, Level, TradeTick
from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from stanchion.venues.binance.schemas import (
    BinanceAggTrade,
    BinanceBalanceUpdate,
    BinanceBookTicker,
    BinanceControlResponse,
    BinanceDepthSnapshot,
    BinanceDepthUpdate,
    BinanceDepthWire,
    BinanceError,
    BinanceEventStreamTerminated,
    BinanceEventType,
    BinanceExecutionReport,
    BinanceOrderResponse,
    BinanceOutboundAccountPosition,
    BinanceServerShutdown,
    BinanceStreamFrame,
    BinanceTrade,
    BinanceUserEventFrame,
    BinanceWsApiResponse,
    WireLevel,
)

VENUE: Final = "binance"
BINANCE_SCALE: Final = 8
_MAX_FRAME_SHOWN: Final = 80

T = TypeVar("T")


class BinanceParseError(ParseError):
    """A Binance frame or body that does not decode (bad JSON, missing field, bad number)."""


class OrderEncodingError(LocalFatalError):
    """A command that cannot be expressed as valid Binance parameters (off tick, missing price)."""


# --- control and meta events (not market data) -----------------------------------------


class ServerShutdown(msgspec.Struct, frozen=True, gc=False):
    """The server will close this connection soon: open a new one now."""

    event_time_ms: int


class ControlResponse(msgspec.Struct, frozen=True, gc=False):
    """Answer to a SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS request."""

    request_id: int | str | None
    result: bytes | None
    error_code: int | None = None
    error_message: str | None = None


class IgnoredStream(msgspec.Struct, frozen=True, gc=False):
    """A stream this codec does not normalise (e.g. ``@kline_1m``)."""

    stream: str


class EventStreamTerminated(msgspec.Struct, frozen=True, gc=False):
    event_time_ms: int


class BalanceChange(msgspec.Struct, frozen=True, gc=False):
    """``balanceUpdate``: a deposit, withdrawal or transfer (signed delta, scale 8)."""

    asset: str
    delta: int
    event_time_ms: int
    clear_time_ms: int


class AccountBalance(msgspec.Struct, frozen=True, gc=False):
    asset: str
    free: int
    locked: int


class AccountPosition(msgspec.Struct, frozen=True, gc=False):
    """``outboundAccountPosition``: balances of the assets that changed (scale 8)."""

    balances: tuple[AccountBalance, ...]
    event_time_ms: int
    update_time_ms: int


MarketEvent = BookDelta | BookSnapshot | BestBidAsk | TradeTick | ServerShutdown | ControlResponse | IgnoredStream
UserEvent = ExecutionReport | AccountPosition | BalanceChange | EventStreamTerminated


def _fail(what: str, exc: Exception, data: bytes | str | None = None) -> BinanceParseError:
    shown = ""
    if data is not None:
        text = data if isinstance(data, str) else data[:_MAX_FRAME_SHOWN].decode("utf-8", "replace")
        shown = f" in {text[:_MAX_FRAME_SHOWN]!r}"
    return BinanceParseError(f"binance: malformed {what}: {exc}{shown}")


def _decode(decoder: msgspec.json.Decoder[T], data: bytes, what: str) -> T:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _fail(what, exc, data) from exc


_depth_update: Final = msgspec.json.Decoder(BinanceDepthUpdate)
_depth_snapshot: Final = msgspec.json.Decoder(BinanceDepthSnapshot)
_book_ticker: Final = msgspec.json.Decoder(BinanceBookTicker)
_trade: Final = msgspec.json.Decoder(BinanceTrade)
_agg_trade: Final = msgspec.json.Decoder(BinanceAggTrade)
_stream_frame: Final = msgspec.json.Decoder(BinanceStreamFrame)
_event_type: Final = msgspec.json.Decoder(BinanceEventType)
_server_shutdown: Final = msgspec.json.Decoder(BinanceServerShutdown)
_control: Final = msgspec.json.Decoder(BinanceControlResponse)
_ws_api_response: Final = msgspec.json.Decoder(BinanceWsApiResponse)
_execution_report: Final = msgspec.json.Decoder(BinanceExecutionReport)
_account_position: Final = msgspec.json.Decoder(BinanceOutboundAccountPosition)
_balance_update: Final = msgspec.json.Decoder(BinanceBalanceUpdate)
_stream_terminated: Final = msgspec.json.Decoder(BinanceEventStreamTerminated)
_user_frame: Final = msgspec.json.Decoder(BinanceUserEventFrame)
_order_response: Final = msgspec.json.Decoder(BinanceOrderResponse)


class _CombinedDepth(msgspec.Struct, frozen=True, gc=False):
    stream: str
    data: BinanceDepthUpdate


class _CombinedDepthWire(msgspec.Struct, frozen=True, gc=False):
    stream: str
    data: BinanceDepthWire


_combined_depth: Final = msgspec.json.Decoder(_CombinedDepth)
_combined_depth_decode: Final = msgspec.json.Decoder(_CombinedDepthWire).decode
_raw_depth_decode: Final = msgspec.json.Decoder(BinanceDepthWire).decode
_RAW_DEPTH_PREFIX: Final = b'{"e":"depthUpdate"'
_DEPTH_SUFFIXES: Final = (b"@depth", b"@depth@100ms")
_STREAM_PREFIX: Final = b'{"stream":"'
_STREAM_PREFIX_LEN: Final = len(_STREAM_PREFIX)

_wire_module: ModuleType | None
try:  # the envelope scanned in C (setup.py); msgspec below is its reference and its fallback
    from stanchion.venues.binance import _wire as _wire_module
except ImportError:  # built with STANCHION_PURE_PYTHON=1
    _wire_module = None
if _wire_module is not None:
    _wire_module.bind(BinanceDepthWire, msgspec.Raw)
_scan_depth: Final[Callable[[bytes], BinanceDepthWire | None] | None] = (
    _wire_module.scan_depth if _wire_module is not None else None
)
SCANNER_AVAILABLE: Final = _scan_depth is not None
"""Whether ``stanchion.venues.binance._wire`` was built; depth_wire uses it first."""


class _Probe(msgspec.Struct, frozen=True, gc=False):
    """Enough keys to tell apart the raw (non-combined) frames."""

    e: str | None = None
    lastUpdateId: int | None = None
    u: int | None = None
    id: int | str | None = None


_probe: Final = msgspec.json.Decoder(_Probe)


def parse_number(text: str) -> int:
    """A Binance decimal string to an int at scale 8 (raises BinanceParseError)."""
    try:
        return parse_fixed(text, BINANCE_SCALE)
    except ParseError as exc:
        raise BinanceParseError(f"binance: {exc}") from exc


class BinanceCodec:
    """Decodes Binance frames to domain events, with bounded number caches."""

    __slots__ = ("_cache_limit", "_price_cache")

    def __init__(self, cache_limit: int = 65_536) -> None:
        if cache_limit <= 0:
            raise ValueError("cache_limit must be positive")
        self._cache_limit = cache_limit
        self._price_cache: dict[str, int] = {}

    # --- numbers ---------------------------------------------------------------------

    def levels(self, wire: list[WireLevel]) -> tuple[Level, ...]:
        """``[["price","qty"], ...]`` → ``((price, qty), ...)`` at scale 8.

        Used for snapshots and int :class:`BookDelta` events (the live book path
        is :meth:`depth_wire` + ``BookSyncer.on_text_diff``). A price string seen
        recently is one dict lookup; a quantity, or a new price, in Binance's own
        shape (``<digits>.<8 digits>``) is parsed inline — ``isdigit() and isascii()`` after removing the one dot
        admits exactly the ASCII digits, the dot's position fixes the scale —
        and anything else goes through ``parse_fixed`` (which also produces the
        error message). The inline rule is checked against ``parse_fixed`` by
        the property tests.
        """
        price_cache = self._price_cache
        price_get = price_cache.get
        limit = self._cache_limit
        out: list[Level] = []
        append = out.append
        for price_text, qty_text in wire:
            price = price_get(price_text)
            if price is None:
                if (
                    type(price_text) is str
                    and 10 <= len(price_text) <= 29
                    and price_text[-9] == "."
                    and (digits := price_text.replace(".", "", 1)).isdigit()
                    and digits.isascii()
                ):
                    price = int(digits)
                else:
                    price = self._slow(price_text)
                if len(price_cache) >= limit:
                    price_cache.clear()  # bounded: memory stays flat over days
                price_cache[price_text] = price
            # Quantities repeat far less than prices (~40 % in the real capture):
            # parsing inline beats a memo's lookup-plus-insert at that rate.
            if (
                type(qty_text) is str
                and 10 <= len(qty_text) <= 29
                and qty_text[-9] == "."
                and (digits := qty_text.replace(".", "", 1)).isdigit()
                and digits.isascii()
            ):
                qty = int(digits)
            else:
                qty = self._slow(qty_text)
            append((price, qty))
        return tuple(out)

    @staticmethod
    def _slow(text: object) -> int:
        if not isinstance(text, str):
            raise BinanceParseError(f"binance: expected a decimal string, got {type(text).__name__}")
        return parse_number(text)

    # --- market data -----------------------------------------------------------------

    def depth_update(self, wire: BinanceDepthUpdate | BinanceDepthWire) -> BookDelta:
        if isinstance(wire, BinanceDepthWire):
            try:
                bids, asks = decode_levels(wire.b), decode_levels(wire.a)
            except ParseError as exc:
                raise BinanceParseError(f"binance: depthUpdate {wire.s} {wire.u}: {exc}") from exc
            return BookDelta(wire.s, wire.U, wire.u, wire.E, self.levels(bids), self.levels(asks))
        return BookDelta(wire.s, wire.U, wire.u, wire.E, self.levels(wire.b), self.levels(wire.a))

    def decode_depth_update(self, payload: bytes) -> BookDelta:
        """A raw ``depthUpdate`` payload (no envelope)."""
        return self.depth_update(_decode(_depth_update, payload, "depthUpdate"))

    def decode_depth_snapshot(self, body: bytes, symbol: str) -> BookSnapshot:
        """A ``GET /api/v3/depth`` body (or an ``@depth<N>`` payload) for ``symbol``."""
        wire = _decode(_depth_snapshot, body, "depth snapshot")
        return BookSnapshot(symbol, wire.lastUpdateId, self.levels(wire.bids), self.levels(wire.asks))

    def book_ticker(self, wire: BinanceBookTicker) -> BestBidAsk:
        return BestBidAsk(
            wire.s, wire.u, parse_number(wire.b), parse_number(wire.B), parse_number(wire.a), parse_number(wire.A)
        )

    def depth_wire(self, frame: bytes | str) -> BinanceDepthWire | None:
        """The wire diff of a ``depthUpdate`` frame, else None: combined
        (``{"stream":"<s>@depth[@100ms]","data":{…}}``, the ``/stream`` endpoint) or raw
        (``{"e":"depthUpdate",…}``, the ``/ws`` endpoint the adapter uses).

        The market-data hot path: the frame's envelope scanned in C when it has
        Binance's exact compact shape (``_wire.scan_depth``; else one typed msgspec
        decode, with the same result), the level arrays left as their JSON bytes
        for :meth:`~stanchion.book.sync.BookSyncer.on_json_diff` to parse straight
        into the book. Raises BinanceParseError on a malformed depth frame.
        A ``str`` frame (text frames from some WebSocket clients) is encoded first.
        Any other frame (or a depth frame with its fields in another order) is None:
        :meth:`decode_market` takes it.
        """
        if type(frame) is not bytes:
            if not isinstance(frame, str | bytearray | memoryview):
                raise BinanceParseError(f"binance: expected frame bytes, got {type(frame).__name__}")
            frame = frame.encode() if isinstance(frame, str) else bytes(frame)
        if _scan_depth is not None:
            wire = _scan_depth(frame)  # Binance's exact compact shape; anything else: msgspec below
            if wire is not None:
                return wire
        if frame.startswith(_RAW_DEPTH_PREFIX):
            try:
                return _raw_depth_decode(frame)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise _fail("depthUpdate", exc, frame) from exc
        if frame.startswith(_STREAM_PREFIX):
            end = frame.find(b'"', _STREAM_PREFIX_LEN)
            if frame.endswith(_DEPTH_SUFFIXES, 0, end):
                try:
                    return _combined_depth_decode(frame).data
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise _fail("depth frame", exc, frame) from exc
        return None

    def decode_market(self, frame: bytes) -> MarketEvent:
        """Any market-data frame: combined ``{"stream","data"}`` or raw."""
        if frame[:_STREAM_PREFIX_LEN] == _STREAM_PREFIX:
            end = frame.find(b'"', _STREAM_PREFIX_LEN)
            # Fast path: the commonest frame decodes in one typed pass.
            if frame[end - 6 : end] == b"@depth" or frame[end - 12 : end] == b"@depth@100ms":
                return self.depth_update(_decode(_combined_depth, frame, "depth frame").data)
            return self._decode_combined(frame)
        if frame[:1] == b"{" and b'"stream"' in frame[:64]:
            return self._decode_combined(frame)
        return self._decode_raw(frame)

    def _decode_combined(self, frame: bytes) -> MarketEvent:
        envelope = _decode(_stream_frame, frame, "stream frame")
        return self.decode_stream_payload(envelope.stream, bytes(envelope.data))

    def decode_stream_payload(self, stream: str, payload: bytes) -> MarketEvent:
        """The ``data`` of a combined-stream frame, dispatched on the stream name."""
        symbol, _, kind = stream.partition("@")
        if kind in ("depth", "depth@100ms"):
            return self.decode_depth_update(payload)
        if kind == "bookTicker":
            return self.book_ticker(_decode(_book_ticker, payload, "bookTicker"))
        if kind == "aggTrade":
            return self.agg_trade(_decode(_agg_trade, payload, "aggTrade"))
        if kind == "trade":
            return self.trade(_decode(_trade, payload, "trade"))
        if kind.startswith("depth") and kind[5:7] in ("5", "5@", "10", "20"):
            return self.decode_depth_snapshot(payload, symbol.upper())
        if stream == "!serverShutdown" or kind == "serverShutdown":
            wire = _decode(_server_shutdown, payload, "serverShutdown")
            return ServerShutdown(wire.E)
        return IgnoredStream(stream)

    def _decode_raw(self, frame: bytes) -> MarketEvent:
        probe = _decode(_probe, frame, "frame")
        if probe.e == "depthUpdate":
            return self.decode_depth_update(frame)
        if probe.e == "trade":
            return self.trade(_decode(_trade, frame, "trade"))
        if probe.e == "aggTrade":
            return self.agg_trade(_decode(_agg_trade, frame, "aggTrade"))
        if probe.e == "serverShutdown":
            return ServerShutdown(_decode(_server_shutdown, frame, "serverShutdown").E)
        if probe.e is None and probe.u is not None:
            return self.book_ticker(_decode(_book_ticker, frame, "bookTicker"))
        if probe.lastUpdateId is not None:
            raise BinanceParseError("binance: a raw partial-depth frame carries no symbol; use combined streams")
        if probe.e is None:
            control = _decode(_control, frame, "control response")
            result = bytes(control.result)
            return ControlResponse(
                control.id,
                None if result in (b"", b"null") else result,
                control.error.code if control.error else None,
                control.error.msg if control.error else None,
            )
        return IgnoredStream(probe.e)

    def trade(self, wire: BinanceTrade) -> TradeTick:
        return TradeTick(
            wire.s,
            wire.t,
            parse_number(wire.p),
            parse_number(wire.q),
            AggressorSide.SELL if wire.m else AggressorSide.BUY,
            wire.T,
            wire.E,
        )

    def agg_trade(self, wire: BinanceAggTrade) -> TradeTick:
        return TradeTick(
            wire.s,
            wire.a,
            parse_number(wire.p),
            parse_number(wire.q),
            AggressorSide.SELL if wire.m else AggressorSide.BUY,
            wire.T,
            wire.E,
            aggregate=True,
        )


# --- user data ---------------------------------------------------------------------------

_STATUS: Final = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.PENDING_NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.CANCEL_PENDING,  # documented as unused
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # expired by self-trade prevention
}


def _enum(kind: Callable[[str], T], value: str, what: str) -> T:
    try:
        return kind(value)
    except ValueError as exc:
        raise BinanceParseError(f"binance: unknown {what} {value!r}") from exc


def order_status(value: str) -> OrderStatus:
    try:
        return _STATUS[value]
    except KeyError:
        raise BinanceParseError(f"binance: unknown order status {value!r}") from None


def execution_report(wire: BinanceExecutionReport) -> ExecutionReport:
    """``executionReport`` → :class:`ExecutionReport` (+ :class:`Fill` on trades)."""
    side = _enum(Side, wire.S, "side")
    execution_type = _enum(ExecutionType, wire.x, "execution type")
    canceled = execution_type is ExecutionType.CANCELED and wire.C != ""
    # On a cancel, ``c`` is the id of the cancel request, ``C`` the order's own id.
    client_order_id = wire.C if canceled else wire.c
    fill = None
    if execution_type is ExecutionType.TRADE:
        fill = Fill(
            venue=VENUE,
            symbol=wire.s,
            trade_id=wire.t,
            venue_order_id=wire.i,
            client_order_id=client_order_id,
            side=side,
            price=parse_number(wire.L),
            qty=parse_number(wire.l),
            commission=parse_number(wire.n),
            commission_asset=wire.N,
            commission_scale=BINANCE_SCALE,
            is_maker=wire.m,
            trade_time_ms=wire.T,
        )
    return ExecutionReport(
        venue=VENUE,
        symbol=wire.s,
        client_order_id=client_order_id,
        original_client_order_id=wire.C if canceled else None,
        venue_order_id=wire.i,
        side=side,
        order_type=_enum(OrderType, wire.o, "order type"),
        time_in_force=TimeInForce(wire.f) if wire.f in _TIF_VALUES else None,
        execution_type=execution_type,
        status=order_status(wire.X),
        order_qty=parse_number(wire.q),
        price=parse_number(wire.p),
        cumulative_qty=parse_number(wire.z),
        cumulative_quote=parse_number(wire.Z),
        reject_reason=None if wire.r == "NONE" else wire.r,
        event_time_ms=wire.E,
        transaction_time_ms=wire.T,
        fill=fill,
    )


_TIF_VALUES: Final = frozenset(t.value for t in TimeInForce)


def decode_user_event(frame: bytes) -> UserEvent | None:
    """A user-data event, bare or wrapped ``{"subscriptionId", "event"}``.

    Returns None for event types we do not normalise (``listStatus``,
    ``externalLockUpdate``): they are logged by the caller, never guessed at.
    """
    payload = frame
    if b'"event"' in frame[:40] or frame[:17] == b'{"subscriptionId"':
        payload = bytes(_decode(_user_frame, frame, "user event frame").event)
    kind = _decode(_event_type, payload, "user event").e
    if kind == "executionReport":
        return execution_report(_decode(_execution_report, payload, "executionReport"))
    if kind == "outboundAccountPosition":
        wire = _decode(_account_position, payload, "outboundAccountPosition")
        return AccountPosition(
            tuple(AccountBalance(b.a, parse_number(b.f), parse_number(b.l)) for b in wire.B), wire.E, wire.u
        )
    if kind == "balanceUpdate":
        update = _decode(_balance_update, payload, "balanceUpdate")
        return BalanceChange(update.a, _signed(update.d), update.E, update.T)
    if kind == "eventStreamTerminated":
        return EventStreamTerminated(_decode(_stream_terminated, payload, "eventStreamTerminated").E)
    return None


def _signed(text: str) -> int:
    if text[:1] == "-":
        return -parse_number(text[1:])
    return parse_number(text)


def decode_ws_api_response(frame: bytes) -> BinanceWsApiResponse:
    return _decode(_ws_api_response, frame, "WebSocket API response")


class BinanceWsApiErrorData(msgspec.Struct, frozen=True, gc=False):
    """``error.data`` of a WebSocket API 429/418 answer (web-socket-api.md "IP limits"):
    ``{"serverTime": 1659142907531, "retryAfter": 1659146400000}``; ``retryAfter`` is a
    timestamp on the venue's clock (ms), not a delay.

    Decoded on its own (only for 429/418 answers) because the shared
    ``BinanceError`` wire struct does not carry ``data``."""

    serverTime: int | None = None
    retryAfter: int | None = None


class _ErrorWithData(msgspec.Struct, frozen=True, gc=False):
    data: BinanceWsApiErrorData | None = None


class _ErrorEnvelope(msgspec.Struct, frozen=True, gc=False):
    error: _ErrorWithData | None = None


_ws_api_error_envelope: Final = msgspec.json.Decoder(_ErrorEnvelope)


def decode_ws_api_error_data(frame: bytes) -> BinanceWsApiErrorData | None:
    """The ``error.data`` of a WebSocket API answer, None when absent."""
    envelope = _decode(_ws_api_error_envelope, frame, "WebSocket API error data")
    return envelope.error.data if envelope.error is not None else None


def decode_order_response(body: bytes) -> BinanceOrderResponse:
    """A ``POST /api/v3/order`` body (ACK, RESULT or FULL) or a WS API ``result``."""
    return _decode(_order_response, body, "order response")


def order_response_fills(response: BinanceOrderResponse) -> list[Fill]:
    """The fills of a FULL response (empty for ACK/RESULT)."""
    side = _enum(Side, response.side, "side") if response.side else Side.BUY
    return [
        Fill(
            venue=VENUE,
            symbol=response.symbol,
            trade_id=f.tradeId,
            venue_order_id=response.orderId,
            client_order_id=response.clientOrderId,
            side=side,
            price=parse_number(f.price),
            qty=parse_number(f.qty),
            commission=parse_number(f.commission),
            commission_asset=f.commissionAsset,
            commission_scale=BINANCE_SCALE,
            is_maker=False,  # a response's fills are the taking part of the order
            trade_time_ms=response.transactTime,
        )
        for f in response.fills or ()
    ]


# --- commands → parameters -------------------------------------------------------------


def decimals_of(increment: int, scale: int) -> int:
    """Decimals needed to write multiples of ``increment`` (at ``scale``): 1000 @ 8 → 5."""
    decimals = scale
    while decimals > 0 and increment % 10 == 0:
        increment //= 10
        decimals -= 1
    return decimals


def format_price(instrument: Instrument, price: int) -> str:
    if price <= 0 or price % instrument.tick:
        raise OrderEncodingError(
            f"{instrument.key}: price {format_fixed(price, instrument.price_scale)} is not a positive "
            f"multiple of the tick {format_fixed(instrument.tick, instrument.price_scale, -1)}"
        )
    return format_fixed(price, instrument.price_scale, decimals_of(instrument.tick, instrument.price_scale))


def format_qty(instrument: Instrument, qty: int) -> str:
    if qty <= 0 or qty % instrument.step:
        raise OrderEncodingError(
            f"{instrument.key}: quantity {format_fixed(qty, instrument.qty_scale)} is not a positive "
            f"multiple of the step {format_fixed(instrument.step, instrument.qty_scale, -1)}"
        )
    return format_fixed(qty, instrument.qty_scale, decimals_of(instrument.step, instrument.qty_scale))


_NEEDS_PRICE: Final = frozenset(
    {OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT, OrderType.LIMIT_MAKER}
)
_NEEDS_TIF: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_NEEDS_STOP: Final = frozenset(
    {OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}
)


def _order_fields(
    instrument: Instrument,
    side: Side,
    order_type: OrderType,
    qty: int,
    price: int | None,
    time_in_force: TimeInForce | None,
    stop_price: int | None,
) -> dict[str, str]:
    params = {"symbol": instrument.symbol, "side": side.value, "type": order_type.value}
    if order_type in _NEEDS_TIF:
        params["timeInForce"] = (time_in_force or TimeInForce.GTC).value
    elif time_in_force is not None and order_type is not OrderType.MARKET:
        params["timeInForce"] = time_in_force.value
    params["quantity"] = format_qty(instrument, qty)
    if order_type in _NEEDS_PRICE:
        if price is None:
            raise OrderEncodingError(f"{instrument.key}: {order_type.value} order needs a price")
        params["price"] = format_price(instrument, price)
    elif price is not None:
        raise OrderEncodingError(f"{instrument.key}: {order_type.value} order takes no price")
    if order_type in _NEEDS_STOP:
        if stop_price is None:
            raise OrderEncodingError(f"{instrument.key}: {order_type.value} order needs a stop price")
        params["stopPrice"] = format_price(instrument, stop_price)
    return params


def order_params(cmd: SubmitOrder, instrument: Instrument, *, response_type: str = "FULL") -> dict[str, str]:
    """``POST /api/v3/order`` / WS API ``order.place`` params (without timestamp, signature).

    Prices and quantities are written at the tick's and step's decimals.
    """
    if cmd.symbol != instrument.symbol:
        raise OrderEncodingError(f"command for {cmd.symbol} encoded with instrument {instrument.symbol}")
    params = _order_fields(
        instrument, cmd.side, cmd.order_type, cmd.qty, cmd.price, cmd.time_in_force, cmd.stop_price
    )
    params["newClientOrderId"] = cmd.client_order_id
    params["newOrderRespType"] = response_type
    return params


def cancel_params(cmd: CancelOrder) -> dict[str, str]:
    """``DELETE /api/v3/order`` / ``order.cancel`` params (by client id, or venue id if given)."""
    params = {"symbol": cmd.symbol}
    if cmd.venue_order_id is not None:
        params["orderId"] = str(cmd.venue_order_id)
    else:
        params["origClientOrderId"] = cmd.client_order_id
    return params


def cancel_replace_params(
    cmd: ReplaceOrder, instrument: Instrument, *, response_type: str = "RESULT"
) -> dict[str, str]:
    """``POST /api/v3/order/cancelReplace`` / ``order.cancelReplace`` params. STOP_ON_FAILURE:
    when the cancel fails (the order filled, or is unknown) the new order is not attempted,
    so a replace never leaves two orders working."""
    if cmd.symbol != instrument.symbol:
        raise OrderEncodingError(f"command for {cmd.symbol} encoded with instrument {instrument.symbol}")
    params = _order_fields(instrument, cmd.side, cmd.order_type, cmd.qty, cmd.price, cmd.time_in_force, None)
    params["cancelReplaceMode"] = "STOP_ON_FAILURE"
    params["cancelOrigClientOrderId"] = cmd.original_client_order_id
    params["newClientOrderId"] = cmd.client_order_id
    params["newOrderRespType"] = response_type
    return params


class BinanceCancelReplace(msgspec.Struct, frozen=True, gc=False):
    """The ``result`` of ``order.cancelReplace`` (200), or its ``error.data`` (-2021 / -2022).

    ``cancelResult`` / ``newOrderResult``: ``SUCCESS``, ``FAILURE`` or ``NOT_ATTEMPTED``. Each
    response is the cancel's (resp. the order's) usual answer on success, else ``{code, msg}``
    (``newOrderResponse`` is null when not attempted)."""

    cancelResult: str
    newOrderResult: str
    cancelResponse: msgspec.Raw = msgspec.Raw()
    newOrderResponse: msgspec.Raw = msgspec.Raw()


class _CancelReplaceError(msgspec.Struct, frozen=True, gc=False):
    data: BinanceCancelReplace | None = None


class _CancelReplaceEnvelope(msgspec.Struct, frozen=True, gc=False):
    error: _CancelReplaceError | None = None


_cancel_replace: Final = msgspec.json.Decoder(BinanceCancelReplace)
_cancel_replace_envelope: Final = msgspec.json.Decoder(_CancelReplaceEnvelope)
_error: Final = msgspec.json.Decoder(BinanceError)


def decode_cancel_replace(result: bytes) -> BinanceCancelReplace:
    """A 200 answer's ``result``."""
    return _decode(_cancel_replace, result, "cancelReplace result")


def decode_cancel_replace_error_data(frame: bytes) -> BinanceCancelReplace | None:
    """The ``error.data`` of a -2021 / -2022 WebSocket API answer, None when absent."""
    envelope = _decode(_cancel_replace_envelope, frame, "cancelReplace error data")
    return envelope.error.data if envelope.error is not None else None


def decode_error(body: bytes) -> BinanceError:
    """``{"code": -2010, "msg": "..."}``."""
    return _decode(_error, body, "error")


def ws_api_request(request_id: int | str, method: str, params: dict[str, str] | None = None) -> bytes:
    """A WebSocket API request frame, e.g. ``order.place`` with (signed) params."""
    body: dict[str, object] = {"id": request_id, "method": method}
    if params:
        body["params"] = params
    return msgspec.json.encode(body)
