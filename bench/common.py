"""Shared helpers for benchmarks: timing, medians, the result table.

Every benchmark module ``bench/bench_<name>.py`` defines::

    def run(quick: bool) -> list[Result]

and measures its subject *and* the anchor the issue names in the same run.
Results are medians over several repeats. Ratios are computed against the row
named in ``baseline`` (same benchmark), so "3.1x" reads "3.1 times better than
the anchor", whatever the unit's direction.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class Result:
    benchmark: str  # e.g. "fixedpoint.parse"
    variant: str  # e.g. "stanchion", "decimal.Decimal", "float"
    median: float
    unit: str  # e.g. "ns/op", "msg/s", "us"
    higher_is_better: bool = False
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None  # variant to compare against, in the same benchmark
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def repeat_timed(fn: Callable[[], int], repeats: int) -> list[float]:
    """Run ``fn`` ``repeats`` times; ``fn`` returns its operation count.

    Returns nanoseconds per operation for each repeat. GC is disabled while timing.
    """
    samples: list[float] = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            ops = fn()
            elapsed = time.perf_counter_ns() - start
        finally:
            gc.enable()
        samples.append(elapsed / max(ops, 1))
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def ratio(result: Result, baseline: Result) -> float:
    """How many times better ``result`` is than ``baseline``."""
    if result.higher_is_better:
        return result.median / baseline.median if baseline.median else float("inf")
    return baseline.median / result.median if result.median else float("inf")
