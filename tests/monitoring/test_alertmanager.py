"""alertmanager.yml: valid, routes each severity to its receiver, and inhibits as designed
(the inhibition checked on a real Alertmanager, since amtool cannot evaluate it offline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.monitoring.harness import (
    ALERTMANAGER_CONFIG,
    AMTOOL,
    WebhookReceiver,
    alertmanager_test_config,
    require,
    run_tool,
    wait_until,
)


def test_config_is_valid() -> None:
    result = run_tool([require(AMTOOL), "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_no_secret_inline() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    for slack in receivers["slack"]["slack_configs"]:
        assert "api_url" not in slack
        assert slack["api_url_file"]
    for hook in receivers["pager"]["webhook_configs"]:
        assert hook["http_config"]["authorization"]["credentials_file"]
        assert "credentials" not in hook["http_config"]["authorization"]
    assert "slack_api_url" not in config.get("global", {})


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=page", "alertname=WebSocketDown", "exchange=binance"], "pager"),
        (["severity=page", "alertname=PositionDriftHigh", "exchange=binance", "symbol=BTCUSDT"], "pager"),
        (["severity=page", "alertname=LossLimitExceeded"], "pager"),
        (["severity=slack", "alertname=RejectionRateHigh", "exchange=coinbase"], "slack"),
        (["severity=slack", "alertname=RateLimitUsageHigh", "exchange=binance"], "slack"),
        (["alertname=SomethingUnlabelled"], "slack"),
    ],
)
def test_routes(labels: list[str], receiver: str) -> None:
    argv = [require(AMTOOL), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}"]
    ok = run_tool([*argv, f"--verify.receivers={receiver}", *labels])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    other = "slack" if receiver == "pager" else "pager"
    wrong = run_tool([*argv, f"--verify.receivers={other}", *labels])
    assert wrong.returncode != 0, f"{labels} also verifies as {other}"


def test_grouping_by_alertname_and_exchange() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "exchange"]


def _alert(name: str, **labels: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


async def test_inhibitions_on_a_real_alertmanager(
    tmp_path: Path, http: aiohttp.ClientSession, webhook: WebhookReceiver, start_alertmanager
) -> None:
    am = await start_alertmanager(alertmanager_test_config(webhook, tmp_path))
    await am.post_alerts(
        http,
        [
            _alert("WebSocketDown", severity="page", exchange="binance", connection="market_data"),
            _alert("BookStale", severity="page", exchange="binance", symbol="BTCUSDT", state="stale"),
            _alert("MarketDataStale", severity="slack", exchange="binance", symbol="BTCUSDT"),
            _alert("BookStale", severity="page", exchange="coinbase", symbol="BTC-USD", state="stale"),
            _alert("KillSwitchEngaged", severity="page", state="halted"),
            _alert("NoFills", severity="page", exchange="kraken"),
            _alert("LossLimitExceeded", severity="page", limit="daily_loss"),
        ],
    )

    def key(alert: dict[str, object]) -> tuple[str, str]:
        labels = alert["labels"]
        assert isinstance(labels, dict)
        return labels["alertname"], labels.get("exchange", "")

    async def statuses() -> dict[tuple[str, str], str] | None:
        current = {key(a): a["status"]["state"] for a in await am.alerts(http)}
        # inhibition is computed shortly after ingestion; wait until every alert has a verdict
        return current if len(current) == 7 and "unprocessed" not in current.values() else None

    state = await wait_until(statuses, 15, "alertmanager to process the alerts")
    assert state[("WebSocketDown", "binance")] == "active"
    assert state[("BookStale", "binance")] == "suppressed"  # same exchange as the dead socket
    assert state[("MarketDataStale", "binance")] == "suppressed"
    assert state[("BookStale", "coinbase")] == "active"  # another exchange: not inhibited
    assert state[("NoFills", "kraken")] == "suppressed"  # kill switch engaged
    assert state[("KillSwitchEngaged", "")] == "suppressed"  # explained by the loss limit
    assert state[("LossLimitExceeded", "")] == "active"
