"""Truth: the exact book of a symbol at any update id of a bounded recent window.

Every book change is logged as ``(update_id, is_bid, price, qty)``. A full copy
of the book is taken every ``checkpoint_every`` update ids and starts a new log
segment; ``book_at(n)`` copies the newest checkpoint at or before ``n`` and
replays its segment up to ``n``. Whole segments older than ``window`` update
ids are dropped with their checkpoint, so memory is bounded by about
``window + checkpoint_every`` changes plus a few book copies, and trimming
costs nothing per change.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable

Change = tuple[int, bool, int, int]


class BookHistory:
    """Change log segments plus one checkpoint per segment, for one symbol."""

    __slots__ = ("_checkpoint_ids", "_segments", "checkpoint_every", "window")

    def __init__(
        self,
        start_update_id: int,
        bids: dict[int, int],
        asks: dict[int, int],
        window: int = 10_000,
        checkpoint_every: int | None = None,
    ) -> None:
        if window <= 0:
            raise ValueError("truth window must be positive")
        self.window = window
        self.checkpoint_every = checkpoint_every or max(window // 2, 1)
        # Each segment: (checkpoint update id, bids copy, asks copy, changes after it).
        self._segments: deque[tuple[int, dict[int, int], dict[int, int], list[Change]]] = deque(
            [(start_update_id, dict(bids), dict(asks), [])]
        )
        self._checkpoint_ids: list[int] = [start_update_id]

    @property
    def append(self) -> Callable[[Change], None]:
        """The current segment's ``append`` (re-read it after :meth:`maybe_checkpoint`)."""
        return self._segments[-1][3].append

    def record(self, update_id: int, is_bid: bool, price: int, qty: int) -> None:
        self._segments[-1][3].append((update_id, is_bid, price, qty))

    def maybe_checkpoint(self, update_id: int, bids: dict[int, int], asks: dict[int, int]) -> bool:
        """Call between batches of changes; True when a new segment was started."""
        if update_id - self._checkpoint_ids[-1] < self.checkpoint_every:
            return False
        self._segments.append((update_id, dict(bids), dict(asks), []))
        self._checkpoint_ids.append(update_id)
        oldest_wanted = update_id - self.window
        # Keep the newest checkpoint at or before the window's start.
        while len(self._checkpoint_ids) > 1 and self._checkpoint_ids[1] <= oldest_wanted:
            self._segments.popleft()
            del self._checkpoint_ids[0]
        return True

    @property
    def oldest_update_id(self) -> int:
        return self._checkpoint_ids[0]

    def book_at(self, update_id: int, current: int) -> tuple[dict[int, int], dict[int, int]] | None:
        """The book right after ``update_id`` (None when outside the retained window)."""
        if update_id < self._checkpoint_ids[0] or update_id > current:
            return None
        index = bisect_right(self._checkpoint_ids, update_id) - 1
        _, cp_bids, cp_asks, changes = self._segments[index]
        bids = dict(cp_bids)
        asks = dict(cp_asks)
        for uid, is_bid, price, qty in changes:
            if uid > update_id:
                break
            side = bids if is_bid else asks
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
        return bids, asks

    def memory_entries(self) -> int:
        """Logged changes plus checkpointed levels (for tests of the bound)."""
        return sum(len(b) + len(a) + len(c) for _, b, a, c in self._segments)
