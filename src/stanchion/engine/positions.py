"""Positions and PnL, exact: per venue and symbol, and aggregated across venues.

Quantities are signed integers at the instrument's quantity scale (long > 0).
Money is integers at the *notional* scale (price scale + quantity scale) in the
quote asset, so ``price * qty`` needs no rounding. The only rounding is when a
partial close takes its share of the cost basis (``cost * closed / open``):
half-even at the notional scale, i.e. 1e-16 of a quote unit for Binance.

Fees follow the venue: Binance charges the commission in the asset received
(base on a buy, quote on a sell) or in a third asset (BNB). A base-asset fee
reduces the quantity actually held — the venue balance will show it — and is
valued at the fill price; a quote-asset fee is money; a third-asset fee is
tracked per asset and valued only when a mark for it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stanchion.core.fixedpoint import Rounding, mul_div, pow10


@dataclass(slots=True)
class Position:
    venue: str
    symbol: str
    base: str
    quote: str
    qty_scale: int
    price_scale: int
    qty: int = 0
    cost: int = 0
    """Cost basis of the open quantity, signed like ``qty``, at notional scale."""
    realised: int = 0
    """Realised PnL in quote at notional scale, *before* fees."""
    fees_quote: int = 0
    """Fees valued in quote at notional scale (quote and base fees)."""
    fees_other: dict[str, int] = field(default_factory=dict)
    """Fees in third assets (e.g. BNB), in that asset's units at quantity scale."""
    fills: int = 0
    bought: int = 0
    sold: int = 0

    @property
    def notional_scale(self) -> int:
        return self.price_scale + self.qty_scale

    def average_price(self) -> int | None:
        """Average entry price at the price scale (rounded half-even), None when flat."""
        if self.qty == 0:
            return None
        # cost and qty share their sign; the average price is positive
        return mul_div(abs(self.cost), 1, abs(self.qty), Rounding.HALF_EVEN)

    def unrealised(self, mark_price: int) -> int:
        """Unrealised PnL at ``mark_price`` (price scale), notional scale."""
        return mark_price * self.qty - self.cost

    def net_pnl(self, mark_price: int | None) -> int:
        """Realised + unrealised − quote-valued fees (third-asset fees excluded)."""
        unrealised = self.unrealised(mark_price) if mark_price is not None and self.qty else 0
        return self.realised + unrealised - self.fees_quote

    def apply_fill(
        self, *, is_buy: bool, price: int, qty: int, commission: int, commission_asset: str
    ) -> int:
        """Apply one fill; returns the realised PnL it produced (notional scale).

        ``commission`` is at quantity scale in ``commission_asset`` units (Binance
        sends commissions with 8 decimals, like quantities).
        """
        if price <= 0 or qty <= 0 or commission < 0:
            raise ValueError("fill needs positive price and quantity and a non-negative commission")
        self.fills += 1
        if is_buy:
            self.bought += qty
        else:
            self.sold += qty
        realised = self._trade(qty if is_buy else -qty, price)
        if commission:
            if commission_asset == self.base:
                # The venue keeps part of the base asset: we hold less, as its
                # balance will show. The withheld quantity leaves the position
                # at the fill price (its cost share against that price is
                # realised) and its value at the fill price is a fee.
                realised += self._trade(-commission, price)
                self.fees_quote += commission * price
            elif commission_asset == self.quote:
                self.fees_quote += commission * pow10(self.price_scale)
            else:
                self.fees_other[commission_asset] = self.fees_other.get(commission_asset, 0) + commission
        return realised

    def _trade(self, signed_qty: int, price: int) -> int:
        """Move the position by ``signed_qty`` at ``price``; returns the realised PnL."""
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            self.qty += signed_qty
            self.cost += price * signed_qty
            return 0
        closing = min(abs(signed_qty), abs(self.qty))
        share = mul_div(self.cost, closing, abs(self.qty), Rounding.HALF_EVEN)
        direction = 1 if self.qty > 0 else -1
        # long: proceeds − cost share; short: cost share − buy-back (share is negative)
        pnl = (price * closing - share) if direction > 0 else (-share - price * closing)
        self.realised += pnl
        self.qty -= direction * closing
        self.cost -= share
        remainder = abs(signed_qty) - closing
        if remainder:
            opened = remainder if signed_qty > 0 else -remainder
            self.qty += opened
            self.cost += price * opened
        if self.qty == 0:
            self.cost = 0
        return pnl


@dataclass(frozen=True, slots=True)
class PositionView:
    venue: str
    symbol: str
    qty: int
    average_price: int | None
    realised: int
    unrealised: int
    fees_quote: int
    net_pnl: int


class PositionBook:
    """All positions of an engine shard, keyed by (venue, symbol)."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], Position] = {}

    def open(
        self, venue: str, symbol: str, base: str, quote: str, price_scale: int, qty_scale: int
    ) -> Position:
        key = (venue, symbol)
        position = self._positions.get(key)
        if position is None:
            position = Position(venue, symbol, base, quote, qty_scale, price_scale)
            self._positions[key] = position
        return position

    def get(self, venue: str, symbol: str) -> Position | None:
        return self._positions.get((venue, symbol))

    def positions(self) -> list[Position]:
        return list(self._positions.values())

    def views(self, marks: Mapping[tuple[str, str], int]) -> list[PositionView]:
        out = []
        for (venue, symbol), p in sorted(self._positions.items()):
            mark = marks.get((venue, symbol))
            unrealised = p.unrealised(mark) if mark is not None else 0
            view = PositionView(
                venue, symbol, p.qty, p.average_price(), p.realised, unrealised, p.fees_quote, p.net_pnl(mark)
            )
            out.append(view)
        return out

    def net_qty_by_symbol(self) -> dict[str, int]:
        """Net quantity per symbol across venues (same symbol name, same scale assumed)."""
        totals: dict[str, int] = {}
        for p in self._positions.values():
            totals[p.symbol] = totals.get(p.symbol, 0) + p.qty
        return totals

    def total_pnl(self, marks: Mapping[tuple[str, str], int]) -> int:
        return sum(p.net_pnl(marks.get((p.venue, p.symbol))) for p in self._positions.values())
