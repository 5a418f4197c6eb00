"""Cost of instrumentation per hot-path event: bound children vs ``.labels()`` each time vs nothing.

What the hot path does per event with Stanchion's metrics (``StanchionMetrics``):

* a counter: ``handle.fills.inc()`` on a child bound once per (exchange, symbol); the
  per-message counter is a plain integer on the connection handle, exported at scrape;
* a histogram: ``handle.fill_latency.observe(s)`` likewise;
* market-data freshness: ``handle.market_data(now)``, one attribute store; the age
  gauge is computed at scrape time instead of set per message.

Each is measured against the common alternative — ``family.labels(exchange, symbol)``
on every event (a dict lookup under a lock, a tuple build) — and against doing nothing
(the loop and call overhead alone). Medians of per-event cost over several repeats.
Also reported: the cost of one scrape (``generate_latest``) for 20 instruments, which
runs on the event loop between events. The engine's end-to-end with/without comparison
comes with the engine wiring.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, generate_latest

from bench.common import Result, median, repeat_timed
from stanchion.core.clock import LiveClock
from stanchion.observability.health import render_metrics
from stanchion.observability.metrics import StanchionMetrics

LABELS = ("binance", "BTCUSDT")


def _noop(_value: float = 0.0) -> None:
    return None


def run(quick: bool) -> list[Result]:
    n = 200_000 if quick else 1_000_000
    repeats = 5 if quick else 9
    metrics = StanchionMetrics(CollectorRegistry(), LiveClock(), process_metrics=False)
    handle = metrics.for_symbol(*LABELS)
    fills_family = metrics._fills
    latency_family = metrics._fill_latency
    drift_family = metrics._position_drift
    rows: list[Result] = []

    def add(benchmark: str, variant: str, samples: list[float], notes: str = "") -> None:
        rows.append(
            Result(
                benchmark=benchmark,
                variant=variant,
                median=median(samples),
                unit="ns/event",
                samples=samples,
                baseline=".labels() each event",
                notes=notes,
            )
        )

    # --- counter -----------------------------------------------------------------------
    def nothing() -> int:
        f = _noop
        for _ in range(n):
            f()
        return n

    def bound_inc() -> int:
        inc = handle.fills.inc
        for _ in range(n):
            inc()
        return n

    def attribute_inc() -> int:
        child = handle.fills
        for _ in range(n):
            child.inc()
        return n

    def labels_inc() -> int:
        family = fills_family
        for _ in range(n):
            family.labels(*LABELS).inc()
        return n

    add("metrics.counter_inc", "no instrumentation (call overhead)", repeat_timed(nothing, repeats))
    add("metrics.counter_inc", "bound child: handle.fills.inc()", repeat_timed(attribute_inc, repeats))
    add("metrics.counter_inc", "bound method cached: inc()", repeat_timed(bound_inc, repeats))
    add("metrics.counter_inc", ".labels() each event", repeat_timed(labels_inc, repeats))

    conn = metrics.for_connection("binance", "market_data")

    def plain_int() -> int:
        c = conn
        for _ in range(n):
            c.messages_received += 1
        return n

    add(
        "metrics.counter_inc",
        "plain int, exported at scrape (ours: ws messages)",
        repeat_timed(plain_int, repeats),
        notes="trading_ws_messages_total: the per-message counter, read by the scrape-time collector",
    )

    # --- histogram ---------------------------------------------------------------------
    values = [0.0002, 0.003, 0.02, 0.2, 1.5] * (n // 5)

    def nothing_observe() -> int:
        f = _noop
        for v in values:
            f(v)
        return len(values)

    def bound_observe() -> int:
        child = handle.fill_latency
        for v in values:
            child.observe(v)
        return len(values)

    def labels_observe() -> int:
        family = latency_family
        for v in values:
            family.labels(*LABELS).observe(v)
        return len(values)

    add("metrics.histogram_observe", "no instrumentation (call overhead)", repeat_timed(nothing_observe, repeats))
    add("metrics.histogram_observe", "bound child: fill_latency.observe()", repeat_timed(bound_observe, repeats))
    add("metrics.histogram_observe", ".labels() each event", repeat_timed(labels_observe, repeats))

    # --- market-data freshness ------------------------------------------------------------
    stamps = list(range(n))

    def nothing_md() -> int:
        f = _noop
        for t in stamps:
            f(t)
        return n

    def stamp_md() -> int:
        mark = handle.market_data
        for t in stamps:
            mark(t)
        return n

    def gauge_md() -> int:
        child = handle.position_drift  # any bound gauge: set() per message
        for t in stamps:
            child.set(t)
        return n

    def labels_gauge_md() -> int:
        family = drift_family
        for t in stamps:
            family.labels(*LABELS).set(t)
        return n

    add("metrics.market_data_update", "no instrumentation (call overhead)", repeat_timed(nothing_md, repeats))
    add(
        "metrics.market_data_update",
        "timestamp store, age at scrape (ours)",
        repeat_timed(stamp_md, repeats),
        notes="handle.market_data(now): the age gauge is computed when Prometheus scrapes",
    )
    add("metrics.market_data_update", "bound gauge.set() per message", repeat_timed(gauge_md, repeats))
    add("metrics.market_data_update", ".labels() each event", repeat_timed(labels_gauge_md, repeats))

    # --- one scrape ---------------------------------------------------------------------
    scrape_metrics = StanchionMetrics(CollectorRegistry(), LiveClock(), process_metrics=False)
    for i in range(20):
        h = scrape_metrics.for_symbol("binance", f"SYM{i}USDT")
        h.fills.inc()
        h.fill_latency.observe(0.01)
        h.book_state("live")
        h.market_data(time.monotonic_ns())
    for name in ("market_data", "user_data", "ws_api"):
        scrape_metrics.for_connection("binance", name).set_connected(True, time.monotonic_ns())
    scrapes = 50 if quick else 200

    def scrape() -> int:
        for _ in range(scrapes):
            generate_latest(scrape_metrics.registry)
        return scrapes

    samples = [s / 1000 for s in repeat_timed(scrape, repeats)]
    size = len(generate_latest(scrape_metrics.registry))
    rows.append(
        Result(
            benchmark="metrics.scrape_20_symbols",
            variant="generate_latest",
            median=median(samples),
            unit="us/scrape",
            samples=samples,
            notes=f"{size} bytes of exposition; runs on the event loop once per scrape interval",
        )
    )
    rows.extend(_scrape_stall(scrape_metrics, scrapes, repeats))
    return rows


async def _longest_stall(render: object, scrapes: int) -> float:
    """Run ``scrapes`` renders while a ticker task measures the longest gap between its turns."""
    stop = asyncio.Event()
    longest = 0.0

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    for _ in range(scrapes):
        await render()  # type: ignore[operator]
        await asyncio.sleep(0)
    stop.set()
    await task
    return longest * 1e6


def _scrape_stall(metrics: StanchionMetrics, scrapes: int, repeats: int) -> list[Result]:
    """How long one scrape keeps the event loop from running anything else."""

    async def whole() -> None:
        generate_latest(metrics.registry)

    async def sliced() -> None:
        await render_metrics(metrics.registry)

    rows = []
    for variant, render in (("generate_latest on the loop", whole), ("render_metrics, sliced (ours)", sliced)):
        samples = [asyncio.run(_longest_stall(render, scrapes)) for _ in range(repeats)]
        rows.append(
            Result(
                benchmark="metrics.scrape_loop_stall_20_symbols",
                variant=variant,
                median=median(samples),
                unit="us max",
                samples=samples,
                baseline="generate_latest on the loop",
                notes="longest gap between turns of another task during scrapes" if "ours" in variant else "",
            )
        )
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(f"{row.benchmark:<30} {row.variant:<42} {row.median:>10.1f} {row.unit}")
