"""Binance failures → error classes; request weights; usage headers as the truth."""

from __future__ import annotations

import pytest

from stanchion.core.errors import (
    AuthenticationError,
    ClockSkewError,
    Disposition,
    OrderOutcomeUnknownError,
    RateLimitedError,
    RemoteRetryableError,
    VenueRejectedError,
)
from stanchion.venues.binance.errors import (
    BinanceBannedError,
    BinanceOrderRejectedError,
    BinanceUnknownOrderError,
    RejectReason,
    classify,
)
from stanchion.venues.binance.ratelimit import (
    DEFAULT_LIMITS,
    WeightBudget,
    depth_weight,
    limits_from_exchange_info,
    parse_usage_headers,
    request_weight,
)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_an_order_is_outcome_unknown_not_a_rejection(status: int) -> None:
    error = classify(http_status=status, request_was_order=True)
    assert isinstance(error, OrderOutcomeUnknownError) and error.disposition is Disposition.OUTCOME_UNKNOWN
    assert classify(http_status=status).disposition is Disposition.RETRYABLE  # a read: just retry


def test_backend_timeout_minus_1007_is_outcome_unknown() -> None:
    error = classify(http_status=408, code=-1007, message="Timeout waiting for response from backend server.",
                     request_was_order=True)
    assert isinstance(error, OrderOutcomeUnknownError) and error.venue_code == -1007
    assert isinstance(classify(http_status=408, request_was_order=True), OrderOutcomeUnknownError)


def test_rate_limits_and_ban_carry_retry_after() -> None:
    limited = classify(http_status=429, code=-1003, message="Too much request weight used", headers={"Retry-After": "7"})
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 7.0 and limited.retryable
    orders = classify(http_status=400, code=-1015, message="Too many new orders")
    assert isinstance(orders, RateLimitedError)
    banned = classify(http_status=418, code=-1003, headers={"retry-after": "120"})
    assert isinstance(banned, BinanceBannedError) and banned.retry_after == 120.0


def test_clock_skew_auth_and_unknown_order() -> None:
    assert isinstance(classify(http_status=400, code=-1021), ClockSkewError)
    for code in (-1022, -2014, -2015):
        error = classify(http_status=401 if code == -2015 else 400, code=code)
        assert isinstance(error, AuthenticationError) and error.disposition is Disposition.FATAL
    assert isinstance(classify(http_status=400, code=-2013, message="Order does not exist."), BinanceUnknownOrderError)
    assert isinstance(classify(http_status=400, code=-2011, message="Unknown order sent."), BinanceUnknownOrderError)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Duplicate order sent.", RejectReason.DUPLICATE_ORDER),
        ("Account has insufficient balance for requested action.", RejectReason.INSUFFICIENT_BALANCE),
        ("Order would immediately match and take.", RejectReason.WOULD_TAKE),
        ("Order would trigger immediately.", RejectReason.WOULD_TRIGGER),
        ("Market is closed.", RejectReason.MARKET_CLOSED),
        ("Something new.", RejectReason.OTHER),
    ],
)
def test_new_order_rejected_sub_reasons(message: str, reason: RejectReason) -> None:
    error = classify(http_status=400, code=-2010, message=message, request_was_order=True)
    assert isinstance(error, BinanceOrderRejectedError) and error.reason is reason
    assert error.disposition is Disposition.FATAL and not error.outcome_unknown


def test_filter_failures_and_other_codes() -> None:
    error = classify(http_status=400, code=-1013, message="Filter failure: PRICE_FILTER")
    assert isinstance(error, BinanceOrderRejectedError) and error.reason is RejectReason.FILTER_FAILURE
    assert type(classify(http_status=400, code=-1121, message="Invalid symbol.")) is VenueRejectedError
    assert isinstance(classify(http_status=503, code=-1008), RemoteRetryableError)
    assert isinstance(classify(http_status=409, code=-2021), OrderOutcomeUnknownError)
    assert "-1121" in str(classify(http_status=400, code=-1121, message="Invalid symbol."))


def test_request_weights_from_the_docs() -> None:
    assert [depth_weight(n) for n in (1, 100, 101, 500, 501, 1000, 1001, 5000)] == [5, 5, 25, 25, 50, 50, 250, 250]
    with pytest.raises(ValueError):
        depth_weight(5001)
    assert request_weight("GET", "/api/v3/depth", {"symbol": "X", "limit": "5000"}) == 250
    assert request_weight("GET", "/api/v3/depth") == 5
    assert request_weight("post", "/api/v3/order") == 1
    assert request_weight("GET", "/api/v3/exchangeInfo") == 20
    assert request_weight("GET", "/api/v3/account") == 20
    assert request_weight("GET", "/api/v3/openOrders", {"symbol": "X"}) == 6
    assert request_weight("GET", "/api/v3/openOrders") == 80
    assert request_weight("GET", "/api/v3/myTrades", {"orderId": "1"}) == 5
    with pytest.raises(KeyError, match="no Binance weight"):
        request_weight("GET", "/api/v3/unknown")


def test_usage_headers_are_the_truth() -> None:
    usage = parse_usage_headers(
        {"X-MBX-USED-WEIGHT-1M": "1200", "x-mbx-order-count-10s": "3", "X-MBX-ORDER-COUNT-1D": "40",
         "Retry-After": "2", "X-MBX-USED-WEIGHT-1M-bogus": "1", "X-MBX-USED-WEIGHT-1S": "abc"}
    )
    assert usage.used_weight == {60: 1200} and usage.order_count == {10: 3, 86400: 40}
    assert usage.retry_after_s == 2.0
    budget = WeightBudget(DEFAULT_LIMITS)
    budget.before(250)
    assert budget.used_weight() == 250
    budget.observe({"X-MBX-USED-WEIGHT-1M": "5700"})  # another process used the same IP
    assert budget.used_weight() == 5700 and budget.usage_ratio() == pytest.approx(0.95)
    assert not budget.allows(1) and budget.allows(0, headroom=1.0)
    budget.reset_window("REQUEST_WEIGHT", 60)
    assert budget.usage_ratio() == 0.0 and budget.allows(250)
    budget.before(1, orders=1)
    assert budget.order_count(10) == 1


def test_limits_from_exchange_info() -> None:
    limits = limits_from_exchange_info([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        {"rateLimitType": "ORDERS", "interval": "FORTNIGHT", "intervalNum": 1, "limit": 1},
    ])
    assert [(lim.kind, lim.interval_s, lim.limit) for lim in limits] == [("REQUEST_WEIGHT", 60, 1200), ("ORDERS", 10, 50)]
