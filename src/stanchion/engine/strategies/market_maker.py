"""A two-sided market maker with inventory skew and size limits.

Quotes one bid and one ask around the mid. The quotes lean against the
inventory: long inventory lowers both prices (sell more readily, buy less
readily), short raises them. Sizes shrink so a fill can never take the
inventory past ``max_inventory``. A quote is replaced only when its price
moved more than ``requote_threshold_bps`` from the target, so the
quote-to-trade ratio stays sane. One cancel in flight per side at most.
Where the venue replaces in one request (``Instrument.cancel_replace``), a
requote is that one request; elsewhere the successor waits for the cancel.

After a restart, the quotes the previous run left open (recovered from the
journal, reconciled with the venue) are adopted as the live quotes on start:
they are kept or requoted like any other, never left behind at a stale price.
"""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.book.l2 import L2Book
from stanchion.core.fixedpoint import Rounding, round_to_increment
from stanchion.engine.kernel import Strategy, StrategyContext
from stanchion.engine.oms import OrderUpdate
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class MarketMakerParams:
    key: str
    quote_size: int  # qty scale
    half_spread_bps: int
    max_inventory: int  # qty scale
    skew_bps_per_unit: int  # bps of skew per ``inventory_unit`` of inventory
    inventory_unit: int  # qty scale (e.g. one whole base unit)
    requote_threshold_bps: int


class MarketMaker(Strategy):
    def __init__(self, name: str, params: MarketMakerParams) -> None:
        self.name = name
        self.instruments = (params.key,)
        self.params = params
        self._bid: str | None = None  # client order id of the live bid
        self._ask: str | None = None
        self._bid_price: int | None = None
        self._ask_price: int | None = None
        self.quotes_sent = 0
        self.denials = 0

    def targets(self, mid: int, inventory: int, tick: int) -> tuple[int, int]:
        """(bid price, ask price) for ``mid`` and ``inventory``, on the tick grid."""
        p = self.params
        skew = mid * p.skew_bps_per_unit * inventory // (p.inventory_unit * 10_000)
        fair = mid - skew
        half = fair * p.half_spread_bps // 10_000
        bid = round_to_increment(fair - half, tick, Rounding.FLOOR)
        ask = round_to_increment(fair + half, tick, Rounding.CEIL)
        if ask <= bid:
            ask = bid + tick
        return bid, ask

    def sizes(self, inventory: int, step: int) -> tuple[int, int]:
        p = self.params
        bid = min(p.quote_size, max(0, p.max_inventory - inventory))
        ask = min(p.quote_size, max(0, p.max_inventory + inventory))
        return round_to_increment(bid, step, Rounding.FLOOR), round_to_increment(ask, step, Rounding.FLOOR)

    def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
        best_bid = book.best_bid_price()
        best_ask = book.best_ask_price()
        if best_bid is None or best_ask is None:
            return
        instrument = ctx.instrument(key)
        inventory = ctx.position(key)
        bid_price, ask_price = self.targets((best_bid + best_ask) // 2, inventory, instrument.tick)
        bid_size, ask_size = self.sizes(inventory, instrument.step)
        self._bid, self._bid_price = self._requote(
            ctx, key, Side.BUY, self._bid, self._bid_price, bid_price, bid_size, instrument.min_qty
        )
        self._ask, self._ask_price = self._requote(
            ctx, key, Side.SELL, self._ask, self._ask_price, ask_price, ask_size, instrument.min_qty
        )

    def _requote(
        self,
        ctx: StrategyContext,
        key: str,
        side: Side,
        live: str | None,
        live_price: int | None,
        target: int,
        size: int,
        min_qty: int,
    ) -> tuple[str | None, int | None]:
        if live is not None:
            assert live_price is not None
            moved = abs(target - live_price) * 10_000 > live_price * self.params.requote_threshold_bps
            if not moved and size > 0:
                return live, live_price
            if size >= max(min_qty, 1) and ctx.instrument(key).cancel_replace:
                # One request: the venue places the successor only once the cancel succeeded
                # (STOP_ON_FAILURE), so there are never two live quotes on one side.
                result = ctx.replace(live, size, target)
                if isinstance(result, str):
                    self.quotes_sent += 1
                    return result, target
                if result is not None:
                    self.denials += 1
                    return live, live_price  # denied: nothing was sent, the quote stands
                return None, None
            ctx.cancel(live)
            # The successor is placed once the old order is closed (see _side_busy):
            # never two live quotes on one side.
            return None, None
        if size < max(min_qty, 1) or self._side_busy(ctx, key, side):
            return None, None
        result = ctx.submit(key, side, size, target, OrderType.LIMIT, TimeInForce.GTC)
        if isinstance(result, str):
            self.quotes_sent += 1
            return result, target
        self.denials += 1
        return None, None

    def _side_busy(self, ctx: StrategyContext, key: str, side: Side) -> bool:
        """An order of ours on this side is still open (e.g. its cancel is pending)."""
        for cid in ctx.open_orders(key):
            order = ctx.order(cid)
            if getattr(order, "side", None) is side:
                return True
        return False

    def on_start(self, ctx: StrategyContext) -> None:
        """Adopt our open quotes: the first open order of ours per side becomes that side's
        live quote; any further one on a side is cancelled (never two quotes on one side).
        Orders whose cancel is already pending are left to close."""
        self._bid = self._ask = None
        self._bid_price = self._ask_price = None
        for cid in ctx.open_orders(self.params.key):
            order = ctx.order(cid)
            side = getattr(order, "side", None)
            price = getattr(order, "price", None)
            if getattr(order, "status", None) is OrderStatus.CANCEL_PENDING or not isinstance(side, Side):
                continue
            if side is Side.BUY and self._bid is None and price is not None:
                self._bid, self._bid_price = cid, price
            elif side is Side.SELL and self._ask is None and price is not None:
                self._ask, self._ask_price = cid, price
            else:
                ctx.cancel(cid)

    def on_order(self, ctx: StrategyContext, update: OrderUpdate) -> None:
        cid = update.order.client_order_id
        if not update.order.is_open:
            if cid == self._bid:
                self._bid, self._bid_price = None, None
            elif cid == self._ask:
                self._ask, self._ask_price = None, None

    def on_book_lost(self, ctx: StrategyContext, key: str) -> None:
        self._withdraw(ctx)

    def on_stop(self, ctx: StrategyContext) -> None:
        self._withdraw(ctx)

    def _withdraw(self, ctx: StrategyContext) -> None:
        for cid in (self._bid, self._ask):
            if cid is not None:
                ctx.cancel(cid)
        self._bid = self._ask = None
        self._bid_price = self._ask_price = None
