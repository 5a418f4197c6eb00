"""A sliding one-second window counter for order and cancel rates (monotonic ns)."""

from __future__ import annotations

import collections

_WINDOW_NS = 1_000_000_000


class RateWindow:
    __slots__ = ("_events", "limit")

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        self.limit = limit
        self._events: collections.deque[int] = collections.deque()

    def _expire(self, now_ns: int) -> None:
        events = self._events
        horizon = now_ns - _WINDOW_NS
        while events and events[0] <= horizon:
            events.popleft()

    def would_exceed(self, now_ns: int) -> bool:
        self._expire(now_ns)
        return len(self._events) >= self.limit

    def record(self, now_ns: int) -> None:
        self._expire(now_ns)
        self._events.append(now_ns)

    def count(self, now_ns: int) -> int:
        self._expire(now_ns)
        return len(self._events)
