"""Time is injected: live code and tests read it from a :class:`Clock`.

Two time bases, never mixed: wall time (``time_ns``, for venue timestamps,
journal records, recvWindow) and monotonic time (``monotonic_ns``, for
timeouts, staleness and latency). Both are integers in nanoseconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time since the Unix epoch, in nanoseconds."""
        ...

    def monotonic_ns(self) -> int:
        """A monotonic time in nanoseconds (arbitrary origin)."""
        ...


class LiveClock:
    """The process clock. ``time_ns`` and ``monotonic_ns`` are the C functions themselves
    (a Python method around them cost a frame per read, on every received message)."""

    __slots__ = ()

    time_ns = staticmethod(time.time_ns)
    monotonic_ns = staticmethod(time.monotonic_ns)

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000


class TestClock:
    """A clock that moves only when told to: deterministic tests and backtests."""

    __test__ = False  # not a pytest test class
    __slots__ = ("_monotonic_ns", "_wall_ns")

    def __init__(self, wall_ns: int = 1_700_000_000_000_000_000, monotonic_ns: int = 0) -> None:
        self._wall_ns = wall_ns
        self._monotonic_ns = monotonic_ns

    def time_ns(self) -> int:
        return self._wall_ns

    def monotonic_ns(self) -> int:
        return self._monotonic_ns

    def time_ms(self) -> int:
        return self._wall_ns // 1_000_000

    def advance(self, nanoseconds: int) -> None:
        """Move both time bases forward together."""
        if nanoseconds < 0:
            raise ValueError("a clock does not go backwards; use set_wall_ns for skew")
        self._wall_ns += nanoseconds
        self._monotonic_ns += nanoseconds

    def advance_seconds(self, seconds: float) -> None:
        self.advance(round(seconds * 1_000_000_000))

    def set_wall_ns(self, wall_ns: int) -> None:
        """Step wall time only (clock skew, NTP steps); monotonic time is untouched."""
        self._wall_ns = wall_ns
