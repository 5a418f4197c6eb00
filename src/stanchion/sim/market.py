"""The synthetic market: a seeded fair-price random walk and agents around it.

Per step and symbol: the fair price moves (Gaussian, in ticks); if the touch
is on the wrong side of it a market-maker taker trades through to it; then
10–30 (configurable) random actions, each one book change or a small sweep:
add liquidity (mostly near the touch, sometimes anywhere in the book), cancel
some, or send a market order. Books are trimmed to ``levels_per_side`` from
the far end. Agents trade on the market-maker account, which is not a user
account (no balances, no STP, no execution reports).

The per-action cost is a few ``random()`` calls and one book change: no sort,
no scan of a whole side.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from stanchion.sim.matching import SymbolBook
from stanchion.sim.types import MarketConfig

_MAX_PULL_LEVELS = 50
"""A jump of the fair price is followed by at most this many levels per step."""

TakerFn = Callable[[bool, int], None]
"""``taker(is_buy, qty)``: a market-maker market order through the matching engine."""


def initial_levels(
    mid: int, tick: int, step: int, levels: int, mean_qty_steps: int, rng: random.Random
) -> tuple[dict[int, int], dict[int, int]]:
    """A symmetric book of ``levels`` price levels per side, one tick apart around ``mid``."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    span = 2 * mean_qty_steps
    for i in range(1, levels + 1):
        price = mid - i * tick
        if price > 0:
            bids[price] = step * (1 + int(rng.random() * span))
        asks[mid + i * tick] = step * (1 + int(rng.random() * span))
    return bids, asks


class SyntheticMarket:
    """The agents of one symbol."""

    __slots__ = ("_actions_span", "_cfg", "_mean", "_near", "_rng", "book", "fair")

    def __init__(self, book: SymbolBook, config: MarketConfig, rng: random.Random, fair: int) -> None:
        self.book = book
        self._cfg = config
        self._rng = rng
        self.fair = fair
        self._near = max(config.near_touch_levels, 1)
        self._mean = max(config.mean_level_qty_steps, 1)
        self._actions_span = max(config.changes_per_step_max - config.changes_per_step_min, 0) + 1

    def step(self, taker: TakerFn) -> None:  # noqa: C901, PLR0912, PLR0915 -- one hot loop, kept flat for speed
        """One tick: move the fair price, then 10–30 (configured) random actions."""
        cfg = self._cfg
        book = self.book
        random_ = self._rng.random
        tick = book.tick
        step = book.step
        near = self._near
        span = 2 * self._mean
        levels_per_side = cfg.levels_per_side
        bid_prices = book.bid_prices
        ask_prices = book.ask_prices
        bids = book.bids
        asks = book.asks
        bid_queues = book.bid_queues
        ask_queues = book.ask_queues
        set_level = book.set_level

        self._walk_fair(taker)
        actions = cfg.changes_per_step_min + int(random_() * self._actions_span)
        taker_p = cfg.taker_probability
        add_p = taker_p + (1.0 - taker_p) * 0.55
        half_add = add_p * 0.5
        half_cancel = (1.0 + add_p) * 0.5
        fair = self.fair
        # Where adds start: one tick inside the fair price, never through the
        # other side. Bids go at or below bid_edge < ask_edge at or above which
        # asks go, so adds within this step cannot cross the book either.
        bid_edge = fair - tick
        if ask_prices and ask_prices[0] <= fair:
            bid_edge = ask_prices[0] - tick
        ask_edge = fair + tick
        if bid_prices and bid_prices[-1] >= fair:
            ask_edge = bid_prices[-1] + tick
        for _ in range(actions):
            r = random_()
            if r < taker_p:
                is_buy = random_() < 0.5
                if is_buy and ask_prices:
                    taker(True, asks[ask_prices[0]] + step * int(random_() * self._mean))
                elif not is_buy and bid_prices:
                    taker(False, bids[bid_prices[-1]] + step * int(random_() * self._mean))
                continue
            if r < add_p:
                is_bid = r < half_add
                prices = bid_prices if is_bid else ask_prices
                u = random_()
                # One draw gives the offset and (from its remaining bits) the size.
                if u < 0.75 or (u < 0.95 and len(prices) >= levels_per_side):
                    x = random_() * near  # mostly near the touch
                else:
                    # Sometimes anywhere in the book: this also fills the gaps
                    # that cancels and takers leave, keeping each side dense.
                    x = random_() * levels_per_side
                offset = int(x)
                qty = step * (1 + int((x - offset) * span))
                if is_bid:
                    price = bid_edge - offset * tick
                    if price <= 0:
                        continue
                    if price in bid_queues:
                        book.add_synthetic(True, price, qty)
                    else:
                        set_level(True, price, bids.get(price, 0) + qty)
                else:
                    price = ask_edge + offset * tick
                    if price in ask_queues:
                        book.add_synthetic(False, price, qty)
                    else:
                        set_level(False, price, asks.get(price, 0) + qty)
                continue
            is_bid = r < half_cancel
            prices = bid_prices if is_bid else ask_prices
            count = len(prices)
            if not count:
                continue
            # A level near the touch, by distance in ticks (not by rank, so a
            # thin book is not eaten from ever deeper down).
            x = random_() * near
            offset = int(x)
            if is_bid:
                index = bisect_right(prices, prices[-1] - offset * tick) - 1
            else:
                index = bisect_left(prices, prices[0] + offset * tick)
                if index == count:
                    index = count - 1
            price = prices[index]
            levels = bids if is_bid else asks
            total = levels[price]
            # Some cancels pull the whole level, the others a random part of it.
            frac = x - offset
            cut = total if frac < 0.35 else step * (1 + int((frac - 0.35) / 0.65 * (total // step)))
            if price in (bid_queues if is_bid else ask_queues):
                book.cancel_synthetic(is_bid, price, cut)
            else:
                set_level(is_bid, price, total - cut if cut < total else 0)
        self._trim(levels_per_side)

    def _walk_fair(self, taker: TakerFn) -> None:
        book = self.book
        tick = book.tick
        vol = self._cfg.volatility_ticks
        if vol > 0:
            move = round(self._rng.gauss(0.0, vol))
            self.fair = max(self.fair + move * tick, tick * 2)
        fair = self.fair
        # Pull the touch toward the fair price by trading through it.
        ask_prices = book.ask_prices
        if ask_prices and ask_prices[0] < fair:
            qty = 0
            for price in ask_prices[:_MAX_PULL_LEVELS]:
                if price >= fair:
                    break
                qty += book.asks[price]
            taker(True, qty)
            return
        bid_prices = book.bid_prices
        if bid_prices and bid_prices[-1] > fair:
            qty = 0
            for price in bid_prices[: -_MAX_PULL_LEVELS - 1 : -1]:
                if price <= fair:
                    break
                qty += book.bids[price]
            taker(False, qty)

    def _trim(self, levels_per_side: int) -> None:
        book = self.book
        # Far levels drop off the book (a far synthetic level behind a user order stays).
        bid_prices = book.bid_prices
        while len(bid_prices) > levels_per_side:
            price = bid_prices[0]
            if price in book.bid_queues:
                break
            book.set_level(True, price, 0)
        ask_prices = book.ask_prices
        while len(ask_prices) > levels_per_side:
            price = ask_prices[-1]
            if price in book.ask_queues:
                break
            book.set_level(False, price, 0)
