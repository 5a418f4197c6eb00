"""A WebSocket goes down; a real Prometheus scraping a real HealthServer fires
WebSocketDown; a real Alertmanager routes it to the pager webhook, not to Slack; a
rate limit at 90 % reaches the Slack receiver (its URL read from a file), not the pager.

Only the alert's threshold is shortened (30 s -> 2 s, in a copy of the shipped
rules); routing, grouping and inhibition are the shipped alertmanager.yml with
receivers pointed at a local webhook. To run the same check against
``stanchion run --headless``, pass that process's ``host:port`` as the scrape target.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from stanchion.observability.health import HealthServer, Readiness
from stanchion.observability.metrics import StanchionMetrics
from tests.monitoring.harness import WebhookReceiver, alertmanager_test_config, fast_rules


async def test_websocket_down_pages_through_real_prometheus_and_alertmanager(
    tmp_path: Path, http: aiohttp.ClientSession, webhook: WebhookReceiver, start_alertmanager, start_prometheus
) -> None:
    metrics = StanchionMetrics(CollectorRegistry())
    market_data = metrics.for_connection("binance", "market_data")
    other = metrics.for_connection("coinbase", "market_data")
    now = metrics.clock.monotonic_ns
    market_data.set_connected(True, now())
    other.set_connected(True, now())
    readiness = Readiness(["venues_reconciled"])

    am = await start_alertmanager(alertmanager_test_config(webhook, tmp_path, token="pager-secret"))
    rules = fast_rules(tmp_path, {"WebSocketDown": ("> 30", "> 2")})
    async with HealthServer(metrics, readiness, port=0) as health:
        target = f"127.0.0.1:{health.port}"  # swap for `stanchion run --headless`'s metrics address
        prom = await start_prometheus([target], [rules], alertmanager=am.address)
        await prom.wait_up(http, timeout_s=30)
        assert await prom.query(http, "trading_ws_connected == 1"), "Prometheus does not see the connections up"

        market_data.set_connected(False, now())
        metrics.for_exchange("binance").rate_limit_usage("request_weight_1m", 5400, 6000)  # 90 %: a slack alert
        post = await webhook.wait_for(
            lambda p: p.path == "/pager" and bool(p.firing("WebSocketDown")), timeout_s=40, what="WebSocketDown page"
        )
        slack = await webhook.wait_for(
            lambda p: p.path == "/slack" and "RateLimitUsageHigh" in str(p.body),
            timeout_s=20,
            what="RateLimitUsageHigh on the Slack route",
        )

    alerts = post.firing("WebSocketDown")
    assert {(a["labels"]["exchange"], a["labels"]["connection"]) for a in alerts} == {("binance", "market_data")}
    assert alerts[0]["labels"]["severity"] == "page"
    assert alerts[0]["annotations"]["runbook_url"] == "docs/runbooks/WebSocketDown.md"
    assert post.headers.get("Authorization") == "Bearer pager-secret"  # credentials_file is honoured
    assert post.body["groupLabels"] == {"alertname": "WebSocketDown", "exchange": "binance"}
    assert not any("WebSocketDown" in str(p.body) for p in webhook.posts if p.path == "/slack"), "a page went to Slack"
    assert not any(p.firing("RateLimitUsageHigh") for p in webhook.posts if p.path == "/pager"), "slack alert paged"
    assert "Rate limit request_weight_1m on binance at 90%" in str(slack.body)  # Slack's own payload format
