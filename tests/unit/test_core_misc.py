"""Clock, error tree and table-driven state machines."""

from __future__ import annotations

import enum

import pytest

from stanchion.core.clock import Clock, LiveClock, TestClock
from stanchion.core.errors import (
    ConfigError,
    Disposition,
    IllegalTransitionError,
    LocalError,
    OrderOutcomeUnknownError,
    ParseError,
    RateLimitedError,
    RemoteError,
    VenueRejectedError,
)
from stanchion.core.state_machine import StateMachine, TransitionTable


def test_clocks_satisfy_protocol() -> None:
    assert isinstance(LiveClock(), Clock)
    assert isinstance(TestClock(), Clock)


def test_live_clock_is_monotonic() -> None:
    clock = LiveClock()
    a = clock.monotonic_ns()
    b = clock.monotonic_ns()
    assert b >= a
    assert abs(clock.time_ms() - clock.time_ns() // 1_000_000) <= 1000


def test_test_clock_moves_only_when_told() -> None:
    clock = TestClock(wall_ns=1_000, monotonic_ns=5)
    assert clock.time_ns() == 1_000
    clock.advance(10)
    assert (clock.time_ns(), clock.monotonic_ns()) == (1_010, 15)
    clock.set_wall_ns(0)  # skew: wall time steps, monotonic does not
    assert (clock.time_ns(), clock.monotonic_ns()) == (0, 15)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_error_tree_answers_who_and_what_next() -> None:
    unknown = OrderOutcomeUnknownError("timeout after send", venue="binance", http_status=503)
    assert isinstance(unknown, RemoteError) and unknown.outcome_unknown and not unknown.retryable
    limited = RateLimitedError("429", retry_after=12.0, venue="binance", venue_code=-1003)
    assert limited.retryable and limited.retry_after == 12.0 and limited.venue_code == -1003
    rejected = VenueRejectedError("filter", venue_code=-1013)
    assert rejected.disposition is Disposition.FATAL
    assert isinstance(ConfigError("x"), LocalError)
    assert isinstance(ParseError("x"), ValueError)


class Light(enum.Enum):
    RED = 1
    GREEN = 2
    OFF = 3


class Signal(enum.Enum):
    GO = 1
    STOP = 2
    POWER_OFF = 3


TABLE = TransitionTable(
    "light",
    {
        (Light.RED, Signal.GO): Light.GREEN,
        (Light.GREEN, Signal.STOP): Light.RED,
        (Light.RED, Signal.POWER_OFF): Light.OFF,
        (Light.GREEN, Signal.POWER_OFF): Light.OFF,
    },
    terminal=frozenset({Light.OFF}),
)


def test_state_machine_follows_table() -> None:
    machine = StateMachine(TABLE, Light.RED)
    assert machine.trigger(Signal.GO) is Light.GREEN
    assert machine.can(Signal.STOP) and not machine.can(Signal.GO)
    assert TABLE.triggers_from(Light.RED) == [Signal.GO, Signal.POWER_OFF]


def test_illegal_transition_raises_and_leaves_state() -> None:
    machine = StateMachine(TABLE, Light.GREEN)
    with pytest.raises(IllegalTransitionError, match="no transition from GREEN on GO"):
        machine.trigger(Signal.GO)
    assert machine.state is Light.GREEN
    machine.trigger(Signal.POWER_OFF)
    assert TABLE.is_terminal(machine.state)


def test_terminal_state_cannot_have_transitions() -> None:
    with pytest.raises(ValueError, match="terminal state OFF"):
        TransitionTable("bad", {(Light.OFF, Signal.GO): Light.GREEN}, terminal=frozenset({Light.OFF}))
