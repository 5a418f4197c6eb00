"""Every risk limit has a breach test with its reason; loss limits trip the kill switch;
REDUCE_ONLY lets only position-reducing orders through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pytest

from stanchion.engine.risk.gate import (
    CONFIG_KEY,
    InstrumentState,
    KillSwitchCause,
    KillSwitchState,
    OrderIntent,
    RiskGate,
    RiskReason,
)
from stanchion.engine.risk.limits import ExposureRiskLimits, InstrumentRiskLimits, LossAction, RiskLimits

PS, QS = 2, 5  # price 0.01 USDT, qty 0.00001 BTC
NS = PS + QS
USD = 10**NS  # one quote unit at notional scale
BTC = 10**QS
SEC = 1_000_000_000
MID = 60_000 * 10**PS


def _limits(**overrides: object) -> RiskLimits:
    base = RiskLimits(
        notional_scale=NS,
        instruments={
            "binance:BTCUSDT": InstrumentRiskLimits(max_order_qty=BTC // 2, max_order_notional=40_000 * USD,
                                                    max_position=2 * BTC),
            "binance:ETHUSDT": InstrumentRiskLimits(max_order_qty=10 * BTC, max_order_notional=40_000 * USD,
                                                    max_position=40 * BTC),
        },
        account=ExposureRiskLimits(max_gross_exposure=150_000 * USD, max_net_exposure=100_000 * USD),
        portfolio=ExposureRiskLimits(max_gross_exposure=200_000 * USD, max_net_exposure=120_000 * USD),
        price_band_bps=100,
        max_orders_per_second=5,
        max_cancels_per_second=3,
        max_open_orders=10,
        daily_loss_limit=1_000 * USD,
        max_drawdown=1_500 * USD,
        loss_action=LossAction.HALT,
        max_book_age_ns=5 * SEC,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass
class View:
    states: dict[str, InstrumentState] = field(default_factory=dict)
    open_orders: int = 0

    def instrument(self, key: str) -> InstrumentState | None:
        return self.states.get(key)

    def instruments(self) -> Mapping[str, InstrumentState]:
        return self.states

    def open_order_count(self) -> int:
        return self.open_orders

    def scales(self, key: str) -> tuple[int, int]:
        return PS, QS


def _state(**kw: object) -> InstrumentState:
    base = InstrumentState(position=0, open_buy_qty=0, open_sell_qty=0, reference_price=MID, book_live=True,
                           book_age_ns=SEC // 10, account="main")
    return replace(base, **kw)  # type: ignore[arg-type]


def _view(**btc: object) -> View:
    return View({"binance:BTCUSDT": _state(**btc), "binance:ETHUSDT": _state(reference_price=3_000 * 10**PS)})


def _buy(qty: int = BTC // 10, price: int | None = MID, symbol: str = "BTCUSDT", is_buy: bool = True) -> OrderIntent:
    return OrderIntent("binance", symbol, "main", is_buy, qty, price, QS, PS)


def _sell(qty: int = BTC // 10, price: int | None = MID) -> OrderIntent:
    return _buy(qty, price, is_buy=False)


def test_a_normal_order_passes() -> None:
    gate = RiskGate(_limits())
    decision = gate.check_order(_buy(), _view(), 0)
    assert decision.accepted and decision.reason is None
    assert gate.accepted == 1


@pytest.mark.parametrize(
    ("intent", "view_kw", "reason"),
    [
        (_buy(symbol="SOLUSDT"), {}, RiskReason.UNKNOWN_INSTRUMENT),
        (_buy(), {"book_live": False}, RiskReason.BOOK_NOT_LIVE),
        (_buy(), {"book_age_ns": 6 * SEC}, RiskReason.BOOK_STALE),
        (_buy(), {"book_age_ns": None}, RiskReason.BOOK_STALE),
        (_buy(), {"reference_price": None}, RiskReason.NO_REFERENCE_PRICE),
        (_buy(qty=BTC // 2 + 1), {}, RiskReason.MAX_ORDER_QTY),
        (_buy(qty=BTC // 2, price=MID * 2), {"reference_price": MID * 2}, RiskReason.MAX_ORDER_NOTIONAL),
        (_buy(price=MID * 102 // 100), {}, RiskReason.PRICE_BAND),
        (_sell(price=MID * 98 // 100), {}, RiskReason.PRICE_BAND),
        (_buy(qty=BTC // 2), {"position": 2 * BTC - BTC // 4}, RiskReason.MAX_POSITION),
        (_buy(qty=BTC // 2), {"position": BTC, "open_buy_qty": BTC}, RiskReason.MAX_POSITION),
    ],
)
def test_each_limit_denies_with_its_reason(intent: OrderIntent, view_kw: dict[str, object], reason: RiskReason) -> None:
    gate = RiskGate(_limits())
    decision = gate.check_order(intent, _view(**view_kw), 0)
    assert not decision.accepted
    assert decision.reason is reason
    assert decision.config_key == CONFIG_KEY[reason]
    assert gate.denials[reason] == 1 and gate.accepted == 0


def test_price_band_boundary_is_inclusive() -> None:
    gate = RiskGate(_limits())
    assert gate.check_order(_buy(price=MID * 101 // 100), _view(), 0).accepted  # exactly 100 bps


@pytest.mark.parametrize(
    ("limits_kw", "reason"),
    [
        ({"account": ExposureRiskLimits(max_gross_exposure=65_000 * USD, max_net_exposure=100_000 * USD)},
         RiskReason.ACCOUNT_GROSS_EXPOSURE),
        ({"account": ExposureRiskLimits(max_gross_exposure=500_000 * USD, max_net_exposure=65_000 * USD)},
         RiskReason.ACCOUNT_NET_EXPOSURE),
        ({"portfolio": ExposureRiskLimits(max_gross_exposure=65_000 * USD, max_net_exposure=500_000 * USD)},
         RiskReason.PORTFOLIO_GROSS_EXPOSURE),
        ({"portfolio": ExposureRiskLimits(max_gross_exposure=500_000 * USD, max_net_exposure=65_000 * USD)},
         RiskReason.PORTFOLIO_NET_EXPOSURE),
    ],
)
def test_exposure_limits(limits_kw: dict[str, object], reason: RiskReason) -> None:
    gate = RiskGate(_limits(**limits_kw))
    # Long 1 BTC at 60k = 60k; buying 0.1 more makes 66k.
    decision = gate.check_order(_buy(), _view(position=BTC), 0)
    assert decision.reason is reason
    # The same order that *reduces* exposure is never refused for exposure.
    assert gate.check_order(_sell(), _view(position=BTC), 0).accepted


def test_exposure_counts_other_accounts_only_in_the_portfolio() -> None:
    gate = RiskGate(_limits(account=ExposureRiskLimits(max_gross_exposure=10_000 * USD, max_net_exposure=10_000 * USD)))
    view = _view()
    view.states["binance:ETHUSDT"] = _state(position=30 * BTC, reference_price=3_000 * 10**PS, account="other")
    assert gate.check_order(_buy(), view, 0).accepted  # 6k in account "main"; ETH's 90k is another account's
    view.states["binance:ETHUSDT"] = replace(view.states["binance:ETHUSDT"], account="main")
    assert gate.check_order(_buy(), view, 0).reason is RiskReason.ACCOUNT_GROSS_EXPOSURE


def test_max_open_orders() -> None:
    gate = RiskGate(_limits())
    view = _view()
    view.open_orders = 10
    assert gate.check_order(_buy(), view, 0).reason is RiskReason.MAX_OPEN_ORDERS


def test_order_rate_throttle_and_window_slides() -> None:
    gate = RiskGate(_limits())
    for i in range(5):
        assert gate.check_order(_buy(), _view(), i).accepted
    assert gate.check_order(_buy(), _view(), 10).reason is RiskReason.ORDER_RATE
    assert gate.check_order(_buy(), _view(), SEC + 1).accepted  # the first ones left the window


def test_cancel_rate_throttle() -> None:
    gate = RiskGate(_limits())
    assert all(gate.check_cancel(i).accepted for i in range(3))
    denied = gate.check_cancel(5)
    assert denied.reason is RiskReason.CANCEL_RATE


def test_daily_loss_trips_halt() -> None:
    gate = RiskGate(_limits())
    gate.start_new_day(0)
    assert gate.on_pnl(-999 * USD) is None
    assert gate.kill_switch is KillSwitchState.ACTIVE
    assert gate.on_pnl(-1_000 * USD) is KillSwitchCause.DAILY_LOSS
    assert gate.kill_switch is KillSwitchState.HALTED
    decision = gate.check_order(_sell(), _view(position=BTC), 0)
    assert decision.reason is RiskReason.KILL_SWITCH_HALTED
    assert gate.check_cancel(0).accepted  # cancels still allowed when halted
    assert gate.on_pnl(-2_000 * USD) is None  # already tripped: reported once


def test_drawdown_trips_reduce_only_and_reduce_only_semantics() -> None:
    gate = RiskGate(_limits(loss_action=LossAction.REDUCE_ONLY))
    gate.start_new_day(0)
    gate.on_pnl(900 * USD)  # a new peak
    assert gate.on_pnl(-600 * USD) is KillSwitchCause.DRAWDOWN  # 1,500 from the peak, only 600 on the day
    assert gate.kill_switch is KillSwitchState.REDUCE_ONLY
    long_view = _view(position=BTC)
    assert gate.check_order(_sell(qty=BTC // 2), long_view, 0).accepted  # reduces
    assert gate.check_order(_buy(), long_view, 0).reason is RiskReason.REDUCE_ONLY  # increases
    # selling more than the position would flip it short: not reducing
    assert gate.check_order(_sell(qty=BTC // 2 + 1), _view(position=BTC // 2), 0).reason is RiskReason.REDUCE_ONLY
    # open sell orders count: with 0.4 already offered, another 0.2 would flip a 0.5 long
    assert gate.check_order(_sell(qty=BTC // 5), _view(position=BTC // 2, open_sell_qty=BTC * 2 // 5), 0).reason \
        is RiskReason.REDUCE_ONLY
    short_view = _view(position=-BTC)
    assert gate.check_order(_buy(), short_view, 0).accepted
    assert gate.check_order(_sell(), short_view, 0).reason is RiskReason.REDUCE_ONLY
    assert gate.check_order(_buy(), _view(), 0).reason is RiskReason.REDUCE_ONLY  # flat: nothing to reduce


def test_manual_kill_and_resume() -> None:
    gate = RiskGate(_limits())
    assert gate.engage(KillSwitchState.REDUCE_ONLY, KillSwitchCause.MANUAL)
    assert gate.engage(KillSwitchState.HALTED, KillSwitchCause.MANUAL)  # escalation
    assert not gate.engage(KillSwitchState.REDUCE_ONLY, KillSwitchCause.MANUAL)  # never downgraded
    assert gate.kill_switch is KillSwitchState.HALTED
    assert gate.resume()
    assert gate.check_order(_buy(), _view(), 0).accepted
    with pytest.raises(ValueError, match="resume"):
        gate.engage(KillSwitchState.ACTIVE, KillSwitchCause.MANUAL)


def test_disabled_gate_still_honours_kill_switch() -> None:
    gate = RiskGate(_limits(enabled=False))
    assert gate.check_order(_buy(qty=100 * BTC), _view(book_live=False), 0).accepted
    gate.engage(KillSwitchState.HALTED, KillSwitchCause.MANUAL)
    assert gate.check_order(_buy(), _view(), 0).reason is RiskReason.KILL_SWITCH_HALTED


def test_market_orders_are_judged_at_the_reference_price() -> None:
    gate = RiskGate(_limits())
    assert gate.check_order(_buy(price=None), _view(), 0).accepted
    big = _buy(qty=BTC // 2, price=None)
    assert gate.check_order(big, _view(reference_price=MID * 2), 0).reason is RiskReason.MAX_ORDER_NOTIONAL


def test_statistics_report_denials_by_reason() -> None:
    gate = RiskGate(_limits())
    gate.check_order(_buy(qty=BTC), _view(), 0)
    stats = gate.statistics()
    assert stats["denials"]["max_order_qty"] == 1  # type: ignore[index]
    assert stats["kill_switch"] == "active"
