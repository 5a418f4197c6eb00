"""From the validated config to engine objects: shards, risk limits, strategies.

Config amounts are exact decimals in human units (BTC, USDT); the engine works
in integers at each instrument's scales. Conversions that would lose digits
are rounded in the conservative direction (limits down).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal

from stanchion.config.model import ArmedTakerParams as ArmedTakerConfig
from stanchion.config.model import LossAction as ConfigLossAction
from stanchion.config.model import MarketMakerParams as MarketMakerConfig
from stanchion.config.model import StanchionConfig
from stanchion.config.model import TwapParams as TwapConfig
from stanchion.core.errors import ConfigError
from stanchion.engine.kernel import Strategy
from stanchion.engine.risk.limits import ExposureRiskLimits, InstrumentRiskLimits, LossAction, RiskLimits
from stanchion.engine.strategies.armed_taker import ArmedTaker, ArmedTakerParams
from stanchion.engine.strategies.market_maker import MarketMaker, MarketMakerParams
from stanchion.engine.strategies.twap import Twap, TwapParams
from stanchion.model.instrument import Instrument
from stanchion.model.orders import Side

_ORDINAL = re.compile(r"-(\d+)$")


def shard_from_environment(explicit: int | None, environ: dict[str, str] | None = None) -> int:
    """``--shard N`` wins; else ``POD_NAME`` ending in ``-N`` (StatefulSet ordinal); else 0."""
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    pod = env.get("POD_NAME")
    if pod:
        match = _ORDINAL.search(pod)
        if match is None:
            raise ConfigError(f"POD_NAME {pod!r} does not end in -<ordinal>; pass --shard")
        return int(match.group(1))
    return 0


def shard_symbols(config: StanchionConfig, shard: int) -> list[str]:
    for entry in config.shards:
        if entry.id == shard:
            return list(entry.symbols)
    known = ", ".join(str(s.id) for s in config.shards)
    raise ConfigError(f"shard {shard} is not in the config (shards: {known})")


def _units(value: Decimal, scale: int) -> int:
    """Human units → integer at ``scale``, rounded down (a limit is never loosened)."""
    return int((value * (Decimal(10) ** scale)).to_integral_value(rounding="ROUND_FLOOR"))


def risk_limits(config: StanchionConfig, instruments: dict[str, Instrument]) -> RiskLimits:
    if not instruments:
        raise ConfigError("no instruments to trade")
    notional_scale = max(i.price_scale + i.qty_scale for i in instruments.values())
    risk = config.risk
    per_instrument = {}
    for key, instrument in instruments.items():
        limits = risk.instruments.get(key)
        if limits is None:
            raise ConfigError(f"risk.instruments: no limits for {key}")
        per_instrument[key] = InstrumentRiskLimits(
            max_order_qty=_units(limits.max_order_qty, instrument.qty_scale),
            max_order_notional=_units(limits.max_order_notional, notional_scale),
            max_position=_units(limits.max_position, instrument.qty_scale),
        )
    return RiskLimits(
        notional_scale=notional_scale,
        instruments=per_instrument,
        account=ExposureRiskLimits(
            _units(risk.account.max_gross_exposure, notional_scale),
            _units(risk.account.max_net_exposure, notional_scale),
        ),
        portfolio=ExposureRiskLimits(
            _units(risk.portfolio.max_gross_exposure, notional_scale),
            _units(risk.portfolio.max_net_exposure, notional_scale),
        ),
        price_band_bps=risk.price_band_bps,
        max_orders_per_second=risk.max_orders_per_second,
        max_cancels_per_second=risk.max_cancels_per_second,
        max_open_orders=risk.max_open_orders,
        daily_loss_limit=_units(risk.daily_loss_limit, notional_scale),
        max_drawdown=_units(risk.max_drawdown, notional_scale),
        loss_action=LossAction.HALT if risk.loss_action is ConfigLossAction.HALT else LossAction.REDUCE_ONLY,
        max_book_age_ns=int(risk.max_book_age_s * 1_000_000_000),
        enabled=risk.enabled,
    )


def strategies(config: StanchionConfig, instruments: dict[str, Instrument]) -> list[Strategy]:
    built: list[Strategy] = []
    for entry in config.strategies:
        params = entry.params
        keys = [k for k in params.instruments if k in instruments]
        if not keys:
            continue  # this shard does not own the strategy's instruments
        if isinstance(params, MarketMakerConfig):
            for key in keys:
                instrument = instruments[key]
                built.append(
                    MarketMaker(
                        entry.name if len(keys) == 1 else f"{entry.name}-{instrument.symbol.lower()}",
                        MarketMakerParams(
                            key=key,
                            quote_size=_units(params.quote_size, instrument.qty_scale),
                            half_spread_bps=int(params.half_spread_bps),
                            max_inventory=_units(params.max_inventory, instrument.qty_scale),
                            skew_bps_per_unit=int(params.skew_bps_per_unit),
                            inventory_unit=10**instrument.qty_scale,
                            requote_threshold_bps=max(1, int(params.requote_threshold_bps)),
                        ),
                    )
                )
        elif isinstance(params, TwapConfig):
            instrument = instruments[keys[0]]
            built.append(
                Twap(
                    entry.name,
                    TwapParams(
                        key=keys[0],
                        side=Side.BUY if params.side == "buy" else Side.SELL,
                        total_qty=_units(params.total_qty, instrument.qty_scale),
                        duration_ns=int(params.duration_s * 1_000_000_000),
                        slices=params.slices,
                    ),
                )
            )
        elif isinstance(params, ArmedTakerConfig):
            instrument = instruments[keys[0]]
            built.append(
                ArmedTaker(
                    entry.name,
                    ArmedTakerParams(
                        key=keys[0],
                        side=Side.BUY if params.side == "buy" else Side.SELL,
                        total_qty=_units(params.total_qty, instrument.qty_scale),
                        clip_qty=_units(params.clip_qty, instrument.qty_scale),
                        edge_bps=params.edge_bps,
                        rearm_bps=params.rearm_bps,
                    ),
                )
            )
    return built
