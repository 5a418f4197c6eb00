"""Binance order queries and trade lists → execution reports and fills (pure).

Used when an order's outcome is unknown (timeout, 5xx, -1007, a dropped
connection) and after a reconnect: ``GET /api/v3/order`` (or WS API
``order.status``) tells the order's state, ``GET /api/v3/myTrades?orderId=``
its fills with their trade ids, so a fill the user stream missed is delivered
once (the OMS drops trade ids it has seen).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeVar

import msgspec

from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from stanchion.venues.binance.codec import BINANCE_SCALE, BinanceParseError, order_status, parse_number


class QueriedOrder(msgspec.Struct, frozen=True, gc=False):
    """``GET /api/v3/order`` / ``order.status`` result (the fields we use)."""

    symbol: str
    orderId: int
    clientOrderId: str
    price: str
    origQty: str
    executedQty: str
    cummulativeQuoteQty: str
    status: str
    type: str
    side: str
    timeInForce: str | None = None
    time: int = 0
    updateTime: int = 0


class AccountTrade(msgspec.Struct, frozen=True, gc=False):
    """One ``GET /api/v3/myTrades`` entry."""

    symbol: str
    id: int
    orderId: int
    price: str
    qty: str
    commission: str
    commissionAsset: str
    time: int
    isBuyer: bool
    isMaker: bool


class AccountBalanceEntry(msgspec.Struct, frozen=True, gc=False):
    asset: str
    free: str
    locked: str


class AccountInformation(msgspec.Struct, frozen=True, gc=False):
    balances: list[AccountBalanceEntry]


T = TypeVar("T")

_order_decoder: Final = msgspec.json.Decoder(QueriedOrder)
_orders_decoder: Final = msgspec.json.Decoder(list[QueriedOrder])
_trades_decoder: Final = msgspec.json.Decoder(list[AccountTrade])
_account_decoder: Final = msgspec.json.Decoder(AccountInformation)

_EXECUTION_BY_STATUS: Final = {
    OrderStatus.NEW: ExecutionType.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecutionType.NEW,
    OrderStatus.FILLED: ExecutionType.NEW,
    OrderStatus.CANCELED: ExecutionType.CANCELED,
    OrderStatus.EXPIRED: ExecutionType.EXPIRED,
    OrderStatus.REJECTED: ExecutionType.REJECTED,
}
_TIF: Final = frozenset(t.value for t in TimeInForce)


def _decode(decoder: msgspec.json.Decoder[T], data: bytes | msgspec.Raw, what: str) -> T:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BinanceParseError(f"binance: malformed {what}: {exc}") from None


def queried_order_report(order: QueriedOrder, venue: str) -> ExecutionReport:
    """The order's current state as a report (no fill: fills come from :func:`trade_fills`)."""
    try:
        side = Side(order.side)
        order_type = OrderType(order.type)
    except ValueError as exc:
        raise BinanceParseError(f"binance: unknown side/type in order query: {exc}") from None
    status = order_status(order.status)
    return ExecutionReport(
        venue=venue,
        symbol=order.symbol,
        client_order_id=order.clientOrderId,
        original_client_order_id=None,
        venue_order_id=order.orderId,
        side=side,
        order_type=order_type,
        time_in_force=TimeInForce(order.timeInForce) if order.timeInForce in _TIF else None,
        execution_type=_EXECUTION_BY_STATUS.get(status, ExecutionType.NEW),
        status=status,
        order_qty=parse_number(order.origQty),
        price=parse_number(order.price),
        cumulative_qty=parse_number(order.executedQty),
        cumulative_quote=parse_number(order.cummulativeQuoteQty),
        reject_reason=None,
        event_time_ms=order.updateTime,
        transaction_time_ms=order.updateTime,
    )


def decode_queried_order(body: bytes | msgspec.Raw) -> QueriedOrder:
    return _decode(_order_decoder, body, "order query")


class _CancelIds(msgspec.Struct, frozen=True, gc=False):
    """What a cancel's answer adds to an order: ``clientOrderId`` there is the cancel's own id."""

    origClientOrderId: str
    transactTime: int = 0


_cancel_ids_decoder: Final = msgspec.json.Decoder(_CancelIds)


def decode_canceled_order(body: bytes | msgspec.Raw) -> QueriedOrder:
    """A ``DELETE /api/v3/order`` / ``order.cancel`` answer as the order it canceled."""
    order = _decode(_order_decoder, body, "cancel response")
    ids = _decode(_cancel_ids_decoder, body, "cancel response")
    return msgspec.structs.replace(
        order, clientOrderId=ids.origClientOrderId, time=ids.transactTime, updateTime=ids.transactTime
    )


def decode_open_orders(body: bytes | msgspec.Raw) -> list[QueriedOrder]:
    return _decode(_orders_decoder, body, "open orders")


def decode_trades(body: bytes | msgspec.Raw) -> list[AccountTrade]:
    return _decode(_trades_decoder, body, "account trades")


def decode_account_balances(body: bytes | msgspec.Raw) -> dict[str, int]:
    """``GET /api/v3/account`` → total (free + locked) per asset, at Binance's 8 decimals."""
    account = _decode(_account_decoder, body, "account information")
    return {b.asset: parse_number(b.free) + parse_number(b.locked) for b in account.balances}


def trade_fill_reports(
    trades: list[AccountTrade], order: ExecutionReport, venue: str
) -> list[ExecutionReport]:
    """The fills of one order (its trades) as TRADE reports, oldest first."""
    reports = []
    cumulative = 0
    quote = 0
    for trade in sorted(trades, key=lambda t: t.id):
        if trade.orderId != order.venue_order_id:
            continue
        qty = parse_number(trade.qty)
        price = parse_number(trade.price)
        cumulative += qty
        quote += qty * price // 10**BINANCE_SCALE
        fill = Fill(
            venue=venue,
            symbol=trade.symbol,
            trade_id=trade.id,
            venue_order_id=trade.orderId,
            client_order_id=order.client_order_id,
            side=Side.BUY if trade.isBuyer else Side.SELL,
            price=price,
            qty=qty,
            commission=parse_number(trade.commission),
            commission_asset=trade.commissionAsset,
            commission_scale=BINANCE_SCALE,
            is_maker=trade.isMaker,
            trade_time_ms=trade.time,
        )
        status = OrderStatus.FILLED if cumulative >= order.order_qty else OrderStatus.PARTIALLY_FILLED
        reports.append(
            msgspec.structs.replace(
                order,
                execution_type=ExecutionType.TRADE,
                status=status,
                cumulative_qty=cumulative,
                cumulative_quote=quote,
                event_time_ms=trade.time,
                transaction_time_ms=trade.time,
                fill=fill,
            )
        )
    return reports


def order_ids(reports: Mapping[str, ExecutionReport]) -> dict[int, str]:
    return {r.venue_order_id: cid for cid, r in reports.items()}
