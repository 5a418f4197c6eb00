"""BookSyncer scenarios: the documented procedure step by step, gaps, crossed books, staleness."""

from __future__ import annotations

import pytest

from stanchion.book.sync import (
    SYNC_TRANSITIONS,
    BookLive,
    BookResync,
    BookStale,
    BookSyncer,
    FetchSnapshot,
    ResyncReason,
    SyncState,
    SyncTrigger,
)
from stanchion.core.errors import IllegalTransitionError
from stanchion.model.market import BookDelta, BookSnapshot


def diff(first: int, last: int, bids: tuple[tuple[int, int], ...] = (), asks: tuple[tuple[int, int], ...] = ()) -> BookDelta:
    return BookDelta("X", first, last, 0, bids, asks)


SNAP = BookSnapshot("X", 10, ((100, 1), (99, 1)), ((101, 1), (102, 1)))


def test_first_diff_is_buffered_and_asks_for_a_snapshot_once() -> None:
    syncer = BookSyncer("X")
    assert syncer.on_diff(diff(5, 8)) == (FetchSnapshot("X", 1, "first diff buffered"),)
    assert syncer.on_diff(diff(9, 12)) == ()
    assert syncer.state is SyncState.SYNCING and syncer.live_book() is None
    assert syncer.buffered() == 2


def test_snapshot_older_than_first_buffered_u_is_refetched() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(11, 12))
    actions = syncer.on_snapshot(SNAP)  # lastUpdateId 10 < first U 11
    assert len(actions) == 1 and isinstance(actions[0], FetchSnapshot) and actions[0].attempt == 2
    assert syncer.state is SyncState.SYNCING and syncer.stats.snapshots_too_old == 1


def test_old_diffs_are_dropped_and_the_straddling_diff_goes_live() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(5, 8, bids=((100, 9),)))  # u <= 10: dropped
    syncer.on_diff(diff(9, 12, bids=((100, 2),)))  # straddles 11
    syncer.on_diff(diff(13, 13, asks=((101, 0),)))
    actions = syncer.on_snapshot(SNAP)
    assert actions == (BookLive("X", 13),)
    book = syncer.live_book()
    assert book is not None
    assert book.best_bid() == (100, 2) and book.best_ask() == (102, 1)
    assert syncer.last_update_id == 13


def test_snapshot_newer_than_every_buffered_diff_waits_for_the_straddling_one() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(5, 8))
    assert syncer.on_snapshot(SNAP) == ()
    assert syncer.live_book() is None
    assert syncer.on_diff(diff(9, 10)) == ()  # still <= lastUpdateId
    assert syncer.on_diff(diff(11, 11, bids=((100, 3),))) == (BookLive("X", 11),)


def test_gap_after_snapshot_restarts_from_step_one_with_the_new_diff() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(5, 8))
    syncer.on_snapshot(SNAP)
    actions = syncer.on_diff(diff(13, 14))  # expected U <= 11
    assert actions[0] == BookResync("X", ResyncReason.GAP, 11, 13)
    assert isinstance(actions[1], FetchSnapshot)
    assert syncer.buffered() == 1 and syncer.state is SyncState.SYNCING


def test_gap_while_live_discards_the_book_and_hides_it() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    assert syncer.state is SyncState.LIVE
    actions = syncer.on_diff(diff(20, 21))
    assert actions[0] == BookResync("X", ResyncReason.GAP, 12, 20)
    assert "U=20" in actions[0].detail  # type: ignore[union-attr]
    assert syncer.live_book() is None and syncer.state is SyncState.SYNCING
    # The resync proceeds normally with a newer snapshot.
    assert syncer.on_snapshot(BookSnapshot("X", 20, ((50, 1),), ((60, 1),))) == (BookLive("X", 21),)


def test_duplicates_and_old_diffs_are_ignored_while_live() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    assert syncer.on_diff(diff(9, 11, bids=((100, 77),))) == ()
    book = syncer.live_book()
    assert book is not None and book.best_bid() == (100, 1)
    assert syncer.stats.diffs_ignored >= 1


def test_crossed_book_forces_a_resync() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    actions = syncer.on_diff(diff(12, 12, bids=((105, 1),)))
    assert isinstance(actions[0], BookResync) and actions[0].reason is ResyncReason.CROSSED
    assert syncer.live_book() is None


def test_stale_hides_the_book_until_the_next_valid_diff() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    assert syncer.mark_stale() == (BookStale("X", 11),)
    assert syncer.live_book() is None and syncer.state is SyncState.STALE
    assert syncer.on_diff(diff(12, 12)) == (BookLive("X", 12),)
    assert syncer.live_book() is not None


def test_buffer_overflow_restarts_with_a_bounded_buffer() -> None:
    syncer = BookSyncer("X", max_buffer=3)
    for i in range(3):
        syncer.on_diff(diff(i * 2 + 1, i * 2 + 2))
    actions = syncer.on_diff(diff(7, 8))
    assert isinstance(actions[0], BookResync) and actions[0].reason is ResyncReason.BUFFER_OVERFLOW
    assert syncer.buffered() == 1 and syncer.stats.buffer_overflows == 1


def test_gap_inside_the_buffer_restarts_the_buffer_there() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(1, 2))
    syncer.on_diff(diff(7, 9))  # gap 3..6 inside the buffer
    syncer.on_diff(diff(10, 12))
    assert syncer.buffered() == 2
    # A snapshot older than the new first U (7) is refetched.
    assert isinstance(syncer.on_snapshot(BookSnapshot("X", 5, (), ()))[0], FetchSnapshot)
    assert syncer.on_snapshot(BookSnapshot("X", 9, ((1, 1),), ((2, 1),))) == (BookLive("X", 12),)


def test_reset_discards_everything_and_late_snapshots_are_ignored() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    assert syncer.reset()[0] == BookResync("X", ResyncReason.RESET, None, None)
    assert syncer.on_snapshot(SNAP) == ()  # nothing buffered: the next diff asks again
    assert isinstance(syncer.on_diff(diff(30, 31))[0], FetchSnapshot)


def test_transition_table_rejects_illegal_moves() -> None:
    with pytest.raises(IllegalTransitionError):
        SYNC_TRANSITIONS.next_state(SyncState.SYNCING, SyncTrigger.VALID_UPDATE)
    assert SYNC_TRANSITIONS.next_state(SyncState.LIVE, SyncTrigger.INVALIDATED) is SyncState.SYNCING


def test_one_symbols_resync_does_not_touch_another() -> None:
    a, b = BookSyncer("A"), BookSyncer("B")
    for s in (a, b):
        s.on_diff(BookDelta(s.symbol, 9, 11, 0, (), ()))
        s.on_snapshot(BookSnapshot(s.symbol, 10, ((1, 1),), ((2, 1),)))
    a.on_diff(BookDelta("A", 50, 51, 0, (), ()))
    assert a.live_book() is None and b.live_book() is not None


def test_statistics_report_state_and_counters() -> None:
    syncer = BookSyncer("X")
    syncer.on_diff(diff(9, 11))
    syncer.on_snapshot(SNAP)
    syncer.on_diff(diff(5, 6))
    stats = syncer.statistics()
    assert stats["state"] == "live" and stats["last_update_id"] == 11
    assert stats["diffs_applied_total"] == 1 and stats["diffs_ignored_total"] == 1
    assert stats["snapshots_requested_total"] == 1 and stats["bid_levels"] == 2
