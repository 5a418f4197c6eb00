"""What instrumentation costs the engine's tick-to-order path (issue 6: at most 5 %).

The path: ``kernel.on_book`` → strategy → risk gate → OMS (intent built, journal
append) → gateway, with the real :class:`~stanchion.engine.kernel.Kernel`,
:class:`~stanchion.engine.risk.gate.RiskGate` and
:class:`~stanchion.engine.oms.OrderManager`, a gateway that only records, and a
pre-built :class:`~stanchion.book.l2.L2Book`. One order per tick.

* **instrumented** — exactly what ``stanchion run`` wires: ``app.main.MeteredKernel``
  (orders sent counted per instrument, a plain integer) with ``app.main.EngineEvents``
  over a :class:`StanchionMetrics` as the kernel's listener (tick-to-order latency
  sample per order; order updates and fills counted on bound children). Market-data
  age, rate-limit use, clock offset and message counts cost the path nothing: they are
  brought into the metrics at scrape time (``app.main.BeforeScrape``);
* **bare** — the plain ``Kernel`` with no listener.

Both engines run in the same process and the same loop, tick by tick, alternating which
goes first, so the (shared, 2-core) machine's noise hits both alike. Each tick is timed
alone (``perf_counter_ns`` around ``on_book``); after it the "venue" acknowledges and
cancels the order (``on_execution_report`` NEW then CANCELED) so open orders never pile
up; tick plus that venue half is the **order cycle**, reported too. Per run, the median
tick of each variant; reported, the median over runs and the overhead of the medians.
"""

from __future__ import annotations

import gc
import statistics
import time

from prometheus_client import CollectorRegistry

from bench.common import Result
from stanchion.app.main import EngineEvents, LatencySamples, MeteredKernel
from stanchion.book.l2 import L2Book
from stanchion.core.clock import LiveClock
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.kernel import Kernel, Strategy, StrategyContext
from stanchion.engine.oms import OrderManager, QueryOrder
from stanchion.engine.risk.gate import RiskGate
from stanchion.engine.risk.limits import ExposureRiskLimits, InstrumentRiskLimits, LossAction, RiskLimits
from stanchion.model.commands import CancelOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport
from stanchion.model.instrument import Instrument
from stanchion.model.orders import ExecutionType, OrderStatus, Side
from stanchion.observability.metrics import StanchionMetrics

S8 = 10**8
KEY = "binance:BTCUSDT"
INSTRUMENT = Instrument("binance", "BTCUSDT", "BTC", "USDT", 8, 8, tick=S8 // 100, step=1_000,
                        min_qty=1_000, max_qty=9_000 * S8, min_notional=5 * S8 * S8)
BIG = 10**30
VARIANTS = ("bare", "instrumented")


class _Gateway:
    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: SubmitOrder | None = None

    def submit(self, command: SubmitOrder) -> None:
        self.last = command

    def cancel(self, command: CancelOrder) -> None:
        return None

    def query(self, query: QueryOrder) -> None:
        return None


class _Quoter(Strategy):
    """One bid at the best bid per book update."""

    name = "quoter"
    instruments = (KEY,)

    def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
        bid = book.best_bid_price()
        if bid is not None:
            ctx.submit(key, Side.BUY, S8 // 100, bid)


def _limits() -> RiskLimits:
    exposure = ExposureRiskLimits(BIG, BIG)
    return RiskLimits(
        notional_scale=16,
        instruments={KEY: InstrumentRiskLimits(max_order_qty=S8, max_order_notional=BIG, max_position=100 * S8)},
        account=exposure, portfolio=exposure, price_band_bps=100,
        max_orders_per_second=10**9, max_cancels_per_second=10**9, max_open_orders=100,
        daily_loss_limit=BIG, max_drawdown=BIG, loss_action=LossAction.HALT, max_book_age_ns=60 * 10**9,
    )


def _report(command: SubmitOrder, status: OrderStatus, execution: ExecutionType) -> ExecutionReport:
    return ExecutionReport("binance", "BTCUSDT", command.client_order_id, None, 1, command.side, command.order_type,
                           command.time_in_force, execution, status, command.qty, command.price or 0, 0, 0, None, 0, 0)


def _engine(instrumented: bool) -> tuple[Kernel, _Gateway]:
    clock = LiveClock()
    risk = RiskGate(_limits())
    gateway = _Gateway()
    oms = OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), lambda kind, key, body: 0)
    kernel: Kernel
    if instrumented:
        metrics = StanchionMetrics(CollectorRegistry(), clock)
        events = EngineEvents(metrics, LatencySamples())
        kernel = MeteredKernel(clock, risk, listener=events)
    else:
        kernel = Kernel(clock, risk)
    kernel.add_venue("binance", oms, gateway)
    kernel.add_instrument(INSTRUMENT, "main")
    kernel.add_strategy(_Quoter())
    kernel.start_trading()
    return kernel, gateway


def _book() -> L2Book:
    book = L2Book("BTCUSDT")
    book.load([(60_000 * S8 - i * S8 // 100, S8) for i in range(20)],
              [(60_001 * S8 + i * S8 // 100, S8) for i in range(20)])
    return book


def _run_once(ticks: int) -> dict[str, dict[str, float]]:
    """Both engines in one run, tick by tick, alternating which goes first (the machine's
    noise hits both alike). Per variant: the median ns of a tick (tick-to-order) and of a
    full order cycle (tick, ack, cancel)."""
    engines = {variant: _engine(variant == "instrumented") for variant in VARIANTS}
    book = _book()
    clock_ns, counter = time.monotonic_ns, time.perf_counter_ns
    ticks_ns: dict[str, list[int]] = {v: [] for v in VARIANTS}
    cycles_ns: dict[str, list[int]] = {v: [] for v in VARIANTS}
    orders = (VARIANTS, VARIANTS[::-1])
    gc.collect()
    gc.disable()
    try:
        for index in range(ticks):
            for variant in orders[index % 2]:
                kernel, gateway = engines[variant]
                t0 = counter()
                kernel.on_book(KEY, book, clock_ns())
                t1 = counter()
                command = gateway.last
                if command is None:
                    raise RuntimeError(f"{variant}: the strategy sent no order (risk denial?)")
                gateway.last = None
                kernel.on_execution_report("binance", _report(command, OrderStatus.NEW, ExecutionType.NEW))
                kernel.on_execution_report("binance", _report(command, OrderStatus.CANCELED, ExecutionType.CANCELED))
                t2 = counter()
                ticks_ns[variant].append(t1 - t0)
                cycles_ns[variant].append(t2 - t0)
    finally:
        gc.enable()
    for variant, (kernel, _) in engines.items():
        if kernel.stats.orders_sent != ticks:
            raise RuntimeError(f"{variant}: {kernel.stats.orders_sent} orders for {ticks} ticks")
    return {v: {"tick": statistics.median(ticks_ns[v]), "cycle": statistics.median(cycles_ns[v])} for v in VARIANTS}


def measure(ticks: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {v: {"tick": [], "cycle": []} for v in VARIANTS}
    _run_once(ticks // 10)  # warm-up
    for _ in range(repeats):
        for variant, figures in _run_once(ticks).items():
            for what, value in figures.items():
                out[variant][what].append(value)
    return out


def _overhead(samples: dict[str, dict[str, list[float]]], what: str) -> float:
    bare = statistics.median(samples["bare"][what])
    return (statistics.median(samples["instrumented"][what]) / bare - 1) * 100


def run(quick: bool) -> list[Result]:
    ticks = 5_000 if quick else 20_000
    repeats = 5 if quick else 9
    samples = measure(ticks, repeats)
    results: list[Result] = []
    for what, bench, label in (("tick", "engine.tick_to_order", "tick-to-order"),
                               ("cycle", "engine.order_cycle", "tick + ack + cancel")):
        overhead = _overhead(samples, what)
        for variant in ("bare", "instrumented"):
            values = samples[variant][what]
            notes = ""
            if variant == "instrumented":
                notes = f"{label}: instrumentation overhead {overhead:+.1f}% (target <= 5%)"
            results.append(Result(bench, variant, statistics.median(values), "ns/tick", samples=values,
                                  baseline="bare", notes=notes, extra={"overhead_percent": overhead}))
    return results


def main() -> None:
    for result in run(quick=False):
        print(f"{result.benchmark:<24} {result.variant:<14} {result.median:>10.0f} {result.unit}  {result.notes}")


if __name__ == "__main__":
    main()
