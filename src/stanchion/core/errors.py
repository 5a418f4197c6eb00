"""The error tree: every error says who is at fault and what happens next.

Two independent questions, answered by the class an error belongs to:

* **Where** did it happen? :class:`LocalError` (our process, our config, our
  host) or :class:`RemoteError` (the venue or the network path to it).
* **What next?** :attr:`StanchionError.disposition`:
  ``RETRYABLE`` (nothing happened; try again, with backoff),
  ``FATAL`` (retrying will not help; a human or a config change must act), or
  ``OUTCOME_UNKNOWN`` (something may have happened at the venue, e.g. a timeout
  after an order was sent: resolve it by query, never by a blind resend).

Foreign exceptions are translated at the boundary with ``raise ... from``.
Risk refusals are not exceptions: they are events with reason codes.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class Disposition(enum.Enum):
    RETRYABLE = "retryable"
    FATAL = "fatal"
    OUTCOME_UNKNOWN = "outcome_unknown"


class StanchionError(Exception):
    """Root of every error Stanchion raises on purpose."""

    disposition: ClassVar[Disposition] = Disposition.FATAL

    @property
    def retryable(self) -> bool:
        return self.disposition is Disposition.RETRYABLE

    @property
    def outcome_unknown(self) -> bool:
        return self.disposition is Disposition.OUTCOME_UNKNOWN


class LocalError(StanchionError):
    """Raised by our own process, configuration or host."""


class RemoteError(StanchionError):
    """Raised because of the venue or the path to it.

    ``venue_code`` and ``venue_message`` carry the venue's own error (Binance:
    ``code`` and ``msg``) when there is one; ``http_status`` the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        venue: str | None = None,
        venue_code: int | str | None = None,
        venue_message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.venue = venue
        self.venue_code = venue_code
        self.venue_message = venue_message
        self.http_status = http_status


# --- local -------------------------------------------------------------------


class LocalFatalError(LocalError):
    disposition = Disposition.FATAL


class LocalRetryableError(LocalError):
    disposition = Disposition.RETRYABLE


class ConfigError(LocalFatalError):
    """The configuration is invalid; the process must not start."""


class ParseError(LocalFatalError, ValueError):
    """Input that does not parse: a malformed number, frame or message.

    Also a ``ValueError`` so generic validation layers (pydantic) report it.
    """


class IllegalTransitionError(LocalFatalError):
    """A state machine was asked for a transition its table does not allow."""


class SecretError(LocalFatalError):
    """A secret could not be resolved. Never carries the secret's value."""


class BackpressureError(LocalRetryableError):
    """A bounded buffer refused an item under its overflow policy."""


# --- remote ------------------------------------------------------------------


class RemoteRetryableError(RemoteError):
    disposition = Disposition.RETRYABLE


class RemoteFatalError(RemoteError):
    disposition = Disposition.FATAL


class RemoteOutcomeUnknownError(RemoteError):
    disposition = Disposition.OUTCOME_UNKNOWN


class ConnectionLostError(RemoteRetryableError):
    """The transport to the venue dropped; nothing in flight is implied."""


class HandshakeRefusedError(ConnectionLostError):
    """The venue answered the WebSocket upgrade with an HTTP error (``http_status``):
    418 (IP banned) or 429 (too many attempts) carry ``retry_after`` seconds when sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class RateLimitedError(RemoteRetryableError):
    """The venue said slow down (HTTP 429 / 418). ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class VenueRejectedError(RemoteFatalError):
    """The venue rejected a request definitively (bad params, filters, balance)."""


class AuthenticationError(RemoteFatalError):
    """The venue refused our credentials or signature."""


class ClockSkewError(RemoteRetryableError):
    """The venue refused the timestamp (Binance -1021): refresh the clock offset."""


class OrderOutcomeUnknownError(RemoteOutcomeUnknownError):
    """A request's outcome is unknown (timeout, 5xx, dropped connection, -1007)."""
