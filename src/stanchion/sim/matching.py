"""One order book per symbol with price-time priority.

Levels are ``{price: total qty}`` dicts plus ascending price lists kept with
``bisect`` (best bid = last, best ask = first), so a book change costs a dict
write and, when a level appears or vanishes, one list insert/delete. Levels
holding only synthetic liquidity are just a number; a level where a user order
rests also has a FIFO queue of entries (user orders and synthetic chunks) so
priority between users and the synthetic market is exact.

Every change of a level's total is a book change: it takes the next update id,
is logged to the truth history and is kept for the next depth diff.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field

from stanchion.sim.truth import BookHistory
from stanchion.sim.types import (
    DEFAULT_STP_MODE,
    ONE,
    DepthDiff,
    OrderView,
)


class LiveOrder:
    """A user order inside the exchange (mutable; views are snapshots)."""

    __slots__ = (
        "account",
        "client_order_id",
        "cum_quote",
        "executed_qty",
        "is_buy",
        "is_working",
        "leaves_qty",
        "locked",
        "order_id",
        "order_type",
        "orig_qty",
        "orig_quote_qty",
        "prevented_match_id",
        "prevented_qty",
        "price",
        "side",
        "status",
        "stp_mode",
        "symbol",
        "time",
        "time_in_force",
        "update_time",
        "working_time",
    )

    def __init__(
        self,
        account: str,
        symbol: str,
        order_id: int,
        client_order_id: str,
        side: str,
        order_type: str,
        time_in_force: str,
        price: int,
        orig_qty: int,
        orig_quote_qty: int,
        stp_mode: str,
        now: int,
    ) -> None:
        self.account = account
        self.symbol = symbol
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.side = side
        self.is_buy = side == "BUY"
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.orig_qty = orig_qty
        self.orig_quote_qty = orig_quote_qty
        self.stp_mode = stp_mode
        self.leaves_qty = orig_qty
        self.executed_qty = 0
        self.cum_quote = 0
        self.status = "NEW"
        self.time = now
        self.update_time = now
        self.working_time = now
        self.is_working = False
        self.locked = 0
        self.prevented_match_id: int | None = None
        self.prevented_qty = 0

    def view(self, orig_client_order_id: str | None = None, client_order_id: str | None = None) -> OrderView:
        return OrderView(
            account=self.account,
            symbol=self.symbol,
            order_id=self.order_id,
            client_order_id=client_order_id if client_order_id is not None else self.client_order_id,
            price=self.price,
            orig_qty=self.orig_qty,
            executed_qty=self.executed_qty,
            cumulative_quote_qty=self.cum_quote,
            status=self.status,
            time_in_force=self.time_in_force,
            type=self.order_type,
            side=self.side,
            time=self.time,
            update_time=self.update_time,
            working_time=self.working_time if self.is_working else -1,
            orig_quote_order_qty=self.orig_quote_qty,
            stp_mode=self.stp_mode,
            is_working=self.is_working,
            prevented_match_id=self.prevented_match_id,
            prevented_quantity=self.prevented_qty if self.prevented_match_id is not None else None,
            orig_client_order_id=orig_client_order_id,
        )


class SynthChunk:
    """Synthetic liquidity inside a queue (the market maker; not a user order)."""

    __slots__ = ("leaves_qty",)
    account = None

    def __init__(self, qty: int) -> None:
        self.leaves_qty = qty


Entry = LiveOrder | SynthChunk


@dataclass(slots=True)
class Match:
    """One fill: ``maker`` is None for plain synthetic liquidity."""

    maker: LiveOrder | None
    price: int
    qty: int
    quote: int


@dataclass(slots=True)
class Prevented:
    """A self-trade prevented by STP: the maker (and/or the taker) expired."""

    maker: LiveOrder
    price: int
    qty: int
    maker_expired: bool


@dataclass(slots=True)
class TakeResult:
    matches: list[Match] = field(default_factory=list)
    prevented: list[Prevented] = field(default_factory=list)
    qty: int = 0
    quote: int = 0
    taker_expired_by_stp: bool = False


class SymbolBook:
    """The full book of one symbol (user and synthetic liquidity together)."""

    def __init__(
        self,
        symbol: str,
        tick: int,
        step: int,
        start_update_id: int,
        bids: dict[int, int] | None = None,
        asks: dict[int, int] | None = None,
        truth_window: int = 10_000,
    ) -> None:
        self.symbol = symbol
        self.tick = tick
        self.step = step
        self.bids: dict[int, int] = dict(bids or {})
        self.asks: dict[int, int] = dict(asks or {})
        self.bid_prices: list[int] = sorted(self.bids)
        self.ask_prices: list[int] = sorted(self.asks)
        if self.bid_prices and self.ask_prices and self.bid_prices[-1] >= self.ask_prices[0]:
            raise ValueError(f"{symbol}: initial book is crossed")
        self.bid_queues: dict[int, deque[Entry]] = {}
        self.ask_queues: dict[int, deque[Entry]] = {}
        self.update_id = start_update_id
        self.pending_bids: dict[int, int] = {}
        self.pending_asks: dict[int, int] = {}
        # Indexed by ``is_bid``: (levels, sorted prices, pending changes) of a side.
        self._sides = (
            (self.asks, self.ask_prices, self.pending_asks),
            (self.bids, self.bid_prices, self.pending_bids),
        )
        self.flushed_update_id = start_update_id
        self.history = BookHistory(start_update_id, self.bids, self.asks, window=truth_window)
        self._log_append = self.history.append

    # ---- level primitives ---------------------------------------------------
    def set_level(self, is_bid: bool, price: int, qty: int) -> None:
        """Set a level's total (0 removes it); one book change."""
        levels, prices, pending = self._sides[is_bid]
        if qty:
            if price not in levels:
                insort(prices, price)
            levels[price] = qty
        else:
            del levels[price]
            del prices[bisect_left(prices, price)]
        uid = self.update_id + 1
        self.update_id = uid
        pending[price] = qty
        self._log_append((uid, is_bid, price, qty))

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def flush(self, event_time: int) -> DepthDiff | None:
        """The pending changes as one depth diff (None when nothing changed)."""
        first = self.flushed_update_id + 1
        if first > self.update_id:
            return None
        diff = DepthDiff(
            self.symbol,
            first,
            self.update_id,
            event_time,
            tuple(self.pending_bids.items()),
            tuple(self.pending_asks.items()),
        )
        self.pending_bids.clear()
        self.pending_asks.clear()
        self.flushed_update_id = self.update_id
        self.checkpoint_if_due()
        return diff

    def checkpoint_if_due(self) -> None:
        """Let the truth history checkpoint and trim (any point between changes will do)."""
        if self.history.maybe_checkpoint(self.update_id, self.bids, self.asks):
            self._log_append = self.history.append

    # ---- synthetic liquidity ---------------------------------------------------
    def add_synthetic(self, is_bid: bool, price: int, qty: int) -> None:
        levels = self.bids if is_bid else self.asks
        queues = self.bid_queues if is_bid else self.ask_queues
        queue = queues.get(price)
        if queue is not None:
            tail = queue[-1]
            if isinstance(tail, SynthChunk):
                tail.leaves_qty += qty
            else:
                queue.append(SynthChunk(qty))
        self.set_level(is_bid, price, levels.get(price, 0) + qty)

    def cancel_synthetic(self, is_bid: bool, price: int, qty: int) -> int:
        """Remove up to ``qty`` synthetic quantity at ``price`` (newest first)."""
        levels = self.bids if is_bid else self.asks
        total = levels.get(price, 0)
        if not total:
            return 0
        queues = self.bid_queues if is_bid else self.ask_queues
        queue = queues.get(price)
        if queue is None:
            removed = min(qty, total)
        else:
            removed = 0
            for entry in reversed(queue):
                if isinstance(entry, SynthChunk) and removed < qty:
                    part = min(entry.leaves_qty, qty - removed)
                    entry.leaves_qty -= part
                    removed += part
            if removed:
                kept = deque(e for e in queue if e.leaves_qty)
                queues[price] = kept
        if removed:
            self.set_level(is_bid, price, total - removed)
        return removed

    # ---- user orders ----------------------------------------------------------
    def rest(self, order: LiveOrder) -> None:
        """Append a user order at the back of its price level."""
        is_bid = order.is_buy
        levels = self.bids if is_bid else self.asks
        queues = self.bid_queues if is_bid else self.ask_queues
        price = order.price
        total = levels.get(price, 0)
        queue = queues.get(price)
        if queue is None:
            queue = deque()
            if total:
                queue.append(SynthChunk(total))
            queues[price] = queue
        queue.append(order)
        self.set_level(is_bid, price, total + order.leaves_qty)

    def remove(self, order: LiveOrder) -> None:
        """Take a resting user order out of the book (cancel / STP expiry)."""
        is_bid = order.is_buy
        levels = self.bids if is_bid else self.asks
        queues = self.bid_queues if is_bid else self.ask_queues
        price = order.price
        queue = queues[price]
        queue.remove(order)
        self._maybe_drop_queue(queues, price, queue)
        self.set_level(is_bid, price, levels[price] - order.leaves_qty)

    @staticmethod
    def _maybe_drop_queue(queues: dict[int, deque[Entry]], price: int, queue: deque[Entry]) -> None:
        for entry in queue:
            if entry.account is not None:
                return
        del queues[price]

    def would_take(self, is_buy: bool, price: int) -> bool:
        if is_buy:
            return bool(self.ask_prices) and self.ask_prices[0] <= price
        return bool(self.bid_prices) and self.bid_prices[-1] >= price

    # ---- matching ------------------------------------------------------------------
    def available(
        self,
        is_buy: bool,
        limit: int | None,
        max_qty: int | None,
        max_quote: int | None,
        taker_account: str | None,
        stp_mode: str,
    ) -> tuple[int, int]:
        """Dry run of :meth:`take`: (qty, quote) that would trade, nothing changed."""
        prices = self.ask_prices if is_buy else self.bid_prices
        levels = self.asks if is_buy else self.bids
        queues = self.ask_queues if is_buy else self.bid_queues
        count = len(prices)
        got_qty = 0
        got_quote = 0
        step = self.step
        for i in range(count):
            price = prices[i] if is_buy else prices[count - 1 - i]
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            queue = queues.get(price)
            entries: list[int] = []
            if queue is None:
                entries.append(levels[price])
            else:
                for entry in queue:
                    if entry.account is not None and entry.account == taker_account and stp_mode != "NONE":
                        if stp_mode == "EXPIRE_MAKER":
                            continue
                        return got_qty, got_quote
                    entries.append(entry.leaves_qty)
            for avail in entries:
                want = self._want(max_qty, max_quote, got_qty, got_quote, price, step)
                if want <= 0:
                    return got_qty, got_quote
                fill = min(avail, want)
                got_qty += fill
                got_quote += price * fill // ONE
        return got_qty, got_quote

    @staticmethod
    def _want(max_qty: int | None, max_quote: int | None, got_qty: int, got_quote: int, price: int, step: int) -> int:
        if max_quote is not None:
            affordable = (max_quote - got_quote) * ONE // price
            return affordable - affordable % step
        assert max_qty is not None
        return max_qty - got_qty

    def take(
        self,
        is_buy: bool,
        limit: int | None,
        max_qty: int | None,
        max_quote: int | None,
        taker_account: str | None,
        stp_mode: str = DEFAULT_STP_MODE,
    ) -> TakeResult:
        """Match a taker against the opposite side, best price first, FIFO within a level.

        Stops at ``limit`` (None: no limit), when ``max_qty`` is filled or when
        ``max_quote`` cannot buy one more step. STP (taker's mode) applies
        between orders of the same user account only.
        """
        result = TakeResult()
        prices = self.ask_prices if is_buy else self.bid_prices
        levels = self.asks if is_buy else self.bids
        queues = self.ask_queues if is_buy else self.bid_queues
        maker_is_bid = not is_buy
        step = self.step
        while prices:
            price = prices[0] if is_buy else prices[-1]
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            want = self._want(max_qty, max_quote, result.qty, result.quote, price, step)
            if want <= 0:
                break
            total = levels[price]
            queue = queues.get(price)
            if queue is None:
                fill = min(total, want)
                quote = price * fill // ONE
                result.matches.append(Match(None, price, fill, quote))
                result.qty += fill
                result.quote += quote
                self.set_level(maker_is_bid, price, total - fill)
                continue
            taken = 0
            stop = False
            while queue:
                entry = queue[0]
                if want <= 0:
                    break
                if isinstance(entry, LiveOrder) and entry.account == taker_account and stp_mode != "NONE":
                    expire_maker = stp_mode in ("EXPIRE_MAKER", "EXPIRE_BOTH")
                    result.prevented.append(Prevented(entry, price, entry.leaves_qty, expire_maker))
                    if stp_mode in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
                        result.taker_expired_by_stp = True
                        stop = True
                    if expire_maker:
                        queue.popleft()
                        taken += entry.leaves_qty
                        continue
                    break
                fill = min(entry.leaves_qty, want)
                quote = price * fill // ONE
                entry.leaves_qty -= fill
                taken += fill
                want -= fill
                result.qty += fill
                result.quote += quote
                result.matches.append(Match(entry if isinstance(entry, LiveOrder) else None, price, fill, quote))
                if not entry.leaves_qty:
                    queue.popleft()
                if max_quote is not None:
                    want = self._want(max_qty, max_quote, result.qty, result.quote, price, step)
            if not queue or all(e.account is None for e in queue):
                del queues[price]
            if taken:
                self.set_level(maker_is_bid, price, total - taken)
            if stop or want <= 0:
                break
        return result
