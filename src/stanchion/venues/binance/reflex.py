"""Armed orders' trigger check: which armed orders a received depth frame sends.

An *armed* order is journaled, risk-checked and signed ahead of time; it goes out
the moment a Binance diff-depth frame shows the opposite side of the book at or
through its limit (a BUY: an ask level with a non-zero quantity at or below it; a
SELL: such a bid level at or above it), and only on a frame that continues the
LIVE book's sequence (``U <= next <= u``). The check runs on every market-data
frame before any other parsing, so the order's frame is written before the book
is even updated (decision 0004, "armed orders").

:class:`Reflex` is the compiled ``_reflex`` module when it is built, else
:class:`PyReflex`, the same contract in Python (the reference the compiled one is
tested against, and the path of a ``STANCHION_PURE_PYTHON=1`` install).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PyReflex", "Reflex"]

_SYMBOL: Final = re.compile(r"[A-Z0-9]{1,20}")
_ID: Final = rb"(0|[1-9][0-9]{0,17})"
_DECIMAL: Final = rb"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
_LEVEL: Final = rb'\["' + _DECIMAL + rb'","' + _DECIMAL + rb'"\]'
_LEVELS: Final = rb"(\[(?:" + _LEVEL + rb"(?:," + _LEVEL + rb")*)?\])"
_SHAPE: Final = re.compile(
    rb'\{"e":"depthUpdate","E":' + _ID + rb',"s":"([A-Z0-9]{1,20})","U":' + _ID + rb',"u":' + _ID
    + rb',"b":' + _LEVELS + rb',"a":' + _LEVELS + rb"\}"
)
"""Binance's exact compact depthUpdate shape (the raw ``/ws`` stream): anything else never fires."""
_PAIR: Final = re.compile(rb'\["([0-9.]+)","([0-9.]+)"\]')


def _levels(side: bytes) -> list[tuple[str, str]] | None:
    """The levels of a side the shape matched; None when a price has over 18 significant digits."""
    levels = [(p.decode(), q.decode()) for p, q in _PAIR.findall(side)]
    for price, _ in levels:
        whole, _, fraction = price.partition(".")
        if len((whole + fraction.rstrip("0")).lstrip("0")) > 18:
            return None
    return levels


def _scaled(price: str, scale: int) -> tuple[int, bool]:
    """(``price`` × 10**scale, floored; whether non-zero digits were dropped)."""
    whole, _, fraction = price.partition(".")
    kept, dropped = fraction[:scale], fraction[scale:]
    return int(whole + kept.ljust(scale, "0")), dropped.strip("0") != ""


def _crossed(price: str, is_buy: bool, limit: int, scale: int) -> bool:
    floor, remainder = _scaled(price, scale)
    return (floor < limit or (floor == limit and not remainder)) if is_buy else floor >= limit


class PyReflex:
    """See the module docstring; the contract is :class:`stanchion.venues.binance._reflex.Reflex`'s
    (the same answers on every frame: ``tests/venues/binance/test_reflex.py`` holds both to one
    reference)."""

    def __init__(self) -> None:
        self._triggers: list[tuple[str, bool, int, int, object]] = []
        self._next: dict[str, int] = {}
        self.paused = False

    @property
    def count(self) -> int:
        return len(self._triggers)

    def set_next(self, symbol: str, next_update_id: int) -> None:
        self._check_symbol(symbol)
        if not 0 <= next_update_id < 2**63:
            raise ValueError(f"next_update_id {next_update_id} out of range")
        self._next[symbol] = next_update_id

    def arm(self, symbol: str, is_buy: bool, limit: int, scale: int, handle: object) -> None:
        self._check_symbol(symbol)
        if not 0 <= scale <= 18 or not 0 < limit < 2**63:
            raise ValueError(f"limit {limit} at scale {scale} out of range")
        if any(t[4] is handle for t in self._triggers):
            raise ValueError("this handle is already armed")
        self._triggers.append((symbol, bool(is_buy), limit, scale, handle))

    def disarm(self, handle: object) -> bool:
        for i, trigger in enumerate(self._triggers):
            if trigger[4] is handle:
                del self._triggers[i]
                return True
        return False

    def disarm_all(self) -> list[object]:
        handles = [t[4] for t in self._triggers]
        self._triggers.clear()
        return handles

    def match(self, frame: bytes) -> tuple[object, ...] | None:
        if not isinstance(frame, bytes):
            raise TypeError(f"frame must be bytes, not {type(frame).__name__}")
        if self.paused or not self._triggers:
            return None
        shape = _SHAPE.fullmatch(frame)
        if shape is None:
            return None
        symbol = shape.group(2).decode()
        expected = self._next.get(symbol, 0)
        if expected == 0 or not int(shape.group(3)) <= expected <= int(shape.group(4)):
            return None
        bids, asks = _levels(shape.group(5)), _levels(shape.group(6))
        if bids is None or asks is None:
            return None  # a level that does not parse exactly: nothing fires on this frame
        fired = [
            t for t in self._triggers
            if t[0] == symbol and any(
                q.strip("0.") != "" and _crossed(p, t[1], t[2], t[3]) for p, q in (asks if t[1] else bids)
            )
        ]
        if not fired:
            return None
        self._triggers = [t for t in self._triggers if not any(t is f for f in fired)]
        return tuple(t[4] for t in fired)

    @staticmethod
    def _check_symbol(symbol: str) -> None:
        if not isinstance(symbol, str):
            raise TypeError(f"symbol must be str, not {type(symbol).__name__}")
        if _SYMBOL.fullmatch(symbol) is None:
            raise ValueError(f"not a Binance symbol: {symbol!r}")


try:
    from stanchion.venues.binance._reflex import Reflex
except ImportError:  # built with STANCHION_PURE_PYTHON=1
    Reflex = PyReflex  # type: ignore[assignment,misc]
