"""Grafana dashboards: up to date with their generator, well-formed, every panel's PromQL
parses (through promtool, as recording rules), and every metric named by a dashboard, an
alert rule or a runbook exists in metrics.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.monitoring.harness import PROMTOOL, RULES, require, run_tool
from tests.monitoring.test_metrics import populated

GRAFANA = REPO_ROOT / "deploy" / "monitoring" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RUNBOOKS = sorted((REPO_ROOT / "docs" / "runbooks").glob("*.md"))
BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE"}  # made by Prometheus itself
KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan", "atan2"}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        board = load(path)
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']} / {target['refId']}", target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
                assert match, variable["definition"]
                found.append((f"{path.name}: variable {variable['name']}", match.group(1)))
    return found


def runbook_exprs() -> list[tuple[str, str]]:
    found = []
    for path in RUNBOOKS:
        for block in re.findall(r"```promql\n(.*?)```", path.read_text(), re.S):
            found.extend((f"{path.name}", line.strip()) for line in block.splitlines() if line.strip())
    return found


def rule_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load(RULES.read_text())
    return [(rule.get("alert") or rule["record"], rule["expr"]) for group in doc["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["record"] for group in doc["groups"] for rule in group["rules"] if "record" in rule}


def concrete(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return re.sub(r"\$(\w+)", ".*", expr)  # $exchange, $symbol: only ever inside matcher strings


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', concrete(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    tokens = set(re.findall(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()", text))
    return tokens - KEYWORDS


def test_dashboards_are_up_to_date_with_the_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_four_dashboards_exist() -> None:
    assert {p.name for p in DASHBOARDS} == {"overview.json", "connectivity.json", "execution.json", "risk.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    board = load(path)
    assert board["uid"].startswith("stanchion-") and board["title"].startswith("Stanchion / ")
    assert isinstance(board["schemaVersion"], int) and isinstance(board["refresh"], str)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].strip()
    names = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in names
    used = {
        v
        for panel in board["panels"]
        for target in panel.get("targets", [])
        for v in re.findall(r"\$(\w+)", target["expr"])
        if not v.startswith("__")
    }
    assert used <= names, f"undefined dashboard variables: {used - names}"


def test_every_expression_parses(tmp_path: Path) -> None:
    """Dashboards' and runbooks' PromQL, wrapped as recording rules and checked by promtool."""
    exprs = dashboard_exprs() + runbook_exprs()
    assert len(exprs) > 50
    rules = [{"record": f"check:expr_{i}", "expr": concrete(expr)} for i, (_where, expr) in enumerate(exprs)]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    result = run_tool([require(PROMTOOL), "check", "rules", str(path)])
    if result.returncode != 0:
        bad = re.findall(r"group \"check\", rule (\d+)", result.stdout + result.stderr)
        where = [exprs[int(i) - 1] for i in bad]
        pytest.fail(f"promtool rejected: {where or ''}\n{result.stdout}{result.stderr}")


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    """The check above can fail: an unclosed parenthesis is rejected."""
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "x:y", "expr": "sum(rate(up[5m])"}]}]})
    )
    result = run_tool([require(PROMTOOL), "check", "rules", str(path)])
    assert result.returncode != 0
    assert "unclosed left parenthesis" in result.stdout + result.stderr


def test_every_referenced_metric_exists() -> None:
    exposed = {s.name for family in populated().registry.collect() for s in family.samples}
    known = exposed | recorded_names() | BUILTIN
    missing = {}
    for where, expr in rule_exprs() + dashboard_exprs() + runbook_exprs():
        unknown = metric_names(expr) - known
        if unknown:
            missing[where] = sorted(unknown)
    assert not missing, f"metrics referenced but not defined in metrics.py: {missing}"


def test_the_name_extractor_finds_names() -> None:
    expr = 'sum by (exchange, le) (rate(trading_x_bucket{a="b"}[5m])) / on (exchange) foo:bar:baz offset 5m > 0'
    assert metric_names(expr) == {"trading_x_bucket", "foo:bar:baz"}
