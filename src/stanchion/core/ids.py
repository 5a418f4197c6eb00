"""Deterministic, restart-safe client order ids.

An id is a pure function of four numbers, written in fixed-width base 36 so it
needs no separator and sorts in issue order within a shard and epoch::

    <namespace><shard:2><epoch:6><sequence:10>     e.g.  "S" "00" "00002a" "000000001b"

* ``namespace`` — 1–4 ASCII letters/digits naming the deployment (so two
  deployments sharing one account never collide);
* ``shard`` — the engine shard (StatefulSet ordinal), 0..1295;
* ``epoch`` — incremented and made durable *before* the first order of every
  process start (see ``persistence.epoch``), so a restarted shard can never
  re-issue an id it issued before the crash, even if its journal lost the tail;
* ``sequence`` — per epoch, from 1.

Alphanumeric only and at most 22 characters, which fits every venue we plan:
Binance ``^[.A-Z:/a-z0-9_-]{1,36}$``, Binance FIX ``^[a-zA-Z0-9-_]{1,36}$``,
OKX ``clOrdId`` (alphanumeric, ≤ 32), Bybit ``orderLinkId`` (≤ 36).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
SHARD_WIDTH: Final = 2
EPOCH_WIDTH: Final = 6
SEQUENCE_WIDTH: Final = 10
MAX_SHARD: Final = 36**SHARD_WIDTH - 1
MAX_EPOCH: Final = 36**EPOCH_WIDTH - 1
MAX_SEQUENCE: Final = 36**SEQUENCE_WIDTH - 1
_NAMESPACE_RE: Final = re.compile(r"^[A-Za-z0-9]{1,4}$")


@dataclass(frozen=True, slots=True)
class VenueIdRule:
    """A venue's constraint on client order ids."""

    venue: str
    pattern: re.Pattern[str]
    max_length: int

    def accepts(self, client_order_id: str) -> bool:
        return len(client_order_id) <= self.max_length and bool(
            self.pattern.fullmatch(client_order_id)
        )


BINANCE_CLIENT_ID_RULE: Final = VenueIdRule(
    venue="binance", pattern=re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$"), max_length=36
)


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_ALPHABET[digit])
    if value:
        raise OverflowError("value does not fit the width")
    return "".join(reversed(digits))


@dataclass(frozen=True, slots=True)
class ClientOrderIdParts:
    namespace: str
    shard: int
    epoch: int
    sequence: int


class ClientOrderIdFactory:
    """Issues ids for one shard in one epoch. Not thread-safe (one event loop)."""

    __slots__ = ("_epoch", "_namespace", "_prefix", "_sequence", "_shard")

    def __init__(self, namespace: str, shard: int, epoch: int, next_sequence: int = 1) -> None:
        if not _NAMESPACE_RE.fullmatch(namespace):
            raise ValueError(f"namespace must be 1-4 ASCII letters or digits, got {namespace!r}")
        if not 0 <= shard <= MAX_SHARD:
            raise ValueError(f"shard must be in 0..{MAX_SHARD}, got {shard}")
        if not 0 <= epoch <= MAX_EPOCH:
            raise ValueError(f"epoch must be in 0..{MAX_EPOCH}, got {epoch}")
        if not 1 <= next_sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence must be in 1..{MAX_SEQUENCE}, got {next_sequence}")
        self._namespace = namespace
        self._shard = shard
        self._epoch = epoch
        self._sequence = next_sequence
        self._prefix = namespace + _base36(shard, SHARD_WIDTH) + _base36(epoch, EPOCH_WIDTH)

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def next_sequence(self) -> int:
        return self._sequence

    def next_id(self) -> str:
        sequence = self._sequence
        if sequence > MAX_SEQUENCE:
            raise OverflowError("sequence space of this epoch is exhausted; restart the shard")
        self._sequence = sequence + 1
        return self._prefix + _base36(sequence, SEQUENCE_WIDTH)

    def owns(self, client_order_id: str) -> bool:
        """True if the id was issued by this namespace and shard (any epoch)."""
        parts = parse_client_order_id(client_order_id)
        return (
            parts is not None
            and parts.namespace == self._namespace
            and parts.shard == self._shard
        )


def format_client_order_id(namespace: str, shard: int, epoch: int, sequence: int) -> str:
    return ClientOrderIdFactory(namespace, shard, epoch, sequence).next_id()


def parse_client_order_id(client_order_id: str) -> ClientOrderIdParts | None:
    """Decode an id we issued; ``None`` for anything else (manual orders, other bots)."""
    fixed = SHARD_WIDTH + EPOCH_WIDTH + SEQUENCE_WIDTH
    namespace_length = len(client_order_id) - fixed
    if not 1 <= namespace_length <= 4 or not client_order_id.isascii():
        return None
    namespace = client_order_id[:namespace_length]
    rest = client_order_id[namespace_length:]
    if not _NAMESPACE_RE.fullmatch(namespace) or not rest.isalnum() or rest != rest.lower():
        return None
    shard = int(rest[:SHARD_WIDTH], 36)
    epoch = int(rest[SHARD_WIDTH : SHARD_WIDTH + EPOCH_WIDTH], 36)
    sequence = int(rest[SHARD_WIDTH + EPOCH_WIDTH :], 36)
    if sequence == 0:
        return None
    return ClientOrderIdParts(namespace, shard, epoch, sequence)
