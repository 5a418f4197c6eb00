"""Binance error codes and HTTP statuses → Stanchion's error tree.

Classified by numeric code and HTTP status; the message text is read only where
Binance itself uses one code for several outcomes (-2010 / -2011 carry the
matching engine's reason in ``msg``), and then only to pick a sub-reason.
Sources: errors.md, rest-api.md "LIMITS" and "HTTP Return Codes" (protocols.md §1d, §1e).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from stanchion.core.errors import (
    AuthenticationError,
    ClockSkewError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    RemoteError,
    RemoteFatalError,
    RemoteRetryableError,
    VenueRejectedError,
)

VENUE: Final = "binance"


class RejectReason(enum.Enum):
    """Why the matching engine refused an order (-2010) or a cancel (-2011)."""

    DUPLICATE_ORDER = "duplicate_order"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    WOULD_TAKE = "would_take"  # LIMIT_MAKER that would match immediately
    WOULD_TRIGGER = "would_trigger"
    MARKET_CLOSED = "market_closed"
    UNKNOWN_ORDER = "unknown_order"
    FILTER_FAILURE = "filter_failure"
    OTHER = "other"


class BinanceOrderRejectedError(VenueRejectedError):
    """-2010 NEW_ORDER_REJECTED (or a filter failure): nothing was placed."""

    def __init__(self, message: str, *, reason: RejectReason, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reason = reason


class BinanceUnknownOrderError(VenueRejectedError):
    """-2011 / -2013: the venue does not know this order (already gone, or never placed)."""


class BinanceBannedError(RateLimitedError):
    """HTTP 418: the IP is banned until ``retry_after`` seconds from now."""


_REASONS_BY_MESSAGE: Final = (
    ("Duplicate order sent", RejectReason.DUPLICATE_ORDER),
    ("insufficient balance", RejectReason.INSUFFICIENT_BALANCE),
    ("would immediately match and take", RejectReason.WOULD_TAKE),
    ("would trigger immediately", RejectReason.WOULD_TRIGGER),
    ("Market is closed", RejectReason.MARKET_CLOSED),
    ("Unknown order", RejectReason.UNKNOWN_ORDER),
    ("Filter failure", RejectReason.FILTER_FAILURE),
)

AUTH_CODES: Final = frozenset({-1022, -2014, -2015, -1002})
RATE_LIMIT_CODES: Final = frozenset({-1003, -1015})
OUTCOME_UNKNOWN_CODES: Final = frozenset({-1006, -1007})  # unexpected response / backend timeout
RETRYABLE_CODES: Final = frozenset({-1001, -1004, -1008})  # disconnected / server busy / overloaded


def reject_reason(message: str | None) -> RejectReason:
    """The matching engine's reason, read from the -2010/-2011 message."""
    text = (message or "").lower()
    for fragment, reason in _REASONS_BY_MESSAGE:
        if fragment.lower() in text:
            return reason
    return RejectReason.OTHER


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return None
    return None


def classify(  # noqa: PLR0911  (a decision table: one return per outcome)
    *,
    http_status: int | None,
    code: int | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    request_was_order: bool = False,
    retry_after_s: float | None = None,
) -> RemoteError:
    """The exception for a failed Binance request (REST or WS API ``status``).

    ``request_was_order``: the request could have placed or changed an order, so
    an ambiguous failure (5xx, -1007 timeout) is *outcome unknown*, never a
    rejection. For read-only requests the same failures are plain retryable.
    A 429/418 is a refusal (the request was not executed), for orders too.

    ``retry_after_s``: the wait a WebSocket API answer gives in ``error.data.retryAfter``
    (converted to seconds by the caller); REST gives it in the ``Retry-After`` header.
    """
    kwargs: dict[str, object] = {
        "venue": VENUE,
        "venue_code": code,
        "venue_message": message,
        "http_status": http_status,
    }
    what = f"binance {http_status or '-'} {code if code is not None else ''} {message or ''}".strip()
    if http_status in (418, 429) or code in RATE_LIMIT_CODES:
        retry_after = retry_after_seconds(headers)
        if retry_after is None:
            retry_after = retry_after_s
        if http_status == 418:
            return BinanceBannedError(f"{what}: IP banned", retry_after=retry_after, **kwargs)
        return RateLimitedError(f"{what}: rate limited", retry_after=retry_after, **kwargs)
    if code in OUTCOME_UNKNOWN_CODES or http_status == 408 or (http_status is not None and http_status >= 500):
        if request_was_order:
            return OrderOutcomeUnknownError(f"{what}: outcome unknown, query the order", **kwargs)  # type: ignore[arg-type]
        return RemoteRetryableError(f"{what}: venue error, retry", **kwargs)  # type: ignore[arg-type]
    if code == -1021:
        return ClockSkewError(f"{what}: clock skew, refresh the time offset", **kwargs)  # type: ignore[arg-type]
    if code in AUTH_CODES or http_status == 401:
        return AuthenticationError(f"{what}: authentication refused", **kwargs)  # type: ignore[arg-type]
    if code in (-2011, -2013):
        reason = reject_reason(message)
        if code == -2013 or reason is RejectReason.UNKNOWN_ORDER:
            return BinanceUnknownOrderError(f"{what}: unknown order", **kwargs)  # type: ignore[arg-type]
        return BinanceOrderRejectedError(f"{what}: cancel rejected", reason=reason, **kwargs)
    if code == -2010 or (code == -1013 and message and "Filter failure" in message):
        return BinanceOrderRejectedError(f"{what}: order rejected", reason=reject_reason(message), **kwargs)
    if code in RETRYABLE_CODES:
        return RemoteRetryableError(f"{what}: venue busy, retry", **kwargs)  # type: ignore[arg-type]
    if http_status == 403:
        return RemoteFatalError(f"{what}: refused by the web application firewall", **kwargs)  # type: ignore[arg-type]
    if http_status == 409:
        # cancelReplace partially succeeded: the cancel or the new order may have gone through.
        return OrderOutcomeUnknownError(f"{what}: cancel-replace partially succeeded", **kwargs)  # type: ignore[arg-type]
    return VenueRejectedError(f"{what}: request rejected", **kwargs)  # type: ignore[arg-type]
