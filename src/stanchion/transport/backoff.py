"""Capped exponential backoff with full jitter (pure; the RNG is injected).

Attempt ``n`` (0-based) waits a uniformly random time in
``[0, min(cap, base * 2**n)]`` — "full jitter", which spreads a herd of clients
reconnecting at once (Binance allows 300 connection attempts per 5 minutes per
IP). The attempt counter resets once a connection has stayed healthy for
``reset_after_s``: a link that flaps right after connecting keeps backing off.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from stanchion.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base_s: float = 0.5
    cap_s: float = 30.0
    reset_after_s: float = 60.0

    def __post_init__(self) -> None:
        if not (self.base_s > 0 and self.cap_s >= self.base_s and self.reset_after_s >= 0):
            raise ConfigError(
                f"backoff: need 0 < base_s <= cap_s and reset_after_s >= 0 "
                f"(got base_s={self.base_s}, cap_s={self.cap_s}, reset_after_s={self.reset_after_s})"
            )


class Backoff:
    """Delays before reconnect attempts."""

    __slots__ = ("_attempt", "_connected_at_ns", "_policy", "_rng")

    def __init__(self, policy: BackoffPolicy | None = None, rng: random.Random | None = None) -> None:
        self._policy = policy or BackoffPolicy()
        # Jitter is not security-sensitive; the RNG is injected for reproducible tests.
        self._rng = rng or random.Random()  # noqa: S311
        self._attempt = 0
        self._connected_at_ns: int | None = None

    @property
    def attempt(self) -> int:
        return self._attempt

    @property
    def policy(self) -> BackoffPolicy:
        return self._policy

    def ceiling_s(self, attempt: int) -> float:
        """The upper bound of the delay for ``attempt``: ``min(cap, base * 2**attempt)``."""
        if attempt >= 64:  # 2**64 * base overflows nothing in Python, but is always past the cap
            return self._policy.cap_s
        return min(self._policy.cap_s, self._policy.base_s * float(1 << attempt))

    def next_delay_s(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        delay = self._rng.uniform(0.0, self.ceiling_s(self._attempt))
        self._attempt += 1
        return delay

    def record_connected(self, now_ns: int) -> None:
        self._connected_at_ns = now_ns

    def record_disconnected(self, now_ns: int) -> None:
        """A link ended: reset the counter if it had been healthy long enough."""
        if self._connected_at_ns is not None:
            healthy_ns = now_ns - self._connected_at_ns
            if healthy_ns >= self._policy.reset_after_s * 1e9:
                self._attempt = 0
        self._connected_at_ns = None

    def reset(self) -> None:
        self._attempt = 0
