"""Order management: one table-driven state machine per order, no duplicate ever.

The OMS is sans-I/O. It turns intents into commands (after journaling them),
and venue answers into order updates and fills. It never resends an order:

* every order gets a fresh, deterministic client order id
  (:class:`~stanchion.core.ids.ClientOrderIdFactory`; the epoch makes ids of a
  restarted shard new);
* the intent is appended to the journal *before* the command is returned to
  the caller that will send it;
* a timeout, a 5xx, ``-1007`` or a dropped connection make the order
  ``UNKNOWN``; the OMS then asks for a **query** by client order id, and only
  the venue's answer moves it on. "Not found" is believed only once the
  request can no longer reach the matching engine (Binance drops requests
  older than ``recvWindow``, which the adapter sets to 5 s; the default grace
  is 10 s), and then the order is ``REJECTED`` locally;
* fills are deduplicated by ``(venue, symbol, trade_id)``, so replays after a
  reconnect or a query never count twice;
* the races are in the transition table: a fill after a cancel request
  (``CANCEL_PENDING`` + fill → ``FILLED``), a cancel rejected because the order
  filled (``CANCEL_PENDING`` + cancel-rejected → ``UNKNOWN`` → query).
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgspec

from stanchion.core.errors import IllegalTransitionError
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.core.state_machine import StateMachine
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.orders import (
    TERMINAL_STATUSES,
    OrderStatus,
    OrderTrigger,
    OrderType,
    Side,
    TimeInForce,
    armed_order_machine,
    new_order_machine,
    trigger_for_venue_status,
)

JournalAppend = Callable[[str, str, bytes], int]
"""``append(kind, key, body) -> seq``: durable before it returns (see persistence.journal)."""


class JournalKind(enum.StrEnum):
    INTENT = "order.intent"
    CANCEL_INTENT = "order.cancel_intent"
    REPLACE_INTENT = "order.replace_intent"  # key: the order replaced; body: its successor's intent
    ARMED_INTENT = "order.armed_intent"  # an order sent later by its market condition (may have gone out)
    STATE = "order.state"
    FILL = "order.fill"
    LOCAL_REJECT = "order.local_reject"


class OrderIntentRecord(msgspec.Struct, frozen=True):
    client_order_id: str
    venue: str
    account: str
    symbol: str
    strategy: str
    side: Side
    order_type: OrderType
    qty: int
    price: int | None
    time_in_force: TimeInForce | None
    created_ns: int


class OrderStateRecord(msgspec.Struct, frozen=True):
    client_order_id: str
    status: OrderStatus
    venue_order_id: int | None
    filled_qty: int
    reason: str | None = None


_encoder = msgspec.msgpack.Encoder()
_intent_decoder = msgspec.msgpack.Decoder(OrderIntentRecord)
_state_decoder = msgspec.msgpack.Decoder(OrderStateRecord)
_fill_decoder = msgspec.msgpack.Decoder(Fill)


@dataclass(slots=True)
class Order:
    client_order_id: str
    venue: str
    account: str
    symbol: str
    strategy: str
    side: Side
    order_type: OrderType
    qty: int
    price: int | None
    time_in_force: TimeInForce | None
    created_ns: int
    machine: StateMachine[OrderStatus, OrderTrigger] = field(default_factory=new_order_machine)
    venue_order_id: int | None = None
    filled_qty: int = 0
    filled_quote: int = 0
    sent_ns: int | None = None
    unknown_since_ns: int | None = None
    reason: str | None = None
    fill_ids: set[int] = field(default_factory=set)

    @property
    def status(self) -> OrderStatus:
        return self.machine.state

    @property
    def is_open(self) -> bool:
        return self.machine.state not in TERMINAL_STATUSES

    @property
    def remaining_qty(self) -> int:
        return max(0, self.qty - self.filled_qty)

    @property
    def is_buy(self) -> bool:
        return self.side is Side.BUY

    @property
    def is_armed(self) -> bool:
        return self.machine.state is OrderStatus.ARMED


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order: Order
    previous: OrderStatus
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class QueryOrder:
    """Ask the venue for the order's state (by client order id)."""

    venue: str
    symbol: str
    client_order_id: str


@dataclass(slots=True)
class OmsStatistics:
    submitted: int = 0
    local_rejects: int = 0
    venue_rejects: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    unknown: int = 0
    resolved_unknown: int = 0
    cancels_requested: int = 0
    anomalies: int = 0
    stray_reports: int = 0
    armed: int = 0
    disarmed: int = 0


class OrderManager:
    """Orders of one engine shard on one venue account."""

    def __init__(
        self,
        venue: str,
        account: str,
        ids: ClientOrderIdFactory,
        journal_append: JournalAppend,
        *,
        not_found_grace_ns: int = 10_000_000_000,
        closed_history: int = 10_000,
    ) -> None:
        self.venue = venue
        self.account = account
        self._ids = ids
        self._journal = journal_append
        self._not_found_grace_ns = not_found_grace_ns
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._closed: collections.OrderedDict[str, Order] = collections.OrderedDict()
        self._closed_history = closed_history
        self._seen_fills: collections.OrderedDict[tuple[str, int], None] = collections.OrderedDict()
        self.stats = OmsStatistics()

    # --- queries -----------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        return self._open.get(client_order_id) or self._closed.get(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def venue_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders the venue may know of: all but the armed ones (never sent yet)."""
        return [
            o for o in self._open.values()
            if (symbol is None or o.symbol == symbol) and o.machine.state is not OrderStatus.ARMED
        ]

    def armed_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o for o in self._open.values()
            if (symbol is None or o.symbol == symbol) and o.machine.state is OrderStatus.ARMED
        ]

    def open_count(self) -> int:
        return len(self._open)

    def open_qty(self, symbol: str) -> tuple[int, int]:
        """(outstanding buy qty, outstanding sell qty) on open orders of ``symbol``."""
        buy = sell = 0
        for order in self._open.values():
            if order.symbol == symbol:
                if order.is_buy:
                    buy += order.remaining_qty
                else:
                    sell += order.remaining_qty
        return buy, sell

    def owns_id(self, client_order_id: str) -> bool:
        """True for ids of this deployment and shard (any epoch), known to us or not."""
        return self._ids.owns(client_order_id)

    def unresolved(self) -> list[Order]:
        return [o for o in self._open.values() if o.status is OrderStatus.UNKNOWN]

    def __iter__(self) -> Iterator[Order]:
        return iter(list(self._open.values()) + list(self._closed.values()))

    # --- intents -----------------------------------------------------------------------

    def create(
        self,
        *,
        strategy: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int | None,
        time_in_force: TimeInForce | None,
        now_ns: int,
    ) -> tuple[Order, SubmitOrder]:
        """Journal a new order's intent and return the command to send."""
        order, command = self._new_order(
            JournalKind.INTENT, strategy, symbol, side, order_type, qty, price, time_in_force, now_ns
        )
        order.sent_ns = now_ns
        self.stats.submitted += 1
        return order, command

    def arm(
        self,
        *,
        strategy: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int | None,
        time_in_force: TimeInForce | None,
        now_ns: int,
    ) -> tuple[Order, SubmitOrder]:
        """Journal an armed order's intent (before its frame is even built) and return the
        command its frame is built from. The order is ``ARMED`` until :meth:`fired` or
        :meth:`disarmed`; after a restart it is ``UNKNOWN`` like any order whose frame may have
        left, and the venue is asked."""
        order, command = self._new_order(
            JournalKind.ARMED_INTENT, strategy, symbol, side, order_type, qty, price, time_in_force, now_ns
        )
        self.stats.armed += 1
        return order, command

    def _new_order(
        self,
        kind: JournalKind,
        strategy: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int | None,
        time_in_force: TimeInForce | None,
        now_ns: int,
    ) -> tuple[Order, SubmitOrder]:
        """A fresh client order id, its intent journaled as ``kind``, the order adopted."""
        client_order_id = self._ids.next_id()
        intent = OrderIntentRecord(
            client_order_id, self.venue, self.account, symbol, strategy, side, order_type, qty, price,
            time_in_force, now_ns,
        )
        self._journal(kind, client_order_id, _encoder.encode(intent))
        order = self._adopt_intent(intent, armed=kind is JournalKind.ARMED_INTENT)
        return order, SubmitOrder(symbol, client_order_id, side, order_type, qty, price, time_in_force)

    def fired(self, client_order_id: str, now_ns: int) -> Order | None:
        """The armed order's frame was written: it is an order in flight (``SUBMITTING``).
        Not journaled: the ARMED_INTENT already makes a restart ask the venue about it."""
        order = self._open.get(client_order_id)
        if order is None or order.machine.state is not OrderStatus.ARMED:
            return None
        order.machine.trigger(OrderTrigger.FIRED)
        order.sent_ns = now_ns
        self.stats.submitted += 1
        return order

    def disarmed(self, client_order_id: str, reason: str) -> OrderUpdate | None:
        """The armed order was withdrawn before it fired (it never left): CANCELED, journaled."""
        order = self._open.get(client_order_id)
        if order is None or order.machine.state is not OrderStatus.ARMED:
            return None
        order.reason = reason
        self.stats.disarmed += 1
        return self._transition(order, OrderTrigger.DISARMED, record_reason=reason)

    def _adopt_intent(self, intent: OrderIntentRecord, *, armed: bool = False) -> Order:
        order = Order(
            intent.client_order_id, intent.venue, intent.account, intent.symbol, intent.strategy, intent.side,
            intent.order_type, intent.qty, intent.price, intent.time_in_force, intent.created_ns,
        )
        if armed:
            order.machine = armed_order_machine()
        self._orders[order.client_order_id] = order
        self._open[order.client_order_id] = order
        return order

    def request_cancel(self, client_order_id: str) -> CancelOrder | None:
        """Journal a cancel intent; None when there is nothing to cancel."""
        order = self._open.get(client_order_id)
        if order is None or not order.machine.can(OrderTrigger.CANCEL_REQUESTED):
            return None
        if order.status is OrderStatus.CANCEL_PENDING:
            return None  # one cancel in flight is enough
        self._journal(JournalKind.CANCEL_INTENT, client_order_id, b"")
        # No STATE record: replaying the CANCEL_INTENT applies this same transition (one
        # journal write, not two, between the strategy's cancel and the cancel frame).
        self._transition(order, OrderTrigger.CANCEL_REQUESTED, journal=False)
        self.stats.cancels_requested += 1
        return CancelOrder(order.symbol, client_order_id, order.venue_order_id)

    def request_replace(
        self, client_order_id: str, *, qty: int, price: int | None, now_ns: int
    ) -> tuple[Order, ReplaceOrder] | None:
        """Journal one record for "cancel ``client_order_id``, place its successor" (one venue
        request where the venue has one, e.g. Binance ``order.cancelReplace``) and return the
        successor and the command. None when the order cannot be canceled (not open, or a cancel
        already in flight): the caller decides whether to place a plain order instead.

        The successor keeps the original's side, type, time in force and strategy. Replaying
        the record adopts the successor and puts the original in ``CANCEL_PENDING``, exactly
        what a CANCEL_INTENT followed by an INTENT would do, with one write instead of two.
        """
        original = self._open.get(client_order_id)
        if (
            original is None
            or original.status is OrderStatus.CANCEL_PENDING
            or not original.machine.can(OrderTrigger.CANCEL_REQUESTED)
        ):
            return None
        new_id = self._ids.next_id()
        intent = OrderIntentRecord(
            new_id, self.venue, self.account, original.symbol, original.strategy, original.side,
            original.order_type, qty, price, original.time_in_force, now_ns,
        )
        self._journal(JournalKind.REPLACE_INTENT, client_order_id, _encoder.encode(intent))
        self._transition(original, OrderTrigger.CANCEL_REQUESTED, journal=False)
        self.stats.cancels_requested += 1
        order = self._adopt_intent(intent)
        order.sent_ns = now_ns
        self.stats.submitted += 1
        command = ReplaceOrder(
            original.symbol, new_id, client_order_id, original.side, original.order_type, qty, price,
            original.time_in_force,
        )
        return order, command

    # --- outcomes of our requests ------------------------------------------------------

    def on_rejected_before_send(self, client_order_id: str, reason: str) -> OrderUpdate | None:
        """The request never left (local refusal, venue answered with a definite reject)."""
        order = self._open.get(client_order_id)
        if order is None:
            return None
        self.stats.local_rejects += 1
        order.reason = reason
        return self._transition(order, OrderTrigger.VENUE_REJECTED, record_reason=reason)

    def on_outcome_unknown(self, client_order_id: str, now_ns: int, reason: str) -> QueryOrder | None:
        """A request's outcome is unknown: mark UNKNOWN and ask for a query."""
        order = self._open.get(client_order_id)
        if order is None:
            return None
        if order.status is not OrderStatus.UNKNOWN:
            self.stats.unknown += 1
            order.unknown_since_ns = now_ns
        self._transition(order, OrderTrigger.OUTCOME_UNKNOWN, record_reason=reason)
        return QueryOrder(order.venue, order.symbol, client_order_id)

    def on_cancel_rejected(self, client_order_id: str, now_ns: int, reason: str) -> QueryOrder | None:
        """The cancel failed (e.g. -2011): the order may have filled. Query it."""
        order = self._open.get(client_order_id)
        if order is None:
            return None
        if order.status is OrderStatus.CANCEL_PENDING:
            self._transition(order, OrderTrigger.CANCEL_REJECTED, record_reason=reason)
            order.unknown_since_ns = now_ns
            self.stats.unknown += 1
        return QueryOrder(order.venue, order.symbol, client_order_id)

    def on_query_not_found(self, client_order_id: str, now_ns: int) -> OrderUpdate | None:
        """The venue does not know the order. Believed only after the grace period."""
        order = self._open.get(client_order_id)
        if order is None or order.status is not OrderStatus.UNKNOWN:
            return None
        since = order.sent_ns if order.sent_ns is not None else order.created_ns
        if now_ns - since < self._not_found_grace_ns:
            return None  # the request may still be in flight; query again later
        self.stats.resolved_unknown += 1
        return self._transition(order, OrderTrigger.VENUE_REJECTED, record_reason="not found at venue")

    def queries_due(self, now_ns: int, every_ns: int) -> list[QueryOrder]:
        """Queries to (re)send for orders still UNKNOWN."""
        due = []
        for order in self._open.values():
            if order.status is OrderStatus.UNKNOWN and (
                order.unknown_since_ns is None or now_ns - order.unknown_since_ns >= every_ns
            ):
                order.unknown_since_ns = now_ns
                due.append(QueryOrder(order.venue, order.symbol, order.client_order_id))
        return due

    # --- venue reports -----------------------------------------------------------------

    def on_report(self, report: ExecutionReport) -> tuple[OrderUpdate | None, Fill | None]:
        """Apply an execution report (stream or query). Returns the update and a *new* fill."""
        cid = report.client_order_id
        if report.original_client_order_id and report.execution_type.value == "CANCELED":
            cid = report.original_client_order_id  # Binance: c is the cancel's id, C the order's
        order = self._open.get(cid) or self._closed.get(cid)
        if order is None:
            self.stats.stray_reports += 1
            return None, None
        new_fill: Fill | None = None
        fill = report.fill
        if fill is not None:
            key = (fill.symbol, fill.trade_id)
            if key in self._seen_fills or fill.trade_id in order.fill_ids:
                self.stats.duplicate_fills += 1
            else:
                self._remember_fill(key)
                order.fill_ids.add(fill.trade_id)
                order.filled_qty += fill.qty
                order.filled_quote += fill.qty * fill.price
                self._journal(JournalKind.FILL, cid, _encoder.encode(fill))
                self.stats.fills += 1
                new_fill = fill
        if report.venue_order_id:
            order.venue_order_id = report.venue_order_id
        update = self._apply_status(order, report.status)
        if update is not None and new_fill is None and update.previous is update.status:
            update = None  # a repeated report: nothing changed
        if report.status is OrderStatus.REJECTED:
            self.stats.venue_rejects += 1
            order.reason = report.reject_reason
        return update, new_fill

    def _remember_fill(self, key: tuple[str, int]) -> None:
        self._seen_fills[key] = None
        if len(self._seen_fills) > 200_000:
            self._seen_fills.popitem(last=False)

    def _apply_status(self, order: Order, status: OrderStatus) -> OrderUpdate | None:
        if status in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.CANCEL_PENDING):
            return None
        if not order.is_open:
            if order.status is not status:
                self.stats.anomalies += 1  # e.g. a stale NEW after FILLED: keep the terminal state
            return None
        trigger = trigger_for_venue_status(status)
        if status is OrderStatus.PARTIALLY_FILLED and order.filled_qty >= order.qty:
            trigger = OrderTrigger.VENUE_FILL
        if not order.machine.can(trigger):
            if order.status is status:
                return None  # duplicate report
            self.stats.anomalies += 1
            return None
        if order.status is OrderStatus.UNKNOWN:
            self.stats.resolved_unknown += 1
        return self._transition(order, trigger)

    def _transition(
        self, order: Order, trigger: OrderTrigger, record_reason: str | None = None, *, journal: bool = True
    ) -> OrderUpdate:
        previous = order.status
        try:
            status = order.machine.trigger(trigger)
        except IllegalTransitionError:
            self.stats.anomalies += 1
            raise
        if journal and (status is not previous or record_reason):
            record = OrderStateRecord(order.client_order_id, status, order.venue_order_id, order.filled_qty,
                                      record_reason)
            self._journal(JournalKind.STATE, order.client_order_id, _encoder.encode(record))
        if not order.is_open:
            self._open.pop(order.client_order_id, None)
            self._closed[order.client_order_id] = order
            while len(self._closed) > self._closed_history:
                old, _ = self._closed.popitem(last=False)
                self._orders.pop(old, None)
        return OrderUpdate(order, previous, status)

    # --- recovery ----------------------------------------------------------------------

    def replay(self, kind: str, key: str, body: bytes) -> Fill | None:
        """Rebuild state from one journal record (in journal order). Returns a replayed fill."""
        if kind == JournalKind.INTENT:
            self._adopt_intent(_intent_decoder.decode(body)).sent_ns = None
        elif kind == JournalKind.STATE:
            record = _state_decoder.decode(body)
            order = self._orders.get(record.client_order_id)
            if order is not None:
                order.machine.restore(record.status)
                order.venue_order_id = record.venue_order_id
                order.reason = record.reason
                if not order.is_open:
                    self._open.pop(order.client_order_id, None)
                    self._closed[order.client_order_id] = order
        elif kind == JournalKind.FILL:
            fill = _fill_decoder.decode(body)
            order = self._orders.get(key)
            self._remember_fill((fill.symbol, fill.trade_id))
            if order is not None:
                order.fill_ids.add(fill.trade_id)
                order.filled_qty += fill.qty
                order.filled_quote += fill.qty * fill.price
            return fill
        elif kind == JournalKind.CANCEL_INTENT:
            self._replay_cancel(key)
        elif kind == JournalKind.REPLACE_INTENT:
            self._replay_cancel(key)
            self._adopt_intent(_intent_decoder.decode(body)).sent_ns = None
        elif kind == JournalKind.ARMED_INTENT:
            self._adopt_intent(_intent_decoder.decode(body), armed=True).sent_ns = None
        return None

    def _replay_cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is not None and order.is_open and order.machine.can(OrderTrigger.CANCEL_REQUESTED):
            order.machine.trigger(OrderTrigger.CANCEL_REQUESTED)

    def after_replay(self, now_ns: int) -> list[QueryOrder]:
        """Every order left open by the previous process is of unknown state: query them all."""
        queries = []
        for order in list(self._open.values()):
            # Whatever the journal last said, the venue may have moved on while we
            # were down: the order's state is unknown until a query answers.
            armed = order.machine.state is OrderStatus.ARMED
            order.machine.restore(OrderStatus.UNKNOWN)
            order.unknown_since_ns = now_ns
            if armed:
                # Its frame may have left just before the crash, signed moments earlier however
                # long ago it was armed: "not found" is believed only a grace after this restart.
                order.sent_ns = now_ns
            elif order.sent_ns is None:
                order.sent_ns = order.created_ns
            queries.append(QueryOrder(order.venue, order.symbol, order.client_order_id))
        return queries
