"""``LevelMap``, the compiled book side, against a plain ``dict[int, int]``.

A book side must behave exactly as the dict it replaces (the Python reference
path runs on both), whatever the keys: the prices of a real book (multiples of a
tick, so their low bits are all zero), colliding and deleted keys (the table's
backward-shift deletion), and the ints it cannot store unboxed (beyond int64, the
empty-slot marker INT64_MIN) that live in its side dict.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import MutableMapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book import l2
from stanchion.book._native import LevelMap
from stanchion.book.l2 import L2Book

INT64_MIN = -(2**63)

_keys = st.one_of(
    st.integers(min_value=0, max_value=40).map(lambda t: 3_000_000_000_000 + t * 1_000_000),  # ticks
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, 2**63 - 1, 2**63, 10**30, -(10**30)]),
)
_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([2**63, 10**40, -(2**64)]),
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _keys, _values),
        st.tuples(st.just("del"), _keys, st.none()),
        st.tuples(st.just("pop"), _keys, st.none()),
        st.tuples(st.just("clear"), st.none(), st.none()),
    ),
    max_size=120,
)


def _assert_like(m: LevelMap, d: dict[int, int]) -> None:
    assert len(m) == len(d)
    assert m == d and d == m
    assert not m.__ne__(d)
    assert dict(m) == d
    assert sorted(m) == sorted(d)
    assert sorted(m.keys()) == sorted(d.keys())
    assert sorted(m.items()) == sorted(d.items())
    assert sorted(m.values()) == sorted(d.values())
    for key in (0, -1, 3_000_000_000_000, 3_000_001_000_000, INT64_MIN, 2**63, 10**30, "x"):
        assert (key in m) == (key in d)  # present and absent, fast and wide
    for key, value in d.items():
        assert key in m
        assert m[key] == value
        assert m.get(key) == value


@settings(max_examples=400, deadline=None)
@given(_ops)
def test_a_levelmap_behaves_as_a_dict_of_ints(ops: list[tuple[str, int | None, int | None]]) -> None:
    m = LevelMap()
    d: dict[int, int] = {}
    for op, key, value in ops:
        if op == "set":
            assert key is not None and value is not None
            m[key] = value
            d[key] = value
        elif op == "del":
            assert key is not None
            if key in d:
                del m[key]
                del d[key]
            else:
                with pytest.raises(KeyError):
                    del m[key]
        elif op == "pop":
            assert key is not None
            assert m.pop(key, None) == d.pop(key, None)
        else:
            m.clear()
            d.clear()
        _assert_like(m, d)
    assert m.copy() == d


def test_many_colliding_tick_prices_survive_deletes_in_any_order() -> None:
    # 20,000 prices one tick apart (low 6 bits zero), grown through several resizes,
    # then every other one deleted: the probe chains must stay unbroken.
    m = LevelMap()
    d: dict[int, int] = {}
    for i in range(20_000):
        price = 3_000_000_000_000 + i * 1_000_000
        m[price] = i + 1
        d[price] = i + 1
    for i in range(0, 20_000, 2):
        price = 3_000_000_000_000 + i * 1_000_000
        del m[price]
        del d[price]
    for i in range(0, 20_000, 3):
        price = 3_000_000_000_000 + i * 1_000_000
        m[price] = 7
        d[price] = 7
    _assert_like(m, d)


def test_a_levelmap_rejects_what_a_book_side_cannot_hold() -> None:
    m = LevelMap([(1, 2)])
    with pytest.raises(TypeError, match="keys are ints"):
        m["1"] = 2  # type: ignore[index]
    with pytest.raises(TypeError, match="values are ints"):
        m[1] = 2.0  # type: ignore[assignment]
    assert "1" not in m  # a non-int key is simply absent
    assert m.get("1", "none") == "none"  # type: ignore[call-overload]
    with pytest.raises(KeyError):
        m[3]
    with pytest.raises(KeyError):
        m.pop(3)
    with pytest.raises(TypeError, match="unhashable"):
        hash(m)
    with pytest.raises(ValueError, match="pairs"):
        LevelMap([(1, 2, 3)])  # type: ignore[list-item]
    assert m == {1: 2} and m != {1: 3} and m != {1: 2, 2: 2}
    assert (m == [1]) is False
    assert repr(m) == "LevelMap({1: 2})"
    assert isinstance(m, MutableMapping)
    m[True] = 5  # a bool key is the int it equals
    assert m[1] == 5 and len(m) == 1


def test_levelmap_operations_do_not_leak() -> None:
    m = LevelMap()
    keys = [3_000_000_000_000 + i * 1_000_000 for i in range(500)] + [10**30, INT64_MIN]
    for k in keys:
        m[k] = 1
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            for k in keys:
                m[k] = i + 10**20 if k == 10**30 else i
                m.get(k)
                _ = k in m
            m.items()
            m.keys()
            dict(m)
            for k in keys[::2]:
                m.pop(k)
            for k in keys[::2]:
                m[k] = 1
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown


# --- L2Book.apply on int levels: the compiled apply_book_ints against the Python path ------------

_price = st.one_of(
    st.integers(min_value=1, max_value=30).map(lambda t: t * 1_000_000),
    st.sampled_from([0, 10**18 - 1, 10**18, 10**20, -5]),
)
_qty = st.one_of(st.integers(min_value=0, max_value=5), st.sampled_from([10**19, 2**63 - 1]))
_level = st.one_of(
    st.tuples(_price, _qty),
    st.tuples(_price, _qty),
    st.sampled_from([(True, 1), (1_000_000, False), [2_000_000, 1], (3_000_000,)]),
)
_levels = st.one_of(st.lists(_level, max_size=8), st.lists(_level, max_size=8).map(tuple))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_levels, _levels), min_size=1, max_size=20))
def test_apply_on_int_levels_is_the_python_paths_result(batches: list[tuple[list[object], list[object]]]) -> None:
    native, python = L2Book("X", native=True), L2Book("X", native=False)
    for bids, asks in batches:
        outcomes = []
        for book in (native, python):
            try:
                book.apply(bids, asks)  # type: ignore[arg-type]
                outcomes.append("ok")
            except (TypeError, ValueError) as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1]
        if outcomes[0] != "ok":
            return  # a level the Python path itself refuses: both books are discarded
        assert native.same_levels(python)
        assert native.best_bid() == python.best_bid()
        assert native.best_ask() == python.best_ask()
        assert native.is_crossed() is python.is_crossed()


def test_apply_takes_iterators_and_compacts_dead_heap_entries() -> None:
    native, python = L2Book("X", native=True), L2Book("X", native=False)
    for book in (native, python):
        for i in range(2_000):
            book.apply(iter([(1_000_000 + i, 1)]), (lvl for lvl in [(9_000_000 + i, 1)]))
            book.apply([(1_000_000 + i, 0)], [(9_000_000 + i, 0)])
    assert native.same_levels(python) and native.bid_count == 0
    assert len(native._bid_heap) <= 64 + 1 and len(native._ask_heap) <= 64 + 1


def test_books_with_and_without_the_module_compare_equal() -> None:
    assert l2.NATIVE_AVAILABLE
    native, python = L2Book("X", native=True), L2Book("X", native=False)
    for book in (native, python):
        book.load([(5_000_000, 2), (4_000_000, 0), (10**30, 1)], [(6_000_000, 3)])
    assert native == python and python == native
    assert native.bid_levels() == {5_000_000: 2, 10**30: 1} == python.bid_levels()
    assert native.top(5) == python.top(5)
