"""Reconciliation: drift in percent per symbol, unknown orders on either side, policy → action."""

from __future__ import annotations

import pytest

from stanchion.engine.reconcile import DriftPolicy, ReconcileAction, drift_percent, reconcile


def _run(internal: int, venue_total: int, policy: DriftPolicy = DriftPolicy.ALERT, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "venue": "binance",
        "symbols": {"BTCUSDT": "BTC"},
        "internal_positions": {"BTCUSDT": internal},
        "venue_balances": {"BTC": venue_total, "USDT": 10},
        "reference_balances": {"BTC": 1_000},
        "internal_open_orders": {"S1", "S2"},
        "venue_open_orders": {"S1", "S2", "web_9"},
        "is_ours": lambda cid: cid.startswith("S"),
        "threshold_percent": 1.0,
        "policy": policy,
    }
    args.update(kw)
    return reconcile(**args)  # type: ignore[arg-type]


def test_no_drift() -> None:
    report = _run(500, 1_500)
    assert report.max_drift_percent == 0.0 and report.action is ReconcileAction.NONE
    assert report.foreign_open_orders == 1 and report.unknown_at_venue == () and report.unknown_locally == ()


def test_drift_exactly_one_percent_is_not_a_breach() -> None:
    report = _run(99, 1_100)  # venue 100 vs internal 99 → 1 %
    assert report.max_drift_percent == pytest.approx(1.0)
    assert report.action is ReconcileAction.NONE


@pytest.mark.parametrize(
    ("policy", "action"),
    [(DriftPolicy.ALERT, ReconcileAction.ALERT), (DriftPolicy.HALT, ReconcileAction.HALT),
     (DriftPolicy.ADOPT, ReconcileAction.ADOPT)],
)
def test_a_fill_only_the_venue_knows_is_drift(policy: DriftPolicy, action: ReconcileAction) -> None:
    report = _run(500, 1_600, policy)  # the venue shows 100 more BTC than our fills
    [drift] = report.breached
    assert drift.difference == 100 and drift.drift_percent == pytest.approx(100 / 6)
    assert report.action is action


def test_orders_known_only_on_one_side() -> None:
    report = _run(0, 1_000, internal_open_orders={"S1", "S3"}, venue_open_orders={"S1", "S4", "web_1"})
    assert report.unknown_at_venue == ("S3",)  # we think open, venue does not list: query it
    assert report.unknown_locally == ("S4",)  # ours by prefix, unknown to us: a lost intent
    assert report.action is ReconcileAction.ALERT


def test_drift_percent_edges() -> None:
    assert drift_percent(0, 0) == 0.0
    assert drift_percent(0, 5) == 100.0
    assert drift_percent(-5, 5) == 200.0
