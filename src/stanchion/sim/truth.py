"""Truth: the exact book of a symbol at any update id of a bounded recent window.

Every book change is logged as ``(update_id, is_bid, price, qty)``; a full copy
of the book is taken every ``checkpoint_every`` update ids. ``book_at(n)``
copies the newest checkpoint at or before ``n`` and replays the log up to
``n``. Checkpoints and log entries older than ``window`` update ids are
dropped, so memory is bounded by ``window`` changes plus a few book copies.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque


class BookHistory:
    """Change log plus periodic checkpoints for one symbol."""

    __slots__ = ("_checkpoint_ids", "_checkpoints", "_log", "checkpoint_every", "window")

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
        self.checkpoint_every = checkpoint_every or max(window // 4, 1)
        self._checkpoints: deque[tuple[int, dict[int, int], dict[int, int]]] = deque(
            [(start_update_id, dict(bids), dict(asks))]
        )
        self._checkpoint_ids: deque[int] = deque([start_update_id])
        self._log: deque[tuple[int, bool, int, int]] = deque()

    def record(self, update_id: int, is_bid: bool, price: int, qty: int) -> None:
        self._log.append((update_id, is_bid, price, qty))

    def maybe_checkpoint(self, update_id: int, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Call after a batch of changes: checkpoints and trims when due."""
        if update_id - self._checkpoint_ids[-1] < self.checkpoint_every:
            return
        self._checkpoints.append((update_id, dict(bids), dict(asks)))
        self._checkpoint_ids.append(update_id)
        oldest_wanted = update_id - self.window
        # Keep the newest checkpoint at or before the window's start.
        while len(self._checkpoint_ids) > 1 and self._checkpoint_ids[1] <= oldest_wanted:
            self._checkpoints.popleft()
            self._checkpoint_ids.popleft()
        first = self._checkpoint_ids[0]
        log = self._log
        while log and log[0][0] <= first:
            log.popleft()

    @property
    def oldest_update_id(self) -> int:
        return self._checkpoint_ids[0]

    def book_at(self, update_id: int, current: int) -> tuple[dict[int, int], dict[int, int]] | None:
        """The book right after ``update_id`` (None when outside the retained window)."""
        if update_id < self._checkpoint_ids[0] or update_id > current:
            return None
        index = bisect_right(self._checkpoint_ids, update_id) - 1
        start_id, cp_bids, cp_asks = self._checkpoints[index]
        bids = dict(cp_bids)
        asks = dict(cp_asks)
        for uid, is_bid, price, qty in self._log:
            if uid <= start_id:
                continue
            if uid > update_id:
                break
            side = bids if is_bid else asks
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
        return bids, asks

    def memory_entries(self) -> int:
        """Log entries plus checkpointed levels (for tests of the bound)."""
        return len(self._log) + sum(len(b) + len(a) for _, b, a in self._checkpoints)
