"""The order lifecycle table (model/orders.py): legal moves, illegal moves, terminal states."""

from __future__ import annotations

import pytest

from stanchion.core.errors import IllegalTransitionError
from stanchion.model.orders import (
    ORDER_TRANSITIONS,
    TERMINAL_STATUSES,
    OrderStatus,
    OrderTrigger,
    new_order_machine,
    trigger_for_venue_status,
)


def test_happy_path_submit_fill() -> None:
    machine = new_order_machine()
    assert machine.state is OrderStatus.SUBMITTING
    for trigger, state in (
        (OrderTrigger.VENUE_NEW, OrderStatus.NEW),
        (OrderTrigger.VENUE_PARTIAL_FILL, OrderStatus.PARTIALLY_FILLED),
        (OrderTrigger.VENUE_PARTIAL_FILL, OrderStatus.PARTIALLY_FILLED),
        (OrderTrigger.VENUE_FILL, OrderStatus.FILLED),
    ):
        assert machine.trigger(trigger) is state


def test_timeout_is_unknown_and_a_later_report_resolves_it() -> None:
    machine = new_order_machine()
    assert machine.trigger(OrderTrigger.OUTCOME_UNKNOWN) is OrderStatus.UNKNOWN
    assert machine.trigger(OrderTrigger.VENUE_FILL) is OrderStatus.FILLED


def test_cancel_pending_then_fill_wins_and_cancel_reject_is_unknown() -> None:
    machine = new_order_machine()
    machine.trigger(OrderTrigger.VENUE_NEW)
    assert machine.trigger(OrderTrigger.CANCEL_REQUESTED) is OrderStatus.CANCEL_PENDING
    assert machine.trigger(OrderTrigger.VENUE_PARTIAL_FILL) is OrderStatus.CANCEL_PENDING
    assert machine.trigger(OrderTrigger.CANCEL_REJECTED) is OrderStatus.UNKNOWN
    assert machine.trigger(OrderTrigger.VENUE_CANCELED) is OrderStatus.CANCELED


def test_terminal_states_accept_nothing_and_illegal_moves_leave_state() -> None:
    for status in TERMINAL_STATUSES:
        assert ORDER_TRANSITIONS.triggers_from(status) == []
    machine = new_order_machine()
    machine.trigger(OrderTrigger.VENUE_NEW)
    with pytest.raises(IllegalTransitionError):
        machine.trigger(OrderTrigger.VENUE_REJECTED)  # a NEW order is not rejected later
    assert machine.state is OrderStatus.NEW


def test_venue_status_triggers() -> None:
    assert trigger_for_venue_status(OrderStatus.FILLED) is OrderTrigger.VENUE_FILL
    with pytest.raises(ValueError, match="local status"):
        trigger_for_venue_status(OrderStatus.UNKNOWN)
