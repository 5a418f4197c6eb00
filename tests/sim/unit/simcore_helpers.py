"""Shared builders for the simulator core tests (no fixtures: plain functions)."""

from __future__ import annotations

from stanchion.core.clock import TestClock
from stanchion.sim.exchange import (
    Accepted,
    AccountSpec,
    MarketConfig,
    OrderRequest,
    Rejected,
    SimExchange,
    SymbolSpec,
)

E = 10**8  # one unit at scale 8


def btc_spec(**overrides: object) -> SymbolSpec:
    fields: dict[str, object] = {
        "symbol": "BTCUSDT",
        "base": "BTC",
        "quote": "USDT",
        "tick": E // 100,  # 0.01
        "step": E // 100_000,  # 0.00001
        "initial_price": 100 * E,
        "min_qty": E // 100_000,
        "max_qty": 9000 * E,
        "min_notional": 0,
    }
    fields.update(overrides)
    return SymbolSpec(**fields)  # type: ignore[arg-type]


def make_exchange(
    *,
    spec: SymbolSpec | None = None,
    accounts: tuple[str, ...] = ("alice", "bob"),
    market: MarketConfig | None = None,
    seed: int = 7,
    maker_bps: int = 10,
    taker_bps: int = 20,
    truth_window: int = 10_000,
) -> tuple[SimExchange, TestClock]:
    clock = TestClock()
    specs = [AccountSpec(name, {"USDT": 1_000_000 * E, "BTC": 100 * E}, maker_bps, taker_bps) for name in accounts]
    exchange = SimExchange([spec or btc_spec()], specs, clock, seed=seed, market=market, truth_window=truth_window)
    return exchange, clock


def limit(
    side: str, qty: int, price: int, tif: str = "GTC", *, client_id: str | None = None, stp: str | None = None
) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", side, "LIMIT", tif, quantity=qty, price=price, client_order_id=client_id, stp_mode=stp
    )


def market(side: str, qty: int | None = None, quote: int | None = None) -> OrderRequest:
    return OrderRequest("BTCUSDT", side, "MARKET", quantity=qty, quote_order_qty=quote)


def accepted(result: Accepted | Rejected) -> Accepted:
    assert isinstance(result, Accepted), result
    return result
