"""Risk limits as exact integers, built by the composition root from the config.

Quantities are at each instrument's quantity scale, money at the notional scale
of the portfolio (``NOTIONAL_SCALE`` decimals of the quote currency), so every
check is an integer comparison.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class LossAction(enum.Enum):
    HALT = "halt"
    REDUCE_ONLY = "reduce_only"


@dataclass(frozen=True, slots=True)
class InstrumentRiskLimits:
    max_order_qty: int
    max_order_notional: int
    max_position: int


@dataclass(frozen=True, slots=True)
class ExposureRiskLimits:
    max_gross_exposure: int
    max_net_exposure: int


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """All limits of one engine shard. Keys of ``instruments`` are ``venue:SYMBOL``."""

    notional_scale: int
    instruments: dict[str, InstrumentRiskLimits]
    account: ExposureRiskLimits
    portfolio: ExposureRiskLimits
    price_band_bps: int
    max_orders_per_second: int
    max_cancels_per_second: int
    max_open_orders: int
    daily_loss_limit: int
    max_drawdown: int
    loss_action: LossAction
    max_book_age_ns: int
    enabled: bool = True
    config_keys: dict[str, str] = field(default_factory=dict)
