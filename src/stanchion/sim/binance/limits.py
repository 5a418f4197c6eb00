"""Rate limits as Binance applies them: weight per IP, orders per account, 429 then 418 bans.

Windows are fixed and aligned to the interval (a minute window resets on the
minute), as Binance's counters do. A client that keeps sending while limited is
banned (418) for ``ban_first_s``, doubling for each repeat, up to ``ban_max_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from stanchion.sim.binance.apierror import BinanceApiError, banned
from stanchion.sim.binance.config import RateLimitSpec

# (method, path) → request weight (rest-api.md; parameter-dependent ones below).
WEIGHTS: Final[Mapping[tuple[str, str], int]] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
}

# WebSocket API methods → weight (web-socket-api.md).
WS_WEIGHTS: Final[Mapping[str, int]] = {
    "ping": 1, "time": 1, "exchangeInfo": 20, "order.place": 1, "order.test": 1, "order.cancel": 1,
    "order.cancelReplace": 1, "order.status": 4, "openOrders.status": 6, "openOrders.cancelAll": 1,
    "account.status": 20,
    "session.logon": 2, "session.status": 2, "session.logout": 2,
    "userDataStream.subscribe": 2, "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2,
    "depth": 5, "ticker.book": 2,
}


def depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def rest_weight(method: str, path: str, params: Mapping[str, str]) -> int:
    if path == "/api/v3/depth":
        raw = params.get("limit", "100")
        return depth_weight(int(raw) if raw.isdigit() else 100)
    if path == "/api/v3/openOrders" and method == "GET":
        return 6 if params.get("symbol") else 80
    if path == "/api/v3/myTrades":
        return 5 if params.get("orderId") else 20
    if path == "/api/v3/order/test":
        return 20 if params.get("computeCommissionRates") == "true" else 1
    if path == "/api/v3/ticker/bookTicker":
        return 2 if params.get("symbol") else 4
    if path == "/api/v3/exchangeInfo":
        return 20
    return WEIGHTS.get((method, path), 1)


@dataclass
class _Window:
    spec: RateLimitSpec
    start_s: int = 0
    count: int = 0

    def roll(self, now_s: int) -> None:
        start = now_s - now_s % self.spec.seconds
        if start != self.start_s:
            self.start_s, self.count = start, 0

    def reset_in(self, now_s: int) -> int:
        return max(1, self.start_s + self.spec.seconds - now_s)


@dataclass
class _IpState:
    windows: list[_Window]
    limited_until_s: int = 0
    strikes: int = 0
    banned_until_s: int = 0
    bans: int = 0


@dataclass
class RateLimiter:
    """Counts per IP (REQUEST_WEIGHT, RAW_REQUESTS) and per account (ORDERS)."""

    specs: tuple[RateLimitSpec, ...]
    ban_after_429: int = 3
    ban_first_s: int = 120
    ban_max_s: int = 3 * 86400
    _ips: dict[str, _IpState] = field(default_factory=dict)
    _accounts: dict[str, list[_Window]] = field(default_factory=dict)

    def _ip(self, ip: str) -> _IpState:
        state = self._ips.get(ip)
        if state is None:
            windows = [_Window(s) for s in self.specs if s.rate_limit_type != "ORDERS"]
            state = self._ips[ip] = _IpState(windows)
        return state

    def _account(self, account: str) -> list[_Window]:
        windows = self._accounts.get(account)
        if windows is None:
            windows = self._accounts[account] = [_Window(s) for s in self.specs if s.rate_limit_type == "ORDERS"]
        return windows

    def charge_ip(self, ip: str, weight: int, now_ms: int) -> None:
        """Count one request; raise 418 while banned, 429 past a limit (escalating to a ban)."""
        now_s = now_ms // 1000
        state = self._ip(ip)
        if state.banned_until_s > now_s:
            raise banned(state.banned_until_s * 1000, now_ms)
        if state.limited_until_s > now_s:
            state.strikes += 1
            if state.strikes >= self.ban_after_429:
                duration = min(self.ban_first_s * 2**state.bans, self.ban_max_s)
                state.bans += 1
                state.strikes = 0
                state.banned_until_s = now_s + duration
                raise banned(state.banned_until_s * 1000, now_ms)
        for window in state.windows:
            window.roll(now_s)
            increment = weight if window.spec.rate_limit_type == "REQUEST_WEIGHT" else 1
            if window.count + increment > window.spec.limit:
                state.limited_until_s = max(state.limited_until_s, window.start_s + window.spec.seconds)
                retry = window.reset_in(now_s)
                raise BinanceApiError(
                    -1003,
                    f"Too much request weight used; current limit is {window.spec.limit} request weight per "
                    f"{window.spec.interval_num} {window.spec.interval}. "
                    "Please use WebSocket Streams for live updates to avoid polling the API.",
                    status=429,
                    retry_after=retry,
                    retry_at_ms=(window.start_s + window.spec.seconds) * 1000,
                )
        for window in state.windows:
            window.count += weight if window.spec.rate_limit_type == "REQUEST_WEIGHT" else 1

    def charge_order(self, account: str, now_ms: int) -> None:
        now_s = now_ms // 1000
        windows = self._account(account)
        for window in windows:
            window.roll(now_s)
            if window.count + 1 > window.spec.limit:
                raise BinanceApiError(
                    -1015,
                    f"Too many new orders; current limit is {window.spec.limit} orders per "
                    f"{window.spec.interval_num} {window.spec.interval}.",
                    status=429,
                    retry_after=window.reset_in(now_s),
                    retry_at_ms=(window.start_s + window.spec.seconds) * 1000,
                )
        for window in windows:
            window.count += 1

    def weight_headers(self, ip: str, now_ms: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for window in self._ip(ip).windows:
            if window.spec.rate_limit_type == "REQUEST_WEIGHT":
                window.roll(now_ms // 1000)
                out[f"X-MBX-USED-WEIGHT-{window.spec.header_suffix}"] = str(window.count)
        return out

    def order_headers(self, account: str, now_ms: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for window in self._account(account):
            window.roll(now_ms // 1000)
            out[f"X-MBX-ORDER-COUNT-{window.spec.header_suffix}"] = str(window.count)
        return out

    def ws_rate_limits(self, ip: str, account: str | None, now_ms: int, *, orders: bool) -> list[dict[str, object]]:
        """The ``rateLimits`` array of a WebSocket API response."""
        out: list[dict[str, object]] = []
        for window in self._ip(ip).windows:
            if window.spec.rate_limit_type == "REQUEST_WEIGHT":
                window.roll(now_ms // 1000)
                out.append({**window.spec.as_json(), "count": window.count})
        if orders and account is not None:
            for window in self._account(account):
                window.roll(now_ms // 1000)
                out.append({**window.spec.as_json(), "count": window.count})
        return out
