"""Per-stream staleness that tells a quiet market from a dead feed (pure).

Fed with ``(stream, monotonic ns)`` on every data frame and with heartbeats (a
ping from the venue, a pong to our ping, a JSON heartbeat), ticked with time;
every call returns the transitions it caused. No I/O, no clock of its own: the
connection task calls :meth:`StalenessMonitor.tick` at
:meth:`StalenessMonitor.next_deadline_ns`.

The rule:

* The **connection** is ``DEAD`` when nothing at all arrived — no data on any
  stream and no heartbeat — for longer than the liveness window. Every stream is
  then ``DEAD`` too.
* A **stream** is ``STALE`` when it has had no update for longer than its own
  threshold while the connection is proven alive (other streams flow, or the
  venue's pings/heartbeats arrive). A stream whose policy says quiet is allowed
  (trades of an illiquid symbol) is ``QUIET`` instead: informative, not an error.
* The connection is ``STALLED`` when it is alive by heartbeats only and *every*
  stream that must not be quiet is ``STALE``: the silent stall (socket open,
  pings answered, no data). The client treats ``STALLED`` like ``DEAD`` and
  reconnects; a single stale stream only gates that stream.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from stanchion.core.errors import ConfigError

_NS = 1_000_000_000


class StreamHealth(enum.Enum):
    LIVE = "live"
    QUIET = "quiet"
    STALE = "stale"
    DEAD = "dead"


class ConnectionHealth(enum.Enum):
    ALIVE = "alive"
    STALLED = "stalled"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How long a stream may be silent, and whether silence is normal for it."""

    stale_after_s: float
    quiet_allowed: bool = False

    def __post_init__(self) -> None:
        if not self.stale_after_s > 0:
            raise ConfigError(f"stream policy: stale_after_s must be > 0 (got {self.stale_after_s})")


@dataclass(frozen=True, slots=True)
class StalenessTransition:
    """A health change. ``stream`` is None for the connection itself."""

    stream: str | None
    previous: StreamHealth | ConnectionHealth
    current: StreamHealth | ConnectionHealth
    at_ns: int
    silent_ns: int


class _Stream:
    __slots__ = ("health", "last_ns", "policy", "threshold_ns")

    def __init__(self, policy: StreamPolicy, now_ns: int) -> None:
        self.policy = policy
        self.threshold_ns = round(policy.stale_after_s * _NS)
        self.last_ns = now_ns
        self.health = StreamHealth.LIVE


class StalenessMonitor:
    """Health of one logical feed: its connection and each of its streams."""

    __slots__ = ("_default", "_health", "_last_traffic_ns", "_min_threshold_ns", "_streams", "_window_ns")

    def __init__(self, liveness_window_s: float, default_policy: StreamPolicy, now_ns: int = 0) -> None:
        if not liveness_window_s > 0:
            raise ConfigError(f"staleness: liveness_window_s must be > 0 (got {liveness_window_s})")
        self._window_ns = round(liveness_window_s * _NS)
        self._default = default_policy
        self._min_threshold_ns = min(self._window_ns, round(default_policy.stale_after_s * _NS))
        self._streams: dict[str, _Stream] = {}
        self._last_traffic_ns = now_ns
        self._health = ConnectionHealth.ALIVE

    # --- configuration -------------------------------------------------------

    def add_stream(self, stream: str, now_ns: int, policy: StreamPolicy | None = None) -> None:
        """Track ``stream`` from ``now_ns`` (its grace period starts now)."""
        st = _Stream(policy or self._default, now_ns)
        self._streams[stream] = st
        self._min_threshold_ns = min(self._min_threshold_ns, st.threshold_ns)

    def remove_stream(self, stream: str) -> None:
        self._streams.pop(stream, None)

    def reset(self, now_ns: int) -> None:
        """A new link took over: every stream and the connection start fresh."""
        self._last_traffic_ns = now_ns
        self._health = ConnectionHealth.ALIVE
        for st in self._streams.values():
            st.last_ns = now_ns
            st.health = StreamHealth.LIVE

    # --- feeding (hot path) --------------------------------------------------

    def on_data(self, stream: str, now_ns: int) -> StalenessTransition | None:
        """A data frame for ``stream`` arrived. Unknown streams get the default policy.

        Returns the stream's recovery transition if it was not ``LIVE``.
        """
        self._last_traffic_ns = now_ns
        st = self._streams.get(stream)
        if st is None:
            self._streams[stream] = _Stream(self._default, now_ns)
            return None
        previous_ns = st.last_ns
        st.last_ns = now_ns
        if st.health is StreamHealth.LIVE:
            return None
        previous = st.health
        st.health = StreamHealth.LIVE
        return StalenessTransition(stream, previous, StreamHealth.LIVE, now_ns, now_ns - previous_ns)

    def on_heartbeat(self, now_ns: int) -> None:
        """Traffic that proves the connection alive but carries no stream's data."""
        self._last_traffic_ns = now_ns

    # --- evaluation ----------------------------------------------------------

    def tick(self, now_ns: int) -> list[StalenessTransition]:
        """Re-evaluate every health at ``now_ns``; return what changed."""
        out: list[StalenessTransition] = []
        dead = now_ns - self._last_traffic_ns > self._window_ns
        must_flow = 0
        stale = 0
        for name, st in self._streams.items():
            silent = now_ns - st.last_ns
            if dead:
                health = StreamHealth.DEAD
            elif silent <= st.threshold_ns:
                health = StreamHealth.LIVE
            elif st.policy.quiet_allowed:
                health = StreamHealth.QUIET
            else:
                health = StreamHealth.STALE
            if not st.policy.quiet_allowed:
                must_flow += 1
                stale += health is StreamHealth.STALE
            if health is not st.health:
                out.append(StalenessTransition(name, st.health, health, now_ns, silent))
                st.health = health
        if dead:
            connection = ConnectionHealth.DEAD
        elif must_flow and stale == must_flow:
            connection = ConnectionHealth.STALLED
        else:
            connection = ConnectionHealth.ALIVE
        if connection is not self._health:
            out.append(
                StalenessTransition(None, self._health, connection, now_ns, now_ns - self._last_traffic_ns)
            )
            self._health = connection
        return out

    def next_deadline_ns(self) -> int:
        """The earliest time at which a tick could change a health."""
        deadline = self._last_traffic_ns + self._window_ns + 1
        for st in self._streams.values():
            if st.health is StreamHealth.LIVE:
                candidate = st.last_ns + st.threshold_ns + 1
                deadline = min(deadline, candidate)
        return deadline

    @property
    def max_sleep_ns(self) -> int:
        """The longest a driver may sleep without a tick, even before any stream exists.

        Streams registered after :meth:`next_deadline_ns` was read have deadlines at
        least one threshold away, so ticking at least this often never misses one.
        """
        return self._min_threshold_ns

    # --- queries -------------------------------------------------------------

    @property
    def connection_health(self) -> ConnectionHealth:
        return self._health

    @property
    def reconnect_needed(self) -> bool:
        return self._health is not ConnectionHealth.ALIVE

    @property
    def last_traffic_ns(self) -> int:
        return self._last_traffic_ns

    def stream_health(self, stream: str) -> StreamHealth | None:
        st = self._streams.get(stream)
        return None if st is None else st.health

    def streams(self) -> Iterator[tuple[str, StreamHealth]]:
        for name, st in self._streams.items():
            yield name, st.health

    def count(self, health: StreamHealth) -> int:
        return sum(1 for st in self._streams.values() if st.health is health)
