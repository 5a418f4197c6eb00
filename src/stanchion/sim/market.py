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

    def step(self, taker: TakerFn) -> None:
        cfg = self._cfg
        book = self.book
        rng = self._rng
        random_ = rng.random
        tick = book.tick
        step = book.step
        near = self._near
        span = 2 * self._mean
        levels_per_side = cfg.levels_per_side

        self._walk_fair(taker)
        actions = cfg.changes_per_step_min + int(random_() * self._actions_span)
        taker_p = cfg.taker_probability
        for _ in range(actions):
            r = random_()
            bid_prices = book.bid_prices
            ask_prices = book.ask_prices
            if r < taker_p:
                is_buy = random_() < 0.5
                top = (ask_prices[0] if is_buy else bid_prices[-1]) if (ask_prices if is_buy else bid_prices) else None
                if top is None:
                    continue
                levels = book.asks if is_buy else book.bids
                qty = levels[top] + step * int(random_() * self._mean)
                taker(is_buy, qty)
                continue
            is_bid = random_() < 0.5
            if r < taker_p + (1.0 - taker_p) * 0.55:
                qty = step * (1 + int(random_() * span))
                prices = bid_prices if is_bid else ask_prices
                if len(prices) < levels_per_side and random_() < 0.3:
                    # Refill: extend the far end so each side keeps its depth.
                    if is_bid:
                        price = prices[0] - tick if prices else self.fair - tick
                        if price > 0:
                            book.add_synthetic(True, price, qty)
                    else:
                        price = prices[-1] + tick if prices else self.fair + tick
                        book.add_synthetic(False, price, qty)
                    continue
                # Add: mostly near the touch, sometimes deep.
                offset = int(random_() * near) if random_() < 0.9 else int(random_() * levels_per_side)
                if is_bid:
                    ceiling = self.fair - tick
                    if ask_prices and ask_prices[0] - tick < ceiling:
                        ceiling = ask_prices[0] - tick
                    price = ceiling - offset * tick
                    if price <= 0:
                        continue
                else:
                    floor = self.fair + tick
                    if bid_prices and bid_prices[-1] + tick > floor:
                        floor = bid_prices[-1] + tick
                    price = floor + offset * tick
                book.add_synthetic(is_bid, price, qty)
            else:
                prices = bid_prices if is_bid else ask_prices
                count = len(prices)
                if not count:
                    continue
                index = int(random_() * min(near, count))
                price = prices[count - 1 - index] if is_bid else prices[index]
                levels = book.bids if is_bid else book.asks
                total = levels[price]
                # Half the cancels pull the whole level, half a random part of it.
                cut = total if random_() < 0.5 else step * (1 + int(random_() * (total // step)))
                book.cancel_synthetic(is_bid, price, cut)
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
