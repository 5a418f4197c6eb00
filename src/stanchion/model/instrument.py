"""Instruments: what a venue trades, with its exact trading rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stanchion.core.fixedpoint import Rounding, format_fixed, parse_fixed, pow10, round_to_increment


class InstrumentViolation(enum.Enum):
    """Why an order's price or quantity breaks an instrument's rules."""

    PRICE_NOT_POSITIVE = "price_not_positive"
    PRICE_OFF_TICK = "price_off_tick"
    QTY_NOT_POSITIVE = "qty_not_positive"
    QTY_OFF_STEP = "qty_off_step"
    QTY_BELOW_MIN = "qty_below_min"
    QTY_ABOVE_MAX = "qty_above_max"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    NOTIONAL_ABOVE_MAX = "notional_above_max"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol on one venue.

    Prices are integers at ``price_scale`` decimals, quantities at ``qty_scale``;
    ``tick`` and ``step`` are in those units. Notionals (price × qty) are at
    ``price_scale + qty_scale``. ``max_qty``/``max_notional`` of 0 mean no limit.
    ``cancel_replace``: the venue cancels an order and places its successor in one
    request (Binance ``cancelReplaceAllowed``).
    """

    venue: str
    symbol: str
    base: str
    quote: str
    price_scale: int
    qty_scale: int
    tick: int
    step: int
    min_qty: int
    max_qty: int
    min_notional: int
    max_notional: int = 0
    cancel_replace: bool = False

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.step <= 0:
            raise ValueError(f"{self.venue}:{self.symbol}: tick and step must be positive")
        if self.min_qty < 0 or self.max_qty < 0 or self.min_notional < 0 or self.max_notional < 0:
            raise ValueError(f"{self.venue}:{self.symbol}: limits must not be negative")
        if self.max_qty and self.min_qty > self.max_qty:
            raise ValueError(f"{self.venue}:{self.symbol}: min_qty exceeds max_qty")

    @property
    def key(self) -> str:
        """``venue:SYMBOL``, the id used in configs, topics and metrics."""
        return f"{self.venue}:{self.symbol}"

    @property
    def notional_scale(self) -> int:
        return self.price_scale + self.qty_scale

    # --- conversions at the edges ----------------------------------------------------

    def parse_price(self, text: str) -> int:
        return parse_fixed(text, self.price_scale)

    def parse_qty(self, text: str) -> int:
        return parse_fixed(text, self.qty_scale)

    def format_price(self, price: int) -> str:
        return format_fixed(price, self.price_scale)

    def format_qty(self, qty: int) -> str:
        return format_fixed(qty, self.qty_scale)

    def format_notional(self, value: int) -> str:
        return format_fixed(value, self.notional_scale)

    def notional_to_quote_units(self, value: int, rounding: Rounding) -> int:
        """A notional (scale price+qty) expressed at the price scale."""
        factor = pow10(self.qty_scale)
        return round_to_increment(value, factor, rounding) // factor

    # --- rules -----------------------------------------------------------------------

    def round_price(self, price: int, rounding: Rounding) -> int:
        return round_to_increment(price, self.tick, rounding)

    def round_qty(self, qty: int, rounding: Rounding) -> int:
        return round_to_increment(qty, self.step, rounding)

    def violations(self, price: int | None, qty: int) -> list[InstrumentViolation]:
        """Every rule an order of ``qty`` at ``price`` (None: market) breaks."""
        found: list[InstrumentViolation] = []
        if price is not None:
            if price <= 0:
                found.append(InstrumentViolation.PRICE_NOT_POSITIVE)
            elif price % self.tick:
                found.append(InstrumentViolation.PRICE_OFF_TICK)
        if qty <= 0:
            found.append(InstrumentViolation.QTY_NOT_POSITIVE)
            return found
        if qty % self.step:
            found.append(InstrumentViolation.QTY_OFF_STEP)
        if qty < self.min_qty:
            found.append(InstrumentViolation.QTY_BELOW_MIN)
        if self.max_qty and qty > self.max_qty:
            found.append(InstrumentViolation.QTY_ABOVE_MAX)
        if price is not None and price > 0:
            value = price * qty
            if value < self.min_notional:
                found.append(InstrumentViolation.NOTIONAL_BELOW_MIN)
            if self.max_notional and value > self.max_notional:
                found.append(InstrumentViolation.NOTIONAL_ABOVE_MAX)
        return found
