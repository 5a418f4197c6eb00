"""Order parameters → an order request, checked as Binance checks them (mandatory-by-type rules)."""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.sim.binance import apierror
from stanchion.sim.binance.apierror import BinanceApiError
from stanchion.sim.binance.params import Params
from stanchion.sim.types import CANCEL_RESTRICTIONS

SIDES = ("BUY", "SELL")
TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
TIFS = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")
CANCEL_REPLACE_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")


@dataclass(frozen=True, slots=True)
class OrderInput:
    symbol: str
    side: str
    type: str
    time_in_force: str | None
    quantity: int | None
    quote_order_qty: int | None
    price: int | None
    stop_price: int | None
    client_order_id: str | None
    stp_mode: str | None
    resp_type: str


@dataclass(frozen=True, slots=True)
class CancelReplaceInput:
    """The cancel half of a cancel-replace; the new order is an :class:`OrderInput`."""

    symbol: str
    mode: str  # STOP_ON_FAILURE | ALLOW_FAILURE
    cancel_order_id: int | None
    cancel_orig_client_order_id: str | None
    cancel_new_client_order_id: str | None
    cancel_restriction: str | None


def _not_required(name: str) -> BinanceApiError:
    return BinanceApiError(-1106, f"Parameter '{name}' sent when not required.")


def _either(a: str, b: str) -> BinanceApiError:
    return BinanceApiError(-1102, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")


def parse_order(params: Params, symbols: frozenset[str]) -> OrderInput:
    symbol = params.symbol(symbols)
    side = params.enum("side", SIDES)
    order_type = params.enum("type", TYPES)
    assert side is not None and order_type is not None
    tif = params.enum("timeInForce", TIFS, required=False)
    quantity = params.opt_decimal("quantity")
    quote_qty = params.opt_decimal("quoteOrderQty")
    price = params.opt_decimal("price")
    stop_price = params.opt_decimal("stopPrice")
    client_id = params.client_order_id("newClientOrderId")
    stp = params.enum("selfTradePreventionMode", STP_MODES, required=False)
    resp = params.enum("newOrderRespType", RESP_TYPES, required=False)
    params.opt_int("strategyId")
    params.opt_int("strategyType")
    _check_by_type(order_type, tif, quantity, quote_qty, price)
    _check_stop(order_type, quantity, stop_price, "trailingDelta" in params)
    if quantity is not None and quantity <= 0:
        raise apierror.invalid_value("quantity")
    if resp is None:
        resp = "FULL" if order_type in ("LIMIT", "MARKET") else "ACK"
    return OrderInput(symbol, side, order_type, tif, quantity, quote_qty, price, stop_price, client_id, stp, resp)


def parse_cancel_restrictions(params: Params) -> str | None:
    """``cancelRestrictions`` of a cancel (ONLY_NEW, ONLY_PARTIALLY_FILLED); anything else is -1145."""
    value = params.opt_str("cancelRestrictions")
    if value is not None and value not in CANCEL_RESTRICTIONS:
        raise BinanceApiError(-1145, "Invalid cancelRestrictions")
    return value


def parse_cancel_replace(params: Params, symbols: frozenset[str]) -> CancelReplaceInput:
    """The cancel parameters of ``order.cancelReplace`` / ``POST /api/v3/order/cancelReplace``."""
    symbol = params.symbol(symbols)
    mode = params.enum("cancelReplaceMode", CANCEL_REPLACE_MODES)
    assert mode is not None
    order_id = params.opt_int("cancelOrderId")
    orig = params.opt_str("cancelOrigClientOrderId")
    if order_id is None and orig is None:
        raise _either("cancelOrigClientOrderId", "cancelOrderId")
    new_id = params.client_order_id("cancelNewClientOrderId")
    return CancelReplaceInput(symbol, mode, order_id, orig, new_id, parse_cancel_restrictions(params))


def _require(*pairs: tuple[str, object]) -> None:
    for name, value in pairs:
        if value is None:
            raise apierror.mandatory(name)


def _check_by_type(
    order_type: str, tif: str | None, quantity: int | None, quote_qty: int | None, price: int | None
) -> None:
    """Binance's mandatory-by-type table (rest-api.md, POST /api/v3/order)."""
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        _require(("timeInForce", tif), ("quantity", quantity), ("price", price))
    elif order_type == "LIMIT_MAKER":
        _require(("quantity", quantity), ("price", price))
        if tif is not None:
            raise _not_required("timeInForce")
    elif order_type == "MARKET":
        if quantity is None and quote_qty is None:
            raise _either("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise _not_required("quoteOrderQty")
        if price is not None:
            raise _not_required("price")
        if tif is not None:
            raise _not_required("timeInForce")
    if order_type != "MARKET" and quote_qty is not None:
        raise _not_required("quoteOrderQty")


def _check_stop(order_type: str, quantity: int | None, stop_price: int | None, trailing: bool) -> None:
    if order_type in ("STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        _require(("quantity", quantity))
        if stop_price is None and not trailing:
            raise _either("stopPrice", "trailingDelta")
    elif stop_price is not None:
        raise _not_required("stopPrice")
