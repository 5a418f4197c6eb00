"""The pre-trade risk gate.

Every new order passes :meth:`RiskGate.check_order`, every cancel
:meth:`RiskGate.check_cancel`; a refusal is a :class:`RiskDecision` with a
reason code (never an exception), counted per reason for the metrics. Checks
run in a fixed order, cheapest and most fundamental first, and the first
failing one is the reason.

The gate is pure: the engine passes it the state it judges (positions, open
orders, reference prices and book health) through :class:`RiskView`, and
feeds it PnL so it can trip the kill switch on the daily loss limit or the
maximum drawdown.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from stanchion.core.fixedpoint import pow10
from stanchion.engine.risk.limits import LossAction, RiskLimits
from stanchion.engine.risk.throttle import RateWindow


class RiskReason(enum.Enum):
    """Reason codes. The value is the metric label and the event's ``reason``."""

    KILL_SWITCH_HALTED = "kill_switch_halted"
    REDUCE_ONLY = "reduce_only"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    BOOK_NOT_LIVE = "book_not_live"
    BOOK_STALE = "book_stale"
    NO_REFERENCE_PRICE = "no_reference_price"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    PRICE_BAND = "price_band"
    MAX_POSITION = "max_position"
    ACCOUNT_GROSS_EXPOSURE = "account_gross_exposure"
    ACCOUNT_NET_EXPOSURE = "account_net_exposure"
    PORTFOLIO_GROSS_EXPOSURE = "portfolio_gross_exposure"
    PORTFOLIO_NET_EXPOSURE = "portfolio_net_exposure"
    MAX_OPEN_ORDERS = "max_open_orders"
    ORDER_RATE = "order_rate"
    CANCEL_RATE = "cancel_rate"


# The config key each reason enforces (for the denial event and the runbooks).
CONFIG_KEY: Mapping[RiskReason, str] = {
    RiskReason.KILL_SWITCH_HALTED: "risk.loss_action / stanchion kill",
    RiskReason.REDUCE_ONLY: "risk.loss_action / stanchion kill --reduce-only",
    RiskReason.UNKNOWN_INSTRUMENT: "risk.instruments",
    RiskReason.BOOK_NOT_LIVE: "venues.<venue>.staleness",
    RiskReason.BOOK_STALE: "risk.max_book_age_s",
    RiskReason.NO_REFERENCE_PRICE: "risk.price_band_bps",
    RiskReason.MAX_ORDER_QTY: "risk.instruments.<key>.max_order_qty",
    RiskReason.MAX_ORDER_NOTIONAL: "risk.instruments.<key>.max_order_notional",
    RiskReason.PRICE_BAND: "risk.price_band_bps",
    RiskReason.MAX_POSITION: "risk.instruments.<key>.max_position",
    RiskReason.ACCOUNT_GROSS_EXPOSURE: "risk.account.max_gross_exposure",
    RiskReason.ACCOUNT_NET_EXPOSURE: "risk.account.max_net_exposure",
    RiskReason.PORTFOLIO_GROSS_EXPOSURE: "risk.portfolio.max_gross_exposure",
    RiskReason.PORTFOLIO_NET_EXPOSURE: "risk.portfolio.max_net_exposure",
    RiskReason.MAX_OPEN_ORDERS: "risk.max_open_orders",
    RiskReason.ORDER_RATE: "risk.max_orders_per_second",
    RiskReason.CANCEL_RATE: "risk.max_cancels_per_second",
}


class KillSwitchState(enum.Enum):
    ACTIVE = "active"  # trading normally
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"


class KillSwitchCause(enum.Enum):
    MANUAL = "manual"
    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    DRIFT = "drift"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants to send, already at the instrument's scales."""

    venue: str
    symbol: str
    account: str
    is_buy: bool
    qty: int
    price: int | None  # None: market order (judged at the reference price)
    qty_scale: int
    price_scale: int

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    accepted: bool
    reason: RiskReason | None = None
    detail: str = ""

    @property
    def config_key(self) -> str | None:
        return CONFIG_KEY[self.reason] if self.reason else None


ACCEPT = RiskDecision(True)


@dataclass(frozen=True, slots=True)
class InstrumentState:
    """What the gate needs to know about one instrument right now."""

    position: int  # signed, qty scale
    open_buy_qty: int  # outstanding on open buy orders
    open_sell_qty: int
    reference_price: int | None  # mid, price scale
    book_live: bool
    book_age_ns: int | None  # since the last book update
    account: str


class RiskView(Protocol):
    def instrument(self, key: str) -> InstrumentState | None: ...

    def instruments(self) -> Mapping[str, InstrumentState]: ...

    def open_order_count(self) -> int: ...

    def scales(self, key: str) -> tuple[int, int]:
        """(price_scale, qty_scale) of an instrument."""
        ...


class RiskGate:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._orders = RateWindow(limits.max_orders_per_second)
        self._cancels = RateWindow(limits.max_cancels_per_second)
        self.kill_switch = KillSwitchState.ACTIVE
        self.kill_cause: KillSwitchCause | None = None
        self.denials: dict[RiskReason, int] = dict.fromkeys(RiskReason, 0)
        self.accepted = 0
        self._peak_pnl = 0
        self._day_start_pnl = 0
        self.last_pnl = 0

    # --- kill switch --------------------------------------------------------------------

    def engage(self, state: KillSwitchState, cause: KillSwitchCause) -> bool:
        """Engage (or escalate) the kill switch; returns True when the state changed.

        HALTED is never downgraded to REDUCE_ONLY automatically.
        """
        if state is KillSwitchState.ACTIVE:
            raise ValueError("use resume() to leave the kill switch")
        if self.kill_switch is KillSwitchState.HALTED or self.kill_switch is state:
            return False
        self.kill_switch = state
        self.kill_cause = cause
        return True

    def resume(self) -> bool:
        changed = self.kill_switch is not KillSwitchState.ACTIVE
        self.kill_switch = KillSwitchState.ACTIVE
        self.kill_cause = None
        # A resume starts a new drawdown window from the current PnL.
        self._peak_pnl = self.last_pnl
        return changed

    def start_new_day(self, pnl: int) -> None:
        self._day_start_pnl = pnl
        self._peak_pnl = pnl
        self.last_pnl = pnl

    def on_pnl(self, pnl: int) -> KillSwitchCause | None:
        """Feed total PnL (notional scale); trips the kill switch on a loss limit.

        Returns the cause when this call tripped it.
        """
        self.last_pnl = pnl
        self._peak_pnl = max(self._peak_pnl, pnl)
        halt = self.limits.loss_action is LossAction.HALT
        action = KillSwitchState.HALTED if halt else KillSwitchState.REDUCE_ONLY
        if self._day_start_pnl - pnl >= self.limits.daily_loss_limit:
            return KillSwitchCause.DAILY_LOSS if self.engage(action, KillSwitchCause.DAILY_LOSS) else None
        if self._peak_pnl - pnl >= self.limits.max_drawdown:
            return KillSwitchCause.DRAWDOWN if self.engage(action, KillSwitchCause.DRAWDOWN) else None
        return None

    @property
    def daily_loss(self) -> int:
        return max(0, self._day_start_pnl - self.last_pnl)

    @property
    def drawdown(self) -> int:
        return max(0, self._peak_pnl - self.last_pnl)

    # --- checks -------------------------------------------------------------------------

    def _deny(self, reason: RiskReason, detail: str) -> RiskDecision:
        self.denials[reason] += 1
        return RiskDecision(False, reason, detail)

    def check_cancel(self, now_ns: int) -> RiskDecision:
        """Cancels are always allowed by the kill switch (they reduce risk) but throttled."""
        if self.limits.enabled and self._cancels.would_exceed(now_ns):
            return self._deny(RiskReason.CANCEL_RATE, f"more than {self._cancels.limit} cancels/s")
        self._cancels.record(now_ns)
        return ACCEPT

    def check_order(self, intent: OrderIntent, view: RiskView, now_ns: int) -> RiskDecision:
        decision = self._check_order(intent, view, now_ns)
        if decision.accepted:
            self.accepted += 1
            self._orders.record(now_ns)
        return decision

    def check_band(self, intent: OrderIntent, reference: int | None) -> RiskDecision:
        """An accepted order not yet sent (an armed one) against a new reference price: the
        price band alone (every other check held when it was accepted and counts it as open).
        Denials are counted like :meth:`check_order`'s."""
        if not self.limits.enabled or intent.price is None:
            return ACCEPT
        if reference is None or reference <= 0:
            return self._deny(RiskReason.NO_REFERENCE_PRICE, f"{intent.key} has no mid price")
        band = self.limits.price_band_bps
        if abs(intent.price - reference) * 10_000 > reference * band:
            return self._deny(
                RiskReason.PRICE_BAND, f"price {intent.price} is more than {band} bps from mid {reference}"
            )
        return ACCEPT

    def _check_order(self, intent: OrderIntent, view: RiskView, now_ns: int) -> RiskDecision:
        state = view.instrument(intent.key)
        return (
            self._check_switch_and_health(intent, state)
            or self._check_size_and_price(intent, state)
            or self._check_position_and_exposure(intent, state, view)
            or self._check_counts(view, now_ns)
            or ACCEPT
        )

    def _check_switch_and_health(self, intent: OrderIntent, state: InstrumentState | None) -> RiskDecision | None:
        limits = self.limits
        if self.kill_switch is KillSwitchState.HALTED:
            return self._deny(RiskReason.KILL_SWITCH_HALTED, f"trading halted ({self.kill_cause})")
        if state is None or intent.key not in limits.instruments:
            return self._deny(RiskReason.UNKNOWN_INSTRUMENT, f"{intent.key} has no risk limits or state")
        if self.kill_switch is KillSwitchState.REDUCE_ONLY and not _reduces(state, intent):
            return self._deny(RiskReason.REDUCE_ONLY, "reduce-only: the order would not reduce the position")
        if not limits.enabled:
            return ACCEPT
        if not state.book_live:
            return self._deny(RiskReason.BOOK_NOT_LIVE, f"{intent.key} book is not LIVE")
        if state.book_age_ns is None or state.book_age_ns > limits.max_book_age_ns:
            return self._deny(RiskReason.BOOK_STALE, f"{intent.key} book age exceeds the limit")
        if state.reference_price is None or state.reference_price <= 0:
            return self._deny(RiskReason.NO_REFERENCE_PRICE, f"{intent.key} has no mid price")
        return None

    def _check_size_and_price(self, intent: OrderIntent, state: InstrumentState | None) -> RiskDecision | None:
        assert state is not None and state.reference_price is not None  # guaranteed by the health stage
        reference = state.reference_price
        limit = self.limits.instruments[intent.key]
        price = intent.price if intent.price is not None else reference
        if intent.qty > limit.max_order_qty:
            return self._deny(RiskReason.MAX_ORDER_QTY, f"qty {intent.qty} > {limit.max_order_qty}")
        notional = _rescale_up(price * intent.qty, intent.price_scale + intent.qty_scale, self.limits.notional_scale)
        if notional > limit.max_order_notional:
            return self._deny(RiskReason.MAX_ORDER_NOTIONAL, f"notional {notional} > {limit.max_order_notional}")
        band = self.limits.price_band_bps
        if intent.price is not None and abs(price - reference) * 10_000 > reference * band:
            return self._deny(RiskReason.PRICE_BAND, f"price {price} is more than {band} bps from mid {reference}")
        return None

    def _check_position_and_exposure(
        self, intent: OrderIntent, state: InstrumentState | None, view: RiskView
    ) -> RiskDecision | None:
        assert state is not None and state.reference_price is not None
        signed = intent.qty if intent.is_buy else -intent.qty
        pending = state.open_buy_qty if intent.is_buy else -state.open_sell_qty
        worst = state.position + pending + signed
        limit = self.limits.instruments[intent.key]
        if abs(worst) > limit.max_position and abs(worst) > abs(state.position + pending):
            return self._deny(RiskReason.MAX_POSITION, f"worst-case position {worst} > {limit.max_position}")
        price = intent.price if intent.price is not None else state.reference_price
        return self._exposure_check(intent, view, worst, price)

    def _check_counts(self, view: RiskView, now_ns: int) -> RiskDecision | None:
        if view.open_order_count() >= self.limits.max_open_orders:
            return self._deny(RiskReason.MAX_OPEN_ORDERS, f"{self.limits.max_open_orders} orders already open")
        if self._orders.would_exceed(now_ns):
            return self._deny(RiskReason.ORDER_RATE, f"more than {self._orders.limit} orders/s")
        return None

    def _exposure_check(
        self, intent: OrderIntent, view: RiskView, worst_position: int, price: int
    ) -> RiskDecision | None:
        account_gross = account_net = portfolio_gross = portfolio_net = 0
        grows = False
        for key, state in view.instruments().items():
            ref = state.reference_price
            if key == intent.key:
                before = state.position + (state.open_buy_qty if intent.is_buy else -state.open_sell_qty)
                grows = abs(worst_position) > abs(before)
                qty, mark = worst_position, price
            else:
                qty = state.position
                mark = ref if ref is not None else 0
            price_scale, qty_scale = view.scales(key)
            value = _rescale_up(mark * qty, price_scale + qty_scale, self.limits.notional_scale)
            portfolio_gross += abs(value)
            portfolio_net += value
            if state.account == intent.account:
                account_gross += abs(value)
                account_net += value
        if not grows:
            return None  # an order that does not grow the position never breaches exposure
        checks = (
            (account_gross, self.limits.account.max_gross_exposure, RiskReason.ACCOUNT_GROSS_EXPOSURE),
            (abs(account_net), self.limits.account.max_net_exposure, RiskReason.ACCOUNT_NET_EXPOSURE),
            (portfolio_gross, self.limits.portfolio.max_gross_exposure, RiskReason.PORTFOLIO_GROSS_EXPOSURE),
            (abs(portfolio_net), self.limits.portfolio.max_net_exposure, RiskReason.PORTFOLIO_NET_EXPOSURE),
        )
        for value, limit, reason in checks:
            if value > limit:
                return self._deny(reason, f"{reason.value} {value} > {limit}")
        return None

    def statistics(self) -> dict[str, object]:
        return {
            "kill_switch": self.kill_switch.value,
            "kill_cause": self.kill_cause.value if self.kill_cause else None,
            "accepted": self.accepted,
            "denials": {reason.value: count for reason, count in self.denials.items()},
            "daily_loss": self.daily_loss,
            "drawdown": self.drawdown,
        }


def _reduces(state: InstrumentState, intent: OrderIntent) -> bool:
    """True if the order, even with every open order on its side filled, only
    brings the position closer to zero without flipping it."""
    if intent.is_buy:
        return state.position < 0 and state.position + state.open_buy_qty + intent.qty <= 0
    return state.position > 0 and state.position - state.open_sell_qty - intent.qty >= 0


def _rescale_up(value: int, scale: int, target: int) -> int:
    """Change scale, rounding the magnitude up: exposure is never understated."""
    if scale <= target:
        return value * pow10(target - scale)
    magnitude = -(-abs(value) // pow10(scale - target))
    return magnitude if value >= 0 else -magnitude
