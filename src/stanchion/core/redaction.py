"""Process-wide knowledge of secret values, so every output path can scrub them.

The secrets layer registers each resolved secret here; logging, error
rendering and the journal call :func:`redact_text`. Registered values are kept
only in memory, never written anywhere.
"""

from __future__ import annotations

import re
import threading
from typing import Final

REDACTED: Final = "***"
MIN_SECRET_LENGTH: Final = 6
"""Shorter values are not registered: scrubbing "abc" everywhere would mangle logs."""

SECRET_KEY_PATTERN: Final = re.compile(
    r"(secret|passw|passphrase|token|api[_-]?key|apikey|signature|private[_-]?key|"
    r"authorization|credential|listen[_-]?key|x-mbx-apikey|cookie)",
    re.IGNORECASE,
)

class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None


_registry: Final = _Registry()


def register_secret(value: str) -> None:
    """Remember a secret value so it is scrubbed from every rendered output."""
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _registry.lock:
        if value in _registry.values:
            return
        _registry.values.add(value)
        # Longest first so a secret containing another is scrubbed whole.
        ordered = sorted(_registry.values, key=len, reverse=True)
        _registry.pattern = re.compile("|".join(re.escape(v) for v in ordered))


def forget_secrets() -> None:
    """Clear the registry (tests, key rotation after the old key is retired)."""
    with _registry.lock:
        _registry.values.clear()
        _registry.pattern = None


def redact_text(text: str) -> str:
    pattern = _registry.pattern
    if pattern is None:
        return text
    return pattern.sub(REDACTED, text)


def is_secret_key(key: str) -> bool:
    """True for mapping keys whose values must never be shown (``api_secret``, ``signature``)."""
    return bool(SECRET_KEY_PATTERN.search(key))
