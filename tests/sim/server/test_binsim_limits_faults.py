"""Rate limiter (429 → 418 escalation, order counts) and the fault scenario model, without sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from stanchion.sim.binance.apierror import BinanceApiError
from stanchion.sim.binance.config import RateLimitSpec
from stanchion.sim.binance.faults import Fault, FaultState, load_scenario
from stanchion.sim.binance.limits import RateLimiter, depth_weight, rest_weight

SPECS = (
    RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10),
    RateLimitSpec("ORDERS", "SECOND", 10, 2),
    RateLimitSpec("ORDERS", "DAY", 1, 1000),
)
T0 = 1_700_000_020_000  # 40 s into a minute


def test_documented_weights() -> None:
    assert [depth_weight(n) for n in (1, 100, 101, 500, 501, 1000, 1001, 5000)] == [5, 5, 25, 25, 50, 50, 250, 250]
    assert rest_weight("GET", "/api/v3/exchangeInfo", {}) == 20
    assert rest_weight("GET", "/api/v3/openOrders", {}) == 80
    assert rest_weight("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}) == 6
    assert rest_weight("GET", "/api/v3/order", {}) == 4
    assert rest_weight("GET", "/api/v3/myTrades", {"orderId": "1"}) == 5


def test_429_then_escalating_418_bans() -> None:
    rl = RateLimiter(SPECS, ban_after_429=2, ban_first_s=120, ban_max_s=1000)
    for _ in range(10):
        rl.charge_ip("1.2.3.4", 1, T0)
    assert rl.weight_headers("1.2.3.4", T0) == {"X-MBX-USED-WEIGHT-1M": "10"}
    with pytest.raises(BinanceApiError) as limited:
        rl.charge_ip("1.2.3.4", 1, T0)
    assert limited.value.status == 429 and limited.value.code == -1003 and limited.value.retry_after == 20
    rl.charge_ip("5.6.7.8", 1, T0)  # per IP: another address is unaffected
    with pytest.raises(BinanceApiError) as again:
        rl.charge_ip("1.2.3.4", 1, T0 + 1000)
    assert again.value.status == 429
    with pytest.raises(BinanceApiError) as banned:
        rl.charge_ip("1.2.3.4", 1, T0 + 2000)
    assert banned.value.status == 418 and banned.value.retry_after == 120
    with pytest.raises(BinanceApiError) as still:
        rl.charge_ip("1.2.3.4", 1, T0 + 100_000)  # the new minute does not lift a ban
    assert still.value.status == 418 and "IP banned until" in still.value.msg
    after = T0 + 125_000
    rl.charge_ip("1.2.3.4", 1, after)  # ban over, fresh window
    for _ in range(9):
        rl.charge_ip("1.2.3.4", 1, after)
    for _ in range(2):
        with pytest.raises(BinanceApiError) as limited2:
            rl.charge_ip("1.2.3.4", 1, after)
        assert limited2.value.status == 429
    with pytest.raises(BinanceApiError) as second_ban:
        rl.charge_ip("1.2.3.4", 1, after)
    assert second_ban.value.status == 418 and second_ban.value.retry_after == 240  # escalates


def test_order_count_per_account() -> None:
    rl = RateLimiter(SPECS)
    rl.charge_order("alice", T0)
    rl.charge_order("alice", T0)
    assert rl.order_headers("alice", T0) == {"X-MBX-ORDER-COUNT-10S": "2", "X-MBX-ORDER-COUNT-1D": "2"}
    with pytest.raises(BinanceApiError) as too_many:
        rl.charge_order("alice", T0)
    assert too_many.value.code == -1015 and too_many.value.status == 429
    assert too_many.value.msg == "Too many new orders; current limit is 2 orders per 10 SECOND."
    rl.charge_order("bob", T0)


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault.from_mapping({"kind": "explode"})
    with pytest.raises(ValueError, match="symbol is required"):
        Fault.from_mapping({"kind": "skip_diff"})
    with pytest.raises(ValueError, match="unknown fields"):
        Fault.from_mapping({"kind": "close", "when": 3})
    with pytest.raises(ValueError, match="not both"):
        Fault(kind="close", at_s=1, at_update=5)


def test_scenario_by_time_and_update(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        "faults:\n"
        "  - {kind: skip_diff, symbol: BTCUSDT, at_update: 500}\n"
        "  - {kind: rest_5xx, at_s: 2.0, count: 2, status: 502}\n"
        "  - {kind: clock_skew, at_s: 1.0, offset_ms: -3000}\n",
        encoding="utf-8",
    )
    state = FaultState()
    state.schedule(load_scenario(path))
    assert state.due(0.5, {"BTCUSDT": 10, "ETHUSDT": 900}) == []  # ETH's ids do not trigger a BTC fault
    assert [f.kind for f in state.due(1.0, {"BTCUSDT": 10})] == ["clock_skew"]
    assert state.clock_offset_ms == -3000
    assert [f.kind for f in state.due(1.5, {"BTCUSDT": 501})] == ["skip_diff"]
    assert state.take("skip_diff", symbol="ETHUSDT") is None
    assert state.take("skip_diff", symbol="BTCUSDT") is not None
    assert state.take("skip_diff", symbol="BTCUSDT") is None
    state.due(2.0, {})
    assert [state.take("rest_5xx") is not None for _ in range(3)] == [True, True, False]


def test_duration_fault_expires() -> None:
    state = FaultState()
    state.arm(Fault(kind="symbol_outage", symbol="ETHUSDT", duration_s=2.0), 10.0)
    assert state.active("symbol_outage", 11.0, symbol="ETHUSDT") is not None
    assert state.active("symbol_outage", 11.0, symbol="BTCUSDT") is None
    assert state.active("symbol_outage", 12.0, symbol="ETHUSDT") is None


def test_bad_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("faults: {kind: close}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a list"):
        load_scenario(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
