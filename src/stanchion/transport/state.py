"""Connection state of a :class:`~stanchion.transport.websocket.WebSocketClient`, as a table.

``LIVE`` is the CONNECTED state: the link is up and every stream that must not be
quiet is fresh. ``STALE`` means connected but at least one such stream has gone
silent while the connection itself is proven alive. ``ROTATING`` is a
make-before-break replacement in progress (the old link still serves).
"""

from __future__ import annotations

import enum

from stanchion.core.state_machine import StateMachine, TransitionTable


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    ROTATING = "rotating"
    CLOSED = "closed"


class ConnectionTrigger(enum.Enum):
    CONNECT = "connect"
    CONNECTED = "connected"
    CONNECT_FAILED = "connect_failed"
    STREAM_STALE = "stream_stale"
    STREAMS_RECOVERED = "streams_recovered"
    ROTATE = "rotate"
    ROTATED = "rotated"
    ROTATION_FAILED = "rotation_failed"
    LOST = "lost"
    CLOSE = "close"


_S = ConnectionState
_T = ConnectionTrigger

CONNECTION_TABLE: TransitionTable[ConnectionState, ConnectionTrigger] = TransitionTable(
    "websocket-connection",
    {
        (_S.DISCONNECTED, _T.CONNECT): _S.CONNECTING,
        (_S.DISCONNECTED, _T.CLOSE): _S.CLOSED,
        (_S.CONNECTING, _T.CONNECTED): _S.LIVE,
        (_S.CONNECTING, _T.CONNECT_FAILED): _S.DISCONNECTED,
        (_S.CONNECTING, _T.CLOSE): _S.CLOSED,
        (_S.LIVE, _T.STREAM_STALE): _S.STALE,
        (_S.LIVE, _T.ROTATE): _S.ROTATING,
        (_S.LIVE, _T.LOST): _S.DISCONNECTED,
        (_S.LIVE, _T.CLOSE): _S.CLOSED,
        (_S.STALE, _T.STREAMS_RECOVERED): _S.LIVE,
        (_S.STALE, _T.STREAM_STALE): _S.STALE,
        (_S.STALE, _T.ROTATE): _S.ROTATING,
        (_S.STALE, _T.LOST): _S.DISCONNECTED,
        (_S.STALE, _T.CLOSE): _S.CLOSED,
        # While rotating the old link keeps serving; staleness is tracked, not acted on.
        (_S.ROTATING, _T.STREAM_STALE): _S.ROTATING,
        (_S.ROTATING, _T.STREAMS_RECOVERED): _S.ROTATING,
        (_S.ROTATING, _T.ROTATED): _S.LIVE,
        (_S.ROTATING, _T.ROTATION_FAILED): _S.LIVE,
        (_S.ROTATING, _T.LOST): _S.DISCONNECTED,
        (_S.ROTATING, _T.CLOSE): _S.CLOSED,
    },
    terminal=frozenset({_S.CLOSED}),
)


def new_connection_machine() -> StateMachine[ConnectionState, ConnectionTrigger]:
    return StateMachine(CONNECTION_TABLE, ConnectionState.DISCONNECTED)
