"""StanchionMetrics: the seed's three metrics exactly, naming rules, bound handles that
never call ``.labels()`` on the hot path, scrape-time gauges, statistics() sources, and a
``promtool check metrics``-clean exposition."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from stanchion.core.clock import TestClock
from stanchion.observability.health import Readiness
from stanchion.observability.metrics import BOOK_STATES, ORDER_STATUSES, StanchionMetrics
from tests.conftest import REPO_ROOT
from tests.monitoring.harness import PROMTOOL, require

NS = 1_000_000_000


class Stats:
    def __init__(self, stats: Mapping[str, object]) -> None:
        self.stats = stats

    def statistics(self) -> Mapping[str, object]:
        return self.stats


class Broken:
    def statistics(self) -> Mapping[str, object]:
        raise RuntimeError("component is broken")


def populated(clock: TestClock | None = None) -> StanchionMetrics:
    """A registry with every family holding at least one sample."""
    metrics = StanchionMetrics(CollectorRegistry(), clock or TestClock())
    btc = metrics.for_symbol("binance", "BTCUSDT")
    btc.fill_latency.observe(0.012)
    btc.position_drift.set(0.25)
    btc.fills.inc()
    btc.cancels.inc()
    btc.order("submitted")
    btc.reject("filter")
    btc.book_state("live")
    btc.book_gaps.inc()
    btc.book_resyncs.inc()
    btc.book_checksum_failures.inc()
    btc.book_crossed.inc()
    btc.market_data(metrics.clock.monotonic_ns())
    conn = metrics.for_connection("binance", "market_data")
    conn.set_connected(True, metrics.clock.monotonic_ns())
    conn.message()
    conn.reconnects.inc()
    conn.heartbeat_latency.observe(0.04)
    exchange = metrics.for_exchange("binance")
    exchange.rate_limit_usage("request_weight_1m", 600, 6000)
    exchange.clock_offset.set(-0.003)
    exchange.hot_wallet.set(0.02)
    exchange.api_key_created("main", metrics.clock.time_ns() - 5 * 86400 * NS)
    metrics.set_strategy_active("mm", "binance", "BTCUSDT", True)
    metrics.event_loop_lag.set(0.001)
    metrics.register_journal(Stats({"lag_records": 3, "errors": 0, "last_error": None}))
    metrics.register_risk(
        Stats(
            {
                "kill_switch": "active",
                "denials": {"max_order_qty": 2},
                "daily_loss": 50,
                "daily_loss_limit": 1000,
                "drawdown": 10,
                "max_drawdown": 500,
            }
        )
    )
    metrics.register_positions(
        Stats(
            {
                "positions": {
                    "binance:BTCUSDT": {"quantity": 0.5, "realised_pnl": 12.5, "unrealised_pnl": -3.0, "fees": 0.7}
                }
            }
        )
    )
    metrics.register_readiness(Readiness.standard(["binance:BTCUSDT"]))
    return metrics


def families(metrics: StanchionMetrics) -> dict[str, object]:
    return {f.name: f for f in metrics.registry.collect()}


def samples(metrics: StanchionMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in metrics.registry.collect()
        for s in f.samples
        if s.name == name
    }


# --- the seed's three ---------------------------------------------------------------------


def test_fill_latency_histogram_is_exactly_the_seeds() -> None:
    metrics = populated()
    family = families(metrics)["trading_fill_latency_seconds"]
    assert family.type == "histogram"
    buckets = [s for s in family.samples if s.name == "trading_fill_latency_seconds_bucket"]
    assert {tuple(sorted(k for k in s.labels if k != "le")) for s in buckets} == {("exchange", "symbol")}
    bounds = [float(s.labels["le"]) for s in buckets]
    assert bounds == [0.0001, 0.0005, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, float("inf")]
    assert family.documentation == "Order submission to fill confirmation (first fill), seconds"


def test_position_drift_gauge_is_exactly_the_seeds() -> None:
    metrics = populated()
    family = families(metrics)["trading_position_drift_percent"]
    assert family.type == "gauge"
    assert samples(metrics, "trading_position_drift_percent") == {
        (("exchange", "binance"), ("symbol", "BTCUSDT")): 0.25
    }


def test_market_data_age_is_computed_at_scrape_from_the_last_update() -> None:
    clock = TestClock()
    metrics = StanchionMetrics(CollectorRegistry(), clock)
    btc = metrics.for_symbol("binance", "BTCUSDT")
    family = families(metrics)["trading_market_data_age_seconds"]
    assert family.type == "gauge"
    key = (("exchange", "binance"), ("symbol", "BTCUSDT"))
    assert samples(metrics, "trading_market_data_age_seconds") == {key: 0.0}
    clock.advance_seconds(2.5)  # never updated: stale since the handle was made
    assert samples(metrics, "trading_market_data_age_seconds")[key] == 2.5
    btc.market_data(clock.monotonic_ns())
    clock.advance_seconds(0.75)
    assert samples(metrics, "trading_market_data_age_seconds")[key] == 0.75
    clock.advance_seconds(1)  # the age grows with no further call on the hot path
    assert samples(metrics, "trading_market_data_age_seconds")[key] == 1.75


# --- naming and documentation -------------------------------------------------------------


def test_counters_end_in_total_and_every_family_has_help() -> None:
    for family in populated().registry.collect():
        assert family.documentation, family.name
        assert re.fullmatch(r"(trading|stanchion|process)_[a-z0-9_]+", family.name), family.name
        for sample in family.samples:
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name


def test_every_metric_is_documented_in_metrics_md() -> None:
    doc = (REPO_ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"`((?:trading|stanchion)_[a-z0-9_]+)`", doc))
    names = set()
    for family in populated().registry.collect():
        if not family.name.startswith("process_"):  # the standard ProcessCollector families
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    assert names - documented == set(), "metrics missing from docs/metrics.md"
    assert {n for n in documented if not n.endswith("_bucket")} - names == set(), "documented but not defined"


def test_exposition_passes_promtool_check_metrics() -> None:
    import subprocess

    body = generate_latest(populated().registry)
    result = subprocess.run(
        [require(PROMTOOL), "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


# --- bound handles ------------------------------------------------------------------------


def test_handles_are_made_once() -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    assert metrics.for_symbol("binance", "BTCUSDT") is metrics.for_symbol("binance", "BTCUSDT")
    assert metrics.for_connection("binance", "user_data") is metrics.for_connection("binance", "user_data")
    assert metrics.for_exchange("binance") is metrics.for_exchange("binance")


def test_hot_path_never_calls_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    btc = metrics.for_symbol("binance", "BTCUSDT")
    conn = metrics.for_connection("binance", "market_data")
    btc.reject("filter")  # first sight of a reason binds its child (once)

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(".labels() called on the hot path")

    monkeypatch.setattr(MetricWrapperBase, "labels", forbidden)
    now = 1
    for _ in range(3):
        btc.market_data(now)
        btc.fill_latency.observe(0.01)
        btc.fills.inc()
        btc.cancels.inc()
        for status in ORDER_STATUSES:
            btc.order(status)
        btc.reject("filter")
        btc.book_gaps.inc()
        btc.book_state("stale")
        btc.position_drift.set(0.5)
        conn.message()
        conn.messages_received += 1
        conn.heartbeat_latency.observe(0.02)
        conn.set_connected(False, now)
    assert samples(metrics, "trading_fills_total")[(("exchange", "binance"), ("symbol", "BTCUSDT"))] == 3
    assert samples(metrics, "trading_ws_messages_total") == {
        (("connection", "market_data"), ("exchange", "binance")): 6
    }
    rejected = samples(metrics, "trading_orders_total")
    assert rejected[(("exchange", "binance"), ("status", "rejected"), ("symbol", "BTCUSDT"))] == 7  # 1 + 3 + 3


def test_children_exist_at_zero_before_the_first_event() -> None:
    """Absent series break rate()/increase() alerts (NoFills needs fills at 0)."""
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    metrics.for_symbol("binance", "BTCUSDT")
    assert samples(metrics, "trading_fills_total") == {(("exchange", "binance"), ("symbol", "BTCUSDT")): 0}
    statuses = {dict(k)["status"] for k in samples(metrics, "trading_orders_total")}
    assert statuses == set(ORDER_STATUSES)


def test_book_state_is_one_hot() -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    btc = metrics.for_symbol("binance", "BTCUSDT")
    for state in BOOK_STATES:
        btc.book_state(state)
        values = {dict(k)["state"]: v for k, v in samples(metrics, "trading_book_state").items()}
        assert values == {s: (1.0 if s == state else 0.0) for s in BOOK_STATES}
    with pytest.raises(ValueError, match="unknown book state 'dead'"):
        btc.book_state("dead")
    with pytest.raises(ValueError, match="unknown order status 'lost'"):
        btc.order("lost")


def test_websocket_down_seconds_counts_from_the_disconnect() -> None:
    clock = TestClock()
    metrics = StanchionMetrics(CollectorRegistry(), clock)
    conn = metrics.for_connection("binance", "market_data")
    key = (("connection", "market_data"), ("exchange", "binance"))
    clock.advance_seconds(4)
    assert samples(metrics, "trading_ws_down_seconds")[key] == 4.0  # never connected
    conn.set_connected(True, clock.monotonic_ns())
    clock.advance_seconds(100)
    assert samples(metrics, "trading_ws_down_seconds")[key] == 0.0
    assert samples(metrics, "trading_ws_connected")[key] == 1.0
    conn.set_connected(False, clock.monotonic_ns())
    clock.advance_seconds(31)
    conn.set_connected(False, clock.monotonic_ns())  # a repeated "down" does not restart the clock
    assert samples(metrics, "trading_ws_down_seconds")[key] == 31.0
    assert samples(metrics, "trading_ws_connected")[key] == 0.0


def test_exchange_gauges() -> None:
    clock = TestClock()
    metrics = StanchionMetrics(CollectorRegistry(), clock)
    exchange = metrics.for_exchange("binance")
    exchange.rate_limit_usage("request_weight_1m", 4200, 6000)
    assert samples(metrics, "trading_rate_limit_usage_ratio") == {
        (("exchange", "binance"), ("limit", "request_weight_1m")): 0.7
    }
    with pytest.raises(ValueError, match="capacity must be > 0"):
        exchange.rate_limit_usage("orders_10s", 1, 0)
    exchange.api_key_created("main", clock.time_ns())
    clock.advance_seconds(86400)
    assert samples(metrics, "trading_api_key_age_seconds") == {(("account", "main"), ("exchange", "binance")): 86400}


@pytest.mark.parametrize("bad", ["", "x" * 129, "bad\nlabel"])
def test_bad_label_values_are_refused(bad: str) -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    with pytest.raises(ValueError, match="metric label"):
        metrics.for_symbol("binance", bad)


def test_two_instances_on_one_registry_collide_clearly() -> None:
    registry = CollectorRegistry()
    StanchionMetrics(registry, TestClock())
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        StanchionMetrics(registry, TestClock())


# --- statistics() sources -----------------------------------------------------------------


def test_sources_are_read_at_scrape() -> None:
    metrics = populated()
    assert samples(metrics, "stanchion_journal_lag_records") == {(): 3}
    assert samples(metrics, "stanchion_journal_errors_total") == {(): 0}
    kill = {dict(k)["state"]: v for k, v in samples(metrics, "trading_kill_switch_state").items()}
    assert kill == {"active": 1, "reduce_only": 0, "halted": 0}
    assert samples(metrics, "trading_risk_denials_total") == {(("reason", "max_order_qty"),): 2}
    loss = {dict(k)["limit"]: v for k, v in samples(metrics, "trading_loss_limit_ratio").items()}
    assert loss == {"daily_loss": 0.05, "drawdown": 0.02}
    btc = (("exchange", "binance"), ("symbol", "BTCUSDT"))
    assert samples(metrics, "trading_position_quantity") == {btc: 0.5}
    assert samples(metrics, "trading_pnl_realised") == {btc: 12.5}
    assert samples(metrics, "trading_pnl_unrealised") == {btc: -3.0}
    assert samples(metrics, "trading_fees_paid") == {btc: 0.7}
    ready = {dict(k)["condition"]: v for k, v in samples(metrics, "stanchion_readiness_condition").items()}
    assert ready == {"journal_replayed": 0, "venues_reconciled": 0, "book_live:binance:BTCUSDT": 0}


def test_source_changes_show_on_the_next_scrape() -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    stats: dict[str, object] = {"kill_switch": "active", "denials": {}}
    metrics.register_risk(Stats(stats))
    stats["kill_switch"] = "halted"
    stats["denials"] = {"kill_switch_halted": 5}
    kill = {dict(k)["state"]: v for k, v in samples(metrics, "trading_kill_switch_state").items()}
    assert kill["halted"] == 1
    assert samples(metrics, "trading_risk_denials_total") == {(("reason", "kill_switch_halted"),): 5}


def test_a_broken_source_is_counted_and_does_not_blank_the_scrape() -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    metrics.for_symbol("binance", "BTCUSDT").fills.inc()
    metrics.register_journal(Broken())
    body = generate_latest(metrics.registry).decode()
    assert 'trading_fills_total{exchange="binance",symbol="BTCUSDT"} 1.0' in body
    assert 'stanchion_metrics_source_errors_total{source="journal"} 1.0' in body
    assert "component is broken" not in body


def test_malformed_statistics_are_skipped_not_fatal() -> None:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    metrics.register_journal(Stats({"lag_records": "many", "errors": float("nan")}))
    metrics.register_risk(Stats({"kill_switch": 3, "denials": ["x"], "daily_loss": 5, "daily_loss_limit": 0}))
    metrics.register_positions(Stats({"positions": {"no-colon": {"quantity": 1}, "binance:X": "row"}}))
    generate_latest(metrics.registry)
    assert samples(metrics, "stanchion_journal_lag_records") == {}
    assert samples(metrics, "trading_loss_limit_ratio") == {}
    assert samples(metrics, "trading_position_quantity") == {}


def test_the_real_journal_is_a_source(tmp_path) -> None:
    from stanchion.persistence.journal import Journal

    journal = Journal(tmp_path)
    journal.open()
    try:
        metrics = StanchionMetrics(CollectorRegistry(), TestClock())
        metrics.register_journal(journal)
        journal.append("test", "k", b"x")
        assert journal.wait_ingested(1)
        assert samples(metrics, "stanchion_journal_lag_records") == {(): 0}
        assert samples(metrics, "stanchion_journal_errors_total") == {(): 0}
    finally:
        journal.close()
