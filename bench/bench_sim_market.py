"""Simulator core: depth-diff generation rate and matching throughput.

* ``sim.market_diffs``: ``SimExchange.step()`` on one symbol with ~5,000 price
  levels per side (default ``MarketConfig``: 10–30 book changes per step, ~3 %
  of actions synthetic market orders), events drained as the server would.
  One step = one ``DepthDiff`` event. Anchor: the 20,000 events/s the server
  side needs from one core (a target, not a measurement).
* ``sim.matching``: user orders through ``place_order`` / ``cancel_order`` on
  a user-only book (no synthetic market): a seeded mix of resting limits,
  crossing limits (partial fills), IOC, market orders and cancels, with
  balances, fees, execution reports and depth changes as in production.
  Also the same mix against the synthetic 5,000-level book.

Medians over several repeats; GC off while timing (bench.common).
"""

from __future__ import annotations

import random

from bench.common import Result, median, repeat_timed
from stanchion.core.clock import TestClock
from stanchion.sim.exchange import (
    Accepted,
    AccountSpec,
    MarketConfig,
    OrderRequest,
    SimExchange,
    SymbolSpec,
)

E = 10**8
SEED = 20261124
TARGET_EVENTS_PER_SECOND = 20_000.0

SPEC = SymbolSpec(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick=E // 100,
    step=E // 100_000,
    initial_price=60_000 * E,
    min_qty=E // 100_000,
    max_qty=9000 * E,
)


def _exchange(market: MarketConfig | None) -> tuple[SimExchange, TestClock]:
    clock = TestClock()
    accounts = [AccountSpec(name, {"USDT": 10**12 * E, "BTC": 10**8 * E}) for name in ("alice", "bob")]
    return SimExchange([SPEC], accounts, clock, seed=SEED, market=market), clock


def _market_samples(steps: int, repeats: int) -> tuple[list[float], float]:
    exchange, clock = _exchange(MarketConfig())
    for _ in range(200):
        exchange.step()
    exchange.drain_events()

    def run() -> int:
        for i in range(steps):
            exchange.step()
            if i % 100 == 99:
                clock.advance(100_000_000)
                exchange.drain_events()
        return steps

    samples = repeat_timed(run, repeats)
    for _ in range(1000):
        exchange.step()
    diffs = [e for e in exchange.drain_events() if type(e).__name__ == "DepthDiff"]
    levels = sum(len(d.bids) + len(d.asks) for d in diffs) / max(len(diffs), 1)  # type: ignore[union-attr]
    return samples, levels


def _order_mix(count: int, rng: random.Random, mid: int) -> list[tuple[str, OrderRequest | None]]:
    """A seeded list of (account, request); None = cancel that account's oldest order."""
    tick = SPEC.tick
    ops: list[tuple[str, OrderRequest | None]] = []
    for _ in range(count):
        account = "alice" if rng.random() < 0.5 else "bob"
        r = rng.random()
        side = "BUY" if rng.random() < 0.5 else "SELL"
        qty = SPEC.step * rng.randint(1, 2000)
        sign = 1 if side == "SELL" else -1
        if r < 0.25:
            ops.append((account, None))
        elif r < 0.75:  # passive limit, 0..50 ticks behind the mid
            price = mid + sign * (1 + rng.randint(0, 50)) * tick
            ops.append((account, OrderRequest("BTCUSDT", side, "LIMIT", "GTC", quantity=qty, price=price)))
        elif r < 0.9:  # aggressive limit through the mid (may partially fill)
            price = mid - sign * rng.randint(1, 20) * tick
            tif = "IOC" if rng.random() < 0.3 else "GTC"
            ops.append((account, OrderRequest("BTCUSDT", side, "LIMIT", tif, quantity=qty, price=price)))
        else:
            ops.append((account, OrderRequest("BTCUSDT", side, "MARKET", quantity=qty)))
    return ops


def _matching_samples(market: MarketConfig | None, count: int, repeats: int) -> list[float]:
    samples: list[float] = []
    for repeat in range(repeats):
        exchange, _ = _exchange(market)
        ops = _order_mix(count, random.Random(SEED + repeat), SPEC.initial_price)
        oldest: dict[str, list[int]] = {"alice": [], "bob": []}

        def run(
            exchange: SimExchange = exchange,
            ops: list[tuple[str, OrderRequest | None]] = ops,
            oldest: dict[str, list[int]] = oldest,
        ) -> int:
            done = 0
            for account, req in ops:
                if req is None:
                    mine = oldest[account]
                    while mine:
                        if isinstance(exchange.cancel_order(account, "BTCUSDT", order_id=mine.pop(0)), Accepted):
                            break
                else:
                    result = exchange.place_order(account, req)
                    if isinstance(result, Accepted) and result.order.is_open:
                        oldest[account].append(result.order.order_id)
                done += 1
                if done % 256 == 0:
                    exchange.flush_depth()
                    exchange.drain_events()
            return done

        samples.extend(repeat_timed(run, 1))
        assert exchange.consistency_errors() == []
    return samples


def run(quick: bool) -> list[Result]:
    repeats = 3 if quick else 7
    steps = 5_000 if quick else 20_000
    orders = 5_000 if quick else 20_000
    rows: list[Result] = []

    step_ns, levels = _market_samples(steps, repeats)
    per_second = [1e9 / s for s in step_ns]
    rows.append(
        Result(
            benchmark="sim.market_diffs",
            variant="stanchion SimExchange.step",
            median=median(per_second),
            unit="events/s",
            higher_is_better=True,
            samples=per_second,
            baseline="target (server needs)",
            notes=f"1 symbol, ~5000 levels/side, {levels:.1f} level changes/diff, {steps} steps x {repeats}",
            extra={"level_changes_per_diff": levels, "us_per_step": median(step_ns) / 1000},
        )
    )
    rows.append(
        Result(
            benchmark="sim.market_diffs",
            variant="target (server needs)",
            median=TARGET_EVENTS_PER_SECOND,
            unit="events/s",
            higher_is_better=True,
            notes="requirement from issue 3, not a measurement",
        )
    )

    for variant, config in (("user-only book", None), ("synthetic 5000-level book", MarketConfig())):
        order_ns = _matching_samples(config, orders, repeats)
        ops_per_second = [1e9 / s for s in order_ns]
        rows.append(
            Result(
                benchmark="sim.matching",
                variant=variant,
                median=median(ops_per_second),
                unit="orders/s",
                higher_is_better=True,
                samples=ops_per_second,
                baseline="user-only book",
                notes=f"{orders} ops x {repeats}: 25% cancels, 50% passive, 15% crossing limits, 10% market",
            )
        )
    return rows
