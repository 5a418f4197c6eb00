"""A simple TWAP taker: ``total_qty`` in ``slices`` equal child orders over ``duration``.

Each slice is a marketable LIMIT IOC at the touch (the best ask for a buy), so
it never sweeps the book beyond the current best price; what an IOC does not
fill is carried into the next slice. Stops when done.
"""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.core.fixedpoint import Rounding, round_to_increment
from stanchion.engine.kernel import Strategy, StrategyContext
from stanchion.model.execution import Fill
from stanchion.model.orders import OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class TwapParams:
    key: str
    side: Side
    total_qty: int
    duration_ns: int
    slices: int


class Twap(Strategy):
    def __init__(self, name: str, params: TwapParams) -> None:
        if params.slices <= 0 or params.total_qty <= 0 or params.duration_ns <= 0:
            raise ValueError("TWAP needs positive quantity, duration and slices")
        self.name = name
        self.instruments = (params.key,)
        self.params = params
        self.filled = 0
        self.sent = 0
        self.slices_done = 0

    @property
    def done(self) -> bool:
        return self.filled >= self.params.total_qty

    def on_start(self, ctx: StrategyContext) -> None:
        ctx.set_timer("slice", self.params.duration_ns // self.params.slices)

    def on_timer(self, ctx: StrategyContext, name: str, now_ns: int) -> None:
        if name != "slice" or self.done or ctx.open_orders(self.params.key):
            return
        book = ctx.book(self.params.key)
        if book is None:
            return  # no LIVE book: skip this slice, the remainder carries over
        instrument = ctx.instrument(self.params.key)
        remaining_slices = max(1, self.params.slices - self.slices_done)
        remaining = self.params.total_qty - self.filled
        qty = round_to_increment(-(-remaining // remaining_slices), instrument.step, Rounding.CEIL)
        qty = min(qty, round_to_increment(remaining, instrument.step, Rounding.FLOOR) or qty)
        price = book.best_ask_price() if self.params.side is Side.BUY else book.best_bid_price()
        if price is None or qty <= 0:
            return
        result = ctx.submit(self.params.key, self.params.side, qty, price, OrderType.LIMIT, TimeInForce.IOC)
        self.slices_done += 1
        if isinstance(result, str):
            self.sent += 1

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.filled += fill.qty
