"""Order vocabulary and the order lifecycle as a transition table.

Venue states (Binance names) plus four local ones: ``ARMED`` (journaled,
risk-checked and signed, waiting for the market-data frame that sends it),
``SUBMITTING`` (sent, no answer yet), ``CANCEL_PENDING`` (cancel sent, no
answer yet) and ``UNKNOWN`` (the outcome of a request is unknown: timeout, 5xx,
dropped connection — resolved by querying the venue, never by a blind resend).
"""

from __future__ import annotations

import enum
from typing import Final

from stanchion.core.state_machine import StateMachine, TransitionTable


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(enum.Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"


class TimeInForce(enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(enum.Enum):
    ARMED = "ARMED"  # local: ready to go out the moment its market condition shows
    SUBMITTING = "SUBMITTING"  # local
    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    CANCEL_PENDING = "CANCEL_PENDING"  # local
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"  # local: outcome unknown, resolve by query


class ExecutionType(enum.Enum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    TRADE = "TRADE"
    EXPIRED = "EXPIRED"
    TRADE_PREVENTION = "TRADE_PREVENTION"


class OrderTrigger(enum.Enum):
    """What happened to an order (from the venue, or locally)."""

    VENUE_PENDING_NEW = "venue_pending_new"
    VENUE_NEW = "venue_new"
    VENUE_PARTIAL_FILL = "venue_partial_fill"
    VENUE_FILL = "venue_fill"
    VENUE_CANCELED = "venue_canceled"
    VENUE_REJECTED = "venue_rejected"
    VENUE_EXPIRED = "venue_expired"
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_REJECTED = "cancel_rejected"  # the cancel failed: the order may have filled
    OUTCOME_UNKNOWN = "outcome_unknown"  # timeout / 5xx / disconnect on a request
    FIRED = "fired"  # an armed order's frame was written
    DISARMED = "disarmed"  # an armed order withdrawn before it fired: it never left


TERMINAL_STATUSES: Final = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

_S = OrderStatus
_T = OrderTrigger


def _build_table() -> dict[tuple[OrderStatus, OrderTrigger], OrderStatus]:
    venue_outcomes = {
        _T.VENUE_PENDING_NEW: _S.PENDING_NEW,
        _T.VENUE_NEW: _S.NEW,
        _T.VENUE_PARTIAL_FILL: _S.PARTIALLY_FILLED,
        _T.VENUE_FILL: _S.FILLED,
        _T.VENUE_CANCELED: _S.CANCELED,
        _T.VENUE_REJECTED: _S.REJECTED,
        _T.VENUE_EXPIRED: _S.EXPIRED,
    }
    table: dict[tuple[OrderStatus, OrderTrigger], OrderStatus] = {}
    # Until the venue has answered, or while the outcome is unknown, any venue
    # report is believed: reports may overtake the request's own response.
    for state in (_S.SUBMITTING, _S.UNKNOWN):
        for trigger, target in venue_outcomes.items():
            table[(state, trigger)] = target
    table[(_S.SUBMITTING, _T.OUTCOME_UNKNOWN)] = _S.UNKNOWN
    # Armed: it leaves when its frame is written, or never (disarmed, locally canceled).
    table[(_S.ARMED, _T.FIRED)] = _S.SUBMITTING
    table[(_S.ARMED, _T.DISARMED)] = _S.CANCELED
    table[(_S.ARMED, _T.OUTCOME_UNKNOWN)] = _S.UNKNOWN
    table[(_S.SUBMITTING, _T.CANCEL_REQUESTED)] = _S.CANCEL_PENDING
    table[(_S.UNKNOWN, _T.OUTCOME_UNKNOWN)] = _S.UNKNOWN
    table[(_S.UNKNOWN, _T.CANCEL_REQUESTED)] = _S.CANCEL_PENDING

    table[(_S.PENDING_NEW, _T.VENUE_NEW)] = _S.NEW
    for state in (_S.PENDING_NEW, _S.NEW, _S.PARTIALLY_FILLED):
        table[(state, _T.VENUE_PARTIAL_FILL)] = _S.PARTIALLY_FILLED
        table[(state, _T.VENUE_FILL)] = _S.FILLED
        table[(state, _T.VENUE_CANCELED)] = _S.CANCELED
        table[(state, _T.VENUE_EXPIRED)] = _S.EXPIRED
        table[(state, _T.CANCEL_REQUESTED)] = _S.CANCEL_PENDING
        table[(state, _T.OUTCOME_UNKNOWN)] = _S.UNKNOWN
    table[(_S.PENDING_NEW, _T.VENUE_REJECTED)] = _S.REJECTED
    table[(_S.NEW, _T.VENUE_NEW)] = _S.NEW  # duplicate report (replay, reconnect)

    # Cancel sent: fills may still arrive before the cancel lands.
    table[(_S.CANCEL_PENDING, _T.VENUE_NEW)] = _S.CANCEL_PENDING
    table[(_S.CANCEL_PENDING, _T.VENUE_PARTIAL_FILL)] = _S.CANCEL_PENDING
    table[(_S.CANCEL_PENDING, _T.VENUE_FILL)] = _S.FILLED
    table[(_S.CANCEL_PENDING, _T.VENUE_CANCELED)] = _S.CANCELED
    table[(_S.CANCEL_PENDING, _T.VENUE_EXPIRED)] = _S.EXPIRED
    table[(_S.CANCEL_PENDING, _T.VENUE_REJECTED)] = _S.REJECTED
    table[(_S.CANCEL_PENDING, _T.CANCEL_REQUESTED)] = _S.CANCEL_PENDING
    # Binance answers a cancel of a just-filled order with -2011 "Unknown order":
    # the order's fate is not known from that answer alone.
    table[(_S.CANCEL_PENDING, _T.CANCEL_REJECTED)] = _S.UNKNOWN
    table[(_S.CANCEL_PENDING, _T.OUTCOME_UNKNOWN)] = _S.UNKNOWN
    return table


ORDER_TRANSITIONS: Final = TransitionTable[OrderStatus, OrderTrigger](
    "order", _build_table(), terminal=TERMINAL_STATUSES
)


def new_order_machine() -> StateMachine[OrderStatus, OrderTrigger]:
    """A machine for an order we are about to send."""
    return StateMachine(ORDER_TRANSITIONS, OrderStatus.SUBMITTING)


def armed_order_machine() -> StateMachine[OrderStatus, OrderTrigger]:
    """A machine for an armed order (sent later, by its market condition)."""
    return StateMachine(ORDER_TRANSITIONS, OrderStatus.ARMED)


def trigger_for_venue_status(status: OrderStatus) -> OrderTrigger:
    """The trigger a venue-reported status fires (local statuses have none)."""
    try:
        return _VENUE_TRIGGER[status]
    except KeyError:
        raise ValueError(f"{status.name} is a local status, not one a venue reports") from None


_VENUE_TRIGGER: Final = {
    _S.PENDING_NEW: _T.VENUE_PENDING_NEW,
    _S.NEW: _T.VENUE_NEW,
    _S.PARTIALLY_FILLED: _T.VENUE_PARTIAL_FILL,
    _S.FILLED: _T.VENUE_FILL,
    _S.CANCELED: _T.VENUE_CANCELED,
    _S.REJECTED: _T.VENUE_REJECTED,
    _S.EXPIRED: _T.VENUE_EXPIRED,
}
