"""One WebSocket connection: bounded outgoing queue, server pings, pong deadline, inbound rate limit.

Binance rules (web-socket-streams.md): a ping frame every 20 s, a client whose
pongs stop for 1 minute is disconnected, 5 incoming messages per second (pings,
pongs and JSON all count) or the connection is dropped, 24 h lifetime announced
by ``serverShutdown``. A client that does not keep up with its queue is
disconnected rather than allowed to grow memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

_ids = itertools.count(1)


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    kind: str  # "stream" | "api" | "listenKey"
    peer: str
    path: str
    queue_limit: int
    id: int = field(default_factory=lambda: next(_ids))
    combined: bool = False
    micros: bool = False  # timeUnit=MICROSECOND
    streams: set[str] = field(default_factory=set)
    account: str | None = None  # listenKey connections, logged-on / subscribed WS API sessions
    opened_mono: float = field(default_factory=time.monotonic)
    last_pong_mono: float = field(default_factory=time.monotonic)
    inbound_times: deque[float] = field(default_factory=deque)
    stalled_until: float = 0.0
    answer_pings: bool = True
    closed: bool = False
    close_with_frame: bool = True
    shutdown_sent: bool = False
    close_after: float = 0.0
    last_ping_mono: float = field(default_factory=time.monotonic)
    session_key: str | None = None  # WS API session.logon
    ping_payload: bytes | None = None  # a pong counts only if it copies the last ping's payload
    finishing: bool = False
    close_reason: str = ""
    _queue: deque[str | bytes] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_frames: int = 0

    def send(self, frame: str | bytes) -> bool:
        """Queue one frame; on overflow the connection is marked for closing (market data may drop, then resync)."""
        if self.closed:
            return False
        if len(self._queue) >= self.queue_limit:
            self.abort("send queue overflow (slow client)")
            return False
        self._queue.append(frame)
        self._wake.set()
        return True

    def abort(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self._wake.set()

    def finish(self, reason: str) -> None:
        """Close once everything queued so far has been written (final events before a close)."""
        self.finishing = True
        self.close_reason = self.close_reason or reason
        self._wake.set()

    def count_inbound(self, limit_per_s: int) -> bool:
        """Record one inbound message; False when over the per-second limit."""
        now = time.monotonic()
        self.inbound_times.append(now)
        while self.inbound_times and now - self.inbound_times[0] > 1.0:
            self.inbound_times.popleft()
        return len(self.inbound_times) <= limit_per_s

    def info(self) -> dict[str, object]:
        return {
            "id": self.id, "kind": self.kind, "peer": self.peer, "path": self.path, "streams": sorted(self.streams),
            "account": self.account, "queued": len(self._queue), "sent_frames": self.sent_frames,
            "age_s": round(time.monotonic() - self.opened_mono, 3),
        }

    async def writer(self) -> None:
        """Drain the queue to the socket until closed; honours stalls."""
        ws = self.ws
        while not self.closed:
            if not self._queue:
                if self.finishing:
                    self.abort(self.close_reason)
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            now = time.monotonic()
            if self.stalled_until > now:
                # Stalled: send nothing, but wake on abort (e.g. the queue overflowed meanwhile).
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.stalled_until - now)
                continue
            frame = self._queue.popleft()
            try:
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
            except (ConnectionResetError, RuntimeError):
                self.abort("peer gone")
                return
            self.sent_frames += 1
        # Flush nothing more; the owner closes the socket.

    async def close(self, *, with_frame: bool = True, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        self.abort(self.close_reason or "closed by server")
        if with_frame:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=code, message=message), timeout=2.0)
            return
        # Without a close frame: drop the TCP connection.
        transport = self.ws._req.transport if self.ws._req is not None else None
        if transport is not None:
            transport.abort()
