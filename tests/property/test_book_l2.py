"""L2Book against a naive reference (a dict of levels, sorted on every read)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book.l2 import L2Book
from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import format_fixed, parse_fixed

prices = st.integers(min_value=1, max_value=60)
qtys = st.one_of(st.just(0), st.integers(min_value=1, max_value=5))  # many removals
level = st.tuples(prices, qtys)
batch = st.tuples(st.lists(level, max_size=8), st.lists(level, max_size=8))


class Reference:
    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def apply(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return (
            sorted(self.bids.items(), reverse=True)[:n],
            sorted(self.asks.items())[:n],
        )


@settings(max_examples=300, deadline=None)
@given(st.lists(batch, max_size=40), st.integers(min_value=1, max_value=10))
def test_book_matches_reference_after_every_batch(batches: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]], depth: int) -> None:
    book = L2Book("X")
    reference = Reference()
    for bids, asks in batches:
        book.apply(bids, asks)
        reference.apply(bids, asks)
        ref_bids, ref_asks = reference.top(depth)
        assert book.best_bid() == (ref_bids[0] if ref_bids else None)
        assert book.best_ask() == (ref_asks[0] if ref_asks else None)
        assert book.top(depth) == (ref_bids, ref_asks)
        crossed = bool(ref_bids and ref_asks and ref_bids[0][0] >= ref_asks[0][0])
        assert book.is_crossed() is crossed
    assert book.bid_levels() == reference.bids and book.ask_levels() == reference.asks


@settings(max_examples=100, deadline=None)
@given(st.lists(batch, max_size=30), st.lists(batch, max_size=5))
def test_snapshot_load_then_updates_equals_updates_alone(
    first: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    then: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]],
) -> None:
    source = L2Book("X")
    for bids, asks in first:
        source.apply(bids, asks)
    copy = L2Book("X")
    copy.load_snapshot(source.snapshot(last_update_id=1))
    for bids, asks in then:
        source.apply(bids, asks)
        copy.apply(bids, asks)
        assert copy == source
        assert copy.best_bid() == source.best_bid() and copy.best_ask() == source.best_ask()


# --- the decimal-string path: exactly parse_fixed, or a ParseError ---------------------------

odd_text = st.text(alphabet="0123456789.-+e _١²\u00a0", max_size=30)
valid_text = st.integers(min_value=0, max_value=10**12).map(lambda v: format_fixed(v, 8))
trimmed_text = st.integers(min_value=0, max_value=10**12).map(lambda v: format_fixed(v, 8, -1))
text_level = st.tuples(st.one_of(valid_text, trimmed_text, odd_text), st.one_of(valid_text, trimmed_text, odd_text))


def _parse(text: str) -> int | None:
    try:
        return parse_fixed(text, 8)
    except ParseError:
        return None


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.lists(text_level, max_size=6), st.lists(text_level, max_size=6)), max_size=12),
       st.integers(min_value=1, max_value=4))
def test_apply_text_equals_apply_of_parse_fixed(
    batches: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]], memo: int
) -> None:
    text_book = L2Book("X", price_memo=memo)  # tiny memo: exercises clearing
    int_book = L2Book("X")
    for bids, asks in batches:
        parsed_bids = [(_parse(p), _parse(q)) for p, q in bids]
        parsed_asks = [(_parse(p), _parse(q)) for p, q in asks]
        valid = all(p is not None and q is not None for p, q in parsed_bids + parsed_asks)
        if valid:
            text_book.apply_text(bids, asks)
            int_book.apply(parsed_bids, parsed_asks)  # type: ignore[arg-type]
            assert text_book.same_levels(int_book)
            assert text_book.best_bid() == int_book.best_bid() and text_book.best_ask() == int_book.best_ask()
            assert text_book.parse_levels(bids) == tuple(parsed_bids)
        else:
            try:
                text_book.apply_text(bids, asks)
            except ParseError:
                pass
            else:
                raise AssertionError(f"accepted invalid levels {bids} {asks}")
            # A rejected message leaves the book unusable: start both again (the syncer resyncs).
            text_book.clear()
            int_book.clear()
