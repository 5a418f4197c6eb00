"""L2Book: exact levels, lazily maintained best prices, top-N, crossed detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book.l2 import L2Book
from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import format_fixed, parse_fixed
from stanchion.model.market import BookSnapshot


def test_best_prices_follow_inserts_updates_and_removals() -> None:
    book = L2Book("X")
    assert book.best_bid() is None and book.best_ask() is None
    book.apply([(100, 5), (99, 7)], [(101, 3), (103, 1)])
    assert book.best_bid() == (100, 5) and book.best_ask() == (101, 3)
    book.apply([(100, 9)], [(102, 4)])  # replace the best qty; a better ask arrives
    assert book.best_bid() == (100, 9) and book.best_ask() == (101, 3)
    book.apply([(100, 0)], [(101, 0)])  # remove both bests: next levels surface
    assert book.best_bid() == (99, 7) and book.best_ask() == (102, 4)
    book.apply([(99, 0)], [(102, 0), (103, 0)])
    assert book.best_bid() is None and book.best_ask() is None
    assert book.bid_count == 0 and book.ask_count == 0


def test_a_removed_best_that_returns_is_the_best_again() -> None:
    book = L2Book("X")
    book.apply([(100, 1), (98, 1)], [])
    book.apply([(100, 0)], [])
    book.apply([(100, 2)], [])
    assert book.best_bid() == (100, 2)
    book.apply([(100, 0)], [])
    assert book.best_bid() == (98, 1)


def test_removing_an_absent_level_changes_nothing() -> None:
    book = L2Book("X")
    book.apply([(100, 1)], [(101, 1)])
    book.apply([(50, 0)], [(500, 0)])
    assert book.best_bid() == (100, 1) and book.best_ask() == (101, 1)
    assert book.bid_levels() == {100: 1} and book.ask_levels() == {101: 1}


def test_top_n_is_sorted_best_first_and_snapshot_round_trips() -> None:
    book = L2Book("X")
    book.load([(p, p) for p in range(90, 100)], [(p, p) for p in range(101, 111)])
    bids, asks = book.top(3)
    assert bids == [(99, 99), (98, 98), (97, 97)]
    assert asks == [(101, 101), (102, 102), (103, 103)]
    assert book.top(100)[0][-1] == (90, 90)
    snapshot = book.snapshot(last_update_id=7)
    assert isinstance(snapshot, BookSnapshot) and snapshot.last_update_id == 7
    other = L2Book("X")
    other.load_snapshot(snapshot)
    assert other == book and other.same_levels(book)
    other.apply([(90, 0)], [])
    assert other != book


def test_crossed_book_is_detected() -> None:
    book = L2Book("X")
    book.apply([(100, 1)], [(101, 1)])
    assert not book.is_crossed()
    book.apply([(101, 1)], [])
    assert book.is_crossed()
    book.apply([(101, 0)], [])
    assert not book.is_crossed()


def test_dead_heap_entries_are_compacted_so_memory_stays_bounded() -> None:
    book = L2Book("X")
    for round_ in range(200):
        book.apply([(1000 + i + round_, 1) for i in range(50)], [])
        book.apply([(1000 + i + round_, 0) for i in range(50)], [])
    assert book.bid_count == 0
    assert len(book._bid_heap) <= 2 * book.bid_count + 64 + 50
    assert book.best_bid() is None


def test_load_skips_zero_quantities_and_clear_empties() -> None:
    book = L2Book("X")
    book.load([(100, 0), (99, 1)], [(101, 0), (102, 2)])
    assert book.best_bid() == (99, 1) and book.best_ask() == (102, 2)
    book.clear()
    assert book.best_bid() is None and book.top(5) == ([], [])
    assert "bids=0" in repr(book)


# --- apply_text_crossed: the sync hot path -------------------------------------------------

_units = st.integers(min_value=0, max_value=40)
_text_levels = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=30).map(lambda p: format_fixed(p, 8)),
        # Canonical removals, other zero spellings, trimmed and full forms.
        st.one_of(
            _units.map(lambda q: format_fixed(q, 8)),
            _units.map(lambda q: format_fixed(q, 8, -1)),
            st.sampled_from(["0", "0.0", "00.00000000", "0.000000000"]),
        ),
    ),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_text_levels, _text_levels), min_size=1, max_size=15))
def test_apply_text_crossed_reports_is_crossed_and_applies_like_parse_fixed(
    batches: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]],
) -> None:
    fast = L2Book("X", price_memo=3)  # tiny memo: exercises clearing
    reference = L2Book("X")
    for bids, asks in batches:
        crossed = fast.apply_text_crossed(bids, asks)
        reference.apply(
            [(parse_fixed(p, 8), parse_fixed(q, 8)) for p, q in bids],
            [(parse_fixed(p, 8), parse_fixed(q, 8)) for p, q in asks],
        )
        assert crossed is reference.is_crossed()
        assert fast.same_levels(reference)
        assert fast.best_bid() == reference.best_bid() and fast.best_ask() == reference.best_ask()


def test_apply_text_crossed_rejects_malformed_levels_with_parse_error() -> None:
    for bad in (("1.00000000", "+1.00000000"), ("1.00000000", " 1.00000000"), ("1.00000000", "1_0.00000000"),
                ("1.00000000", "١.00000000"), ("1.00000000", ".00000001"), ("1.00000000", "1e8"),
                ("1.00000000", "1" * 21 + ".00000000"), ("1.00000000", 1), ("1.0.0000000", "1.00000000")):
        book = L2Book("X")
        with pytest.raises(ParseError):
            book.apply_text_crossed([bad], [])  # type: ignore[list-item]
        book = L2Book("X")
        with pytest.raises(ParseError):
            book.apply_text_crossed([], [bad])  # type: ignore[list-item]
