"""Topic names, built by functions only, valid as NATS subjects.

``md.<venue>.<symbol>.<kind>`` market data (best effort), ``cmd.<venue>.<account>``
order commands, ``exec.<venue>.<account>`` execution reports and fills,
``risk.<shard>.<kind>`` risk events, ``audit.<kind>``. Tokens are restricted to
``[A-Za-z0-9_-]`` so they are valid NATS tokens (no ``.``, ``*``, ``>``,
whitespace) and JetStream stream/consumer-safe.
"""

from __future__ import annotations

import enum
import re
from typing import Final

_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TopicClass(enum.Enum):
    """What may happen when a subscriber's buffer is full (STYLE.md §9)."""

    MARKET_DATA = "md"  # drop the oldest, count it; the consumer must resync
    COMMANDS = "cmd"  # refuse the publish at once: the caller decides
    EXECUTION = "exec"  # never drop: the publisher waits for room
    RISK = "risk"  # never drop
    AUDIT = "audit"  # never drop


class MarketDataKind(enum.Enum):
    BOOK = "book"
    TRADE = "trade"
    TOP = "top"
    STATUS = "status"


def token(value: str) -> str:
    """Validate one subject token; raises ValueError with the reason."""
    if not _TOKEN.match(value):
        raise ValueError(f"invalid topic token {value[:80]!r}: use 1-64 of [A-Za-z0-9_-]")
    return value


def md_topic(venue: str, symbol: str, kind: MarketDataKind) -> str:
    return f"md.{token(venue)}.{token(symbol)}.{kind.value}"


def cmd_topic(venue: str, account: str) -> str:
    return f"cmd.{token(venue)}.{token(account)}"


def exec_topic(venue: str, account: str) -> str:
    return f"exec.{token(venue)}.{token(account)}"


def risk_topic(shard: int, kind: str) -> str:
    return f"risk.{shard}.{token(kind)}"


def audit_topic(kind: str) -> str:
    return f"audit.{token(kind)}"


def topic_class(topic: str) -> TopicClass:
    head = topic.split(".", 1)[0]
    try:
        return TopicClass(head)
    except ValueError:
        raise ValueError(f"topic {topic[:80]!r} has no known class") from None


def matches(pattern: str, topic: str) -> bool:
    """NATS wildcard matching: ``*`` one token, ``>`` one or more trailing tokens."""
    pattern_tokens = pattern.split(".")
    topic_tokens = topic.split(".")
    for i, p in enumerate(pattern_tokens):
        if p == ">":
            return len(topic_tokens) > i
        if i >= len(topic_tokens):
            return False
        if p not in ("*", topic_tokens[i]):
            return False
    return len(pattern_tokens) == len(topic_tokens)
