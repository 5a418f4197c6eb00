"""Binance Spot request weights and the usage the venue reports back.

Weights from rest-api.md and web-socket-api.md (binance-spot-api-docs @ a5e0bc3,
2026-07-21). The REST API and the WebSocket API share one IP weight budget and one
per-account order count: the venue's ``X-MBX-USED-WEIGHT-*`` /
``X-MBX-ORDER-COUNT-*`` headers (REST) and the ``rateLimits`` array of every
WebSocket API answer are the same counters, read as the truth (several processes
may share one IP). The budget tracker is pure; the transport decides when to wait.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from stanchion.venues.binance.schemas import BinanceRateLimit

# (method, path) → request weight; endpoints whose weight depends on params are functions below.
REQUEST_WEIGHTS: Final[Mapping[tuple[str, str], int]] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("PUT", "/api/v3/order/amend/keepPriority"): 4,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/rateLimit/order"): 40,
    ("GET", "/api/v3/account/commission"): 20,
}

# Requests that also count against the unfilled-order (ORDERS) limits.
ORDER_COUNT: Final[Mapping[tuple[str, str], int]] = {
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
}

# WebSocket API method → request weight (web-socket-api.md, "Weight:" of each method).
WS_API_WEIGHTS: Final[Mapping[str, int]] = {
    "order.place": 1,
    "order.cancel": 1,
    "order.cancelReplace": 1,
    "order.status": 4,
    "openOrders.cancelAll": 1,
    "userDataStream.subscribe": 2,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
    "session.logon": 2,
    "session.status": 2,
    "session.logout": 2,
    "ping": 1,
    "time": 1,
}

# WebSocket API methods that also count against the unfilled-order (ORDERS) limits.
WS_API_ORDER_COUNT: Final[Mapping[str, int]] = {
    "order.place": 1,
    "order.cancelReplace": 1,  # "Unfilled Order Count: 1", even when the new order is not attempted
}


def ws_api_weight(method: str) -> int:
    """The weight of one WebSocket API request (raises KeyError for a method we do not use)."""
    try:
        return WS_API_WEIGHTS[method]
    except KeyError:
        raise KeyError(f"no Binance weight known for WebSocket API method {method}") from None


def depth_weight(limit: int) -> int:
    """``GET /api/v3/depth``: 5 / 25 / 50 / 250 for limit 1-100 / 101-500 / 501-1000 / 1001-5000."""
    if not 1 <= limit <= 5000:
        raise ValueError(f"depth limit must be in 1..5000, got {limit}")
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def open_orders_weight(symbol: str | None) -> int:
    """``GET /api/v3/openOrders``: 6 for one symbol, 80 without a symbol."""
    return 6 if symbol else 80


def my_trades_weight(with_order_id: bool) -> int:
    """``GET /api/v3/myTrades``: 20, or 5 with ``orderId``."""
    return 5 if with_order_id else 20


def order_test_weight(compute_commission_rates: bool) -> int:
    return 20 if compute_commission_rates else 1


def request_weight(method: str, path: str, params: Mapping[str, str] | None = None) -> int:
    """The weight of one REST request (raises KeyError for an endpoint we do not use)."""
    params = params or {}
    method = method.upper()
    if path == "/api/v3/depth":
        return depth_weight(int(params.get("limit", "100")))
    if path == "/api/v3/openOrders" and method == "GET":
        return open_orders_weight(params.get("symbol"))
    if path == "/api/v3/myTrades":
        return my_trades_weight("orderId" in params)
    if path == "/api/v3/order/test":
        return order_test_weight(params.get("computeCommissionRates") == "true")
    try:
        return REQUEST_WEIGHTS[(method, path)]
    except KeyError:
        raise KeyError(f"no Binance weight known for {method} {path}") from None


_HEADER = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$", re.IGNORECASE)
_INTERVAL_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL_NAME_SECONDS: Final = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


@dataclass(frozen=True, slots=True)
class UsageHeaders:
    """What one response said: used weight and order counts per interval (seconds)."""

    used_weight: dict[int, int] = field(default_factory=dict)
    order_count: dict[int, int] = field(default_factory=dict)
    retry_after_s: float | None = None


def parse_usage_headers(headers: Mapping[str, str]) -> UsageHeaders:
    """``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``/``-1D``, ``Retry-After``.

    Malformed values are skipped (the next response corrects the picture)."""
    used: dict[int, int] = {}
    orders: dict[int, int] = {}
    retry_after: float | None = None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                retry_after = float(value)
            except ValueError:
                retry_after = None
            continue
        match = _HEADER.match(key)
        if not match or not value.strip().isdigit():
            continue
        seconds = int(match.group(2)) * _INTERVAL_SECONDS[match.group(3).lower()]
        (used if match.group(1).lower() == "used-weight" else orders)[seconds] = int(value)
    return UsageHeaders(used, orders, retry_after)


def parse_rate_limits(rate_limits: Iterable[BinanceRateLimit]) -> UsageHeaders:
    """A WebSocket API answer's ``rateLimits`` → the same counts the REST headers carry.

    ``{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":70}``
    is ``X-MBX-USED-WEIGHT-1M: 70``; ``ORDERS``/``SECOND``/10 is ``X-MBX-ORDER-COUNT-10S``.
    Other types (``RAW_REQUESTS``), unknown intervals and entries without ``count`` are skipped.
    """
    used: dict[int, int] = {}
    orders: dict[int, int] = {}
    for item in rate_limits:
        seconds = rate_limit_window_s(item)
        if seconds is None or item.count is None or item.count < 0:
            continue
        if item.rateLimitType == "REQUEST_WEIGHT":
            used[seconds] = item.count
        elif item.rateLimitType == "ORDERS":
            orders[seconds] = item.count
    return UsageHeaders(used, orders)


def rate_limit_window_s(item: BinanceRateLimit) -> int | None:
    """The length of one ``rateLimits`` entry's window in seconds (None: unknown interval)."""
    interval = _INTERVAL_NAME_SECONDS.get(item.interval)
    if interval is None or item.intervalNum <= 0:
        return None
    return interval * item.intervalNum


def ws_api_retry_after_s(retry_after_ms: int | None, server_time_ms: int | None, now_server_ms: int) -> float | None:
    """Seconds to stay away after a WebSocket API 429/418.

    The answer's ``error.data.retryAfter`` is a timestamp (ms) on the venue's clock, not a
    delay (web-socket-api.md "IP limits"); it is measured from the answer's own
    ``serverTime`` when present, else from our estimate of the venue's clock now.
    None when the answer carries no ``retryAfter`` (the limiter's default pause applies).
    """
    if retry_after_ms is None:
        return None
    since = server_time_ms if server_time_ms is not None else now_server_ms
    return max(0.0, (retry_after_ms - since) / 1000)


@dataclass(frozen=True, slots=True)
class Limit:
    kind: str  # "REQUEST_WEIGHT" | "ORDERS" | "RAW_REQUESTS"
    interval_s: int
    limit: int


DEFAULT_LIMITS: Final = (
    Limit("REQUEST_WEIGHT", 60, 6000),
    Limit("ORDERS", 10, 50),
    Limit("ORDERS", 86_400, 160_000),
)
"""The docs' example limits, used only until ``exchangeInfo.rateLimits`` is read:
the real values are the venue's and change over time."""


def limits_from_exchange_info(rate_limits: list[Mapping[str, object]]) -> tuple[Limit, ...]:
    """``exchangeInfo.rateLimits`` → :class:`Limit` list (unknown intervals skipped)."""
    out = []
    for item in rate_limits:
        interval = _INTERVAL_NAME_SECONDS.get(str(item.get("interval")))
        num = item.get("intervalNum")
        limit = item.get("limit")
        if interval is None or not isinstance(num, int) or not isinstance(limit, int):
            continue
        out.append(Limit(str(item.get("rateLimitType")), interval * num, limit))
    return tuple(out)


def limits_from_rate_limits(rate_limits: Iterable[BinanceRateLimit]) -> tuple[Limit, ...]:
    """``rateLimits`` entries (``exchangeInfo`` or a WebSocket API answer) → the venue's
    :class:`Limit` list, in the venue's order; unknown intervals and non-positive limits skipped."""
    out = []
    for item in rate_limits:
        seconds = rate_limit_window_s(item)
        if seconds is None or item.limit <= 0:
            continue
        out.append(Limit(item.rateLimitType, seconds, item.limit))
    return tuple(out)


class WeightBudget:
    """Usage of the venue's limits as the venue reports it (headers are the truth).

    ``before(weight)`` adds the request's weight to the last known usage so a
    burst between responses is counted; every response replaces the estimate
    with the venue's own number. Time-window resets are the transport's job:
    it calls :meth:`reset_window` when the interval rolls over.
    """

    __slots__ = ("_limits", "_used_orders", "_used_weight")

    def __init__(self, limits: tuple[Limit, ...] = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._used_weight: dict[int, int] = {}
        self._used_orders: dict[int, int] = {}

    def before(self, weight: int, orders: int = 0) -> None:
        for limit in self._limits:
            if limit.kind == "REQUEST_WEIGHT":
                self._used_weight[limit.interval_s] = self._used_weight.get(limit.interval_s, 0) + weight
            elif limit.kind == "ORDERS" and orders:
                self._used_orders[limit.interval_s] = self._used_orders.get(limit.interval_s, 0) + orders

    def observe(self, headers: Mapping[str, str]) -> UsageHeaders:
        usage = parse_usage_headers(headers)
        self._used_weight.update(usage.used_weight)
        self._used_orders.update(usage.order_count)
        return usage

    def reset_window(self, kind: str, interval_s: int) -> None:
        (self._used_weight if kind == "REQUEST_WEIGHT" else self._used_orders).pop(interval_s, None)

    def usage_ratio(self) -> float:
        """The highest used/limit ratio over all limits (1.0 = at the limit)."""
        worst = 0.0
        for limit in self._limits:
            used = (self._used_weight if limit.kind == "REQUEST_WEIGHT" else self._used_orders).get(
                limit.interval_s, 0
            )
            if limit.limit > 0:
                worst = max(worst, used / limit.limit)
        return worst

    def allows(self, weight: int, orders: int = 0, *, headroom: float = 0.9) -> bool:
        """Whether a request fits under ``headroom`` × every limit."""
        for limit in self._limits:
            if limit.kind == "REQUEST_WEIGHT":
                used = self._used_weight.get(limit.interval_s, 0) + weight
            elif limit.kind == "ORDERS":
                used = self._used_orders.get(limit.interval_s, 0) + orders
            else:
                continue
            if used > limit.limit * headroom:
                return False
        return True

    def used_weight(self, interval_s: int = 60) -> int:
        return self._used_weight.get(interval_s, 0)

    def order_count(self, interval_s: int) -> int:
        return self._used_orders.get(interval_s, 0)
