"""Binance JSON from the core exchange's value types (exact field names, 8-decimal strings)."""

from __future__ import annotations

from stanchion.core.fixedpoint import format_fixed
from stanchion.sim.types import (
    AccountUpdate,
    BalanceUpdate,
    ExecutionEvent,
    FillView,
    OrderView,
)

SCALE = 8


def fx(value: int) -> str:
    """Binance prints every price and quantity with 8 decimals."""
    return format_fixed(value, SCALE)


def order_ack(o: OrderView, transact_time: int) -> dict[str, object]:
    return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
            "clientOrderId": o.client_order_id, "transactTime": transact_time}


def order_result(o: OrderView, transact_time: int) -> dict[str, object]:
    out = order_ack(o, transact_time)
    out.update({
        "price": fx(o.price), "origQty": fx(o.orig_qty), "executedQty": fx(o.executed_qty),
        "origQuoteOrderQty": fx(o.orig_quote_order_qty), "cummulativeQuoteQty": fx(o.cumulative_quote_qty),
        "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
        "workingTime": o.working_time, "selfTradePreventionMode": o.stp_mode,
    })
    _conditional(o, out)
    return out


def _conditional(o: OrderView, out: dict[str, object]) -> None:
    if o.stop_price:
        out["stopPrice"] = fx(o.stop_price)
    if o.iceberg_qty:
        out["icebergQty"] = fx(o.iceberg_qty)
    if o.prevented_match_id is not None:
        out["preventedMatchId"] = o.prevented_match_id
    if o.prevented_quantity is not None:
        out["preventedQuantity"] = fx(o.prevented_quantity)


def fill(f: FillView) -> dict[str, object]:
    return {"price": fx(f.price), "qty": fx(f.qty), "commission": fx(f.commission),
            "commissionAsset": f.commission_asset, "tradeId": f.trade_id}


def order_full(o: OrderView, transact_time: int, fills: tuple[FillView, ...]) -> dict[str, object]:
    out = order_result(o, transact_time)
    out["fills"] = [fill(f) for f in fills]
    return out


def order_reply(o: OrderView, transact_time: int, fills: tuple[FillView, ...], resp_type: str) -> dict[str, object]:
    if resp_type == "ACK":
        return order_ack(o, transact_time)
    if resp_type == "RESULT":
        return order_result(o, transact_time)
    return order_full(o, transact_time, fills)


def order_query(o: OrderView) -> dict[str, object]:
    """GET /api/v3/order, openOrders, allOrders entries."""
    return {
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id, "price": fx(o.price), "origQty": fx(o.orig_qty),
        "executedQty": fx(o.executed_qty), "cummulativeQuoteQty": fx(o.cumulative_quote_qty),
        "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
        "stopPrice": fx(o.stop_price), "icebergQty": fx(o.iceberg_qty), "time": o.time,
        "updateTime": o.update_time, "isWorking": o.is_working, "workingTime": o.working_time,
        "origQuoteOrderQty": fx(o.orig_quote_order_qty), "selfTradePreventionMode": o.stp_mode,
    }


def cancel_reply(o: OrderView, transact_time: int) -> dict[str, object]:
    out: dict[str, object] = {
        "symbol": o.symbol, "origClientOrderId": o.orig_client_order_id or o.client_order_id,
        "orderId": o.order_id, "orderListId": o.order_list_id, "clientOrderId": o.client_order_id,
        "transactTime": transact_time, "price": fx(o.price), "origQty": fx(o.orig_qty),
        "executedQty": fx(o.executed_qty), "origQuoteOrderQty": fx(o.orig_quote_order_qty),
        "cummulativeQuoteQty": fx(o.cumulative_quote_qty), "status": o.status,
        "timeInForce": o.time_in_force, "type": o.type, "side": o.side, "selfTradePreventionMode": o.stp_mode,
    }
    _conditional(o, out)
    return out


def my_trade(f: FillView) -> dict[str, object]:
    return {
        "symbol": f.symbol, "id": f.trade_id, "orderId": f.order_id, "orderListId": f.order_list_id,
        "price": fx(f.price), "qty": fx(f.qty), "quoteQty": fx(f.quote_qty), "commission": fx(f.commission),
        "commissionAsset": f.commission_asset, "time": f.time, "isBuyer": f.is_buyer, "isMaker": f.is_maker,
        "isBestMatch": f.is_best_match,
    }


def execution_report(e: ExecutionEvent) -> dict[str, object]:
    """``executionReport`` with every always-present key, then the conditional ones."""
    out: dict[str, object] = {
        "e": "executionReport", "E": e.event_time, "s": e.symbol, "c": e.client_order_id, "S": e.side,
        "o": e.order_type, "f": e.time_in_force, "q": fx(e.quantity), "p": fx(e.price), "P": fx(e.stop_price),
        "F": fx(e.iceberg_qty), "g": e.order_list_id, "C": e.orig_client_order_id, "x": e.execution_type,
        "X": e.status, "r": e.reject_reason, "i": e.order_id, "l": fx(e.last_executed_qty),
        "z": fx(e.cumulative_qty), "L": fx(e.last_executed_price), "n": fx(e.commission),
        "N": e.commission_asset, "T": e.transaction_time, "t": e.trade_id,
        "v": e.prevented_match_id_or_none if e.prevented_match_id_or_none is not None else -1,
        "I": e.order_id * 2 + 1, "w": e.is_working, "m": e.is_maker, "M": False, "O": e.order_creation_time,
        "Z": fx(e.cumulative_quote_qty), "Y": fx(e.last_quote_qty), "Q": fx(e.quote_order_qty),
        "W": e.working_time, "V": e.stp_mode,
    }
    if e.prevented_quantity is not None:
        out["A"] = fx(e.prevented_quantity)
    if e.last_prevented_quantity is not None:
        out["B"] = fx(e.last_prevented_quantity)
    if e.counter_order_id is not None:
        out["U"] = e.counter_order_id
    if e.trade_group_id is not None:
        out["u"] = e.trade_group_id
    return out


def account_position(e: AccountUpdate) -> dict[str, object]:
    return {
        "e": "outboundAccountPosition", "E": e.event_time, "u": e.last_update_time,
        "B": [{"a": b.asset, "f": fx(b.free), "l": fx(b.locked)} for b in e.balances],
    }


def balance_update(e: BalanceUpdate) -> dict[str, object]:
    sign = "-" if e.delta < 0 else ""
    return {"e": "balanceUpdate", "E": e.event_time, "a": e.asset, "d": sign + fx(abs(e.delta)), "T": e.clear_time}
