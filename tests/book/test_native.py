"""The compiled per-level loop (``stanchion.book._native``) against the Python reference path.

Every test builds two books, one with the compiled loop and one without
(``native=False``), feeds them the same decimal-string levels and demands the
same levels, the same best prices, the same crossed answer and the same error.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book import l2
from stanchion.book.l2 import L2Book
from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import format_fixed


def test_the_compiled_loop_is_built_by_the_install() -> None:
    # make test / make run install with it; a silently pure-Python book would be a slower product.
    assert l2.NATIVE_AVAILABLE
    assert L2Book("X").native
    assert not L2Book("X", native=False).native


def _pair() -> tuple[L2Book, L2Book]:
    return L2Book("X", native=True), L2Book("X", native=False)


def _outcome(book: L2Book, bids: object, asks: object) -> tuple[str, object]:
    try:
        return "ok", book.apply_text_crossed(bids, asks)  # type: ignore[arg-type]
    except ParseError as exc:
        return "ParseError", str(exc)


def _assert_same(native: L2Book, python: L2Book) -> None:
    assert native.same_levels(python)
    assert native.best_bid() == python.best_bid()
    assert native.best_ask() == python.best_ask()
    assert native.is_crossed() is python.is_crossed()


# Texts of every kind: the compiled loop's exact shape, and all the shapes it must hand back.
_units = st.integers(min_value=0, max_value=60)
_fast_price = st.integers(min_value=1, max_value=40).map(lambda p: format_fixed(p * 1_000_000, 8))
_other_text = st.one_of(
    _units.map(lambda q: format_fixed(q, 8, -1)),  # trimmed: "0.5", "3"
    st.sampled_from(["0", "0.0", "00.00000000", "0.000000000", "000000000000000001.00000000"]),
    # beyond 18 digits (valid: the Python path parses them) and beyond int64
    st.integers(min_value=10**10, max_value=10**20 - 1).map(lambda w: f"{w}.00000000"),
    # malformed: the Python path raises
    st.sampled_from(["1e8", "+1.00000000", " 1.00000000", "1_0.00000000", "١.00000000", ".00000001", "1.0.000000", ""]),
)
_text = st.one_of(
    _units.map(lambda q: format_fixed(q, 8)),
    _units.map(lambda q: format_fixed(q * 100_000_000, 8)),
    _other_text,
)
_level = st.one_of(
    st.tuples(_fast_price, _text),
    st.tuples(_fast_price, _text).map(list),
    st.tuples(_other_text, _text),
    st.sampled_from([(1, "1.00000000"), ("1.00000000",), ("1.00000000", "1.00000000", "1.00000000"), None]),
)
_fast_level = st.tuples(_fast_price, _units.map(lambda q: format_fixed(q, 8)))
_side = st.one_of(
    st.lists(_fast_level, max_size=8),
    st.lists(_fast_level, max_size=8).map(tuple),
    st.lists(st.one_of(_fast_level, _fast_level, _fast_level, _level), max_size=8),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_side, _side), min_size=1, max_size=20))
def test_the_compiled_loop_applies_exactly_what_the_python_path_applies(
    batches: list[tuple[list[object], list[object]]],
) -> None:
    native, python = _pair()
    for bids, asks in batches:
        assert _outcome(native, bids, asks) == _outcome(python, bids, asks)
        _assert_same(native, python)


def test_a_malformed_level_stops_the_loop_after_the_levels_before_it() -> None:
    native, python = _pair()
    bids = [("10.00000000", "1.00000000"), ("11.00000000", "1e3"), ("12.00000000", "1.00000000")]
    for book in (native, python):
        with pytest.raises(ParseError, match="1e3"):
            book.apply_text_crossed(bids, [])
    _assert_same(native, python)
    assert native.bid_levels() == {1_000_000_000: 100_000_000}  # the first level only


def test_levels_that_are_not_a_list_or_tuple_go_through_the_python_path() -> None:
    native, python = _pair()
    levels = [("10.00000000", "1.00000000"), ("9.00000000", "2.00000000")]
    native.apply_text_crossed(iter(levels), (lvl for lvl in [("12.00000000", "1.00000000")]))
    python.apply_text_crossed(levels, [("12.00000000", "1.00000000")])
    _assert_same(native, python)


def test_sentinels_round_trip_empty_dirty_and_beyond_int64_best() -> None:
    native, python = _pair()
    steps: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = [
        ([("10.00000000", "1.00000000")], [("12.00000000", "1.00000000")]),  # empty -> real
        ([("10.00000000", "0.00000000")], [("12.00000000", "0.00000000")]),  # best removed -> dirty -> empty
        ([("9.00000000", "1.00000000"), ("8.00000000", "1.00000000")], []),
        ([("9.00000000", "0.00000000")], []),  # dirty; the next read recomputes 8
        ([("99999999999999999999.00000000", "1.00000000")], []),  # a bid beyond int64: the Python path
        ([("7.00000000", "1.00000000")], [("100000000000000000000.00000000", "1.00000000")]),
        ([("99999999999999999999.00000000", "0.00000000")], []),  # the big best removed
        ([], [("5.00000000", "1.00000000")]),  # crosses 8
    ]
    for bids, asks in steps:
        assert _outcome(native, bids, asks) == _outcome(python, bids, asks)
        _assert_same(native, python)
    assert native.is_crossed()


def test_a_crossed_diff_is_reported_by_both_paths() -> None:
    native, python = _pair()
    for book in (native, python):
        assert book.apply_text_crossed([("10.00000000", "1.00000000")], [("11.00000000", "1.00000000")]) is False
        assert book.apply_text_crossed([("11.00000000", "1.00000000")], []) is True


def test_dead_heap_entries_are_compacted_on_the_compiled_path_too() -> None:
    book = L2Book("X", native=True)
    for i in range(2_000):
        price = format_fixed(1_000_000 + i, 8)
        book.apply_text_crossed([(price, "1.00000000")], [])
        book.apply_text_crossed([(price, "0.00000000")], [])
    assert len(book._bid_heap) <= 2 * book.bid_count + 64 + 1


def test_the_compiled_loop_does_not_leak() -> None:
    book = L2Book("X", native=True)
    diffs = [
        (
            [(format_fixed(1_000_000 + (i * 7 + j) % 300, 8), format_fixed((i + j) % 5, 8)) for j in range(10)],
            [(format_fixed(2_000_000 + (i * 5 + j) % 300, 8), format_fixed((i * j) % 4, 8)) for j in range(10)],
        )
        for i in range(200)
    ]
    for bids, asks in diffs:  # warm: every level that will exist exists
        book.apply_text_crossed(bids, asks)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(3):
            for bids, asks in diffs:
                book.apply_text_crossed(bids, asks)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):  # 400,000 level updates
            for bids, asks in diffs:
                book.apply_text_crossed(bids, asks)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # One leaked int per level update would be ~12 MB; the book's own size is constant.
    assert grown < 64 * 1024, grown


def test_requiring_the_compiled_loop_when_it_is_absent_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(l2, "_native_module", None)
    with pytest.raises(RuntimeError, match="not built"):
        L2Book("X", native=True)
    assert not L2Book("X").native


# --- the JSON-array entry point (apply_json_crossed / on_json_diff): the production path ----------

def _json_outcome(book: L2Book, bids: bytes, asks: bytes) -> tuple[str, object]:
    try:
        return "ok", book.apply_json_crossed(bids, asks)
    except ParseError:
        return "ParseError", None


_json_side = st.lists(st.tuples(st.one_of(_fast_price, _other_text), _text), max_size=8)
_encodings = st.sampled_from(("compact", "spaced", "escaped"))


def _encode(levels: list[tuple[str, str]], how: str) -> bytes:
    if how == "compact":
        return msgspec.json.encode(levels)
    if how == "spaced":
        return json.dumps(levels, indent=1).encode()
    return json.dumps(levels, ensure_ascii=True).replace('"1', '"\\u0031').encode()  # escapes: the fallback


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_json_side, _json_side, _encodings), min_size=1, max_size=20))
def test_json_levels_apply_exactly_as_their_decoded_strings(
    batches: list[tuple[list[tuple[str, str]], list[tuple[str, str]], str]],
) -> None:
    native, python, text = L2Book("X", native=True), L2Book("X", native=False), L2Book("X", native=False)
    for bids, asks, how in batches:
        bids_json, asks_json = _encode(bids, how), _encode(asks, how)
        expected = _outcome(text, bids, asks)
        got_native = _json_outcome(native, bids_json, asks_json)
        got_python = _json_outcome(python, msgspec.Raw(bids_json), memoryview(asks_json))
        assert got_native[0] == got_python[0] == expected[0]
        if expected[0] == "ParseError":
            # The book must be discarded (levels before the bad one may be applied): start again.
            native, python, text = L2Book("X", native=True), L2Book("X", native=False), L2Book("X", native=False)
            continue
        assert got_native[1] == got_python[1] == expected[1]
        _assert_same(native, text)
        _assert_same(python, text)


@pytest.mark.parametrize(
    "levels_json",
    [
        b'[["1.00000000","1.00000000"],',  # truncated
        b'[["1.00000000","1.00000000"]] x',  # trailing bytes
        b'[["1.00000000","1.00000000"]]]',
        b'[["1.00000000",1.0]]',  # a number, not a string
        b'[["1.00000000"]]',  # one element
        b'[["1.00000000","1.00000000","2"]]',
        b'{"1.00000000":"1.00000000"}',
        b"",
        b'[["1.00000000","1e8"]]',
    ],
)
def test_malformed_json_levels_are_a_parse_error_on_both_paths(levels_json: bytes) -> None:
    for native in (True, False):
        with pytest.raises(ParseError):
            L2Book("X", native=native).apply_json_crossed(levels_json, b"[]")
        with pytest.raises(ParseError):
            L2Book("X", native=native).apply_json_crossed(b"[]", levels_json)


def test_json_levels_from_a_real_binance_frame() -> None:
    from stanchion.venues.binance.codec import BinanceCodec

    frame = (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000000,"s":"BTCUSDT",'
        b'"U":157,"u":160,"b":[["0.00120000","10.00000000"],["0.00110000","0.00000000"]],'
        b'"a":[["0.00130000","100.50000000"]]}}'
    )
    wire = BinanceCodec().depth_wire(frame)
    assert wire is not None
    native, python = _pair()
    for book in (native, python):
        book.apply_json_crossed(wire.b, wire.a)
    _assert_same(native, python)
    assert native.best_bid() == (120_000, 1_000_000_000)
    assert native.best_ask() == (130_000, 10_050_000_000)


def test_a_best_beyond_int64_survives_a_json_diff_that_does_not_touch_it() -> None:
    # Regression: the compiled loop handed back -1 (empty) instead of the best it could not hold.
    native, python = _pair()
    for book in (native, python):
        book.apply_json_crossed(b'[["92233720369.00000000","0.00000001"]]', b"[]")
        book.apply_json_crossed(b"[]", b'[["0.01000000","0.00000001"]]')
    _assert_same(native, python)
    assert native.best_bid() == (9_223_372_036_900_000_000, 1)
    assert native.is_crossed()
