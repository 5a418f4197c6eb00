"""Generate the Grafana dashboards in dashboards/ (JSON, Grafana 10+ schema).

    python deploy/monitoring/grafana/generate.py          # rewrite the JSON files
    python deploy/monitoring/grafana/generate.py --check  # exit 1 if they are out of date

The JSON files are what Grafana imports (provisioning or the UI); this script is how
they are edited. tests/monitoring/test_dashboards.py checks that the files match it,
that every panel's PromQL parses (promtool), and that every metric it names exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
EX = 'exchange=~"$exchange"'
EXS = 'exchange=~"$exchange", symbol=~"$symbol"'
RI = "$__rate_interval"


class Board:
    def __init__(self, uid: str, title: str, description: str, variables: tuple[str, ...]) -> None:
        self.uid = uid
        self.title = title
        self.description = description
        self.variables = variables
        self.panels: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def _place(self, width: int, height: int) -> dict[str, int]:
        if self._x + width > 24:
            self._x = 0
            self._y += self._row_height
            self._row_height = 0
        pos = {"h": height, "w": width, "x": self._x, "y": self._y}
        self._x += width
        self._row_height = max(self._row_height, height)
        return pos

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1

    def panel(
        self,
        kind: str,
        title: str,
        description: str,
        targets: list[tuple[str, str]],
        *,
        unit: str = "short",
        width: int = 12,
        height: int = 8,
        thresholds: list[tuple[float, str]] | None = None,
        minimum: float | None = None,
    ) -> None:
        steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
        steps += [{"color": color, "value": value} for value, color in thresholds or []]
        defaults: dict[str, Any] = {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}}
        if minimum is not None:
            defaults["min"] = minimum
        options: dict[str, Any]
        if kind == "stat":
            options = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "auto",
            }
        else:
            options = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
            if thresholds:
                defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DATASOURCE,
                "gridPos": self._place(width, height),
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": options,
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "datasource": DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                        "range": True,
                        "instant": False,
                    }
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )

    def build(self) -> dict[str, Any]:
        variables: list[dict[str, Any]] = [
            {
                "name": "datasource",
                "label": "Prometheus",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
                "refresh": 1,
                "options": [],
            }
        ]
        queries = {
            "exchange": "label_values(trading_ws_connected, exchange)",
            "symbol": 'label_values(trading_book_state{exchange=~"$exchange"}, symbol)',
        }
        for name in self.variables:
            variables.append(
                {
                    "name": name,
                    "label": name.capitalize(),
                    "type": "query",
                    "datasource": DATASOURCE,
                    "definition": queries[name],
                    "query": {"query": queries[name], "refId": f"{name}-values"},
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "refresh": 2,
                    "sort": 1,
                    "hide": 0,
                    "options": [],
                }
            )
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["stanchion", "trading"],
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "10s",
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "annotations": {
                "list": [
                    {
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                        "builtIn": 1,
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    }
                ]
            },
            "links": [
                {
                    "title": "Stanchion dashboards",
                    "type": "dashboards",
                    "tags": ["stanchion"],
                    "asDropdown": True,
                    "icon": "external link",
                    "includeVars": True,
                    "keepTime": True,
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": variables},
            "panels": self.panels,
        }


def overview() -> Board:
    b = Board(
        "stanchion-overview",
        "Stanchion / Overview",
        "Is it trading, is the data good, is the position right: the seed's trading SLOs on one page.",
        (),
    )
    b.row("Now")
    b.panel("stat", "Ready", "1 when every readiness condition is met (/readyz)",
            [("min(stanchion_readiness_condition)", "ready")], width=4, height=4,
            thresholds=[(1, "green")], unit="bool")
    b.panel("stat", "Kill switch", "The risk gate's kill-switch state",
            [("max by (state) (trading_kill_switch_state) == 1", "{{state}}")], width=4, height=4)
    b.panel("stat", "WebSockets down", "Connections currently down",
            [("count(trading_ws_connected == 0) or vector(0)", "down")], width=4, height=4,
            thresholds=[(1, "red")])
    b.panel("stat", "Books not LIVE", "Books in syncing or stale state",
            [('count(trading_book_state{state!="live"} == 1) or vector(0)', "not live")], width=4, height=4,
            thresholds=[(1, "orange")])
    b.panel("stat", "Paging alerts", "Alerts firing with severity=page",
            [('count(ALERTS{alertstate="firing", severity="page"}) or vector(0)', "firing")], width=4, height=4,
            thresholds=[(1, "red")])
    b.panel("stat", "PnL (net)", "Realised + unrealised − fees, all venues, quote currency",
            [("sum(trading_pnl_realised) + sum(trading_pnl_unrealised) - sum(trading_fees_paid)", "net")],
            width=4, height=4)
    b.row("Trading SLOs")
    b.panel("timeseries", "Fill latency p99 by exchange", "Submission to fill confirmation; slack alert above 1 s",
            [("exchange:trading_fill_latency_seconds:p99_5m", "{{exchange}}")], unit="s", thresholds=[(1, "red")])
    b.panel("timeseries", "Position drift", "Calculated vs exchange position; page above 1 %",
            [("trading_position_drift_percent", "{{exchange}} {{symbol}}")], unit="percent",
            thresholds=[(1, "red")])
    b.panel("timeseries", "Market data age (max per exchange)", "Seconds since the last book update",
            [("max by (exchange) (trading_market_data_age_seconds)", "{{exchange}}")], unit="s",
            thresholds=[(30, "orange")])
    b.panel("timeseries", "Fills per minute", "Fills by exchange",
            [(f"sum by (exchange) (rate(trading_fills_total[{RI}])) * 60", "{{exchange}}")], unit="short")
    b.panel("timeseries", "Rejection ratio", "Venue rejections / orders sent; slack alert above 3 %",
            [("exchange:trading_order_rejection_ratio:rate5m", "{{exchange}}")], unit="percentunit",
            thresholds=[(0.03, "red")])
    b.panel("timeseries", "Event loop lag", "How late the loop runs timers",
            [("max by (instance) (stanchion_event_loop_lag_seconds)", "{{instance}}")], unit="s",
            thresholds=[(0.1, "orange")])
    return b


def connectivity() -> Board:
    b = Board(
        "stanchion-connectivity",
        "Stanchion / Connectivity",
        "Per exchange: WebSocket connections, heartbeats, message flow, book integrity, clock.",
        ("exchange", "symbol"),
    )
    b.row("WebSockets")
    b.panel("timeseries", "Connected", "1 while the connection is up",
            [(f"trading_ws_connected{{{EX}}}", "{{exchange}} {{connection}}")], unit="bool", minimum=0)
    b.panel("timeseries", "Down for", "Seconds the connection has been down; page above 30 s",
            [(f"trading_ws_down_seconds{{{EX}}}", "{{exchange}} {{connection}}")], unit="s",
            thresholds=[(30, "red")])
    b.panel("timeseries", "Reconnects", "Reconnection attempts per interval",
            [(f"sum by (exchange, connection) (increase(trading_ws_reconnects_total{{{EX}}}[{RI}]))",
              "{{exchange}} {{connection}}")])
    b.panel("timeseries", "Messages per second", "Frames received",
            [(f"sum by (exchange, connection) (rate(trading_ws_messages_total{{{EX}}}[{RI}]))",
              "{{exchange}} {{connection}}")], unit="reqps")
    b.panel("timeseries", "Heartbeat round trip p99", "Application-level ping to pong",
            [(f"histogram_quantile(0.99, sum by (exchange, connection, le) "
              f"(rate(trading_ws_heartbeat_latency_seconds_bucket{{{EX}}}[{RI}])))", "{{exchange}} {{connection}}")],
            unit="s")
    b.panel("timeseries", "Clock offset", "Venue time − local time",
            [(f"trading_clock_offset_seconds{{{EX}}}", "{{exchange}}")], unit="s",
            thresholds=[(0.5, "orange")])
    b.row("Books")
    b.panel("timeseries", "Book LIVE", "1 while the book is LIVE (consumers act only on LIVE books)",
            [(f'trading_book_state{{{EXS}, state="live"}}', "{{exchange}} {{symbol}}")], unit="bool", minimum=0)
    b.panel("timeseries", "Market data age", "Seconds since the last book update",
            [(f"trading_market_data_age_seconds{{{EXS}}}", "{{exchange}} {{symbol}}")], unit="s",
            thresholds=[(30, "orange")])
    b.panel("timeseries", "Gaps and resyncs", "Sequence gaps detected and resyncs started",
            [(f"sum by (exchange, symbol) (increase(trading_book_gaps_total{{{EXS}}}[{RI}]))",
              "gaps {{exchange}} {{symbol}}"),
             (f"sum by (exchange, symbol) (increase(trading_book_resyncs_total{{{EXS}}}[{RI}]))",
              "resyncs {{exchange}} {{symbol}}")])
    b.panel("timeseries", "Checksum failures and crossed books", "Integrity violations",
            [(f"sum by (exchange, symbol) (increase(trading_book_checksum_failures_total{{{EXS}}}[{RI}]))",
              "checksum {{exchange}} {{symbol}}"),
             (f"sum by (exchange, symbol) (increase(trading_book_crossed_total{{{EXS}}}[{RI}]))",
              "crossed {{exchange}} {{symbol}}")])
    return b


def execution() -> Board:
    b = Board(
        "stanchion-execution",
        "Stanchion / Execution quality",
        "Fill latency, orders and rejections, rate-limit headroom, quote-to-trade ratio.",
        ("exchange", "symbol"),
    )
    b.row("Latency")
    b.panel("timeseries", "Fill latency p50 / p99", "Order submission to fill confirmation",
            [(f"histogram_quantile(0.5, sum by (exchange, le) "
              f"(rate(trading_fill_latency_seconds_bucket{{{EXS}}}[{RI}])))", "p50 {{exchange}}"),
             (f"histogram_quantile(0.99, sum by (exchange, le) "
              f"(rate(trading_fill_latency_seconds_bucket{{{EXS}}}[{RI}])))", "p99 {{exchange}}")],
            unit="s", thresholds=[(1, "red")])
    b.panel("timeseries", "Fill latency p99 by symbol (5 m)", "Recording rule",
            [(f"exchange_symbol:trading_fill_latency_seconds:p99_5m{{{EXS}}}", "{{exchange}} {{symbol}}")],
            unit="s", thresholds=[(1, "red")])
    b.row("Orders")
    b.panel("timeseries", "Orders by status", "Per second",
            [(f"sum by (status) (rate(trading_orders_total{{{EXS}}}[{RI}]))", "{{status}}")], unit="reqps")
    b.panel("timeseries", "Rejection ratio", "Venue rejections / orders sent; slack alert above 3 %",
            [(f"exchange:trading_order_rejection_ratio:rate5m{{{EX}}}", "{{exchange}}")], unit="percentunit",
            thresholds=[(0.03, "red")])
    b.panel("timeseries", "Rejects by reason", "Per interval",
            [(f"sum by (exchange, reason) (increase(trading_order_rejects_total{{{EXS}}}[{RI}]))",
              "{{exchange}} {{reason}}")])
    b.panel("timeseries", "Cancels and fills", "Per second",
            [(f"sum by (exchange) (rate(trading_cancels_total{{{EXS}}}[{RI}]))", "cancels {{exchange}}"),
             (f"sum by (exchange) (rate(trading_fills_total{{{EXS}}}[{RI}]))", "fills {{exchange}}")],
            unit="reqps")
    b.panel("timeseries", "Quote-to-trade ratio", "(orders + cancels) per fill over 5 m",
            [(f"exchange_symbol:trading_quote_to_trade_ratio:rate5m{{{EXS}}}", "{{exchange}} {{symbol}}")])
    b.row("Rate limits")
    b.panel("timeseries", "Rate-limit use", "Share of each venue budget in use; slack alert above 70 %",
            [(f"trading_rate_limit_usage_ratio{{{EX}}}", "{{exchange}} {{limit}}")], unit="percentunit",
            thresholds=[(0.7, "orange"), (0.9, "red")], minimum=0)
    return b


def risk() -> Board:
    b = Board(
        "stanchion-risk",
        "Stanchion / Risk and positions",
        "Kill switch, loss limits, risk denials, positions and PnL, drift, treasury and keys, journal.",
        ("exchange", "symbol"),
    )
    b.row("Risk gate")
    b.panel("stat", "Kill switch", "Current state",
            [("max by (state) (trading_kill_switch_state) == 1", "{{state}}")], width=6, height=5)
    b.panel("timeseries", "Loss vs limit", "1 = limit reached (kill switch engages)",
            [("trading_loss_limit_ratio", "{{limit}}")], unit="percentunit", width=9, height=5,
            thresholds=[(0.8, "orange"), (1, "red")])
    b.panel("timeseries", "Risk denials by reason", "Orders refused before reaching the venue",
            [(f"sum by (reason) (increase(trading_risk_denials_total[{RI}])) > 0", "{{reason}}")],
            width=9, height=5)
    b.row("Positions and PnL")
    b.panel("timeseries", "Position", "Net position, base units",
            [(f"trading_position_quantity{{{EXS}}}", "{{exchange}} {{symbol}}")])
    b.panel("timeseries", "Position drift", "Calculated vs exchange; page above 1 %",
            [(f"trading_position_drift_percent{{{EXS}}}", "{{exchange}} {{symbol}}")], unit="percent",
            thresholds=[(1, "red")])
    b.panel("timeseries", "PnL by instrument", "Realised, unrealised, fees (quote currency)",
            [(f"trading_pnl_realised{{{EXS}}}", "realised {{exchange}} {{symbol}}"),
             (f"trading_pnl_unrealised{{{EXS}}}", "unrealised {{exchange}} {{symbol}}"),
             (f"-trading_fees_paid{{{EXS}}}", "fees {{exchange}} {{symbol}}")])
    b.panel("timeseries", "PnL by exchange (net)", "Realised + unrealised − fees",
            [(f"sum by (exchange) (trading_pnl_realised{{{EX}}}) + sum by (exchange) (trading_pnl_unrealised{{{EX}}})"
              f" - sum by (exchange) (trading_fees_paid{{{EX}}})", "{{exchange}}")])
    b.row("Treasury, keys, journal")
    b.panel("timeseries", "Hot-wallet exposure", "Share of the treasury on exchanges; alert above 5 %",
            [("sum(max by (exchange) (trading_hot_wallet_exposure_ratio))", "total"),
             ("max by (exchange) (trading_hot_wallet_exposure_ratio)", "{{exchange}}")], unit="percentunit",
            thresholds=[(0.05, "red")], width=8)
    b.panel("timeseries", "API key age", "Days; rotation every 30 days",
            [("trading_api_key_age_seconds / 86400", "{{exchange}} {{account}}")], unit="d",
            thresholds=[(31, "orange")], width=8)
    b.panel("timeseries", "Journal", "Records not yet durable, and write errors",
            [("stanchion_journal_lag_records", "lag {{instance}}"),
             (f"increase(stanchion_journal_errors_total[{RI}])", "errors {{instance}}")], width=8)
    return b


BOARDS = {"overview.json": overview, "connectivity.json": connectivity, "execution.json": execution, "risk.json": risk}


def render() -> dict[str, str]:
    return {name: json.dumps(make().build(), indent=2, sort_keys=False) + "\n" for name, make in BOARDS.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSON files are out of date")
    args = parser.parse_args()
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        sys.stderr.write(f"out of date: {', '.join(stale)}; run {Path(__file__).name}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
