"""Exact fixed-point numbers: decimal strings straight to scaled integers.

A value ``v`` at scale ``s`` means ``v / 10**s``. Exchanges send prices and
quantities as decimal strings (``"60000.01000000"``); we parse them to ``int``
without a float or a ``Decimal`` on the way, do exact integer arithmetic, and
format back at the codec. Floats appear only in metrics and reports.

The parser is on the hot path (every level of every depth diff), so it is a few
``str`` methods and one ``int()`` call; validation is complete all the same:
no exponents, no signs unless allowed, no whitespace, no underscores, no
non-ASCII digits, no digits beyond the scale unless they are zeros, and a bound
on the magnitude.
"""

from __future__ import annotations

import enum
from typing import Final, NewType

from stanchion.core.errors import ParseError

Price = NewType("Price", int)
"""A price as an integer at the instrument's price scale."""
Qty = NewType("Qty", int)
"""A quantity as an integer at the instrument's quantity scale."""

MAX_SCALE: Final = 18
MAX_WHOLE_DIGITS: Final = 20
"""Integer digits accepted before the point: 10**20 is far above any price,
quantity or notional a venue sends, and a longer string is an attack or a bug."""

_POW10: Final[tuple[int, ...]] = tuple(10**i for i in range(2 * MAX_SCALE + 1))


def pow10(exponent: int) -> int:
    """``10 ** exponent`` from a table, for 0 <= exponent <= 2 * MAX_SCALE."""
    return _POW10[exponent]


def _fail(text: object, why: str) -> ParseError:
    shown = repr(text) if len(repr(text)) <= 64 else repr(text)[:61] + "..."
    return ParseError(f"invalid decimal {shown}: {why}")


def parse_fixed(text: str, scale: int) -> int:
    """Parse an unsigned decimal string to an integer at ``scale`` decimals.

    >>> parse_fixed("60000.01000000", 8)
    6000001000000
    >>> parse_fixed("0.00010000", 8)
    10000

    Raises :class:`ParseError` for anything that is not a plain non-negative
    decimal exactly representable at ``scale``.
    """
    whole, dot, frac = text.partition(".")
    n = len(frac)
    digits = whole + frac
    # isdigit() alone admits non-ASCII digits ("١", "²"); isascii() closes that.
    if (
        digits.isdigit()
        and digits.isascii()
        and whole
        and (n or not dot)
        and n <= scale
        and len(whole) <= MAX_WHOLE_DIGITS
    ):
        return int(digits) * _POW10[scale - n]
    return _parse_slow(text, scale, signed=False)


def parse_signed_fixed(text: str, scale: int) -> int:
    """Like :func:`parse_fixed` but accepts one leading ``-`` (balance deltas, PnL)."""
    if text[:1] == "-":
        return -_parse_checked(text[1:], scale, original=text)
    return _parse_checked(text, scale, original=text)


def _parse_checked(body: str, scale: int, original: str) -> int:
    try:
        return parse_fixed(body, scale)
    except ParseError:
        # Re-diagnose on the original string so the message shows what was sent.
        _parse_slow(original, scale, signed=True)
        raise


def _parse_slow(text: object, scale: int, *, signed: bool) -> int:
    """Diagnose why ``text`` was rejected (or accept a valid rarer form)."""
    if not isinstance(text, str):
        raise _fail(text, f"expected str, got {type(text).__name__}")
    if not 0 <= scale <= MAX_SCALE:
        raise _fail(text, f"scale {scale} outside 0..{MAX_SCALE}")
    if text == "":
        raise _fail(text, "empty string")
    body = text
    if body[0] in "+-":
        if not signed or body[0] == "+":
            raise _fail(text, "sign not allowed")
        body = body[1:]
    if not body.isascii():
        raise _fail(text, "non-ASCII characters")
    if any(c in "eE" for c in body):
        raise _fail(text, "exponent notation not allowed")
    whole, dot, frac = body.partition(".")
    if "." in frac:
        raise _fail(text, "more than one decimal point")
    if not whole:
        raise _fail(text, "missing digits before the decimal point")
    if dot and not frac:
        raise _fail(text, "missing digits after the decimal point")
    if not (whole + frac).isdigit():
        raise _fail(text, "unexpected character")
    if len(whole) > MAX_WHOLE_DIGITS:
        raise _fail(text, f"more than {MAX_WHOLE_DIGITS} integer digits")
    if len(frac) > scale:
        excess = frac[scale:]
        if excess.strip("0"):
            raise _fail(text, f"more than {scale} decimal places")
        # Trailing zeros beyond the scale are exact: accept them.
        value = int(whole + frac[:scale])
        return -value if text[0] == "-" else value
    value = int(whole + frac) * _POW10[scale - len(frac)]
    return -value if text[0] == "-" else value


def format_fixed(value: int, scale: int, decimals: int | None = None) -> str:
    """Format a scaled integer back to a decimal string.

    ``decimals`` defaults to ``scale`` (Binance style: ``"0.00010000"``).
    A smaller ``decimals`` is allowed only when no non-zero digit is lost;
    ``decimals=-1`` trims every trailing zero (``"0.0001"``).
    """
    negative = value < 0
    magnitude = -value if negative else value
    if scale == 0:
        text = str(magnitude)
    else:
        whole, frac_value = divmod(magnitude, _POW10[scale])
        frac = str(frac_value).rjust(scale, "0")
        if decimals is None:
            pass
        elif decimals < 0:
            frac = frac.rstrip("0")
        elif decimals > scale:
            frac = frac.ljust(decimals, "0")
        elif frac[decimals:].strip("0"):
            raise ValueError(
                f"{value} at scale {scale} needs more than {decimals} decimals"
            )
        else:
            frac = frac[:decimals]
        text = f"{whole}.{frac}" if frac else str(whole)
    return "-" + text if negative else text


class Rounding(enum.Enum):
    """An explicit rounding direction; there is no default on purpose."""

    FLOOR = "floor"  # toward -inf: bids, sizes that must not exceed a budget
    CEIL = "ceil"  # toward +inf: asks
    TOWARD_ZERO = "toward_zero"
    AWAY_FROM_ZERO = "away_from_zero"
    HALF_EVEN = "half_even"


def round_to_increment(value: int, increment: int, rounding: Rounding) -> int:
    """Round ``value`` to a multiple of ``increment`` (both at the same scale)."""
    if increment <= 0:
        raise ValueError(f"increment must be positive, got {increment}")
    quotient, remainder = divmod(value, increment)  # floor division
    if remainder == 0:
        return value
    if rounding is Rounding.FLOOR:
        return quotient * increment
    if rounding is Rounding.CEIL:
        return (quotient + 1) * increment
    if rounding is Rounding.TOWARD_ZERO:
        return quotient * increment if value > 0 else (quotient + 1) * increment
    if rounding is Rounding.AWAY_FROM_ZERO:
        return (quotient + 1) * increment if value > 0 else quotient * increment
    twice = 2 * remainder
    if twice < increment or (twice == increment and quotient % 2 == 0):
        return quotient * increment
    return (quotient + 1) * increment


def rescale(value: int, from_scale: int, to_scale: int, rounding: Rounding) -> int:
    """Change the scale of a value, rounding explicitly when digits are lost."""
    if to_scale >= from_scale:
        return value * _POW10[to_scale - from_scale]
    factor = _POW10[from_scale - to_scale]
    return round_to_increment(value, factor, rounding) // factor


def notional(price: int, qty: int) -> int:
    """Exact price × quantity; the result is at scale ``price_scale + qty_scale``."""
    return price * qty


def mul_div(a: int, b: int, divisor: int, rounding: Rounding) -> int:
    """``a * b / divisor`` exactly, rounded as asked (average prices, fees)."""
    if divisor <= 0:
        raise ValueError(f"divisor must be positive, got {divisor}")
    product = a * b
    rounded = round_to_increment(product, divisor, rounding)
    return rounded // divisor


class CachedParser:
    """``parse_fixed`` at one scale with a bounded memo of recent strings.

    Depth streams repeat the same price strings constantly (the levels near the
    top of the book), so a dict lookup replaces most parses. The memo is bounded
    (cleared when full) so memory stays flat over days. Only valid strings are
    memoised; invalid ones raise every time.
    """

    __slots__ = ("_cache", "_max_entries", "scale")

    def __init__(self, scale: int, max_entries: int = 65_536) -> None:
        if not 0 <= scale <= MAX_SCALE:
            raise ValueError(f"scale {scale} outside 0..{MAX_SCALE}")
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.scale = scale
        self._max_entries = max_entries
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        value = self._cache.get(text)
        if value is None:
            value = parse_fixed(text, self.scale)
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[text] = value
        return value

    def __len__(self) -> int:
        return len(self._cache)
