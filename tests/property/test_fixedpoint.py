"""Fixed-point numbers: exact parse/format, arithmetic and rounding, strict rejection."""

from __future__ import annotations

from decimal import Decimal, getcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import (
    MAX_WHOLE_DIGITS,
    Rounding,
    format_fixed,
    mul_div,
    notional,
    parse_fixed,
    parse_signed_fixed,
    rescale,
    round_to_increment,
)

scales = st.integers(min_value=0, max_value=18)
# Reference arithmetic must be exact too: 28 digits is not enough for 10**20 at scale 18.
getcontext().prec = 100


@st.composite
def canonical(draw: st.DrawFn) -> tuple[str, int]:
    """A decimal string with exactly ``scale`` decimals, as Binance sends them."""
    scale = draw(scales)
    whole = draw(st.integers(min_value=0, max_value=10**12))
    frac = draw(st.integers(min_value=0, max_value=10**scale - 1)) if scale else 0
    text = f"{whole}.{str(frac).rjust(scale, '0')}" if scale else str(whole)
    return text, scale


@given(canonical())
@example(("60000.01000000", 8))
@example(("0.00010000", 8))
@example(("0", 0))
def test_format_parse_round_trip(case: tuple[str, int]) -> None:
    text, scale = case
    value = parse_fixed(text, scale)
    assert format_fixed(value, scale) == text
    assert Decimal(value) / (Decimal(10) ** scale) == Decimal(text)


@given(st.integers(min_value=-(10**19), max_value=10**19), scales)
def test_parse_format_round_trip_on_values(value: int, scale: int) -> None:
    assert parse_signed_fixed(format_fixed(value, scale), scale) == value
    trimmed = format_fixed(value, scale, decimals=-1)
    assert parse_signed_fixed(trimmed, scale) == value


def test_known_values() -> None:
    assert parse_fixed("60000.01000000", 8) == 6_000_001_000_000
    assert parse_fixed("0.00010000", 8) == 10_000
    assert parse_fixed("1", 8) == 100_000_000
    assert parse_fixed("1.5", 2) == 150
    assert parse_fixed("1.5000", 2) == 150  # trailing zeros beyond the scale are exact
    assert parse_signed_fixed("-0.1", 8) == -10_000_000
    assert format_fixed(10_000, 8) == "0.00010000"
    assert format_fixed(10_000, 8, decimals=-1) == "0.0001"
    assert format_fixed(10_000, 8, decimals=4) == "0.0001"
    assert format_fixed(-150, 2) == "-1.50"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty string"),
        ("1e5", "exponent"),
        ("1E-5", "exponent"),
        ("-1", "sign not allowed"),
        ("+1", "sign not allowed"),
        (" 1", "unexpected character"),
        ("1 ", "unexpected character"),
        ("1_000", "unexpected character"),
        ("1.2.3", "more than one decimal point"),
        (".5", "missing digits before"),
        ("5.", "missing digits after"),
        ("0x10", "unexpected character"),
        ("NaN", "unexpected character"),
        ("inf", "unexpected character"),
        ("١٢", "non-ASCII"),
        ("²", "non-ASCII"),
        ("0.000000001", "more than 8 decimal places"),
        ("1" * (MAX_WHOLE_DIGITS + 1), "integer digits"),
    ],
)
def test_malformed_strings_are_rejected_clearly(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_fixed(text, 8)


@pytest.mark.parametrize("text", ["--1", "-", "-+1", "- 1", "-1e3", "-.5"])
def test_malformed_signed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_signed_fixed(text, 8)


def test_parse_error_is_value_error_and_truncates_huge_input() -> None:
    with pytest.raises(ValueError, match=r"invalid decimal") as info:
        parse_fixed("9" * 10_000, 8)
    assert len(str(info.value)) < 200


@given(st.text(max_size=30), scales)
def test_parse_never_raises_anything_but_parse_error(text: str, scale: int) -> None:
    try:
        value = parse_fixed(text, scale)
    except ParseError:
        return
    # Whatever it accepted must be exactly the Decimal value of the text.
    assert Decimal(value) == Decimal(text) * (Decimal(10) ** scale)


@given(
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=0, max_value=12),
)
def test_notional_is_exact(price: int, qty: int, ps: int, qs: int) -> None:
    exact = (Decimal(price) / 10**ps) * (Decimal(qty) / 10**qs)
    assert Decimal(notional(price, qty)) / (Decimal(10) ** (ps + qs)) == exact


@given(st.integers(min_value=-(10**18), max_value=10**18), st.integers(min_value=1, max_value=10**9))
def test_rounding_directions(value: int, increment: int) -> None:
    floor = round_to_increment(value, increment, Rounding.FLOOR)
    ceil = round_to_increment(value, increment, Rounding.CEIL)
    assert floor % increment == 0 and ceil % increment == 0
    assert floor <= value <= ceil
    assert ceil - floor in (0, increment)
    assert (floor == ceil) == (value % increment == 0)
    toward = round_to_increment(value, increment, Rounding.TOWARD_ZERO)
    away = round_to_increment(value, increment, Rounding.AWAY_FROM_ZERO)
    assert abs(toward) <= abs(value) <= abs(away)
    half_even = round_to_increment(value, increment, Rounding.HALF_EVEN)
    assert abs(half_even - value) * 2 <= increment
    expected = (Decimal(value) / increment).quantize(Decimal(1), rounding="ROUND_HALF_EVEN") * increment
    assert half_even == int(expected)


def test_round_rejects_bad_increment() -> None:
    with pytest.raises(ValueError, match="increment must be positive"):
        round_to_increment(5, 0, Rounding.FLOOR)


def test_rescale_and_mul_div() -> None:
    assert rescale(123_456, 4, 2, Rounding.FLOOR) == 1_234
    assert rescale(123_456, 4, 2, Rounding.CEIL) == 1_235
    assert rescale(12, 2, 4, Rounding.FLOOR) == 1_200
    # average price of 0.3 filled for 100.01 (scale 2): 33.3366... → 33.34 ceil
    assert mul_div(10001, 1, 3, Rounding.CEIL) == 3334
    assert mul_div(10001, 1, 3, Rounding.FLOOR) == 3333


def test_format_refuses_to_drop_digits() -> None:
    with pytest.raises(ValueError, match="needs more than 2 decimals"):
        format_fixed(12_345, 4, decimals=2)
