"""Table-driven state machines: orders, connections, book sync, lifecycles.

A machine is a table ``{(state, trigger): next_state}``. An illegal transition
raises :class:`IllegalTransitionError` and leaves the state untouched.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

from stanchion.core.errors import IllegalTransitionError

S = TypeVar("S", bound=enum.Enum)
T = TypeVar("T", bound=enum.Enum)


class TransitionTable(Generic[S, T]):
    """An immutable transition table, shared by every machine of one kind."""

    __slots__ = ("_name", "_table", "_terminal")

    def __init__(
        self,
        name: str,
        transitions: Mapping[tuple[S, T], S],
        terminal: frozenset[S] = frozenset(),
    ) -> None:
        self._name = name
        self._table = dict(transitions)
        self._terminal = terminal
        for (state, trigger), _ in self._table.items():
            if state in terminal:
                raise ValueError(f"{name}: terminal state {state.name} has a transition on {trigger.name}")

    @property
    def name(self) -> str:
        return self._name

    def next_state(self, state: S, trigger: T) -> S:
        try:
            return self._table[(state, trigger)]
        except KeyError:
            raise IllegalTransitionError(
                f"{self._name}: no transition from {state.name} on {trigger.name}"
            ) from None

    def allows(self, state: S, trigger: T) -> bool:
        return (state, trigger) in self._table

    def is_terminal(self, state: S) -> bool:
        return state in self._terminal

    def triggers_from(self, state: S) -> list[T]:
        return [trigger for (s, trigger) in self._table if s is state]


class StateMachine(Generic[S, T]):
    """One machine's current state over a shared table."""

    __slots__ = ("_state", "_table")

    def __init__(self, table: TransitionTable[S, T], initial: S) -> None:
        self._table = table
        self._state = initial

    @property
    def state(self) -> S:
        return self._state

    def trigger(self, trigger: T) -> S:
        self._state = self._table.next_state(self._state, trigger)
        return self._state

    def can(self, trigger: T) -> bool:
        return self._table.allows(self._state, trigger)

    def restore(self, state: S) -> None:
        """Set the state without a transition: only for rebuilding from a journal."""
        self._state = state
