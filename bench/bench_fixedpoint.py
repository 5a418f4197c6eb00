"""Decimal string → number: Stanchion's fixed-point parse vs decimal.Decimal vs float.

The input is what a Binance depth diff carries: 8-decimal price and quantity
strings. Each variant produces a value usable for exact (or, for float,
inexact) arithmetic; Decimal and float are the usual choices of Python stacks.

Two input shapes: "uniform" (every string different-ish: the worst case for a
memo) and "depth-stream" (prices concentrated near the top of a book, as in a
real diff stream, where the codec's bounded memo `CachedParser` pays off).
"""

from __future__ import annotations

import random
from decimal import Decimal

from bench.common import Result, median, repeat_timed
from stanchion.core.fixedpoint import CachedParser, format_fixed, parse_fixed


def _inputs(n: int) -> list[str]:
    rng = random.Random(7)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:  # price around 60,000 on a 0.01 tick
            out.append(f"{rng.randint(5_900_000, 6_100_000) / 100:.8f}")
        else:  # quantity on a 0.00001 step
            out.append(f"{rng.randint(1, 500_000) / 100_000:.8f}")
    return out


def _depth_stream_inputs(n: int) -> list[str]:
    """Alternating price/qty as in [["p","q"], ...]: prices from ~2,000 levels near the mid."""
    rng = random.Random(11)
    out = []
    for _ in range(n // 2):
        level = min(int(rng.expovariate(1 / 150)), 2_000)
        out.append(f"{(6_000_000 + rng.choice((-1, 1)) * level) / 100:.8f}")
        out.append(f"{rng.randint(0, 300_000) / 100_000:.8f}")
    return out


def run(quick: bool) -> list[Result]:
    n = 50_000 if quick else 200_000
    repeats = 5 if quick else 9
    rows = []
    for shape, data in (("uniform", _inputs(n)), ("depth-stream", _depth_stream_inputs(n))):
        rows.extend(_run_shape(shape, data, repeats))
    return rows


def _run_shape(shape: str, data: list[str], repeats: int) -> list[Result]:
    n = len(data)

    def ours() -> int:
        p = parse_fixed
        for s in data:
            p(s, 8)
        return n

    def cached() -> int:
        p = CachedParser(8)
        for s in data:
            p(s)
        return n

    def decimal() -> int:
        d = Decimal
        for s in data:
            d(s)
        return n

    def floats() -> int:
        f = float
        for s in data:
            f(s)
        return n

    # correctness first: the same numbers
    for s in data[:1000]:
        assert format_fixed(parse_fixed(s, 8), 8) == s
        assert Decimal(parse_fixed(s, 8)) / 10**8 == Decimal(s)

    rows = []
    variants = (
        ("stanchion.parse_fixed", ours),
        ("stanchion.CachedParser (bounded memo)", cached),
        ("decimal.Decimal", decimal),
        ("float (inexact)", floats),
    )
    for variant, fn in variants:
        samples = repeat_timed(fn, repeats)
        rows.append(
            Result(
                benchmark=f"fixedpoint.parse {shape}",
                variant=variant,
                median=median(samples),
                unit="ns/op",
                samples=samples,
                baseline="decimal.Decimal",
            )
        )
    return rows
