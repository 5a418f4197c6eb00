"""Fault injection: a pure scenario model (what, where, when) and the active-fault state.

A scenario is a list of faults, each fired at a time (``at_s`` after start) or
at an update count (``at_update``: the first update id at or past it), or at
once when posted to the control endpoint. The server asks the state at its
hooks (``take``/``active``); nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

KINDS: Final = frozenset({
    "close",                 # close WS connection(s); with_close_frame true/false
    "stall",                 # stop sending data for duration_s; answer_pings true/false
    "skip_diff",             # drop `count` depth diffs of `symbol` (sequence gap)
    "duplicate_diff",        # send `count` diffs of `symbol` twice
    "reorder_diff",          # swap the next two diffs of `symbol`
    "malformed_frame",       # send one invalid JSON text frame
    "delay",                 # delay REST and WS API replies by delay_ms, `count` times
    "rest_5xx",              # `count` REST requests answered with `status` (500/502/503) before processing
    "unknown_after_accept",  # `count` orders accepted, then 503 -1007 "execution status unknown"
    "timeout_after_accept",  # `count` orders accepted, reply never sent; connection held hold_s then closed
    "rate_limit_storm",      # `count` REST requests answered 429 regardless of weight
    "ws_api_rate_limit_storm",  # `count` WS API requests answered 429 -1003, retryAfter duration_s ahead
    "ip_ban",                # every REST and WS API request answered 418 -1003 for duration_s (the IP banned)
    "clock_skew",            # server time offset by offset_ms (persistent until changed)
    "force_reject",          # `count` orders rejected with code/msg
    "symbol_outage",         # `symbol` streams silent and orders rejected for duration_s
    "user_stream_drop",      # user data streams of `account` (or all) terminated
})

_DURATION_KINDS: Final = frozenset({"stall", "symbol_outage", "ip_ban"})

_FIELDS: Final = {
    "kind", "at_s", "at_update", "connection", "symbol", "account", "count", "duration_s", "with_close_frame",
    "answer_pings", "delay_ms", "status", "hold_s", "offset_ms", "code", "msg",
}


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    at_s: float | None = None
    at_update: int | None = None
    connection: int | None = None  # target one connection id (see GET /_sim/connections)
    symbol: str | None = None
    account: str | None = None
    count: int = 1
    duration_s: float = 5.0
    with_close_frame: bool = True
    answer_pings: bool = True
    delay_ms: int = 1000
    status: int = 503
    hold_s: float = 1.0
    offset_ms: int = 0
    code: int = -2010
    msg: str = "Order was rejected by the simulator (injected fault)."

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.at_s is not None and self.at_update is not None:
            raise ValueError(f"fault {self.kind}: give at_s or at_update, not both")
        if self.count < 1:
            raise ValueError(f"fault {self.kind}: count must be >= 1")
        if self.kind in {"skip_diff", "duplicate_diff", "reorder_diff", "symbol_outage"} and not self.symbol:
            raise ValueError(f"fault {self.kind}: symbol is required")
        if self.kind == "rest_5xx" and not 500 <= self.status <= 599:
            raise ValueError("fault rest_5xx: status must be 5xx")

    @classmethod
    def from_mapping(cls, item: object) -> Fault:
        if not isinstance(item, dict):
            raise ValueError("a fault must be a mapping")
        unknown = set(item) - _FIELDS
        if unknown:
            raise ValueError(f"fault has unknown fields {sorted(unknown)}")
        if "kind" not in item:
            raise ValueError("fault needs a kind")
        try:
            return cls(**item)
        except TypeError as exc:
            raise ValueError(f"fault {item.get('kind')}: {exc}") from exc


def load_scenario(path: str | Path) -> list[Fault]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise ValueError(f"cannot read faults file {p}: {exc.strerror}") from exc
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"faults file {p} is not valid YAML/JSON") from exc
    items = doc.get("faults") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValueError(f"faults file {p}: expected a list under 'faults'")
    return [Fault.from_mapping(i) for i in items]


@dataclass
class _Armed:
    fault: Fault
    remaining: int
    until_s: float | None = None


@dataclass
class FaultState:
    """Scheduled faults and the ones in force; the server consults it at each hook."""

    pending: list[Fault] = field(default_factory=list)
    armed: list[_Armed] = field(default_factory=list)
    clock_offset_ms: int = 0
    fired: list[Fault] = field(default_factory=list)

    def schedule(self, faults: list[Fault]) -> None:
        self.pending.extend(faults)

    def due(self, elapsed_s: float, update_ids: dict[str, int]) -> list[Fault]:
        """Move faults whose time or update count has come to the armed set; returns them."""
        ready: list[Fault] = []
        keep: list[Fault] = []
        for f in self.pending:
            (ready if _is_due(f, elapsed_s, update_ids) else keep).append(f)
        self.pending = keep
        for f in ready:
            self.arm(f, elapsed_s)
        return ready

    def arm(self, fault: Fault, now_s: float) -> None:
        self.fired.append(fault)
        if fault.kind == "clock_skew":
            self.clock_offset_ms = fault.offset_ms
            return
        until = now_s + fault.duration_s if fault.kind in _DURATION_KINDS else None
        self.armed.append(_Armed(fault, fault.count, until))

    def take(self, kind: str, *, symbol: str | None = None, connection: int | None = None,
             account: str | None = None) -> Fault | None:
        """Consume one use of an armed fault of ``kind`` matching the target, if any."""
        for armed in self.armed:
            f = armed.fault
            if f.kind != kind or not _matches(f, symbol, connection, account):
                continue
            armed.remaining -= 1
            if armed.remaining <= 0:
                self.armed.remove(armed)
            return f
        return None

    def active(self, kind: str, now_s: float, *, symbol: str | None = None,
               connection: int | None = None) -> Fault | None:
        """A duration fault (stall, symbol_outage) in force now, without consuming it."""
        for armed in list(self.armed):
            if armed.fault.kind != kind:
                continue
            if armed.until_s is not None and now_s >= armed.until_s:
                self.armed.remove(armed)
                continue
            if _matches(armed.fault, symbol, connection, None):
                return armed.fault
        return None

    def active_until(self, kind: str, now_s: float) -> float | None:
        """When the duration faults of ``kind`` in force now end (the latest), None if none is."""
        ends: list[float] = []
        for armed in list(self.armed):
            if armed.fault.kind != kind or armed.until_s is None:
                continue
            if now_s >= armed.until_s:
                self.armed.remove(armed)
            else:
                ends.append(armed.until_s)
        return max(ends, default=None)

    def pop(self, kinds: frozenset[str]) -> list[Fault]:
        """Remove and return armed faults of these kinds (connection-level faults applied once)."""
        out = [a.fault for a in self.armed if a.fault.kind in kinds]
        self.armed = [a for a in self.armed if a.fault.kind not in kinds]
        return out

    def pending_kinds(self) -> list[dict[str, object]]:
        return [{"kind": a.fault.kind, "remaining": a.remaining, "symbol": a.fault.symbol,
                 "connection": a.fault.connection} for a in self.armed]


def _is_due(f: Fault, elapsed_s: float, update_ids: dict[str, int]) -> bool:
    if f.at_s is None and f.at_update is None:
        return True
    if f.at_s is not None:
        return elapsed_s >= f.at_s
    assert f.at_update is not None
    return any(uid >= f.at_update for s, uid in update_ids.items() if f.symbol in (None, s))


def _matches(f: Fault, symbol: str | None, connection: int | None, account: str | None) -> bool:
    if f.symbol is not None and symbol is not None and f.symbol != symbol:
        return False
    if f.symbol is not None and symbol is None and f.kind in {"skip_diff", "duplicate_diff", "reorder_diff"}:
        return False
    if f.connection is not None and connection is not None and f.connection != connection:
        return False
    return not (f.account is not None and account is not None and f.account != account)
