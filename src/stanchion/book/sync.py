"""Per-symbol book synchronisation, sans-I/O: Binance's "How to manage a local
order book correctly", as a table-driven state machine.

The syncer never does I/O. The caller feeds it diffs (:meth:`BookSyncer.on_diff`)
and snapshots (:meth:`BookSyncer.on_snapshot`) and performs the actions it
returns: :class:`FetchSnapshot` (request ``GET /api/v3/depth`` for the symbol),
:class:`BookLive` (the book may be shown to consumers again),
:class:`BookResync` (the book was discarded, with the reason and the ids that
proved it wrong), :class:`BookStale` (the caller said the feed went quiet).

Procedure (one symbol; another symbol's resync never touches this one):

1. buffer diffs; note ``U`` of the first buffered diff; ask for a snapshot;
2. a snapshot with ``lastUpdateId`` < that first ``U`` is too old: ask again;
3. drop buffered diffs with ``u <= lastUpdateId``; the first one left must
   straddle: ``U <= lastUpdateId + 1 <= u``;
4. book := snapshot, local id := ``lastUpdateId``;
5. each following diff: ``u <= local id`` → ignore; ``U > local id + 1`` →
   gap: discard the book and restart from step 1 (the diff that revealed the
   gap becomes the first buffered one);
6. apply, local id := ``u``; a crossed book is wrong too → restart.

Only a LIVE book is exposed (:meth:`BookSyncer.live_book`).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from stanchion.book.l2 import JsonLevels, L2Book, TextLevel, decode_levels
from stanchion.core.errors import ParseError
from stanchion.core.state_machine import StateMachine, TransitionTable
from stanchion.model.market import BookDelta, BookSnapshot


class SyncState(enum.Enum):
    SYNCING = "syncing"
    LIVE = "live"
    STALE = "stale"


class SyncTrigger(enum.Enum):
    SYNCED = "synced"  # snapshot + straddling diffs applied
    INVALIDATED = "invalidated"  # gap, crossed book, buffer overflow, reset
    MARKED_STALE = "marked_stale"  # the caller saw no data for too long
    VALID_UPDATE = "valid_update"  # a diff applied cleanly


SYNC_TRANSITIONS: Final = TransitionTable[SyncState, SyncTrigger](
    "book_sync",
    {
        (SyncState.SYNCING, SyncTrigger.SYNCED): SyncState.LIVE,
        (SyncState.SYNCING, SyncTrigger.INVALIDATED): SyncState.SYNCING,
        (SyncState.SYNCING, SyncTrigger.MARKED_STALE): SyncState.SYNCING,
        (SyncState.LIVE, SyncTrigger.VALID_UPDATE): SyncState.LIVE,
        (SyncState.LIVE, SyncTrigger.INVALIDATED): SyncState.SYNCING,
        (SyncState.LIVE, SyncTrigger.MARKED_STALE): SyncState.STALE,
        (SyncState.STALE, SyncTrigger.VALID_UPDATE): SyncState.LIVE,
        (SyncState.STALE, SyncTrigger.INVALIDATED): SyncState.SYNCING,
        (SyncState.STALE, SyncTrigger.MARKED_STALE): SyncState.STALE,
    },
)


class ResyncReason(enum.Enum):
    GAP = "gap"
    SNAPSHOT_GAP = "snapshot_gap"  # first diff after the snapshot does not straddle it
    CROSSED = "crossed"
    BUFFER_OVERFLOW = "buffer_overflow"
    MALFORMED = "malformed"  # a diff with an unparsable level: its changes are lost
    RESET = "reset"  # the caller reconnected or unsubscribed


@dataclass(frozen=True, slots=True)
class FetchSnapshot:
    """Request a depth snapshot for ``symbol`` (``attempt`` counts refetches of one sync)."""

    symbol: str
    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class BookLive:
    symbol: str
    update_id: int


@dataclass(frozen=True, slots=True)
class BookResync:
    """The book was discarded. ``expected``/``got``: the update ids that proved it."""

    symbol: str
    reason: ResyncReason
    expected: int | None
    got: int | None
    message: str = ""

    @property
    def detail(self) -> str:
        if self.reason is ResyncReason.MALFORMED:
            return f"malformed diff u={self.got}: {self.message}"
        if self.reason is ResyncReason.GAP:
            return f"gap: U={self.got}, expected <= {self.expected}"
        if self.reason is ResyncReason.SNAPSHOT_GAP:
            return f"snapshot gap: first diff U={self.got}, expected <= {self.expected}"
        return str(self.reason.value)


@dataclass(frozen=True, slots=True)
class BookStale:
    symbol: str
    update_id: int


SyncAction = FetchSnapshot | BookLive | BookResync | BookStale
_NO_ACTIONS: Final[tuple[SyncAction, ...]] = ()


@dataclass(slots=True)
class SyncStatistics:
    diffs_applied: int = 0
    diffs_ignored: int = 0
    snapshots_requested: int = 0
    snapshots_too_old: int = 0
    resyncs: int = 0
    buffer_overflows: int = 0


class BookSyncer:
    """The sync state machine and the book of one symbol."""

    __slots__ = (
        "_book",
        "_buffer",
        "_fetch_attempt",
        "_first_buffered_u",
        "_last_update_id",
        "_machine",
        "_max_buffer",
        "_snapshot_loaded",
        "_state",
        "stats",
        "symbol",
    )

    def __init__(
        self,
        symbol: str,
        *,
        max_buffer: int = 10_000,
        price_scale: int = 8,
        qty_scale: int = 8,
        native: bool | None = None,
    ) -> None:
        """``native``: the book's compiled per-level loop (see :class:`L2Book`)."""
        if max_buffer <= 0:
            raise ValueError("max_buffer must be positive")
        self.symbol = symbol
        self._book = L2Book(symbol, price_scale=price_scale, qty_scale=qty_scale, native=native)
        self._machine = StateMachine(SYNC_TRANSITIONS, SyncState.SYNCING)
        self._state = SyncState.SYNCING  # mirror of the machine's state, read on every diff
        self._buffer: deque[BookDelta] = deque()
        self._max_buffer = max_buffer
        self._first_buffered_u: int | None = None
        self._last_update_id = -1
        self._snapshot_loaded = False
        self._fetch_attempt = 0
        self.stats = SyncStatistics()

    # --- queries ---------------------------------------------------------------------

    @property
    def state(self) -> SyncState:
        return self._state

    @property
    def last_update_id(self) -> int:
        """The last applied ``u`` (or the snapshot's ``lastUpdateId``); -1 before any."""
        return self._last_update_id

    def live_book(self) -> L2Book | None:
        """The book, only while LIVE; None while syncing or stale."""
        return self._book if self._state is SyncState.LIVE else None

    def buffered(self) -> int:
        return len(self._buffer)

    def statistics(self) -> dict[str, int | str]:
        """Counters and gauges for metrics (read at scrape time)."""
        book = self._book
        return {
            "state": self._state.value,
            "last_update_id": self._last_update_id,
            "buffered": len(self._buffer),
            "bid_levels": book.bid_count,
            "ask_levels": book.ask_count,
            "diffs_applied_total": self.stats.diffs_applied,
            "diffs_ignored_total": self.stats.diffs_ignored,
            "snapshots_requested_total": self.stats.snapshots_requested,
            "snapshots_too_old_total": self.stats.snapshots_too_old,
            "resyncs_total": self.stats.resyncs,
            "buffer_overflows_total": self.stats.buffer_overflows,
        }

    # --- inputs ----------------------------------------------------------------------

    def on_diff(self, delta: BookDelta) -> Sequence[SyncAction]:
        """Feed one ``depthUpdate`` diff (in arrival order)."""
        if self._state is SyncState.SYNCING:
            return self._on_diff_syncing(delta)
        last = self._last_update_id
        if delta.final_update_id <= last:
            self.stats.diffs_ignored += 1
            return _NO_ACTIONS
        if delta.first_update_id > last + 1:
            return self._restart(ResyncReason.GAP, expected=last + 1, got=delta.first_update_id, keep=delta)
        book = self._book
        book.apply(delta.bids, delta.asks)
        return self._applied(delta.final_update_id, book.is_crossed())

    def on_text_diff(
        self,
        first_update_id: int,
        final_update_id: int,
        event_time_ms: int,
        bids: Sequence[TextLevel],
        asks: Sequence[TextLevel],
    ) -> Sequence[SyncAction]:
        """Like :meth:`on_diff`, with the levels as the venue's decimal strings.

        The hot path: while LIVE the strings are parsed straight into the book
        (:meth:`L2Book.apply_text_crossed`), with no intermediate objects. A malformed
        number discards the book (its diff is lost) and returns a MALFORMED
        resync instead of raising, so the caller's loop keeps going.
        """
        if self._state is SyncState.SYNCING:
            try:
                delta = self._parsed(first_update_id, final_update_id, event_time_ms, bids, asks)
            except ParseError as exc:
                return self._malformed(final_update_id, exc)
            return self._on_diff_syncing(delta)
        last = self._last_update_id
        if final_update_id <= last:
            self.stats.diffs_ignored += 1
            return _NO_ACTIONS
        if first_update_id > last + 1:
            keep: BookDelta | None
            try:
                keep = self._parsed(first_update_id, final_update_id, event_time_ms, bids, asks)
            except ParseError:
                keep = None  # the next valid diff starts the new attempt
            return self._restart(ResyncReason.GAP, expected=last + 1, got=first_update_id, keep=keep)
        try:
            crossed = self._book.apply_text_crossed(bids, asks)
        except ParseError as exc:
            return self._malformed(final_update_id, exc)
        return self._applied(final_update_id, crossed)

    def on_json_diff(
        self,
        first_update_id: int,
        final_update_id: int,
        event_time_ms: int,
        bids_json: JsonLevels,
        asks_json: JsonLevels,
    ) -> Sequence[SyncAction]:
        """Like :meth:`on_text_diff`, with each side as the bytes of its JSON levels array.

        The hot path of a LIVE book in sequence: :meth:`L2Book.apply_json_crossed`
        parses the arrays straight into the book. Every other case (SYNCING, a gap,
        an old diff) decodes the arrays and goes through :meth:`on_text_diff`; an
        array that does not decode is MALFORMED, like a number that does not parse.
        """
        state = self._state
        last = self._last_update_id
        if state is not SyncState.SYNCING:
            if final_update_id <= last:
                self.stats.diffs_ignored += 1
                return _NO_ACTIONS
            if first_update_id <= last + 1:  # in sequence: straight into the book
                try:
                    crossed = self._book.apply_json_crossed(bids_json, asks_json)
                except ParseError as exc:
                    return self._malformed(final_update_id, exc)
                return self._applied(final_update_id, crossed)
        try:
            bids, asks = decode_levels(bids_json), decode_levels(asks_json)
        except ParseError as exc:
            if state is SyncState.SYNCING:
                return self._malformed(final_update_id, exc)
            # a gap whose diff does not decode: resync; the next valid diff starts the new attempt
            return self._restart(ResyncReason.GAP, expected=last + 1, got=first_update_id, keep=None)
        return self.on_text_diff(first_update_id, final_update_id, event_time_ms, bids, asks)

    def _applied(self, final_update_id: int, crossed: bool) -> Sequence[SyncAction]:
        """After a diff went into the LIVE or STALE book: a crossed book resyncs, a STALE one is LIVE again."""
        self._last_update_id = final_update_id
        self.stats.diffs_applied += 1
        if crossed:
            return self._restart(ResyncReason.CROSSED, expected=None, got=final_update_id, keep=None)
        if self._state is SyncState.STALE:
            self._trigger(SyncTrigger.VALID_UPDATE)
            return (BookLive(self.symbol, final_update_id),)
        return _NO_ACTIONS

    def _trigger(self, trigger: SyncTrigger) -> None:
        self._state = self._machine.trigger(trigger)

    def _parsed(
        self, first: int, final: int, event_time_ms: int, bids: Sequence[TextLevel], asks: Sequence[TextLevel]
    ) -> BookDelta:
        book = self._book
        return BookDelta(self.symbol, first, final, event_time_ms, book.parse_levels(bids), book.parse_levels(asks))

    def _malformed(self, final_update_id: int, error: ParseError) -> Sequence[SyncAction]:
        return self._restart(
            ResyncReason.MALFORMED, expected=None, got=final_update_id, keep=None, message=str(error)
        )

    def on_snapshot(self, snapshot: BookSnapshot) -> Sequence[SyncAction]:
        """Feed a depth snapshot fetched after a :class:`FetchSnapshot`."""
        if self._state is not SyncState.SYNCING or self._snapshot_loaded:
            return _NO_ACTIONS  # a late answer to an earlier request: the book is synced already
        first_u = self._first_buffered_u
        if first_u is None:
            # Nothing buffered (the buffer was reset): the next diff asks again.
            return _NO_ACTIONS
        last_id = snapshot.last_update_id
        if last_id < first_u:
            self.stats.snapshots_too_old += 1
            return self._fetch(f"snapshot lastUpdateId={last_id} older than first buffered U={first_u}")
        buffer = self._buffer
        while buffer and buffer[0].final_update_id <= last_id:
            buffer.popleft()
        if buffer and buffer[0].first_update_id > last_id + 1:
            got = buffer[-1]  # the newest diff starts the next attempt
            buffer.clear()
            return self._restart(ResyncReason.SNAPSHOT_GAP, expected=last_id + 1, got=got.first_update_id, keep=got)
        self._book.load(snapshot.bids, snapshot.asks)
        self._last_update_id = last_id
        self._snapshot_loaded = True
        if not buffer:
            return _NO_ACTIONS  # wait for the diff that straddles lastUpdateId + 1
        return self._drain()

    def mark_stale(self) -> Sequence[SyncAction]:
        """The caller saw no data for too long: hide the book until a valid diff arrives."""
        if self._state is SyncState.LIVE:
            self._trigger(SyncTrigger.MARKED_STALE)
            return (BookStale(self.symbol, self._last_update_id),)
        return _NO_ACTIONS

    def reset(self) -> Sequence[SyncAction]:
        """Discard everything (reconnect, resubscribe). The next diff starts a new sync."""
        self._trigger(SyncTrigger.INVALIDATED)
        self._clear()
        self.stats.resyncs += 1
        return (BookResync(self.symbol, ResyncReason.RESET, None, None),)

    # --- internals -------------------------------------------------------------------

    def _on_diff_syncing(self, delta: BookDelta) -> Sequence[SyncAction]:
        if self._snapshot_loaded:
            # Snapshot applied, buffer drained: this diff must continue it.
            self._buffer.append(delta)
            return self._drain()
        buffer = self._buffer
        if len(buffer) >= self._max_buffer:
            self.stats.buffer_overflows += 1
            return self._restart(ResyncReason.BUFFER_OVERFLOW, expected=None, got=None, keep=delta)
        if buffer:
            previous = buffer[-1].final_update_id
            if delta.final_update_id <= previous:
                self.stats.diffs_ignored += 1  # duplicate or out of order
                return _NO_ACTIONS
            if delta.first_update_id > previous + 1:
                # A gap inside the buffer: what came before it is useless. Start
                # the buffer again here; the pending snapshot is judged against
                # the new first U when it arrives.
                buffer.clear()
                self._first_buffered_u = delta.first_update_id
        buffer.append(delta)
        if self._first_buffered_u is None:
            self._first_buffered_u = delta.first_update_id
            self._fetch_attempt = 0
            return self._fetch("first diff buffered")
        return _NO_ACTIONS

    def _drain(self) -> Sequence[SyncAction]:
        """Apply buffered diffs on top of the loaded snapshot; go LIVE if all is well."""
        book = self._book
        buffer = self._buffer
        applied = 0
        while buffer:
            delta = buffer.popleft()
            last = self._last_update_id
            if delta.final_update_id <= last:
                self.stats.diffs_ignored += 1
                continue
            if delta.first_update_id > last + 1:
                return self._restart(ResyncReason.GAP, expected=last + 1, got=delta.first_update_id, keep=delta)
            book.apply(delta.bids, delta.asks)
            self._last_update_id = delta.final_update_id
            self.stats.diffs_applied += 1
            applied += 1
        if not applied:
            return _NO_ACTIONS  # still waiting for the diff that straddles lastUpdateId + 1
        if book.is_crossed():
            return self._restart(ResyncReason.CROSSED, expected=None, got=self._last_update_id, keep=None)
        self._trigger(SyncTrigger.SYNCED)
        return (BookLive(self.symbol, self._last_update_id),)

    def _restart(
        self,
        reason: ResyncReason,
        *,
        expected: int | None,
        got: int | None,
        keep: BookDelta | None,
        message: str = "",
    ) -> Sequence[SyncAction]:
        self._trigger(SyncTrigger.INVALIDATED)
        self._clear()
        self.stats.resyncs += 1
        actions: list[SyncAction] = [BookResync(self.symbol, reason, expected, got, message)]
        if keep is not None:
            # The diff that revealed the problem is a valid diff of the stream:
            # it becomes the first buffered event of the new attempt (step 1).
            self._buffer.append(keep)
            self._first_buffered_u = keep.first_update_id
            actions.extend(self._fetch(f"resync after {reason.value}"))
        return actions

    def _fetch(self, reason: str) -> Sequence[SyncAction]:
        self._fetch_attempt += 1
        self.stats.snapshots_requested += 1
        return (FetchSnapshot(self.symbol, self._fetch_attempt, reason),)

    def _clear(self) -> None:
        self._book.clear()
        self._buffer.clear()
        self._first_buffered_u = None
        self._last_update_id = -1
        self._snapshot_loaded = False
        self._fetch_attempt = 0
