"""``_reflex.Reflex``, the armed orders' trigger check in C, against its contract and a
reference written here with ``json`` and ``decimal.Decimal``.

The module must be built (``make test`` builds it): a missing one fails here. The real
capture in ../shared/fixtures must be present: a missing one fails, never skips.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import weakref
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.venues.binance._reflex import Reflex
from stanchion.venues.binance.reflex import PyReflex
from tests.venues.binance.capture import capture_dir, read_ws

DOCS = Path(__file__).parent / "docs_examples"

# The example of the brief: best bid 54000.01 (53999.00 is a removal), best ask 54001.00.
FRAME = (
    b'{"e":"depthUpdate","E":1700000000123,"s":"BTCUSDT","U":157,"u":160,'
    b'"b":[["54000.01","0.5"],["53999.00","0.00000000"]],"a":[["54001.00","1.2"]]}'
)


def frame(
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    symbol: str = "BTCUSDT",
    first: int = 157,
    final: int = 160,
) -> bytes:
    """A depthUpdate frame in Binance's exact compact shape."""
    return (
        f'{{"e":"depthUpdate","E":1700000000123,"s":"{symbol}","U":{first},"u":{final},'
        f'"b":{json.dumps([list(level) for level in bids], separators=(",", ":"))},'
        f'"a":{json.dumps([list(level) for level in asks], separators=(",", ":"))}}}'
    ).encode()


def live(symbol: str = "BTCUSDT", next_update_id: int = 158) -> Reflex:
    reflex = Reflex()
    reflex.set_next(symbol, next_update_id)
    return reflex


def fired_by(frame_bytes: bytes, *triggers: tuple[bool, int, int], next_update_id: int = 158) -> list[int]:
    """Indices of the (is_buy, limit, scale) triggers that frame fires, on a LIVE BTCUSDT book."""
    reflex = live(next_update_id=next_update_id)
    handles = [object() for _ in triggers]
    for (is_buy, limit, scale), handle in zip(triggers, handles, strict=True):
        reflex.arm("BTCUSDT", is_buy, limit, scale, handle)
    fired = reflex.match(frame_bytes)
    assert fired is None or len(fired) > 0
    return [handles.index(h) for h in fired or ()]


# --- the condition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "fires"),
    [(5400100, True), (5400101, True), (9_000_000_000, True), (5400099, False), (1, False)],
)
def test_a_buy_fires_on_an_ask_at_or_below_its_limit(limit: int, fires: bool) -> None:
    assert fired_by(FRAME, (True, limit, 2)) == ([0] if fires else [])


@pytest.mark.parametrize(
    ("limit", "fires"),
    [(5400001, True), (5400000, True), (1, True), (5400002, False), (9_000_000_000, False)],
)
def test_a_sell_fires_on_a_bid_at_or_above_its_limit(limit: int, fires: bool) -> None:
    assert fired_by(FRAME, (False, limit, 2)) == ([0] if fires else [])


def test_a_buy_looks_only_at_asks_and_a_sell_only_at_bids() -> None:
    crossed = frame(bids=[("100", "1")], asks=[])  # a bid far above any buy limit
    assert fired_by(crossed, (True, 1000, 0)) == []
    crossed = frame(bids=[], asks=[("1", "1")])
    assert fired_by(crossed, (False, 1, 0)) == []


def test_zero_quantity_levels_never_fire() -> None:
    removals = frame(bids=[("99999", "0"), ("5", "0.00000000")], asks=[("0.00000001", "0.0"), ("1", "0.000")])
    assert fired_by(removals, (True, 2**63 - 1, 0), (False, 1, 18)) == []
    # the best level is a removal: the next one decides
    mixed = frame(bids=[("101", "0.00000000"), ("99", "1")], asks=[("100", "0"), ("102", "0.00000001")])
    assert fired_by(mixed, (True, 101, 0), (False, 100, 0)) == []
    assert fired_by(mixed, (True, 102, 0), (False, 99, 0)) == [0, 1]


def test_a_price_with_more_fractional_digits_than_the_scale_compares_exactly() -> None:
    limit = 5400001  # 54000.01 at scale 2
    assert fired_by(frame([], [("54000.010", "1")]), (True, limit, 2)) == [0]
    assert fired_by(frame([], [("54000.011", "1")]), (True, limit, 2)) == []
    assert fired_by(frame([], [("54000.009999999999", "1")]), (True, limit, 2)) == [0]
    assert fired_by(frame([("54000.009", "1")], []), (False, limit, 2)) == []
    assert fired_by(frame([("54000.010", "1")], []), (False, limit, 2)) == [0]
    assert fired_by(frame([("54000.0100000000001", "1")], []), (False, limit, 2)) == [0]


def test_a_limit_with_fewer_digits_than_the_scale_allows() -> None:
    # 54000.1 at scale 8 is 5400010000000; the wire writes 54000.10000000
    assert fired_by(frame([], [("54000.10000000", "1")]), (True, 5400010000000, 8)) == [0]
    assert fired_by(frame([], [("54000.10000001", "1")]), (True, 5400010000000, 8)) == []
    assert fired_by(frame([("54000.1", "1")], []), (False, 5400010000000, 8)) == [0]


def test_scale_zero() -> None:
    assert fired_by(frame([], [("54000.00000000", "1")]), (True, 54000, 0)) == [0]
    assert fired_by(frame([], [("54000.00000001", "1")]), (True, 54000, 0)) == []
    assert fired_by(frame([("53999.99999999", "1")], []), (False, 54000, 0)) == []
    assert fired_by(frame([("54000", "1")], []), (False, 54000, 0)) == [0]


def test_scale_eight() -> None:
    asks = frame([], [("0.35290000", "10968.00000000")])
    assert fired_by(asks, (True, 35290000, 8), (True, 35289999, 8), (True, 35290001, 8)) == [0, 2]
    bids = frame([("0.35130000", "6195.00000000")], [])
    assert fired_by(bids, (False, 35130000, 8), (False, 35130001, 8), (False, 35129999, 8)) == [0, 2]


def test_scale_eighteen_and_the_largest_limit() -> None:
    tiny = frame([("0.000000000000000001", "1")], [("0.000000000000000001", "1")])
    assert fired_by(tiny, (True, 1, 18), (False, 1, 18), (False, 2, 18)) == [0, 1]
    # 2**63 - 1 at scale 9 is 9223372036.854775807 (19 digits: no wire price equals it)
    big = frame([("9223372036.85477581", "1")], [("9223372036.85477580", "1")])
    assert fired_by(big, (False, 2**63 - 1, 9), (True, 2**63 - 1, 9), (True, 9223372036854775799, 9)) == [0, 1]
    assert fired_by(frame([], [("922337203685477580", "1")]), (True, 2**63 - 1, 0)) == [0]


def test_eighteen_significant_digits_are_read_and_nineteen_are_not() -> None:
    for price in ("123456789012345678", "1234567890.12345678", "0.000123456789012345678", "1.00000000000000000000000"):
        assert fired_by(frame([], [(price, "1")]), (True, 2**63 - 1, 0)) == [0], price
    for price in ("1234567890123456789", "1234567890.123456789", "0.1234567890123456789"):
        assert fired_by(frame([], [(price, "1")]), (True, 2**63 - 1, 0)) == [], price


# --- sequencing and symbols ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_update_id", "fires"),
    [(0, False), (156, False), (157, True), (158, True), (160, True), (161, False), (2**63 - 1, False)],
)
def test_only_a_frame_in_the_live_books_sequence_fires(next_update_id: int, fires: bool) -> None:
    assert fired_by(FRAME, (True, 2**63 - 1, 0), next_update_id=next_update_id) == ([0] if fires else [])


def test_a_symbol_starts_not_live_and_set_next_zero_stops_it() -> None:
    reflex = Reflex()
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "h")
    assert reflex.match(FRAME) is None
    reflex.set_next("BTCUSDT", 158)
    reflex.set_next("BTCUSDT", 0)
    assert reflex.match(FRAME) is None
    reflex.set_next("BTCUSDT", 157)
    assert reflex.match(FRAME) == ("h",)


def test_a_frame_in_sequence_does_not_move_the_expected_id() -> None:
    reflex = live()
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "first")
    assert reflex.match(FRAME) == ("first",)
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "second")
    assert reflex.match(FRAME) == ("second",)  # still 158: the book code calls set_next


def test_another_symbols_frame_or_book_does_not_fire() -> None:
    reflex = live("ETHUSDT", 158)
    reflex.arm("ETHUSDT", True, 2**63 - 1, 0, "eth")
    reflex.set_next("BTCUSDT", 158)
    assert reflex.match(FRAME) is None  # a BTCUSDT frame: no BTCUSDT trigger
    reflex.arm("BTCUSD", True, 2**63 - 1, 0, "prefix")  # a prefix of the frame's symbol
    reflex.arm("BTCUSDTX", True, 2**63 - 1, 0, "longer")
    reflex.set_next("BTCUSD", 158)
    reflex.set_next("BTCUSDTX", 158)
    assert reflex.match(FRAME) is None
    assert reflex.count == 3
    assert reflex.match(frame([], [("1", "1")], symbol="ETHUSDT")) == ("eth",)


def test_triggers_fired_together_come_in_arm_order_and_are_removed() -> None:
    reflex = live()
    reflex.set_next("ETHUSDT", 158)
    reflex.arm("BTCUSDT", False, 5400001, 2, "sell at the bid")
    reflex.arm("BTCUSDT", True, 5400099, 2, "buy below the ask")
    reflex.arm("ETHUSDT", True, 2**63 - 1, 0, "other symbol")
    reflex.arm("BTCUSDT", True, 54001, 0, "buy at the ask")
    reflex.arm("BTCUSDT", True, 540020, 1, "buy above the ask")
    assert reflex.count == 5
    assert reflex.match(FRAME) == ("sell at the bid", "buy at the ask", "buy above the ask")
    assert reflex.count == 2
    assert reflex.match(FRAME) is None
    assert reflex.disarm_all() == ["buy below the ask", "other symbol"]


def test_thousands_of_triggers_over_hundreds_of_symbols() -> None:
    reflex = Reflex()
    symbols = [f"S{i}USDT" for i in range(301)]
    handles = [object() for _ in range(5000)]
    for i, handle in enumerate(handles):
        reflex.arm(symbols[i % 301], i % 2 == 0, 1000 + i, 0, handle)
    for symbol in symbols:
        reflex.set_next(symbol, 158)
    assert reflex.count == 5000
    fired = reflex.match(frame([("100000", "1")], [("100000", "1")], symbol="S7USDT"))
    want = [h for i, h in enumerate(handles) if i % 301 == 7 and i % 2 == 1]  # every sell of S7USDT
    assert fired is not None
    assert list(fired) == want
    assert reflex.count == 5000 - len(want)
    left = reflex.disarm_all()
    assert left == [h for h in handles if all(h is not w for w in want)]
    assert reflex.count == 0


# --- arming, disarming, arguments -------------------------------------------------------------


def test_disarm() -> None:
    reflex = live()
    handle = object()
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, handle)
    assert reflex.disarm(handle) is True
    assert reflex.count == 0
    assert reflex.disarm(handle) is False
    assert reflex.disarm(object()) is False
    assert reflex.match(FRAME) is None
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, handle)  # armed again once disarmed
    assert reflex.match(FRAME) == (handle,)


def test_disarm_all_returns_every_handle_in_arm_order() -> None:
    reflex = Reflex()
    assert reflex.disarm_all() == []
    order = ["a", "b", "c", "d", "e"]
    for handle, symbol in zip(order, ["ETHUSDT", "BTCUSDT", "ETHUSDT", "BNBBTC", "BTCUSDT"], strict=True):
        reflex.arm(symbol, True, 1, 0, handle)
    reflex.disarm("c")
    assert reflex.disarm_all() == ["a", "b", "d", "e"]
    assert reflex.count == 0
    reflex.set_next("BTCUSDT", 158)
    assert reflex.match(FRAME) is None
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "f")
    assert reflex.match(FRAME) == ("f",)


def test_handles_are_told_apart_by_identity() -> None:
    reflex = Reflex()
    first, equal = [1], [1]
    reflex.arm("BTCUSDT", True, 1, 0, first)
    reflex.arm("BTCUSDT", True, 1, 0, equal)  # equal, not the same object
    with pytest.raises(ValueError, match="already armed"):
        reflex.arm("BTCUSDT", True, 1, 0, first)
    with pytest.raises(ValueError, match="already armed"):
        reflex.arm("ETHUSDT", False, 7, 3, first)  # on another symbol too
    assert reflex.count == 2
    assert reflex.disarm([1]) is False


@pytest.mark.parametrize("symbol", ["", "btcusdt", "BTC-USDT", "BTC USDT", "A" * 21, "BTCUSDT\x00", "ÄBC", "BTC\u0663"])
def test_a_symbol_that_is_not_binances_is_a_value_error(symbol: str) -> None:
    reflex = Reflex()
    with pytest.raises(ValueError, match="symbol"):
        reflex.arm(symbol, True, 1, 0, object())
    with pytest.raises(ValueError, match="symbol"):
        reflex.set_next(symbol, 1)
    assert reflex.count == 0


def test_the_longest_symbol_is_accepted() -> None:
    reflex = live("A" * 20, 1)
    reflex.arm("A" * 20, True, 1, 0, "h")
    assert reflex.match(frame([], [("1", "1")], symbol="A" * 20, first=1, final=1)) == ("h",)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"BTCUSDT", True, 1, 0), TypeError),
        (("BTCUSDT", 1, 1, 0), TypeError),
        (("BTCUSDT", "BUY", 1, 0), TypeError),
        (("BTCUSDT", True, 1.0, 0), TypeError),
        (("BTCUSDT", True, True, 0), TypeError),
        (("BTCUSDT", True, 1, "2"), TypeError),
        (("BTCUSDT", True, 0, 0), ValueError),
        (("BTCUSDT", True, -5, 0), ValueError),
        (("BTCUSDT", True, 2**63, 0), ValueError),
        (("BTCUSDT", True, 10**30, 0), ValueError),
        (("BTCUSDT", True, 1, -1), ValueError),
        (("BTCUSDT", True, 1, 19), ValueError),
    ],
)
def test_arm_checks_its_arguments(args: tuple[object, ...], error: type[Exception]) -> None:
    reflex = Reflex()
    with pytest.raises(error):
        reflex.arm(*args, object())  # type: ignore[arg-type,call-arg]
    assert reflex.count == 0


def test_set_next_checks_its_arguments() -> None:
    reflex = Reflex()
    with pytest.raises(ValueError, match="next_update_id"):
        reflex.set_next("BTCUSDT", -1)
    with pytest.raises(ValueError, match="next_update_id"):
        reflex.set_next("BTCUSDT", 2**63)
    with pytest.raises(TypeError):
        reflex.set_next("BTCUSDT", "158")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reflex.set_next("BTCUSDT")  # type: ignore[call-arg]
    reflex.set_next("BTCUSDT", 2**63 - 1)


def test_arguments_may_be_given_by_name() -> None:
    reflex = Reflex()
    reflex.set_next(symbol="BTCUSDT", next_update_id=158)
    reflex.arm(symbol="BTCUSDT", is_buy=True, limit=54001, scale=0, handle="h")
    assert reflex.match(frame=FRAME) == ("h",)
    reflex.arm("BTCUSDT", True, 54001, 0, handle="h")
    assert reflex.disarm(handle="h") is True
    with pytest.raises(TypeError, match="unexpected keyword"):
        reflex.match(data=FRAME)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        reflex.arm("BTCUSDT", True, 1, 0, "h", symbol="BTCUSDT")  # type: ignore[misc]
    with pytest.raises(TypeError):
        reflex.match(FRAME, FRAME)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Reflex(1)  # type: ignore[call-arg]


@pytest.mark.parametrize("not_bytes", [FRAME.decode(), bytearray(FRAME), memoryview(FRAME), None, 0])
def test_a_frame_that_is_not_bytes_is_a_type_error(not_bytes: object) -> None:
    reflex = live()
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "h")
    with pytest.raises(TypeError, match="bytes"):
        reflex.match(not_bytes)  # type: ignore[arg-type]
    assert reflex.count == 1


def test_paused() -> None:
    reflex = live()
    assert reflex.paused is False
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, "h")
    reflex.paused = True
    assert reflex.paused is True
    assert reflex.match(FRAME) is None
    assert reflex.count == 1
    reflex.paused = False
    assert reflex.match(FRAME) == ("h",)
    with pytest.raises(TypeError):
        reflex.paused = 1  # type: ignore[assignment]
    with pytest.raises(TypeError):
        del reflex.paused
    with pytest.raises(AttributeError):
        reflex.count = 3  # type: ignore[misc]


# --- references --------------------------------------------------------------------------------


def test_a_handle_is_released_when_fired_disarmed_or_with_the_reflex() -> None:
    handle = object()
    baseline = sys.getrefcount(handle)
    reflex = live()
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, handle)
    assert sys.getrefcount(handle) == baseline + 1
    fired = reflex.match(FRAME)
    assert fired == (handle,)
    del fired
    assert sys.getrefcount(handle) == baseline

    reflex.arm("BTCUSDT", True, 1, 0, handle)
    assert reflex.match(FRAME) is None  # not fired: still held once
    assert sys.getrefcount(handle) == baseline + 1
    assert reflex.disarm(handle)
    assert sys.getrefcount(handle) == baseline

    reflex.arm("BTCUSDT", True, 1, 0, handle)
    handles = reflex.disarm_all()
    assert sys.getrefcount(handle) == baseline + 1
    del handles
    assert sys.getrefcount(handle) == baseline

    reflex.arm("BTCUSDT", True, 1, 0, handle)
    with pytest.raises(ValueError, match="already armed"):
        reflex.arm("ETHUSDT", True, 1, 0, handle)
    assert sys.getrefcount(handle) == baseline + 1  # the refused arm kept nothing
    reflex.arm("ETHUSDT", True, 1, 0, object())
    del reflex
    assert sys.getrefcount(handle) == baseline


def test_a_handle_that_refers_to_its_reflex_is_collected() -> None:
    class Order:
        reflex: Reflex | None = None

    order = Order()
    order.reflex = Reflex()
    order.reflex.arm("BTCUSDT", True, 1, 0, order)
    gone = weakref.ref(order)
    del order
    gc.collect()
    assert gone() is None


class _Rearms:
    """A handle whose release arms another handle on the same reflex."""

    def __init__(self, reflex: Reflex) -> None:
        self.reflex = reflex

    def __del__(self) -> None:
        self.reflex.arm("BTCUSDT", True, 2**63 - 1, 0, object())


def test_a_released_handle_may_arm_again() -> None:
    reflex = live()
    reflex.arm("BTCUSDT", True, 1, 0, _Rearms(reflex))
    assert isinstance(reflex.disarm_all()[0], _Rearms)  # the list is dropped here: it arms one more
    assert reflex.count == 1
    reflex.arm("BTCUSDT", True, 2**63 - 1, 0, _Rearms(reflex))
    fired = reflex.match(FRAME)
    assert fired is not None
    assert len(fired) == 2
    del fired
    assert reflex.count == 1
    last = _Rearms(reflex)
    reflex.arm("BTCUSDT", True, 1, 0, last)
    gone = weakref.ref(last)
    del reflex, last
    gc.collect()  # a cycle through the handle: its finalizer arms into the reflex being cleared
    assert gone() is None


# --- frames it must not read -----------------------------------------------------------------


def _armed_everywhere(symbol: str = "BTCUSDT", next_update_id: int = 158) -> Reflex:
    """A reflex that fires on any readable frame of the symbol in sequence."""
    reflex = live(symbol, next_update_id)
    reflex.arm(symbol, True, 2**63 - 1, 0, "buy")
    reflex.arm(symbol, False, 1, 18, "sell")
    return reflex


def _real_depth_frames() -> list[bytes]:
    """The capture's depthUpdate frames, taken out of their combined-stream envelope."""
    marker = b'"data":'
    combined = [f for _, f in read_ws(capture_dir() / "BINANCE.ws.1.0") if b"depthUpdate" in f]
    assert len(combined) > 100, "the capture's depth frames are missing"
    return [f[f.index(marker) + len(marker) : -1] for f in combined]


def test_no_prefix_of_a_frame_fires() -> None:
    for full in [FRAME, _real_depth_frames()[1]]:
        symbol = json.loads(full)["s"]
        reflex = _armed_everywhere(symbol, json.loads(full)["U"])
        for end in range(len(full)):
            assert reflex.match(full[:end]) is None, full[:end]
        assert reflex.match(full) is not None


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f + b" ",
        lambda f: f + b"\n",
        lambda f: f + b"}",
        lambda f: f + b"\x00",
        lambda f: b" " + f,
        lambda f: f.replace(b",", b", ", 1),
        lambda f: f.replace(b'"b":', b'"b": '),
        lambda f: f.replace(b'["54001.00"', b'[ "54001.00"'),
        lambda f: f.replace(b'"1.2"]', b'"1.2" ]'),
        lambda f: f.replace(b":", b" :", 1),
        lambda f: f.replace(b"\n", b"") + b"\r\n",
        lambda f: b'{"stream":"btcusdt@depth@100ms","data":' + f + b"}",
        lambda f: b'{"stream":"btcusdt@depth","data":' + f + b"}",
        lambda f: f.replace(b"depthUpdate", b"depthUpdatf"),
        lambda f: f.replace(b'"e":"depthUpdate"', b'"e":"trade"'),
        lambda f: f.replace(b'"E":1700000000123,', b""),
        lambda f: f.replace(b'"E":1700000000123,', b'"E":1700000000123,"x":1,'),
        lambda f: f.replace(b'"E":1700000000123', b'"E":01700000000123'),
        lambda f: f.replace(b'"U":157', b'"U":-157'),
        lambda f: f.replace(b'"u":160', b'"u":1234567890123456789'),
        lambda f: f.replace(b'"u":160', b'"u":160.0'),
        lambda f: f.replace(b'"U":157,"u":160', b'"u":160,"U":157'),
        lambda f: f.replace(b'"s":"BTCUSDT"', b'"s":"btcusdt"'),
        lambda f: f.replace(b'"s":"BTCUSDT"', b'"s":"BTC\\u0055SDT"'),
        lambda f: f.replace(b'"s":"BTCUSDT"', b'"s":"BTCUSDT\xc3\x84"'),
        lambda f: f.replace(b'"b":', b'"a":', 1),
        lambda f: f.replace(b',"a":[["54001.00","1.2"]]', b""),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[["54001.00","1.2"],]'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[["54001.00","1.2","3"]]'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[["54001.00"]]'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[[54001.00,1.2]]'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[["54001.00","1.2"]'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":null'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":{}'),
        lambda f: f.replace(b'"a":[["54001.00","1.2"]]', b'"a":[["54001.00","1.2"]],"x":[]'),
    ],
)
def test_a_frame_of_another_shape_is_not_read(edit: Callable[[bytes], bytes]) -> None:
    edited = edit(FRAME)
    assert edited != FRAME
    assert _armed_everywhere().match(edited) is None
    assert _armed_everywhere().match(FRAME) == ("buy", "sell")  # the unedited frame fires both


_BAD_NUMBERS = ["", "-1", "+1", "1e5", "1E5", "1.5e-3", ".5", "5.", "01", "00.5", "1.2.3", "1,5", " 1", "1 ",
                "0x10", "NaN", "Infinity", "\u0661", "１", "1\\u0030"]
_TOO_PRECISE = ["12345678901234567890", "1.000000000000000001"]  # 19+ significant digits: a price only


@pytest.mark.parametrize("number", _BAD_NUMBERS + _TOO_PRECISE)
def test_a_bad_number_on_either_side_means_nothing_fires(number: str) -> None:
    reflex = _armed_everywhere()
    cases = [
        ([(number, "1")], [("1", "1")]),
        ([("100", "1")], [(number, "1")]),
        ([("100", "1"), (number, "1")], [("1", "1")]),  # after the best level
    ]
    if number not in _TOO_PRECISE:
        cases += [([("1", number)], [("1", "1")]), ([("100", "1")], [("1", number)])]
    for bids, asks in cases:
        assert reflex.match(frame(bids, asks)) is None, (bids, asks)
    only_buys = live()
    only_buys.arm("BTCUSDT", True, 2**63 - 1, 0, "buy")  # the bid side is not its side: still checked
    assert only_buys.match(frame([(number, "1")], [("1", "1")])) is None
    assert only_buys.match(frame([("1", "1")], [("1", "1")])) == ("buy",)


def test_empty_sides_and_huge_quantities_are_read() -> None:
    assert fired_by(frame([], []), (True, 2**63 - 1, 0), (False, 1, 18)) == []
    huge = "123456789012345678901234567890.123456789012345678901234567890"  # quantities have no digit limit
    assert fired_by(frame([("5", huge)], [("5", huge)]), (True, 5, 0), (False, 5, 0)) == [0, 1]
    assert fired_by(frame([("5", "0." + "0" * 40)], []), (False, 5, 0)) == []
    assert fired_by(frame([("5", "0." + "0" * 40 + "1")], []), (False, 5, 0)) == [0]


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=300), prefix=st.sampled_from([b"", FRAME[:40], FRAME[:75], FRAME[:-20]]))
def test_garbage_never_raises_and_never_fires(garbage: bytes, prefix: bytes) -> None:
    data = prefix + garbage
    if _armed_everywhere().match(data) is not None:
        assert _SHAPE.fullmatch(data) is not None, data  # only ever a frame of the exact shape


# --- against a reference --------------------------------------------------------------------------

_ID = rb"(0|[1-9][0-9]{0,17})"
_DECIMAL = rb"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
_LEVEL = rb'\["' + _DECIMAL + rb'","' + _DECIMAL + rb'"\]'
_LEVELS = rb"(\[(?:" + _LEVEL + rb"(?:," + _LEVEL + rb")*)?\])"
_SHAPE = re.compile(
    rb'\{"e":"depthUpdate","E":' + _ID + rb',"s":"([A-Z0-9]{1,20})","U":' + _ID + rb',"u":' + _ID
    + rb',"b":' + _LEVELS + rb',"a":' + _LEVELS + rb"\}"
)


def _significant_digits(price: str) -> int:
    whole, _, fraction = price.partition(".")
    return len((whole + fraction.rstrip("0")).lstrip("0"))


class ReferenceReflex:
    """The contract, plainly: the exact shape by regular expression, then json and Decimal."""

    def __init__(self) -> None:
        self.triggers: list[tuple[str, bool, Decimal, object]] = []
        self.next: dict[str, int] = {}

    def arm(self, symbol: str, is_buy: bool, limit: int, scale: int, handle: object) -> None:
        self.triggers.append((symbol, is_buy, Decimal(limit).scaleb(-scale), handle))

    def match(self, data: bytes) -> tuple[object, ...] | None:
        shape = _SHAPE.fullmatch(data)
        if shape is None:
            return None
        symbol = shape.group(2).decode()
        first, final = int(shape.group(3)), int(shape.group(4))
        bids, asks = json.loads(shape.group(5)), json.loads(shape.group(6))
        if any(_significant_digits(price) > 18 for price, _ in bids + asks):
            return None
        expected = self.next.get(symbol, 0)
        if expected == 0 or not first <= expected <= final:
            return None
        bid_prices = [Decimal(p) for p, q in bids if Decimal(q) != 0]
        ask_prices = [Decimal(p) for p, q in asks if Decimal(q) != 0]
        fired = [
            t
            for t in self.triggers
            if t[0] == symbol
            and (any(p <= t[2] for p in ask_prices) if t[1] else any(p >= t[2] for p in bid_prices))
        ]
        self.triggers = [t for t in self.triggers if all(t is not f for f in fired)]
        return tuple(t[3] for t in fired) or None


_SYMBOLS = ["BTCUSDT", "X"]


@st.composite
def _price(draw: st.DrawFn) -> str:
    """A decimal near the limits drawn below, written with 0 to 3 extra trailing zeros."""
    digits = draw(st.integers(min_value=0, max_value=2000))
    places = draw(st.integers(min_value=0, max_value=4))
    text = format(Decimal(digits).scaleb(-places), "f")
    zeros = draw(st.integers(min_value=0, max_value=3))
    if zeros:
        text += ("" if "." in text else ".") + "0" * zeros
    return text


@st.composite
def _limit(draw: st.DrawFn) -> tuple[int, int]:
    """(limit, scale): the same grid as the prices, sometimes at a finer scale."""
    digits = draw(st.integers(min_value=1, max_value=2000))
    places = draw(st.integers(min_value=0, max_value=4))
    extra = draw(st.sampled_from([0, 0, 0, 1, 6, 14]))
    scale = min(places + extra, 18)
    return digits * 10 ** (scale - places), scale


@st.composite
def _depth_frame(draw: st.DrawFn) -> bytes:
    quantity = st.sampled_from(["0", "0.00000000", "1", "0.00100000", "12.5"])
    levels = st.lists(st.tuples(_price(), quantity), max_size=4)
    bids, asks = draw(levels), draw(levels)
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # one bad number somewhere
        side = bids if draw(st.booleans()) or not asks else asks
        if side:
            at = draw(st.integers(min_value=0, max_value=len(side) - 1))
            price, qty = side[at]
            bad = draw(st.sampled_from(_BAD_NUMBERS + _TOO_PRECISE))
            side[at] = (bad, qty) if draw(st.booleans()) else (price, bad)
    first = draw(st.integers(min_value=1, max_value=4))
    final = first + draw(st.integers(min_value=-1, max_value=3))
    body = frame(bids, asks, symbol=draw(st.sampled_from(_SYMBOLS)), first=first, final=max(final, 0))
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # one edit of the shape
        body = draw(st.sampled_from([body + b" ", body[:-1], body.replace(b",", b", ", 1),
                                     body.replace(b'"b"', b'"B"'), b'{"stream":"x@depth","data":' + body + b"}"]))
    return body


@settings(max_examples=400, deadline=None)
@given(
    nexts=st.fixed_dictionaries({symbol: st.sampled_from([0, 2, 3, 3, 4]) for symbol in _SYMBOLS}),
    triggers=st.lists(st.tuples(st.sampled_from(_SYMBOLS), st.booleans(), _limit()), max_size=8),
    frames=st.lists(_depth_frame(), min_size=1, max_size=6),
)
def test_match_answers_as_the_reference_does(
    nexts: dict[str, int], triggers: list[tuple[str, bool, tuple[int, int]]], frames: list[bytes]
) -> None:
    for implementation in (Reflex, PyReflex):  # the compiled check and its Python fallback
        _answers_as_the_reference(implementation(), nexts, triggers, frames)


def _answers_as_the_reference(
    reflex: Reflex | PyReflex,
    nexts: dict[str, int],
    triggers: list[tuple[str, bool, tuple[int, int]]],
    frames: list[bytes],
) -> None:
    reference = ReferenceReflex()
    for symbol, next_update_id in nexts.items():
        reflex.set_next(symbol, next_update_id)
        reference.next[symbol] = next_update_id
    for symbol, is_buy, (limit, scale) in triggers:
        handle = object()
        reflex.arm(symbol, is_buy, limit, scale, handle)
        reference.arm(symbol, is_buy, limit, scale, handle)
    for data in frames:
        got, want = reflex.match(data), reference.match(data)
        assert (got is None) == (want is None), data
        assert got is None or want is None or [id(h) for h in got] == [id(h) for h in want], data
        assert reflex.count == len(reference.triggers)


# --- real frames ------------------------------------------------------------------------------------


def _best(levels: list[list[str]], lowest: bool) -> Decimal | None:
    prices = [Decimal(p) for p, q in levels if Decimal(q) != 0]
    return (min if lowest else max)(prices) if prices else None


def test_real_frames_fire_at_their_best_prices_and_not_a_tick_beyond() -> None:
    frames = _real_depth_frames()
    fired_any = 0
    for data in frames:
        wire = json.loads(data)
        reflex = Reflex()
        reflex.set_next(wire["s"], wire["U"])
        want: list[str] = []
        best_ask, best_bid = _best(wire["a"], lowest=True), _best(wire["b"], lowest=False)
        for scale in (0, 2, 4, 8, 12, 18):
            unit = Decimal(1).scaleb(-scale)
            if best_ask is not None:  # a buy at the lowest ask fires, one tick below does not
                at = int((best_ask / unit).to_integral_value(ROUND_CEILING))
                reflex.arm(wire["s"], True, at, scale, f"buy {at}e-{scale}")
                want.append(f"buy {at}e-{scale}")
                if at > 1:
                    reflex.arm(wire["s"], True, at - 1, scale, f"buy {at - 1}e-{scale}")
            elif scale == 0:  # no ask with a quantity: no buy fires at any limit
                reflex.arm(wire["s"], True, 2**63 - 1, 0, "any buy")
            if best_bid is not None:  # a sell at the highest bid fires, one tick above does not
                at = int((best_bid / unit).to_integral_value(ROUND_FLOOR))
                if at > 0:
                    reflex.arm(wire["s"], False, at, scale, f"sell {at}e-{scale}")
                    want.append(f"sell {at}e-{scale}")
                reflex.arm(wire["s"], False, at + 1, scale, f"sell {at + 1}e-{scale}")
            elif scale == 0:
                reflex.arm(wire["s"], False, 1, 18, "any sell")
        armed = reflex.count
        fired = reflex.match(data)
        assert list(fired or ()) == want, data
        assert reflex.count == armed - len(want)
        assert reflex.match(data) is None  # what fired is gone; the rest does not fire
        fired_any += bool(fired)
    assert fired_any > 100


def test_real_frames_out_of_sequence_do_not_fire() -> None:
    for data in _real_depth_frames():
        wire = json.loads(data)
        for next_update_id in (wire["U"] - 1, wire["u"] + 1, 0):
            reflex = _armed_everywhere(wire["s"], max(next_update_id, 0))
            assert reflex.match(data) is None
        crossed = _best(wire["a"], lowest=True) is not None or _best(wire["b"], lowest=False) is not None
        for next_update_id in (wire["U"], wire["u"]):
            reflex = _armed_everywhere(wire["s"], next_update_id)
            assert (reflex.match(data) is not None) == crossed


def test_the_binance_documentation_example_fires() -> None:
    example = json.loads((DOCS / "depth_update.json").read_text())
    data = json.dumps(example, separators=(",", ":")).encode()
    reflex = live("BNBBTC", 157)
    reflex.arm("BNBBTC", True, 26, 4, "buy at 0.0026")
    reflex.arm("BNBBTC", True, 25, 4, "buy at 0.0025")
    reflex.arm("BNBBTC", False, 24, 4, "sell at 0.0024")
    reflex.arm("BNBBTC", False, 2401, 6, "sell at 0.002401")
    assert reflex.match(data) == ("buy at 0.0026", "sell at 0.0024")
    assert reflex.match(json.dumps(example, indent=4).encode()) is None  # the docs' own layout is not read
