"""Venue-defined liveness, as data: who pings, how often, and how long silence may last.

Application-level only: TCP keepalive is never relied on (a socket can stay
"open" through a dead path for many minutes).

* Binance: the server pings every 20 s; the client must answer each ping with a
  pong carrying the same payload (``answer_pings``), and treats the connection as
  dead when neither a ping nor data arrived within the window.
* Venues that want the client to ping (Kraken, OKX, Bybit, ...) set
  :class:`ClientPing`: a WebSocket ping frame or a text heartbeat at an interval,
  with a deadline for the reply; the reply's round trip is the heartbeat latency.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from stanchion.core.errors import ConfigError


class PingKind(enum.Enum):
    WS_FRAME = "ws_frame"  # RFC 6455 ping frame; the reply is a pong with the same payload
    TEXT = "text"  # an application message (JSON heartbeat, "ping"); the venue recognises the reply


def _no_reply(_payload: bytes) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class ClientPing:
    """Pings the client sends. For ``TEXT`` the venue supplies the frame and the reply test."""

    interval_s: float
    timeout_s: float
    kind: PingKind = PingKind.WS_FRAME
    text_frame: Callable[[int], bytes] | None = None  # sequence number -> frame to send
    is_reply: Callable[[bytes], bool] = field(default=_no_reply)

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.timeout_s > 0):
            raise ConfigError("client ping: interval_s and timeout_s must be > 0")
        if self.kind is PingKind.TEXT and self.text_frame is None:
            raise ConfigError("client ping: kind TEXT needs text_frame")


@dataclass(frozen=True, slots=True)
class LivenessPolicy:
    """``idle_timeout_s``: no traffic at all (data, pings, pongs) for this long -> dead."""

    idle_timeout_s: float
    answer_pings: bool = True
    client_ping: ClientPing | None = None

    def __post_init__(self) -> None:
        if not self.idle_timeout_s > 0:
            raise ConfigError(f"liveness: idle_timeout_s must be > 0 (got {self.idle_timeout_s})")

    @classmethod
    def binance(cls, idle_timeout_s: float = 30.0) -> LivenessPolicy:
        """Server pings every 20 s (BN-WSS); one missed ping plus margin means dead."""
        return cls(idle_timeout_s=idle_timeout_s, answer_pings=True, client_ping=None)
