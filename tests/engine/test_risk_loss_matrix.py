"""Risk gaps not covered in test_risk_gate: each loss limit with each loss action (daily loss →
REDUCE_ONLY, drawdown → HALT), and the config key of the denials tested there without it
(exposure, rates, open orders)."""

from __future__ import annotations

import pytest

from stanchion.engine.risk.gate import CONFIG_KEY, KillSwitchCause, KillSwitchState, RiskGate, RiskReason
from stanchion.engine.risk.limits import ExposureRiskLimits, LossAction
from tests.engine.test_risk_gate import BTC, SEC, USD, _buy, _limits, _sell, _view


@pytest.mark.parametrize(
    ("action", "state", "denied"),
    [(LossAction.HALT, KillSwitchState.HALTED, RiskReason.KILL_SWITCH_HALTED),
     (LossAction.REDUCE_ONLY, KillSwitchState.REDUCE_ONLY, RiskReason.REDUCE_ONLY)],
)
@pytest.mark.parametrize(
    ("path", "cause"),
    [([-1_000], KillSwitchCause.DAILY_LOSS),  # the whole daily loss
     ([900, -600], KillSwitchCause.DRAWDOWN)],  # 1,500 from the peak, 600 on the day
)
def test_each_loss_limit_trips_each_loss_action(
    action: LossAction, state: KillSwitchState, denied: RiskReason, path: list[int], cause: KillSwitchCause
) -> None:
    gate = RiskGate(_limits(loss_action=action))
    gate.start_new_day(0)
    causes = [gate.on_pnl(pnl * USD) for pnl in path]
    assert causes[-1] is cause and all(c is None for c in causes[:-1])
    assert gate.kill_switch is state and gate.kill_cause is cause
    decision = gate.check_order(_buy(), _view(position=BTC), 0)  # would increase a long
    assert not decision.accepted and decision.reason is denied
    assert decision.config_key == CONFIG_KEY[denied]
    # Reducing the long: allowed only when the action is REDUCE_ONLY.
    assert gate.check_order(_sell(), _view(position=BTC), 0).accepted is (action is LossAction.REDUCE_ONLY)


def test_denials_tested_elsewhere_carry_their_config_key() -> None:
    tight = ExposureRiskLimits(max_gross_exposure=65_000 * USD, max_net_exposure=65_000 * USD)
    cases = [
        (RiskGate(_limits(account=tight)), RiskReason.ACCOUNT_GROSS_EXPOSURE),
        (RiskGate(_limits(portfolio=tight)), RiskReason.PORTFOLIO_GROSS_EXPOSURE),
    ]
    for gate, reason in cases:
        decision = gate.check_order(_buy(), _view(position=BTC), 0)
        assert decision.reason is reason and decision.config_key == CONFIG_KEY[reason]
    gate = RiskGate(_limits())
    view = _view()
    view.open_orders = 10
    decision = gate.check_order(_buy(), view, 0)
    assert decision.reason is RiskReason.MAX_OPEN_ORDERS and decision.config_key == CONFIG_KEY[RiskReason.MAX_OPEN_ORDERS]
    for i in range(5):
        assert gate.check_order(_buy(), _view(), i).accepted
    decision = gate.check_order(_buy(), _view(), SEC // 2)
    assert decision.reason is RiskReason.ORDER_RATE and decision.config_key == CONFIG_KEY[RiskReason.ORDER_RATE]
    assert all(gate.check_cancel(i).accepted for i in range(3))
    decision = gate.check_cancel(4)
    assert decision.reason is RiskReason.CANCEL_RATE and decision.config_key == CONFIG_KEY[RiskReason.CANCEL_RATE]
    assert all(key for key in CONFIG_KEY.values())
