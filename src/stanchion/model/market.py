"""Normalized market data: book deltas and snapshots, trades, top of book.

Prices and quantities are integers at the instrument's scale (Binance: 8).
Levels are ``(price, qty)`` tuples of ints; a qty of 0 removes the level
(Binance semantics: quantities are absolute, never deltas).
"""

from __future__ import annotations

import enum

import msgspec

Level = tuple[int, int]
"""``(price, qty)`` at the instrument's scales; qty 0 means "remove this level"."""


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """Level updates covering venue update ids ``first_update_id..final_update_id``."""

    symbol: str
    first_update_id: int
    final_update_id: int
    event_time_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full (or top-N) book as of ``last_update_id``. Bids best first, asks best first."""

    symbol: str
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class AggressorSide(enum.Enum):
    BUY = "buy"
    SELL = "sell"


class TradeTick(msgspec.Struct, frozen=True, gc=False):
    """One public trade (or an aggregate of trades at one price, ``aggregate=True``)."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    aggressor: AggressorSide
    trade_time_ms: int
    event_time_ms: int
    aggregate: bool = False


class BestBidAsk(msgspec.Struct, frozen=True, gc=False):
    """Top of book as published by the venue (Binance ``@bookTicker``)."""

    symbol: str
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
