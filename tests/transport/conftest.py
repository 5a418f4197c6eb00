"""Helpers shared by the transport tests: a fake venue session and condition waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from stanchion.transport.websocket import WebSocketClient


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.005)


class FakeSession:
    """What a venue session does for the transport: subscribe frames, stream keys, dedupe."""

    def __init__(self, streams: list[str]) -> None:
        self.streams = streams
        self.client: WebSocketClient | None = None
        self.connected_generations: list[int] = []
        self.last_u: dict[str, int] = {}
        self.delivered: list[tuple[str, int]] = []  # after dedupe
        self.duplicates = 0
        self.gaps: list[tuple[str, int, int]] = []
        self.control: list[dict[str, object]] = []
        self.resyncs = 0

    def on_connected(self, generation: int) -> list[str]:
        self.connected_generations.append(generation)
        return [json.dumps({"method": "SUBSCRIBE", "params": self.streams, "id": generation})]

    def resync(self) -> None:
        """After a reconnect the book resyncs: sequence continuity restarts."""
        self.resyncs += 1
        self.last_u.clear()

    def on_message(self, payload: bytes) -> str | None:
        msg = json.loads(payload)
        if "stream" not in msg:
            self.control.append(msg)
            if msg.get("e") == "serverShutdown" and self.client is not None:
                self.client.request_rotation("serverShutdown")
            return None
        stream = msg["stream"]
        u = msg["data"]["u"]
        last = self.last_u.get(stream)
        if last is not None and u <= last:
            self.duplicates += 1  # the consumer drops what both links carried
            return stream
        if last is not None and u != last + 1:
            self.gaps.append((stream, last, u))
        self.last_u[stream] = u
        self.delivered.append((stream, u))
        return stream
