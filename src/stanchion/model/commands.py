"""Order commands, immutable. The client order id travels with every command."""

from __future__ import annotations

import msgspec

from stanchion.model.orders import OrderType, Side, TimeInForce


class SubmitOrder(msgspec.Struct, frozen=True, gc=False):
    """Place an order. ``price`` is None for MARKET; ints at the instrument's scales."""

    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    qty: int
    price: int | None = None
    time_in_force: TimeInForce | None = None
    stop_price: int | None = None


class CancelOrder(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    client_order_id: str  # the order to cancel
    venue_order_id: int | None = None


class ReplaceOrder(msgspec.Struct, frozen=True, gc=False):
    """Cancel ``original_client_order_id`` and place a new order under ``client_order_id``."""

    symbol: str
    client_order_id: str
    original_client_order_id: str
    side: Side
    order_type: OrderType
    qty: int
    price: int | None = None
    time_in_force: TimeInForce | None = None
