"""The alert rules: they parse, their promtool unit tests pass, every alert is tested
firing and not firing, the seed's hierarchy is there with its thresholds, and every
alert links a runbook that exists."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.monitoring.harness import PROMTOOL, RULES, require, run_tool

TESTS_DIR = REPO_ROOT / "deploy" / "monitoring" / "prometheus" / "tests"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"

SEED_PAGE = {
    "PositionDriftHigh": "abs(trading_position_drift_percent) > 1",
    "WebSocketDown": "trading_ws_down_seconds > 30",
    "LossLimitExceeded": "trading_loss_limit_ratio >= 1",
}
SEED_SLACK = {
    "FillLatencyP99High": "exchange:trading_fill_latency_seconds:p99_5m > 1",
    "RejectionRateHigh": "exchange:trading_order_rejection_ratio:rate5m > 0.03",
    "RateLimitUsageHigh": "max_over_time(trading_rate_limit_usage_ratio[2m]) > 0.7",
}


def alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_rules_parse() -> None:
    result = run_tool([require(PROMTOOL), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    files = sorted(str(p) for p in TESTS_DIR.glob("*.yml"))
    assert files
    result = run_tool([require(PROMTOOL), "test", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        ("PositionDriftHigh", "> 1", "> 0.99"),  # drift exactly 1 % would fire
        ("WebSocketDown", "> 30", ">= 30"),  # exactly 30 s would fire
        ("RejectionRateHigh", "> 0.03", ">= 0.03"),  # exactly 3 % would fire
        ("RateLimitUsageHigh", "> 0.7", ">= 0.7"),  # exactly 70 % would fire
        ("LossLimitExceeded", ">= 1", "> 1"),  # reaching the limit would not fire
        ("NoFills", "[5m]", "[6m]"),  # a 6-minute window fires a minute late
    ],
)
def test_unit_tests_catch_a_moved_threshold(tmp_path: Path, alert: str, old: str, new: str) -> None:
    """The boundary cases are real: nudging a threshold makes the promtool tests fail."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                assert old in rule["expr"]
                rule["expr"] = rule["expr"].replace(old, new)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "trading.yml").write_text(yaml.safe_dump(doc))
    (tmp_path / "tests").mkdir()
    for test_file in TESTS_DIR.glob("*.yml"):
        shutil.copy(test_file, tmp_path / "tests" / test_file.name)
    result = run_tool([require(PROMTOOL), "test", "rules", *map(str, (tmp_path / "tests").glob("*.yml"))])
    assert result.returncode != 0, f"{alert} with {new!r} still passes every test"
    assert alert in result.stdout + result.stderr


def test_seed_hierarchy_is_present_with_its_thresholds() -> None:
    by_name = {rule["alert"]: rule for rule in alerts()}
    for name, expr in SEED_PAGE.items():
        assert by_name[name]["expr"].strip() == expr
        assert by_name[name]["labels"]["severity"] == "page"
    for name, expr in SEED_SLACK.items():
        assert by_name[name]["expr"].strip() == expr
        assert by_name[name]["labels"]["severity"] == "slack"
    no_fills = by_name["NoFills"]
    assert no_fills["labels"]["severity"] == "page"
    assert "increase(trading_fills_total[5m])) == 0" in no_fills["expr"]
    assert "trading_strategy_active" in no_fills["expr"]
    for extra in ("BookStale", "KillSwitchEngaged", "ClockOffsetHigh", "JournalErrors", "MarketDataStale"):
        assert extra in by_name


def test_every_alert_has_severity_annotations_and_a_runbook() -> None:
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"page", "slack"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook_url"] == f"docs/runbooks/{name}.md", name
        runbook = REPO_ROOT / annotations["runbook_url"]
        assert runbook.is_file(), f"missing runbook {runbook.relative_to(REPO_ROOT)}"
        text = runbook.read_text()
        for section in ("## Meaning", "## Impact", "## First checks", "## Actions"):
            assert section in text, f"{runbook.name} lacks {section}"
        assert "```promql" in text, f"{runbook.name} shows no PromQL"


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {rule["alert"] for rule in alerts()}
    orphans = {p.stem for p in RUNBOOKS.glob("*.md")} - names - {"README"}
    assert not orphans


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test_file in TESTS_DIR.glob("*.yml"):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_alert_labels_name_exchange_where_the_metric_has_it() -> None:
    """Alerts built on per-exchange metrics keep the exchange label (grouping and inhibition use it)."""
    per_exchange = re.compile(r"trading_(ws|book|market_data|fill|orders|rate_limit|clock|position_drift|fills)")
    for rule in alerts():
        if per_exchange.search(rule["expr"]):
            expr = rule["expr"]
            assert "by (" not in expr or "exchange" in expr, rule["alert"]


def test_sample_prometheus_config_is_valid() -> None:
    config = RULES.parent.parent / "prometheus.yml"
    result = run_tool([require(PROMTOOL), "check", "config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
