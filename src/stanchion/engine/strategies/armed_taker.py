"""A taker that waits for its price with an armed order: ``total_qty`` in clips of ``clip_qty``.

A BUY keeps one IOC clip armed at ``mid × (1 − edge_bps / 10⁴)`` (rounded down to the
tick): the first depth frame that shows an ask at or below that price sends it, written
before the frame is otherwise parsed (:meth:`StrategyContext.arm`). A SELL mirrors it
(bids at or above ``mid × (1 + edge_bps / 10⁴)``, rounded up). When the mid moves so
that the armed price is more than ``rearm_bps`` from where it would be armed now, the
clip is disarmed and armed again at the new price. What an IOC does not fill is carried
into the next clip. Stops when ``total_qty`` is filled.

``edge_bps = 0`` takes the touch as soon as liquidity shows at or through the mid; a
negative edge arms inside the spread's far side, so the condition already holds and the
clip is sent at once (a plain IOC taker).
"""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.book.l2 import L2Book
from stanchion.core.fixedpoint import Rounding, round_to_increment
from stanchion.engine.kernel import Strategy, StrategyContext
from stanchion.engine.oms import Order, OrderUpdate
from stanchion.model.execution import Fill
from stanchion.model.orders import Side


@dataclass(frozen=True, slots=True)
class ArmedTakerParams:
    key: str
    side: Side
    total_qty: int
    clip_qty: int
    edge_bps: int = 0
    rearm_bps: int = 2


class ArmedTaker(Strategy):
    def __init__(self, name: str, params: ArmedTakerParams) -> None:
        if params.total_qty <= 0 or params.clip_qty <= 0:
            raise ValueError("an armed taker needs a positive total and clip quantity")
        if params.rearm_bps <= 0 or not -1_000 <= params.edge_bps <= 1_000:
            raise ValueError("rearm_bps must be positive and edge_bps within ±1000")
        self.name = name
        self.instruments = (params.key,)
        self.params = params
        self.filled = 0
        self.armed = 0  # clips armed (or sent at once)
        self.rearmed = 0  # clips disarmed to follow the mid
        self._live: str | None = None  # our clip: armed, or sent and not yet done

    @property
    def done(self) -> bool:
        return self.filled >= self.params.total_qty

    def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
        if self.done:
            return
        bid, ask = book.best_bid_price(), book.best_ask_price()
        if bid is None or ask is None:
            return
        instrument = ctx.instrument(key)
        params = self.params
        mid = (bid + ask) // 2
        if params.side is Side.BUY:
            price = round_to_increment(mid * (10_000 - params.edge_bps) // 10_000, instrument.tick, Rounding.FLOOR)
        else:
            price = round_to_increment(-(-mid * (10_000 + params.edge_bps) // 10_000), instrument.tick, Rounding.CEIL)
        if self._live is not None:
            order = ctx.order(self._live)
            if not isinstance(order, Order) or not order.is_open:
                self._live = None
            elif not order.is_armed or order.price is None:
                return  # sent: wait for its outcome
            elif abs(order.price - price) * 10_000 <= params.rearm_bps * price:
                return  # still where it should be
            elif not ctx.disarm(self._live):
                return  # it fired meanwhile
            else:
                self.rearmed += 1
                self._live = None
        remaining = params.total_qty - self.filled
        qty = round_to_increment(min(params.clip_qty, remaining), instrument.step, Rounding.FLOOR)
        if qty < instrument.min_qty or price <= 0:
            return
        result = ctx.arm(key, params.side, qty, price)
        if isinstance(result, str):
            self._live = result
            self.armed += 1

    def on_order(self, ctx: StrategyContext, update: OrderUpdate) -> None:
        if update.order.client_order_id == self._live and not update.order.is_open:
            self._live = None  # filled, expired, withdrawn: the next book arms the next clip

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.filled += fill.qty
