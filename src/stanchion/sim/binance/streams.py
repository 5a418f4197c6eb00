"""Market-data and user-data fan-out for WebSocket streams.

Diffs from the core arrive one update at a time; each ``<symbol>@depth`` cadence
(100 ms, 1000 ms) aggregates them per symbol over its interval (later levels
override earlier ones), keeping ``U`` of the first and ``u`` of the last, so
consecutive events satisfy ``U == previous u + 1`` exactly. Each frame is encoded
once and shared by every subscriber.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from stanchion.sim.binance.connection import Connection
from stanchion.sim.binance.faults import FaultState
from stanchion.sim.binance.render import fx
from stanchion.sim.types import DepthDiff, Trade

_dumps = json.JSONEncoder(separators=(",", ":")).encode

CADENCES_MS = (100, 1000)
_EVENT_TIME_KEYS = ("E", "T", "O", "W")
_REPLY_TIME_KEYS = ("serverTime", "transactTime", "time", "updateTime", "workingTime", "closeTime")


def micros(payload: dict[str, object]) -> dict[str, object]:
    """The same event with its millisecond times in microseconds (``timeUnit=MICROSECOND``)."""
    out = dict(payload)
    keys = _EVENT_TIME_KEYS + (("u",) if payload.get("e") == "outboundAccountPosition" else ())
    for key in keys:
        value = out.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[key] = value * 1000
    return out


def micros_reply(body: object) -> object:
    """REST / WS API reply times in microseconds (``X-MBX-TIME-UNIT: MICROSECOND``), nested replies
    included (cancel-replace's ``cancelResponse`` / ``newOrderResponse``)."""
    if isinstance(body, list):
        return [micros_reply(item) for item in body]
    if isinstance(body, dict):
        out = {k: micros_reply(v) if isinstance(v, dict) else v for k, v in body.items()}
        for key in _REPLY_TIME_KEYS:
            value = out.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                out[key] = value * 1000
        return out
    return body


@dataclass
class _DiffAccumulator:
    first: int = 0
    last: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def add(self, diff: DepthDiff) -> None:
        if not self.first:
            self.first = diff.first_update_id
        self.last = diff.final_update_id
        self.bids.update(diff.bids)
        self.asks.update(diff.asks)

    def take(self) -> tuple[int, int, list[list[str]], list[list[str]]] | None:
        if not self.first:
            return None
        out = (
            self.first, self.last,
            [[fx(p), fx(q)] for p, q in sorted(self.bids.items(), reverse=True)],
            [[fx(p), fx(q)] for p, q in sorted(self.asks.items())],
        )
        self.first = self.last = 0
        self.bids = {}
        self.asks = {}
        return out


def depth_stream_name(symbol: str, cadence_ms: int) -> str:
    base = f"{symbol.lower()}@depth"
    return base if cadence_ms == 1000 else f"{base}@{cadence_ms}ms"


class StreamHub:
    """Subscribers per stream name and the per-symbol aggregation state."""

    def __init__(
        self,
        symbols: tuple[str, ...],
        faults: FaultState,
        top_of_book: Callable[[str, int], tuple[int, list[tuple[int, int]], list[tuple[int, int]]]],
        now_ms: Callable[[], int],
    ) -> None:
        self.symbols = symbols
        self.faults = faults
        self._top = top_of_book  # (symbol, levels) -> (update id, bids, asks)
        self._now_ms = now_ms
        self.subscribers: dict[str, set[Connection]] = {}
        self.connections: dict[int, Connection] = {}
        self._acc: dict[tuple[str, int], _DiffAccumulator] = {
            (s, c): _DiffAccumulator() for s in symbols for c in CADENCES_MS
        }
        self._held: dict[tuple[str, int], list[dict[str, object]]] = {}
        self._last_top: dict[str, tuple[int, int, int, int]] = {}
        self._agg_id = dict.fromkeys(symbols, 0)
        self.user_sessions: dict[int, tuple[Connection, str, int]] = {}  # conn id -> (conn, account, subscriptionId)
        self.listen_keys: dict[str, str] = {}  # listenKey -> account
        self.slow_clients_dropped = 0

    # --- subscriptions -------------------------------------------------------------
    def register(self, conn: Connection) -> None:
        self.connections[conn.id] = conn

    def unregister(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        for name in conn.streams:
            subs = self.subscribers.get(name)
            if subs is not None:
                subs.discard(conn)
        self.user_sessions.pop(conn.id, None)

    def subscribe(self, conn: Connection, name: str) -> None:
        conn.streams.add(name)
        self.subscribers.setdefault(name, set()).add(conn)

    def unsubscribe(self, conn: Connection, name: str) -> None:
        conn.streams.discard(name)
        subs = self.subscribers.get(name)
        if subs is not None:
            subs.discard(conn)

    def is_valid_stream(self, name: str) -> bool:
        sym, _, kind = name.partition("@")
        if sym.upper() not in self.symbols or sym != sym.lower():
            return False
        return kind in {
            "depth", "depth@100ms", "depth@1000ms", "trade", "aggTrade", "bookTicker",
            "depth5", "depth10", "depth20", "depth5@100ms", "depth10@100ms", "depth20@100ms",
            "depth5@1000ms", "depth10@1000ms", "depth20@1000ms",
        }

    # --- publishing ----------------------------------------------------------------
    def _publish(self, name: str, payload: dict[str, object]) -> None:
        subs = self.subscribers.get(name)
        if not subs:
            return
        encoded: dict[tuple[bool, bool], str] = {}  # (combined, microseconds) -> frame, encoded once
        for conn in list(subs):
            key = (conn.combined, conn.micros)
            frame = encoded.get(key)
            if frame is None:
                data = micros(payload) if conn.micros else payload
                frame = encoded[key] = _dumps({"stream": name, "data": data} if conn.combined else data)
            conn.send(frame)

    def on_diff(self, diff: DepthDiff, outage: bool) -> None:
        if outage:
            return
        for cadence in CADENCES_MS:
            self._acc[(diff.symbol, cadence)].add(diff)

    def on_trade(self, trade: Trade) -> None:
        symbol = trade.symbol
        lower = symbol.lower()
        event_time = self._now_ms()
        if self.subscribers.get(f"{lower}@trade"):
            self._publish(f"{lower}@trade", {
                "e": "trade", "E": event_time, "s": symbol, "t": trade.trade_id, "p": fx(trade.price),
                "q": fx(trade.qty), "T": trade.time, "m": trade.is_buyer_maker, "M": True,
            })
        self._agg_id[symbol] += 1
        if self.subscribers.get(f"{lower}@aggTrade"):
            self._publish(f"{lower}@aggTrade", {
                "e": "aggTrade", "E": event_time, "s": symbol, "a": self._agg_id[symbol], "p": fx(trade.price),
                "q": fx(trade.qty), "f": trade.trade_id, "l": trade.trade_id, "T": trade.time,
                "m": trade.is_buyer_maker, "M": True,
            })

    def book_ticker(self, symbol: str) -> None:
        name = f"{symbol.lower()}@bookTicker"
        if not self.subscribers.get(name):
            return
        uid, bids, asks = self._top(symbol, 1)
        bid = bids[0] if bids else (0, 0)
        ask = asks[0] if asks else (0, 0)
        key = (bid[0], bid[1], ask[0], ask[1])
        if self._last_top.get(symbol) == key:
            return
        self._last_top[symbol] = key
        self._publish(name, {"u": uid, "s": symbol, "b": fx(bid[0]), "B": fx(bid[1]), "a": fx(ask[0]), "A": fx(ask[1])})

    def flush(self, cadence_ms: int, now_s: float) -> None:
        """Emit the aggregated diff (and partial books) of every symbol for one cadence tick."""
        for symbol in self.symbols:
            outage = self.faults.active("symbol_outage", now_s, symbol=symbol) is not None
            acc = self._acc[(symbol, cadence_ms)]
            name = depth_stream_name(symbol, cadence_ms)
            taken = acc.take()
            if taken is not None and not outage and self.subscribers.get(name):
                first, last, bids, asks = taken
                event = {"e": "depthUpdate", "E": self._now_ms(), "s": symbol, "U": first, "u": last,
                         "b": bids, "a": asks}
                self._emit_diff(name, symbol, event)
            if outage:
                continue
            suffix = "@100ms" if cadence_ms == 100 else ""
            for levels in (5, 10, 20):
                pname = f"{symbol.lower()}@depth{levels}{suffix}"
                alt = f"{symbol.lower()}@depth{levels}@1000ms" if cadence_ms == 1000 else None
                if self.subscribers.get(pname) or (alt and self.subscribers.get(alt)):
                    uid, pb, pa = self._top(symbol, levels)
                    payload: dict[str, object] = {
                        "lastUpdateId": uid,
                        "bids": [[fx(p), fx(q)] for p, q in pb],
                        "asks": [[fx(p), fx(q)] for p, q in pa],
                    }
                    self._publish(pname, payload)
                    if alt:
                        self._publish(alt, payload)

    def _emit_diff(self, name: str, symbol: str, event: dict[str, object]) -> None:
        if self.faults.take("skip_diff", symbol=symbol) is not None:
            return
        key = (symbol, 0)
        if self.faults.take("reorder_diff", symbol=symbol) is not None:
            self._held.setdefault(key, []).append(event)
            return
        self._publish(name, event)
        if name.endswith("@depth"):
            self._publish(f"{name}@1000ms", event)
        for held in self._held.pop(key, []):
            self._publish(name, held)
        if self.faults.take("duplicate_diff", symbol=symbol) is not None:
            self._publish(name, event)

    # --- user data -----------------------------------------------------------------
    def on_user(self, account: str, payload: dict[str, object]) -> None:
        for key, owner in self.listen_keys.items():
            if owner != account:
                continue
            for conn in list(self.subscribers.get(key, ())):
                data = micros(payload) if conn.micros else payload
                conn.send(_dumps({"stream": key, "data": data}) if conn.combined else _dumps(data))
        for conn, owner, sub_id in list(self.user_sessions.values()):
            if owner == account:
                data = micros(payload) if conn.micros else payload
                conn.send(_dumps({"subscriptionId": sub_id, "event": data}))

    def terminate_user_streams(self, account: str | None) -> int:
        """``eventStreamTerminated`` to every user-data subscriber (of ``account``); returns how many."""
        dropped = 0
        payload = {"e": "eventStreamTerminated", "E": self._now_ms()}
        for conn_id, (conn, acc, sub_id) in list(self.user_sessions.items()):
            if account in (None, acc):
                conn.send(_dumps({"subscriptionId": sub_id, "event": payload}))
                del self.user_sessions[conn_id]
                dropped += 1
        for key, acc in list(self.listen_keys.items()):
            if account in (None, acc):
                for conn in list(self.subscribers.get(key, ())):
                    conn.send(_dumps(payload))
                    conn.finish("user data stream dropped (injected)")
                    dropped += 1
        return dropped

    def server_shutdown(self, conn: Connection) -> None:
        payload: dict[str, object] = {"e": "serverShutdown", "E": self._now_ms()}
        if conn.micros:
            payload = micros(payload)
        conn.send(_dumps({"stream": "!serverShutdown", "data": payload}) if conn.combined else _dumps(payload))
