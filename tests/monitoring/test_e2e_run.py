"""The monitoring stack against the real thing: ``stanchion run --headless`` (embedded
Binance simulator, connector, engine, market maker) scraped by a real Prometheus whose
alerts go to a real Alertmanager, which routes them to a local webhook.

* ``promtool check metrics`` on a scrape of the running process is clean, and the
  seed's three metrics are there with their exact names, types, labels and buckets,
  fed by the running app (market-data age is fresh while the feed flows).
* The market-data WebSocket goes down and stays down: the simulator stalls it without
  pings beyond the liveness timeout (2 s here), so the connector drops it, and its
  reconnects are refused because the simulator's per-IP connection-attempt budget
  (Binance: 300 per 5 minutes) has been used up by the test. A stall alone is not a
  page: the connector reconnects within ~0.1 s, which is the point of reconnecting.
  ``WebSocketDown`` then reaches the pager webhook. The test copy of the rules lowers
  only that alert's threshold (30 s -> 2 s); routing is the shipped alertmanager.yml.
* SIGTERM stops the run, exit status 0.
"""

from __future__ import annotations

import asyncio
import copy
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from stanchion.app.main import EMBEDDED_CONFIG
from tests.monitoring.harness import (
    PROMTOOL,
    WebhookReceiver,
    alertmanager_test_config,
    fast_rules,
    require,
    wait_until,
)

CLI = [sys.executable, "-c", "from stanchion.cli.main import main; main()", "run"]
SEED_BUCKETS = [0.0001, 0.0005, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5]
# The "started" line, console (key=value) or JSON ("key": "value") log format.
_URL = r'{key}"?\s*[=:]\s*"?(http://127\.0\.0\.1:\d+[^\s",]*)'


def run_config(tmp_path: Path, staleness: dict[str, float]) -> Path:
    """The embedded default (simulator mode) with test staleness settings, in a file."""
    config: dict[str, Any] = copy.deepcopy(EMBEDDED_CONFIG)
    config["venues"]["binance"]["staleness"] = staleness
    path = tmp_path / "stanchion.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class RunProcess:
    """``stanchion run --headless`` as a child, its output in files; stopped by its own pid."""

    def __init__(self, tmp_path: Path, config: Path) -> None:
        self.stderr_path = tmp_path / "run.stderr"
        self.stdout_path = tmp_path / "run.stdout"
        argv = [*CLI, "--headless", "--config", str(config), "--metrics-listen", "127.0.0.1:0",
                "--admin-listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=tmp_path)
        self.metrics_url = ""
        self.sim_control_url = ""

    def log(self, tail: int = 4000) -> str:
        return (self.stderr_path.read_text(errors="replace") + self.stdout_path.read_text(errors="replace"))[-tail:]

    async def wait_started(self, timeout_s: float = 60) -> None:
        async def started() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"stanchion run exited with {self.proc.returncode}:\n{self.log()}")
            text = self.stderr_path.read_text(errors="replace")
            metrics = re.search(_URL.format(key="metrics"), text)
            control = re.search(_URL.format(key="sim_control"), text)
            if "started" not in text or metrics is None or control is None:
                return False
            self.metrics_url, self.sim_control_url = metrics.group(1), control.group(1)
            return True

        await wait_until(started, timeout_s, "the 'started' log line of stanchion run")

    @property
    def metrics_address(self) -> str:
        return self.metrics_url.removeprefix("http://")

    def terminate(self, timeout_s: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


async def scrape(http: aiohttp.ClientSession, run: RunProcess) -> str:
    async with http.get(f"{run.metrics_url}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=60, check=False)


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def check_seed_metrics(text: str) -> None:
    """The seed's three, exactly: names, types, labels, buckets; fed by the running app."""
    found = families(text)
    latency = found["trading_fill_latency_seconds"]
    assert latency.type == "histogram"
    buckets = [s for s in latency.samples if s.name == "trading_fill_latency_seconds_bucket"]
    assert buckets, "no fill-latency series"
    for sample in buckets:
        assert set(sample.labels) == {"exchange", "symbol", "le"}, sample.labels
    les = sorted({float(s.labels["le"]) for s in buckets})
    assert les == [*SEED_BUCKETS, math.inf]
    assert {(s.labels["exchange"], s.labels["symbol"]) for s in buckets} == {
        ("binance", "BTCUSDT"), ("binance", "ETHUSDT")}
    drift = found["trading_position_drift_percent"]
    assert drift.type == "gauge"
    assert {tuple(sorted(s.labels.items())) for s in drift.samples} == {
        (("exchange", "binance"), ("symbol", "BTCUSDT")), (("exchange", "binance"), ("symbol", "ETHUSDT"))}
    age = found["trading_market_data_age_seconds"]
    assert age.type == "gauge"
    ages = {s.labels["symbol"]: s.value for s in age.samples}
    assert set(ages) == {"BTCUSDT", "ETHUSDT"}
    assert all(set(s.labels) == {"exchange", "symbol"} for s in age.samples)
    # 50 updates/s flow: a fed gauge is fresh (unfed, it would count from startup).
    assert all(v < 2.0 for v in ages.values()), ages


async def exhaust_connection_budget(http: aiohttp.ClientSession, sim_control_url: str) -> int:
    """Use up the simulator's WebSocket connection attempts for this IP (its 300 per
    5 minutes): plain GETs on the stream endpoint count as attempts; stop at the first 429."""
    stream = sim_control_url.removesuffix("/_sim") + "/ws/btcusdt@depth"
    for attempt in range(1, 400):
        async with http.get(stream) as resp:
            if resp.status == 429:
                return attempt
    raise AssertionError("the simulator never refused a connection attempt")


async def test_stanchion_run_scraped_by_prometheus_pages_websocket_down(
    tmp_path: Path, http: aiohttp.ClientSession, webhook: WebhookReceiver, start_alertmanager, start_prometheus
) -> None:
    config = run_config(tmp_path, {"liveness_timeout_s": 2, "book_stale_after_s": 1})
    run = RunProcess(tmp_path, config)
    try:
        await run.wait_started()
        am = await start_alertmanager(alertmanager_test_config(webhook, tmp_path))
        rules = fast_rules(tmp_path, {"WebSocketDown": ("> 30", "> 2")})
        prom = await start_prometheus([run.metrics_address], [rules], alertmanager=am.address)

        async def ready() -> bool:
            async with http.get(f"{run.metrics_url}/readyz") as resp:
                return resp.status == 200

        await wait_until(ready, 60, "/readyz 200 (ordered start done, books LIVE)")
        await prom.wait_up(http, timeout_s=30)
        up = await prom.query(http, 'trading_ws_connected{exchange="binance"} == 1')
        assert {r["metric"]["connection"] for r in up} == {"market_data", "ws_api"}

        # The scrape: clean for promtool, the seed's three as specified and fed.
        text = await scrape(http, run)
        checked = await asyncio.to_thread(promtool_check_metrics, text)
        assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
            checked.stdout + checked.stderr)
        check_seed_metrics(text)

        # The market-data WebSocket goes down and cannot come back.
        await exhaust_connection_budget(http, run.sim_control_url)
        stall = {"kind": "stall", "duration_s": 120, "answer_pings": False, "symbol": "BTCUSDT"}
        async with http.post(f"{run.sim_control_url}/faults", json=stall) as resp:
            assert resp.status == 200, await resp.text()
        started = time.monotonic()

        async def down() -> list[dict[str, Any]]:
            return await prom.query(
                http, 'trading_ws_connected{exchange="binance",connection="market_data"} == 0')

        await wait_until(down, 20, "Prometheus sees the market-data WebSocket down")
        post = await webhook.wait_for(
            lambda p: p.path == "/pager" and bool(p.firing("WebSocketDown")), timeout_s=40,
            what="WebSocketDown at the pager webhook",
        )
        elapsed = time.monotonic() - started
        alerts = post.firing("WebSocketDown")
        assert {(a["labels"]["exchange"], a["labels"]["connection"]) for a in alerts} == {("binance", "market_data")}
        assert alerts[0]["labels"]["severity"] == "page"
        assert alerts[0]["annotations"]["runbook_url"] == "docs/runbooks/WebSocketDown.md"
        assert not any(p.firing("WebSocketDown") for p in webhook.posts if p.path == "/slack")
        # The books on the dead link stopped updating: their age grows past the outage.
        assert await prom.query(http, 'trading_market_data_age_seconds{exchange="binance",symbol="BTCUSDT"} > 2')
        assert elapsed < 40

        assert await asyncio.to_thread(run.terminate) == 0, run.log()
    finally:
        run.kill()
