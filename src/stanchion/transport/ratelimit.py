"""The shared rate limiter: budgets consumed before sending, corrected by the venue's headers.

A venue plugs in through :class:`RateLimitPolicy` (Binance: ``venues/binance/ratelimit.py``):

* ``budgets()`` — the venue's limits, e.g. ``REQUEST_WEIGHT`` 6000 per minute,
  ``ORDERS`` 50 per 10 s and 160000 per day (real values come from
  ``exchangeInfo.rateLimits``);
* ``weight(method, path, params)`` — what one request costs, per budget key;
* ``parse_usage(headers)`` — the venue's own count (``X-MBX-USED-WEIGHT-1M``,
  ``X-MBX-ORDER-COUNT-10S``, ...) as :class:`Usage` records; **the venue's number is
  the truth**: it replaces our count (plus what we have in flight), so other
  processes on the same IP are accounted for;
* ``parse_retry_after(status, headers)`` — seconds to stay away after 429/418.

Every request is charged *before* it is sent. A 429 pauses every request for
``Retry-After`` (continuing after a 429 is what earns the 418 ban); a 418 stops
**every** request until the ban ends. Callers choose to wait or to fail fast with
:class:`~stanchion.core.errors.RateLimitedError`.

Requests that do not go through the HTTP client (a venue's WebSocket API shares
the same IP and order limits) use the same calls: :meth:`RateLimiter.acquire` or
:meth:`RateLimiter.acquire_now` before sending, :meth:`RateLimiter.complete` with
the venue's counts when the answer arrives (:meth:`RateLimiter.refund` if it was
never sent), :meth:`RateLimiter.observe` for counts that come without a ticket, and
:meth:`RateLimiter.on_rate_limited` for a 429/418 answer.

Windows are fixed and aligned to wall-clock multiples of the interval (Binance
resets its counters on interval boundaries); blocking uses monotonic time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from stanchion.core.clock import Clock, LiveClock
from stanchion.core.errors import ConfigError, RateLimitedError

_NS = 1_000_000_000

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Budget:
    """One limit: at most ``limit`` units per ``interval_s`` window under ``key``.

    ``headroom`` is the fraction of the limit this process allows itself (leave room
    for the other bots behind the same IP).
    """

    key: str
    limit: int
    interval_s: float
    headroom: float = 1.0

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.interval_s <= 0 or not 0 < self.headroom <= 1:
            raise ConfigError(f"rate-limit budget {self.key!r}: need limit > 0, interval_s > 0, 0 < headroom <= 1")

    @property
    def allowance(self) -> int:
        return max(1, int(self.limit * self.headroom))


@dataclass(frozen=True, slots=True)
class Usage:
    """The venue's count for one budget, read from a response."""

    key: str
    used: int


class RateLimitPolicy(Protocol):
    """What a venue supplies to the shared limiter (pure; no I/O)."""

    def budgets(self) -> Sequence[Budget]: ...

    def weight(self, method: str, path: str, params: Mapping[str, str]) -> Mapping[str, int]:
        """Cost of one request per budget key (keys absent from ``budgets()`` are ignored)."""
        ...

    def parse_usage(self, headers: Mapping[str, str]) -> Sequence[Usage]: ...

    def parse_retry_after(self, status: int, headers: Mapping[str, str]) -> float | None: ...


def parse_retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The standard ``Retry-After`` in delta-seconds; None if absent or not a number."""
    raw = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value
            break
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class Ticket:
    """Proof that a request was charged; hand it back with :meth:`RateLimiter.complete`."""

    __slots__ = ("costs", "done")

    def __init__(self, costs: dict[str, int]) -> None:
        self.costs = costs
        self.done = False


class _Window:
    __slots__ = ("allowance", "budget", "in_flight", "index", "interval_ns", "used")

    def __init__(self, budget: Budget) -> None:
        self.index = -1
        self.used = 0
        self.in_flight = 0
        self.set_budget(budget)

    def set_budget(self, budget: Budget) -> None:
        self.budget = budget
        self.allowance = budget.allowance  # read on every charge: computed once
        self.interval_ns = round(budget.interval_s * _NS)

    def roll(self, wall_ns: int) -> None:
        index = wall_ns // self.interval_ns
        if index != self.index:
            self.index = index
            self.used = self.in_flight  # requests in flight will be counted in the new window at worst

    def wait_ns(self, wall_ns: int, cost: int) -> int:
        if self.used + cost <= self.allowance:
            return 0
        return (self.index + 1) * self.interval_ns - wall_ns


class RateLimiter:
    """Budgets shared by every request of one venue/IP. One instance per process and IP."""

    def __init__(
        self,
        budgets: Sequence[Budget],
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        default_pause_s: float = 60.0,
    ) -> None:
        self._clock = clock or LiveClock()
        self._sleep: Sleep = sleep or asyncio.sleep
        self._windows = {b.key: _Window(b) for b in budgets}
        self._blocked_until_ns = 0  # monotonic
        self._blocked_status = 0
        self._default_pause_s = default_pause_s
        self._local_waits = 0
        self._local_refusals = 0
        self._rate_limited = 0
        self._banned = 0
        self.on_blocked: Callable[[float], None] | None = None
        """Called with the seconds every request is now held for, on each 429/418 (armed
        orders, which go out without asking the limiter, are held by it)."""

    # --- state ---------------------------------------------------------------

    @property
    def blocked_for_s(self) -> float:
        """Seconds until requests may flow again after a 429/418 (0 if not blocked)."""
        return max(0, self._blocked_until_ns - self._clock.monotonic_ns()) / _NS

    @property
    def banned(self) -> bool:
        return self._blocked_status == 418 and self.blocked_for_s > 0

    def usage_ratio(self) -> dict[str, float]:
        """Used / limit per budget in the current window (the venue's limit, not our headroom)."""
        wall = self._clock.time_ns()
        out: dict[str, float] = {}
        for key, window in self._windows.items():
            window.roll(wall)
            out[key] = window.used / window.budget.limit
        return out

    def statistics(self) -> dict[str, object]:
        return {
            "usage_ratio": self.usage_ratio(),
            "blocked_for_s": self.blocked_for_s,
            "blocked_status": self._blocked_status if self.blocked_for_s > 0 else None,
            "local_waits": self._local_waits,
            "local_refusals": self._local_refusals,
            "rate_limited_total": self._rate_limited,
            "banned_total": self._banned,
        }

    def set_budgets(self, budgets: Sequence[Budget]) -> None:
        """Follow the venue's limits (read from the venue: they change over time).

        A budget whose key exists keeps its current window's count under the new
        limit; a new key starts counting now; a key the venue no longer lists is
        dropped (its costs are then ignored, as for any unknown key).
        """
        wanted = {b.key: b for b in budgets}
        for key in list(self._windows):
            if key not in wanted:
                del self._windows[key]
        for key, budget in wanted.items():
            window = self._windows.get(key)
            if window is None:
                self._windows[key] = _Window(budget)
            else:
                window.set_budget(budget)

    def budgets(self) -> list[Budget]:
        """The budgets in force."""
        return [window.budget for window in self._windows.values()]

    # --- charging ------------------------------------------------------------

    def try_acquire(self, costs: Mapping[str, int]) -> Ticket | float:
        """Charge ``costs`` now if every budget allows it; else the seconds to wait."""
        blocked = self._blocked_until_ns - self._clock.monotonic_ns()
        if blocked > 0:
            return blocked / _NS
        wall = self._clock.time_ns()
        wait_ns = 0
        charged: dict[str, int] = {}
        for key, cost in costs.items():
            window = self._windows.get(key)
            if window is None or cost <= 0:
                continue
            if cost > window.allowance:
                raise ConfigError(
                    f"a request costing {cost} can never fit budget {key!r} (allowance {window.allowance})"
                )
            window.roll(wall)
            wait_ns = max(wait_ns, window.wait_ns(wall, cost))
            charged[key] = cost
        if wait_ns > 0:
            return wait_ns / _NS
        for key, cost in charged.items():
            window = self._windows[key]
            window.used += cost
            window.in_flight += cost
        return Ticket(charged)

    async def acquire(self, costs: Mapping[str, int], *, wait: bool = True, max_wait_s: float | None = None) -> Ticket:
        """Charge ``costs``, waiting for budget/ban if ``wait``; else fail fast.

        Raises :class:`RateLimitedError` (with ``retry_after``) when not waiting, or when
        the wait would exceed ``max_wait_s``.
        """
        waited = 0.0
        while True:
            result = self.try_acquire(costs)
            if isinstance(result, Ticket):
                return result
            delay = result
            if not wait or (max_wait_s is not None and waited + delay > max_wait_s):
                raise self._refusal(delay)
            self._local_waits += 1
            await self._sleep(delay)
            waited += delay

    def acquire_now(self, costs: Mapping[str, int]) -> Ticket:
        """Charge ``costs`` now or raise :class:`RateLimitedError` (``acquire(wait=False)``
        for callers that must not await, e.g. a synchronous order path)."""
        result = self.try_acquire(costs)
        if isinstance(result, Ticket):
            return result
        raise self._refusal(result)

    def _refusal(self, delay: float) -> RateLimitedError:
        self._local_refusals += 1
        status = self._blocked_status if self.blocked_for_s > 0 else None
        what = "banned (418)" if status == 418 else "paused after 429" if status == 429 else "budget exhausted"
        return RateLimitedError(f"rate limit: {what}; retry in {delay:.3f}s", retry_after=delay, http_status=status)

    def complete(self, ticket: Ticket, usages: Sequence[Usage] = ()) -> None:
        """The response arrived: release the in-flight charge; adopt the venue's counts."""
        if ticket.done:
            return
        ticket.done = True
        for key, cost in ticket.costs.items():
            window = self._windows[key]
            window.in_flight = max(0, window.in_flight - cost)
        self.observe(usages)

    def refund(self, ticket: Ticket) -> None:
        """The request was never sent: give its charge back."""
        if ticket.done:
            return
        ticket.done = True
        wall = self._clock.time_ns()
        for key, cost in ticket.costs.items():
            window = self._windows[key]
            # Whether charged in this window or carried into it as in flight, ``used`` holds the cost.
            window.roll(wall)
            window.in_flight = max(0, window.in_flight - cost)
            window.used = max(0, window.used - cost)

    def observe(self, usages: Sequence[Usage]) -> None:
        """Adopt the venue's counts (they replace ours), e.g. from an answer whose ticket is settled."""
        wall = self._clock.time_ns()
        for usage in usages:
            reported = self._windows.get(usage.key)
            if reported is None:
                continue
            reported.roll(wall)
            # The venue's count is the truth; what we still have in flight is not in it yet.
            reported.used = usage.used + reported.in_flight

    def on_rate_limited(self, status: int, retry_after_s: float | None) -> None:
        """A 429 pauses, a 418 bans: every request is held until it expires."""
        if status == 418:
            self._banned += 1
        else:
            self._rate_limited += 1
        pause_s = retry_after_s if retry_after_s is not None else self._default_pause_s
        now = self._clock.monotonic_ns()
        was_banned = self._blocked_status == 418 and self._blocked_until_ns > now
        # A late 429 from a request in flight never shortens or downgrades a ban.
        self._blocked_until_ns = max(self._blocked_until_ns, now + round(pause_s * _NS))
        self._blocked_status = 418 if (status == 418 or was_banned) else status
        if self.on_blocked is not None:
            self.on_blocked(self.blocked_for_s)
