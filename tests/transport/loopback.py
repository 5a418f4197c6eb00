"""A scriptable WebSocket market-data server on 127.0.0.1 for transport tests (aiohttp).

One "market" ticker produces updates with a global, strictly increasing ``u`` per
stream and broadcasts each to every connection subscribed to that stream — like
a venue, two connections carry the same updates, so a make-before-break switch
can be checked for gaps. Per connection the test can: pause streams, stall the
whole connection (socket open, nothing sent, optionally still pinging), send
pings with payloads and collect the pongs, send arbitrary frames (a
``serverShutdown`` event), close with or without a close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

from aiohttp import WSMsgType, web


class ServerConnection:
    def __init__(self, index: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.index = index
        self.ws = ws
        self.request = request
        self.subscribed: set[str] = set()
        self.paused: set[str] = set()
        self.stalled = False  # nothing at all is sent (pings included unless ping_while_stalled)
        self.ping_while_stalled = False
        self.answer_pings = True
        self.data_sent = 0
        self.lagging = False  # hold this connection's frames back (a slow link), send them later in order
        self.backlog: list[str] = []
        self.received: list[str] = []
        self.received_at: list[float] = []  # time.monotonic() of each text frame
        self.pings_sent: list[bytes] = []
        self.pongs: list[bytes] = []
        self.closed = asyncio.Event()
        self.subscribed_event = asyncio.Event()
        self.pong_event = asyncio.Event()

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def ping(self, payload: bytes) -> None:
        self.pings_sent.append(payload)
        await self.ws.ping(payload)

    async def close(self) -> None:
        await self.ws.close()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class LoopbackMarketServer:
    def __init__(self, *, tick_s: float = 0.005, ping_interval_s: float | None = None) -> None:
        self.tick_s = tick_s
        self.ping_interval_s = ping_interval_s
        self.connections: list[ServerConnection] = []
        self.new_connection = asyncio.Event()
        self.sequence: dict[str, int] = {}
        self.active_streams: set[str] | None = None  # None: every subscribed stream ticks
        self.on_connection: Callable[[ServerConnection], None] | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.url = ""

    async def __aenter__(self) -> LoopbackMarketServer:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}/ws"
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._ticker is not None
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker
        for conn in self.connections:
            conn.abort()
        assert self._runner is not None
        await self._runner.cleanup()

    async def wait_connections(self, count: int, timeout_s: float = 5.0) -> ServerConnection:
        async with asyncio.timeout(timeout_s):
            while len(self.connections) < count:
                self.new_connection.clear()
                await self.new_connection.wait()
        return self.connections[count - 1]

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            streams: set[str] = set()
            for conn in self.connections:
                streams |= conn.subscribed
            if self.active_streams is not None:
                streams &= self.active_streams
            for stream in sorted(streams):
                seq = self.sequence.get(stream, 0) + 1
                self.sequence[stream] = seq
                frame = json.dumps({"stream": stream, "data": {"u": seq}})
                for conn in list(self.connections):
                    if (
                        stream in conn.subscribed
                        and stream not in conn.paused
                        and not conn.stalled
                        and not conn.ws.closed
                    ):
                        if conn.lagging:
                            conn.backlog.append(frame)
                            continue
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            for late in conn.backlog:
                                await conn.ws.send_str(late)
                            conn.backlog.clear()
                            await conn.ws.send_str(frame)
                            conn.data_sent += 1

    async def _pinger(self, conn: ServerConnection) -> None:
        assert self.ping_interval_s is not None
        n = 0
        while not conn.ws.closed:
            await asyncio.sleep(self.ping_interval_s)
            if conn.stalled and not conn.ping_while_stalled:
                continue
            n += 1
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ping(f"ping-{conn.index}-{n}".encode())

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = ServerConnection(len(self.connections) + 1, ws, request)
        self.connections.append(conn)
        if self.on_connection is not None:
            self.on_connection(conn)
        self.new_connection.set()
        pinger = asyncio.create_task(self._pinger(conn)) if self.ping_interval_s else None
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    conn.received_at.append(time.monotonic())
                    request_body = json.loads(msg.data)
                    if request_body.get("method") == "SUBSCRIBE":
                        conn.subscribed.update(request_body["params"])
                        await ws.send_str(json.dumps({"result": None, "id": request_body["id"]}))
                        conn.subscribed_event.set()
                elif msg.type is WSMsgType.PING:
                    if conn.answer_pings:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    conn.pongs.append(msg.data)
                    conn.pong_event.set()
        finally:
            conn.closed.set()
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
        return ws
