"""The WebSocket client every venue uses: liveness, staleness, reconnect, rotation.

A venue adapter supplies its rules as data and callbacks, nothing else:

* ``on_connected(generation) -> frames``: the subscribe frames for a fresh link
  (sent on the first connect, after every reconnect, and on the replacement link
  of a rotation). The venue session is the source of truth for subscriptions.
* ``on_message(payload) -> stream | None``: every text/binary message, called
  synchronously from the socket callback (no queue hop on the hot path). Return
  the stream key of a data message (``"btcusdt@depth"``) so staleness is tracked
  per stream, or ``None`` for control messages (acks, heartbeats). The payload is
  ``bytes`` the consumer may keep.
* :class:`~stanchion.transport.liveness.LivenessPolicy` and
  :class:`~stanchion.transport.staleness.StreamPolicy`: who pings, how long
  silence may last, which streams may be quiet.
* ``request_rotation(reason)``: the session saw the venue announce a shutdown
  (Binance ``serverShutdown``).
* ``connect_gate()``: awaited before every connection attempt (first connect,
  reconnect, rotation): the venue's connection-attempt limits and its bans. A
  reconnect during an IP ban would extend the ban, so the gate holds it until the
  ban ends; an exception from the gate counts as a failed attempt (backoff).
  ``on_handshake_refused(status, retry_after_s)``: the venue answered an upgrade
  with an HTTP error (418 banned, 429 too many attempts), for the gate to learn.

Make-before-break rotation (before the venue's maximum lifetime, or on request):
the replacement link is opened and subscribed while the old one keeps serving.
Once the new link carries traffic, both run for ``rotation_overlap_s``: the old
one still feeds the consumer, the new one's messages are held (bounded). Then, in
one callback, the old link is closed and the held messages are replayed, so the
consumer sees the old link's messages followed by the new link's, never
interleaved, and — as long as the old link lagged the new one by less than the
overlap — with no gap. Messages both links carried are seen twice across the
switch: dropping them is the consumer's job (the book sync drops updates with
``u <= last update id``). If the old link dies first, the subscribed replacement
is promoted at once.

Overflow policy when ``queue_capacity`` is set (consumer runs as a task instead of
inline): a full queue drops the link and reconnects, i.e. the consumer resyncs;
nothing is ever buffered without bound.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stanchion.core.clock import Clock, LiveClock
from stanchion.core.errors import ConfigError, ConnectionLostError, HandshakeRefusedError
from stanchion.core.state_machine import StateMachine
from stanchion.transport.backoff import Backoff, BackoffPolicy
from stanchion.transport.link import Link, LinkOpener, PicowsOpener
from stanchion.transport.liveness import LivenessPolicy, PingKind
from stanchion.transport.staleness import (
    StalenessMonitor,
    StalenessTransition,
    StreamHealth,
    StreamPolicy,
)
from stanchion.transport.state import ConnectionState, ConnectionTrigger, new_connection_machine

log = logging.getLogger(__name__)

_NS = 1_000_000_000
_EARLY_CAPACITY = 1024  # messages held while a link is being established
_HOLD_CAPACITY = 200_000  # messages a rotation's replacement may hold during the overlap

MessageHandler = Callable[[bytes], "str | None"]
ConnectedHandler = Callable[[int], Sequence[bytes | str]]
StalenessHandler = Callable[[StalenessTransition], None]
StateHandler = Callable[[ConnectionState], None]
RttHandler = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class WebSocketConfig:
    """Everything a venue decides about one logical feed."""

    url: str
    liveness: LivenessPolicy
    name: str = "ws"
    default_stream: StreamPolicy = field(default_factory=lambda: StreamPolicy(stale_after_s=10.0))
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    connect_timeout_s: float = 10.0
    max_lifetime_s: float | None = 24 * 3600.0  # Binance: a connection is valid for 24 h
    rotation_margin_s: float = 600.0  # rotate this long before the lifetime ends
    rotation_ready_timeout_s: float = 15.0
    rotation_overlap_s: float = 1.0  # both links up, old serving, new held; then switch
    queue_capacity: int | None = None  # None: deliver inline in the socket callback
    min_tick_s: float = 0.02  # timer granularity floor for the watchdog
    subscribe_interval_s: float = 0.0  # spacing of on_connected frames (Binance: >= 0.25 s)

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"websocket url must start with ws:// or wss:// (got {self.url!r})")
        if self.max_lifetime_s is not None and not 0 <= self.rotation_margin_s < self.max_lifetime_s:
            raise ConfigError("websocket: need 0 <= rotation_margin_s < max_lifetime_s")
        if self.queue_capacity is not None and self.queue_capacity < 1:
            raise ConfigError(f"websocket: queue_capacity must be >= 1 (got {self.queue_capacity})")
        if not (self.connect_timeout_s > 0 and self.rotation_ready_timeout_s > 0 and self.min_tick_s > 0):
            raise ConfigError("websocket: timeouts and min_tick_s must be > 0")
        if self.rotation_overlap_s < 0 or self.subscribe_interval_s < 0:
            raise ConfigError("websocket: rotation_overlap_s and subscribe_interval_s must be >= 0")


class _Conn:
    """One physical link and its bookkeeping; the ``LinkEvents`` the opener calls."""

    __slots__ = (
        "accepting",
        "client",
        "close_code",
        "closed",
        "drop_cause",
        "early",
        "generation",
        "link",
        "on_message",
        "opened_ns",
        "pending",
        "ping_due_ns",
        "ping_outstanding",
        "ping_sent_ns",
        "ping_seq",
    )

    def __init__(self, client: WebSocketClient, generation: int, *, pending: bool) -> None:
        self.client = client
        self.generation = generation
        self.link: Link | None = None
        self.opened_ns = 0
        self.pending = pending  # a rotation's replacement, not yet serving
        self.accepting = True  # False once retired, overflowed or closed
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.drop_cause: str | None = None
        # Messages that arrive before the link is established (same read as the handshake
        # response) wait here, bounded, until on_connected ran and the link has its role.
        self.early: list[bytes] | None = []
        self.ping_seq = 0
        self.ping_outstanding: bytes | None = None
        self.ping_sent_ns = 0
        self.ping_due_ns = 0
        # LinkEvents.on_message: the client's handler bound to this link, called from C (a
        # method forwarding to it was one more Python frame per received message).
        self.on_message: Callable[[bytes], None] = functools.partial(client._on_message, self)

    # LinkEvents
    def on_open(self, link: Link) -> None:
        self.link = link

    def on_ping(self, payload: bytes) -> None:
        self.client._on_ping(self, payload)

    def on_pong(self, payload: bytes) -> None:
        self.client._on_pong(self, payload)

    def on_closed(self, code: int | None, reason: str) -> None:
        self.accepting = False
        self.close_code = code
        self.closed.set()
        self.client._wake.set()


class WebSocketClient:
    """A self-healing WebSocket feed. Use as ``async with WebSocketClient(...) as ws:``.

    Every task (supervisor, rotation, queue consumer) belongs to the client's
    TaskGroup; leaving the ``async with`` closes the links and waits for them. An
    exception raised by ``on_message`` is not swallowed: it closes the client and
    is raised from the ``async with``.
    """

    def __init__(
        self,
        config: WebSocketConfig,
        *,
        on_message: MessageHandler,
        on_connected: ConnectedHandler,
        on_staleness: StalenessHandler | None = None,
        on_state: StateHandler | None = None,
        on_reconnect: Callable[[], None] | None = None,
        on_heartbeat_rtt: RttHandler | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        opener: LinkOpener | None = None,
        connect_gate: Callable[[], Awaitable[object]] | None = None,
        on_handshake_refused: Callable[[int, float | None], None] | None = None,
    ) -> None:
        self._config = config
        self._handle = on_message
        self._on_connected = on_connected
        self._on_staleness = on_staleness
        self._on_state = on_state
        # Metric hooks (observability is wired by the adapter; transport imports only core):
        # on_reconnect fires once per reconnect, on_heartbeat_rtt with each ping->pong in seconds.
        self._on_reconnect = on_reconnect
        self._on_heartbeat_rtt = on_heartbeat_rtt
        self._connect_gate = connect_gate
        self._on_handshake_refused = on_handshake_refused
        self._clock = clock or LiveClock()
        self._monotonic_ns = self._clock.monotonic_ns
        self._opener: LinkOpener = opener or PicowsOpener(handshake_timeout_s=config.connect_timeout_s)
        self._backoff = Backoff(config.backoff, rng)
        self._machine: StateMachine[ConnectionState, ConnectionTrigger] = new_connection_machine()
        self.staleness = StalenessMonitor(
            config.liveness.idle_timeout_s, config.default_stream, self._clock.monotonic_ns()
        )
        self._active: _Conn | None = None
        self._pending: _Conn | None = None
        self._generation = 0
        self._closing = False
        self._failure: BaseException | None = None
        self._rotation_reason: str | None = None
        self._rotation_task: asyncio.Task[None] | None = None
        self._rotation_retry_ns = 0
        self._consumer_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[_Conn, bytes]] | None = None
        self._wake = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        # statistics
        self._connects = 0
        self._reconnects = 0
        self._connect_failures = 0
        self._rotations = 0
        self._rotation_failures = 0
        self._messages = 0
        self._bytes = 0
        self._last_message_ns: int | None = None
        self._pings_received = 0
        self._pongs_sent = 0
        self._heartbeat_rtt_ns: int | None = None
        self._stale_transitions = 0
        self._overflows = 0
        self._drops: dict[str, int] = {}

    # --- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> WebSocketClient:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        if self._config.queue_capacity is not None:
            self._queue = asyncio.Queue(self._config.queue_capacity)
            self._consumer_task = self._tg.create_task(self._consume_queue(), name=f"{self._config.name}-consumer")
        self._supervisor = self._tg.create_task(self._supervise(), name=f"{self._config.name}-supervisor")
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.close()
        assert self._tg is not None
        if et is not None and not issubclass(et, asyncio.CancelledError):
            # The body failed: stop the tasks cleanly and let the body's own exception propagate.
            et, exc, tb = None, None, None
        try:
            await self._tg.__aexit__(et, exc, tb)
        except BaseExceptionGroup as group:
            failure = self._failure
            if failure is not None and len(group.exceptions) == 1 and group.exceptions[0] is failure:
                raise failure from None  # a consumer error surfaces as itself, not wrapped
            raise

    def close(self) -> None:
        """Ask the client to stop; the ``async with`` exit waits for it."""
        self._closing = True
        self._wake.set()
        if (
            self._machine.state is ConnectionState.CONNECTING
            and self._failure is None
            and self._supervisor is not None
            and not self._supervisor.done()
        ):
            # A handshake in progress is not worth waiting for: abandon it now.
            self._supervisor.cancel()

    @property
    def state(self) -> ConnectionState:
        return self._machine.state

    @property
    def generation(self) -> int:
        """The generation of the link currently serving (1 for the first link)."""
        return self._active.generation if self._active is not None else 0

    async def wait_state(self, state: ConnectionState, timeout_s: float) -> None:
        """Wait until the connection is in ``state``; ``TimeoutError`` after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while self._machine.state is not state:
                self._state_changed.clear()
                await self._state_changed.wait()

    def send(self, data: bytes | str) -> None:
        """Send a text frame on the serving link (never blocks: the write is buffered by the loop)."""
        conn = self._active
        if conn is None or conn.link is None or not conn.accepting:
            raise ConnectionLostError(f"{self._config.name}: not connected")
        conn.link.send_text(data.encode() if isinstance(data, str) else data)

    def send_control(self, data: bytes | str) -> None:
        """A subscription change: to the serving link *and* to a replacement being prepared.

        Never use this for orders (a rotation in progress would send them twice).
        """
        self.send(data)
        pending = self._pending
        if pending is not None and pending.link is not None and pending.accepting:
            pending.link.send_text(data.encode() if isinstance(data, str) else data)

    def request_rotation(self, reason: str) -> None:
        """Replace the link make-before-break (e.g. the venue announced a shutdown)."""
        if self._rotation_reason is None:
            self._rotation_reason = reason
            self._wake.set()

    # --- statistics ------------------------------------------------------------

    def statistics(self) -> dict[str, object]:
        now = self._clock.monotonic_ns()
        last_age = None if self._last_message_ns is None else (now - self._last_message_ns) / _NS
        rtt_ms = None if self._heartbeat_rtt_ns is None else self._heartbeat_rtt_ns / 1e6
        return {
            "name": self._config.name,
            "state": self._machine.state.value,
            "generation": self.generation,
            "connects": self._connects,
            "reconnects": self._reconnects,
            "connect_failures": self._connect_failures,
            "rotations": self._rotations,
            "rotation_failures": self._rotation_failures,
            "messages": self._messages,
            "bytes": self._bytes,
            "last_message_age_s": last_age,
            # wall-clock Unix seconds of the last message (md_last_message_timestamp), derived at read time
            "last_message_timestamp_s": None if last_age is None else self._clock.time_ns() / _NS - last_age,
            "pings_received": self._pings_received,
            "pongs_sent": self._pongs_sent,
            "heartbeat_latency_ms": rtt_ms,
            "stale_transitions": self._stale_transitions,
            "stale_streams": self.staleness.count(StreamHealth.STALE),
            "queue_overflows": self._overflows,
            "reconnect_causes": dict(self._drops),
            "backoff_attempt": self._backoff.attempt,
        }

    # --- link callbacks (synchronous, hot path) -------------------------------

    def _on_message(self, conn: _Conn, payload: bytes) -> None:
        if not conn.accepting:
            return
        if conn.early is not None:
            if len(conn.early) >= (_HOLD_CAPACITY if conn.pending else _EARLY_CAPACITY):
                self._drop(conn, "hold_overflow")
            else:
                conn.early.append(payload)
                if conn.pending and len(conn.early) == 1:
                    self._wake.set()  # the replacement carries traffic: the rotation may proceed
            return
        now = self._monotonic_ns()
        self._messages += 1
        self._bytes += len(payload)
        self._last_message_ns = now
        if conn.ping_outstanding is not None:
            ping = self._config.liveness.client_ping
            if ping is not None and ping.kind is PingKind.TEXT and ping.is_reply(payload):
                self._pong_received(conn, now)
                return
        if self._queue is None:  # _deliver, inline: the receive hot path
            try:
                stream = self._handle(payload)
            except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
                self._fail(exc)
                return
            if conn is self._active:
                if stream is None:
                    self.staleness.on_heartbeat(now)
                else:
                    transition = self.staleness.on_data(stream, now)
                    if transition is not None:
                        self._report_staleness(transition)
            return
        try:
            self._queue.put_nowait((conn, payload))
        except asyncio.QueueFull:
            # Market data: drop the link and resync rather than buffer without bound.
            self._overflows += 1
            self._drop(conn, "queue_overflow")
            while not self._queue.empty():
                self._queue.get_nowait()

    def _deliver(self, conn: _Conn, payload: bytes, now: int) -> None:
        if not conn.accepting:
            return
        try:
            stream = self._handle(payload)
        except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
            self._fail(exc)
            return
        if stream is None:
            if conn is self._active:
                self.staleness.on_heartbeat(now)
            return
        if conn is self._active:
            transition = self.staleness.on_data(stream, now)
            if transition is not None:
                self._report_staleness(transition)

    def _on_ping(self, conn: _Conn, payload: bytes) -> None:
        if not conn.accepting or conn.link is None:
            return
        self._pings_received += 1
        if self._config.liveness.answer_pings:
            conn.link.send_pong(payload)  # the same payload back (Binance requires it)
            self._pongs_sent += 1
        if conn is self._active:
            self.staleness.on_heartbeat(self._clock.monotonic_ns())

    def _on_pong(self, conn: _Conn, payload: bytes) -> None:
        if conn.ping_outstanding is not None and payload == conn.ping_outstanding:
            self._pong_received(conn, self._clock.monotonic_ns())
        elif conn is self._active:
            self.staleness.on_heartbeat(self._clock.monotonic_ns())

    def _pong_received(self, conn: _Conn, now: int) -> None:
        self._heartbeat_rtt_ns = now - conn.ping_sent_ns
        conn.ping_outstanding = None
        if self._on_heartbeat_rtt is not None:
            self._call_hook(self._on_heartbeat_rtt, self._heartbeat_rtt_ns / _NS)
        if conn is self._active:
            self.staleness.on_heartbeat(now)

    def _switch_to(self, new: _Conn, now: int) -> None:
        """The replacement delivered data: it serves from now on; the old link closes."""
        old = self._active
        new.pending = False
        self._pending = None
        self._active = new
        self._rotations += 1
        self._backoff.record_connected(now)
        self.staleness.reset(now)
        if old is not None:
            old.accepting = False
            if old.link is not None:
                old.link.close()
        self._transition(ConnectionTrigger.ROTATED)
        self._wake.set()
        # What the new link carried during the overlap, in order; the consumer drops what
        # the old link already delivered (u <= last update id).
        self._release_early(new)

    def _drop(self, conn: _Conn, cause: str) -> None:
        conn.accepting = False
        if conn.drop_cause is None:
            conn.drop_cause = cause
            self._drops[cause] = self._drops.get(cause, 0) + 1
        if conn.link is not None:
            conn.link.abort()
        conn.closed.set()
        self._wake.set()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._closing = True
        self._wake.set()

    def _call_hook(self, hook: Callable[..., None], *args: object) -> None:
        try:
            hook(*args)
        except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
            self._fail(exc)

    def _report_staleness(self, transition: StalenessTransition) -> None:
        self._stale_transitions += 1
        if self._on_staleness is not None:
            try:
                self._on_staleness(transition)
            except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
                self._fail(exc)

    def _transition(self, trigger: ConnectionTrigger) -> None:
        previous = self._machine.state
        current = self._machine.trigger(trigger)
        if current is not previous:
            self._state_changed.set()
            if self._on_state is not None:
                try:
                    self._on_state(current)
                except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
                    self._fail(exc)

    # --- tasks -----------------------------------------------------------------

    async def _consume_queue(self) -> None:
        assert self._queue is not None
        while True:
            conn, payload = await self._queue.get()
            self._deliver(conn, payload, self._clock.monotonic_ns())

    async def _supervise(self) -> None:
        try:
            while not self._closing:
                conn = await self._connect()
                if conn is None:
                    if not await self._sleep(self._backoff.next_delay_s()):
                        break
                    continue
                await self._serve()
                if self._closing:
                    break
                self._backoff.record_disconnected(self._clock.monotonic_ns())
                self._transition(ConnectionTrigger.LOST)
                if not await self._sleep(self._backoff.next_delay_s()):
                    break
        finally:
            await self._shutdown()
        if self._failure is not None:
            raise self._failure

    async def _open(self, pending: bool) -> _Conn | None:
        if self._connect_gate is not None:
            try:
                await self._connect_gate()  # may wait out a ban: never attempt during one
            except Exception as exc:  # noqa: BLE001 - a refused attempt is a failed attempt (backoff)
                log.warning("%s: connect held: %s", self._config.name, exc)
                self._connect_failures += 1
                return None
        self._generation += 1
        conn = _Conn(self, self._generation, pending=pending)
        try:
            async with asyncio.timeout(self._config.connect_timeout_s):
                conn.link = await self._opener(self._config.url, conn)
        except (ConnectionLostError, TimeoutError) as exc:
            log.warning("%s: connect failed: %s", self._config.name, exc)
            self._connect_failures += 1
            if (
                isinstance(exc, HandshakeRefusedError)
                and exc.http_status is not None
                and self._on_handshake_refused is not None
            ):
                self._call_hook(self._on_handshake_refused, exc.http_status, exc.retry_after)
            return None
        now = self._clock.monotonic_ns()
        conn.opened_ns = now
        conn.ping_due_ns = now + self._ping_interval_ns()
        self._connects += 1
        try:
            frames = self._on_connected(conn.generation)
        except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised from the client's `async with`
            conn.link.abort()
            self._fail(exc)
            return None
        for index, frame in enumerate(frames):
            if index and self._config.subscribe_interval_s:
                # Pacing, not synchronisation: venues cap incoming control messages
                # (Binance: 5 per second per connection, pongs included).
                await asyncio.sleep(self._config.subscribe_interval_s)
            if conn.closed.is_set():
                break
            conn.link.send_text(frame.encode() if isinstance(frame, str) else frame)
        return conn

    async def _connect(self) -> _Conn | None:
        self._transition(ConnectionTrigger.CONNECT)
        conn = await self._open(pending=False)
        if conn is None or self._closing:
            if conn is not None and conn.link is not None:
                conn.link.close()
            self._transition(ConnectionTrigger.CONNECT_FAILED)
            return None
        if self._active is not None:
            self._reconnects += 1
            if self._on_reconnect is not None:
                self._call_hook(self._on_reconnect)
        self._active = conn
        self._backoff.record_connected(conn.opened_ns)
        self.staleness.reset(conn.opened_ns)
        self._transition(ConnectionTrigger.CONNECTED)
        self._release_early(conn)
        return conn

    def _release_early(self, conn: _Conn) -> None:
        """The link has its role now: deliver what arrived during the handshake, in order."""
        early, conn.early = conn.early, None
        for payload in early or ():
            self._on_message(conn, payload)

    async def _sleep(self, delay_s: float) -> bool:
        """Wait ``delay_s`` unless closing; False if the client is closing."""
        if self._closing:
            return False
        self._wake.clear()
        try:
            async with asyncio.timeout(delay_s):
                while not self._closing:
                    await self._wake.wait()
                    self._wake.clear()
        except TimeoutError:
            pass
        return not self._closing

    def _ping_interval_ns(self) -> int:
        ping = self._config.liveness.client_ping
        return round(ping.interval_s * _NS) if ping is not None else 1 << 62

    async def _serve(self) -> None:
        """Watch the serving link until it is lost or must be dropped."""
        cfg = self._config
        ping = cfg.liveness.client_ping
        min_tick_ns = round(cfg.min_tick_s * _NS)
        while not self._closing:
            conn = self._active
            assert conn is not None and conn.link is not None
            if conn.closed.is_set():
                pending = self._pending
                if pending is not None and pending.link is not None and pending.accepting:
                    # The old link died mid-rotation (e.g. right after serverShutdown): the
                    # replacement is open and subscribed, so it takes over without a reconnect.
                    self._switch_to(pending, self._clock.monotonic_ns())
                    continue
                if conn.drop_cause is None:
                    conn.drop_cause = "closed"
                    self._drops["closed"] = self._drops.get("closed", 0) + 1
                break
            now = self._clock.monotonic_ns()
            self._apply_staleness(self.staleness.tick(now))
            if self.staleness.reconnect_needed:
                self._drop(conn, self.staleness.connection_health.value)
                break
            deadlines = [self.staleness.next_deadline_ns(), now + self.staleness.max_sleep_ns]
            if ping is not None:
                if conn.ping_outstanding is not None:
                    pong_deadline = conn.ping_sent_ns + round(ping.timeout_s * _NS)
                    if now >= pong_deadline:
                        self._drop(conn, "heartbeat_timeout")
                        break
                    deadlines.append(pong_deadline)
                elif now >= conn.ping_due_ns:
                    self._send_ping(conn, now)
                    deadlines.append(conn.ping_sent_ns + round(ping.timeout_s * _NS))
                else:
                    deadlines.append(conn.ping_due_ns)
            if cfg.max_lifetime_s is not None:
                rotate_at = conn.opened_ns + round((cfg.max_lifetime_s - cfg.rotation_margin_s) * _NS)
                rotate_at = max(rotate_at, self._rotation_retry_ns)
                if now >= rotate_at and self._rotation_reason is None and self._rotation_task is None:
                    self._rotation_reason = "lifetime"
                deadlines.append(rotate_at)
            if self._rotation_reason is not None and self._rotation_task is None:
                assert self._tg is not None
                self._rotation_task = self._tg.create_task(
                    self._rotate(self._rotation_reason), name=f"{cfg.name}-rotation"
                )
            wait_ns = max(min(deadlines) - now, min_tick_ns)
            self._wake.clear()
            try:
                async with asyncio.timeout(wait_ns / _NS):
                    await self._wake.wait()
            except TimeoutError:
                pass
        # Synchronously, before any await: a replacement must not take over a lost feed.
        self._abandon_pending()
        await self._cancel_rotation()

    def _abandon_pending(self) -> None:
        pending = self._pending
        if pending is not None:
            pending.accepting = False
            if pending.link is not None:
                pending.link.abort()

    def _send_ping(self, conn: _Conn, now: int) -> None:
        ping = self._config.liveness.client_ping
        assert ping is not None and conn.link is not None
        conn.ping_seq += 1
        conn.ping_sent_ns = now
        conn.ping_due_ns = now + round(ping.interval_s * _NS)
        if ping.kind is PingKind.WS_FRAME:
            payload = struct.pack("!Q", conn.ping_seq)
            conn.ping_outstanding = payload
            conn.link.send_ping(payload)
        else:
            assert ping.text_frame is not None
            conn.ping_outstanding = b"text"
            conn.link.send_text(ping.text_frame(conn.ping_seq))

    def _apply_staleness(self, transitions: list[StalenessTransition]) -> None:
        for transition in transitions:
            self._report_staleness(transition)
        state = self._machine.state
        any_stale = self.staleness.count(StreamHealth.STALE) > 0
        if any_stale and state is ConnectionState.LIVE:
            self._transition(ConnectionTrigger.STREAM_STALE)
        elif not any_stale and state is ConnectionState.STALE:
            self._transition(ConnectionTrigger.STREAMS_RECOVERED)

    async def _rotate(self, reason: str) -> None:
        self._transition(ConnectionTrigger.ROTATE)
        log.info("%s: rotating link (%s)", self._config.name, reason)
        new = await self._open(pending=True)
        try:
            if new is None:
                self._rotation_failed()
                return
            self._pending = new  # its messages are held (bounded) until the switch
            try:
                async with asyncio.timeout(self._config.rotation_ready_timeout_s):
                    while new.pending and not new.early and not new.closed.is_set():
                        await self._wait_for_event(new.closed)
            except TimeoutError:
                pass
            if new.pending and new.early and not new.closed.is_set():
                # Overlap: the old link keeps serving until it has caught up with where the
                # new one started, so switching leaves no gap even if the old link lagged.
                try:
                    async with asyncio.timeout(self._config.rotation_overlap_s):
                        while new.pending and not new.closed.is_set():
                            await self._wait_for_event(new.closed)
                except TimeoutError:
                    pass
            if new.pending and new.accepting and new.early and not new.closed.is_set():
                self._switch_to(new, self._clock.monotonic_ns())
            if new.pending:  # never carried traffic: keep the old link
                new.accepting = False
                if new.link is not None:
                    new.link.close()
                self._rotation_failed()
        except asyncio.CancelledError:
            if new is not None and new.pending and new.link is not None:
                new.accepting = False
                new.link.abort()
            raise
        finally:
            self._rotation_task = None
            self._rotation_reason = None
            if self._pending is new:
                self._pending = None

    async def _wait_for_event(self, event: asyncio.Event) -> None:
        # Woken by either the pending link closing or any client wake-up (e.g. the switch).
        waiter = asyncio.ensure_future(event.wait())
        other = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter, other}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            other.cancel()

    def _rotation_failed(self) -> None:
        self._rotation_failures += 1
        # Do not spin: the next lifetime-driven attempt waits one ready-timeout.
        self._rotation_retry_ns = self._clock.monotonic_ns() + round(self._config.rotation_ready_timeout_s * _NS)
        if self._machine.state is ConnectionState.ROTATING:
            self._transition(ConnectionTrigger.ROTATION_FAILED)
            self._apply_staleness([])

    async def _cancel_rotation(self) -> None:
        task = self._rotation_task
        if task is not None and not task.done():
            task.cancel()
            # asyncio.wait does not raise the child's CancelledError; ours still propagates.
            await asyncio.wait({task})

    async def _shutdown(self) -> None:
        await self._cancel_rotation()
        for conn in (self._active, self._pending):
            if conn is not None and conn.link is not None:
                conn.accepting = False
                conn.link.close()
        for conn in (self._active, self._pending):
            if conn is not None and conn.link is not None:
                try:
                    async with asyncio.timeout(2.0):
                        await conn.link.wait_closed()
                except TimeoutError:
                    conn.link.abort()
        if self._machine.can(ConnectionTrigger.CLOSE):
            self._transition(ConnectionTrigger.CLOSE)
        if self._consumer_task is not None:
            # The consumer waits on the queue forever; it ends with the client.
            self._consumer_task.cancel()
