"""Execution reports and fills, normalized.

A fill's id is the venue's trade id: together with venue and symbol it is the
dedup key, so a report replayed after a reconnect never counts twice.
Amounts are ints at the instrument's scales; commission at ``commission_scale``.
"""

from __future__ import annotations

import msgspec

from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce


class Fill(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    trade_id: int
    venue_order_id: int
    client_order_id: str
    side: Side
    price: int
    qty: int
    commission: int
    commission_asset: str | None
    commission_scale: int
    is_maker: bool
    trade_time_ms: int

    @property
    def dedup_key(self) -> tuple[str, str, int]:
        """``(venue, symbol, trade_id)``: unique per fill at the venue."""
        return (self.venue, self.symbol, self.trade_id)


class ExecutionReport(msgspec.Struct, frozen=True, gc=False):
    """One change of one order at the venue (Binance ``executionReport``)."""

    venue: str
    symbol: str
    client_order_id: str
    original_client_order_id: str | None  # set on cancels: the id of the order canceled
    venue_order_id: int
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce | None
    execution_type: ExecutionType
    status: OrderStatus
    order_qty: int
    price: int
    cumulative_qty: int
    cumulative_quote: int
    reject_reason: str | None
    event_time_ms: int
    transaction_time_ms: int
    fill: Fill | None = None
