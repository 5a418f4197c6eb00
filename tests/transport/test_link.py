"""The picows link: fragmented messages are reassembled (bounded); bad input closes the link."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import picows
import pytest

from stanchion.core.errors import ConnectionLostError, HandshakeRefusedError
from stanchion.transport.link import PicowsOpener

from .conftest import wait_until


class Recorder:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []
        self.closed: list[tuple[int | None, str]] = []
        self.opened: list[object] = []

    def on_open(self, link: object) -> None:
        self.opened.append(link)

    def on_message(self, payload: bytes) -> None:
        assert self.opened, "a frame before on_open"
        self.messages.append(payload)

    def on_ping(self, payload: bytes) -> None:
        self.pings.append(payload)

    def on_pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def on_closed(self, code: int | None, reason: str) -> None:
        self.closed.append((code, reason))


class FragmentingServer(picows.WSListener):
    """Sends one message in three fragments with a ping in the middle (RFC 6455 allows it)."""

    def __init__(self, parts: list[bytes]) -> None:
        super().__init__()
        self.parts = parts

    def on_ws_connected(self, transport: Any) -> None:
        first, *middle, last = self.parts
        transport.send(picows.WSMsgType.TEXT, first, fin=False)
        transport.send_ping(b"between-fragments")
        for part in middle:
            transport.send(picows.WSMsgType.CONTINUATION, part, fin=False)
        transport.send(picows.WSMsgType.CONTINUATION, last, fin=True)

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type == picows.WSMsgType.CLOSE:
            transport.disconnect()


@pytest.fixture
async def fragmenting_url() -> AsyncIterator[str]:
    message = json.dumps({"stream": "btcusdt@depth", "data": {"u": 1, "b": [["1.0", "2.0"]] * 20}}).encode()
    parts = [message[:40], message[40:90], message[90:]]

    def factory(_request: Any) -> FragmentingServer:
        return FragmentingServer(parts)

    server = await picows.ws_create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()


async def test_fragments_are_reassembled_and_control_frames_interleave(fragmenting_url: str) -> None:
    events = Recorder()
    link = await PicowsOpener()(fragmenting_url, events)
    assert events.opened == [link]  # the opener returns the link announced by on_open
    try:
        await wait_until(lambda: bool(events.messages), what="the reassembled message")
        message = json.loads(events.messages[0])
        assert message["data"]["u"] == 1 and len(message["data"]["b"]) == 20
        assert events.pings == [b"between-fragments"]
    finally:
        link.close()
        await asyncio.wait_for(link.wait_closed(), 5)
    assert events.closed


async def test_oversized_fragmented_message_closes_the_link(fragmenting_url: str) -> None:
    events = Recorder()
    link = await PicowsOpener(max_message_bytes=64)(fragmenting_url, events)
    await asyncio.wait_for(link.wait_closed(), 5)
    assert events.messages == []
    assert events.closed  # reported, so the client reconnects


async def test_handshake_refused_is_connection_lost() -> None:
    def refuse(_request: Any) -> None:
        return None  # picows answers 404

    server = await picows.ws_create_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionLostError, match="handshake refused: HTTP 404") as refused:
            await PicowsOpener()(f"ws://127.0.0.1:{port}/", Recorder())
        assert isinstance(refused.value, HandshakeRefusedError)
        assert refused.value.http_status == 404 and refused.value.retry_after is None
    finally:
        server.close()
        await server.wait_closed()


async def test_a_banned_handshake_carries_its_status_and_retry_after() -> None:
    def ban(_request: Any) -> picows.WSUpgradeResponseWithListener:
        response = picows.WSUpgradeResponse.create_error_response(418, b"banned", {"Retry-After": "120"})
        return picows.WSUpgradeResponseWithListener(response, None)

    server = await picows.ws_create_server(ban, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HandshakeRefusedError) as refused:
            await PicowsOpener()(f"ws://127.0.0.1:{port}/", Recorder())
        assert refused.value.http_status == 418 and refused.value.retry_after == 120.0
    finally:
        server.close()
        await server.wait_closed()
