"""The small internal interface between the connection logic and a WebSocket library.

:class:`WebSocketClient` only sees :class:`Link` (send, ping, close) and
:class:`LinkEvents` (frame, ping, pong, closed). ``open_picows_link`` implements it
on picows, chosen by measurement (docs/decisions/0002-websocket-library.md);
another library only needs another opener with the same signature.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol

import picows

from stanchion.core.errors import ConnectionLostError, HandshakeRefusedError


class Link(Protocol):
    """One open WebSocket connection."""

    def send_text(self, data: bytes) -> None: ...
    def send_binary(self, data: bytes) -> None: ...
    def send_ping(self, payload: bytes) -> None: ...
    def send_pong(self, payload: bytes) -> None: ...
    def close(self, code: int = 1000) -> None:
        """Close with a close frame, then drop the socket. Idempotent."""
        ...

    def abort(self) -> None:
        """Drop the socket without a close frame. Idempotent."""
        ...

    async def wait_closed(self) -> None: ...


class LinkEvents(Protocol):
    """What a link reports. Called synchronously from the library's protocol callbacks.

    ``on_open`` comes first, before any frame, with the link that the opener will
    also return: frames that arrive in the same read as the handshake response are
    reported before the opener's await completes.
    """

    def on_open(self, link: Link) -> None: ...
    def on_message(self, payload: bytes) -> None: ...
    def on_ping(self, payload: bytes) -> None: ...
    def on_pong(self, payload: bytes) -> None: ...
    def on_closed(self, code: int | None, reason: str) -> None: ...


LinkOpener = Callable[[str, LinkEvents], Awaitable[Link]]

_TEXT: Final = picows.WSMsgType.TEXT
_BINARY: Final = picows.WSMsgType.BINARY


class _PicowsListener(picows.WSListener):
    """Reassembles fragmented messages (bounded) and forwards everything to ``LinkEvents``."""

    def __init__(self, events: LinkEvents, max_message_bytes: int) -> None:
        super().__init__()
        self._events = events
        self._max = max_message_bytes
        self._fragments: bytearray | None = None
        self._closed_reported = False
        self.link: _PicowsLink | None = None

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        self.link = _PicowsLink(transport)
        self._events.on_open(self.link)

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is _TEXT or msg_type is _BINARY:
            if frame.fin:
                self._events.on_message(frame.get_payload_as_bytes())
            else:
                self._fragments = bytearray(frame.get_payload_as_memoryview())
        elif msg_type is picows.WSMsgType.CONTINUATION:
            if self._fragments is None:
                raise picows.WSProtocolError(picows.WSCloseCode.PROTOCOL_ERROR, "continuation without a start")
            self._fragments += frame.get_payload_as_memoryview()
            if len(self._fragments) > self._max:
                raise picows.WSProtocolError(picows.WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            if frame.fin:
                payload = bytes(self._fragments)
                self._fragments = None
                self._events.on_message(payload)
        elif msg_type is picows.WSMsgType.PING:
            self._events.on_ping(frame.get_payload_as_bytes())
        elif msg_type is picows.WSMsgType.PONG:
            self._events.on_pong(frame.get_payload_as_bytes())
        elif msg_type is picows.WSMsgType.CLOSE:
            code = frame.get_close_code()
            reason = frame.get_close_message() or b""
            self._report_closed(int(code.value), reason.decode("utf-8", "replace"))
            transport.send_close(code)
            transport.disconnect()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        self._report_closed(None, "disconnected")

    def _report_closed(self, code: int | None, reason: str) -> None:
        if not self._closed_reported:
            self._closed_reported = True
            self._events.on_closed(code, reason)


class _PicowsLink:
    __slots__ = ("_transport",)

    def __init__(self, transport: picows.WSTransport) -> None:
        self._transport = transport

    def send_text(self, data: bytes) -> None:
        self._transport.send(picows.WSMsgType.TEXT, data)

    def send_binary(self, data: bytes) -> None:
        self._transport.send(picows.WSMsgType.BINARY, data)

    def send_ping(self, payload: bytes) -> None:
        self._transport.send_ping(payload)

    def send_pong(self, payload: bytes) -> None:
        self._transport.send_pong(payload)

    def close(self, code: int = 1000) -> None:
        if not self._transport.is_disconnected:
            self._transport.send_close(picows.WSCloseCode(code))
            self._transport.disconnect(graceful=True)

    def abort(self) -> None:
        self._transport.disconnect(graceful=False)

    async def wait_closed(self) -> None:
        # Local protocol failures are re-raised here; they are already reported through
        # on_closed, so the owner only needs to know the link is gone.
        try:
            await self._transport.wait_disconnected()
        except picows.WSError:
            return


class PicowsOpener:
    """Opens links on picows. Pings are answered by the client logic (payload echoed), not by picows."""

    def __init__(
        self,
        *,
        handshake_timeout_s: float = 10.0,
        max_message_bytes: int = 16 * 1024 * 1024,
        extra_headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._handshake_timeout_s = handshake_timeout_s
        self._max = max_message_bytes
        self._headers = dict(extra_headers or {})
        self._ssl = ssl_context

    async def __call__(self, url: str, events: LinkEvents) -> Link:
        def factory() -> _PicowsListener:
            return _PicowsListener(events, self._max)

        try:
            _transport, listener = await picows.ws_connect(
                factory,
                url,
                ssl_context=self._ssl,
                websocket_handshake_timeout=self._handshake_timeout_s,
                enable_auto_pong=False,
                enable_auto_ping=False,
                max_frame_size=self._max,
                extra_headers=self._headers or None,
            )
        except picows.WSInvalidStatusError as exc:
            raise _refused(exc) from exc
        except (TimeoutError, OSError, picows.WSError) as exc:
            raise ConnectionLostError(f"websocket connect failed: {type(exc).__name__}") from exc
        assert isinstance(listener, _PicowsListener) and listener.link is not None
        return listener.link


def _refused(exc: picows.WSInvalidStatusError) -> HandshakeRefusedError:
    """The upgrade answered with an HTTP error: its status and ``Retry-After`` (seconds), if any."""
    response = exc.response
    if response is None:
        return HandshakeRefusedError("websocket handshake refused")
    status = int(response.status)
    retry_after: float | None = None
    for name, value in response.headers.items():
        if name.lower() == "retry-after":
            try:
                retry_after = max(0.0, float(value))
            except ValueError:
                retry_after = None
    return HandshakeRefusedError(
        f"websocket handshake refused: HTTP {status}", http_status=status, retry_after=retry_after
    )
