"""Config → engine: shard selection (flag, POD_NAME ordinal), exact limits, strategies."""

from __future__ import annotations

from pathlib import Path

import pytest

from stanchion.app.wiring import risk_limits, shard_from_environment, shard_symbols, strategies
from stanchion.config import load_config
from stanchion.core.errors import ConfigError
from stanchion.engine.strategies.armed_taker import ArmedTaker, ArmedTakerParams
from stanchion.engine.strategies.market_maker import MarketMaker
from stanchion.model.instrument import Instrument
from stanchion.model.orders import Side
from tests.conftest import REPO_ROOT

S8 = 10**8


def _instruments() -> dict[str, Instrument]:
    btc = Instrument("binance", "BTCUSDT", "BTC", "USDT", 8, 8, S8 // 100, 1_000, 1_000, 9_000 * S8, 5 * S8 * S8)
    eth = Instrument("binance", "ETHUSDT", "ETH", "USDT", 8, 8, S8 // 100, 10_000, 10_000, 9_000 * S8, 5 * S8 * S8)
    return {btc.key: btc, eth.key: eth}


def test_shard_from_flag_pod_name_or_default() -> None:
    assert shard_from_environment(3, {"POD_NAME": "trading-engine-1"}) == 3
    assert shard_from_environment(None, {"POD_NAME": "trading-engine-12"}) == 12
    assert shard_from_environment(None, {}) == 0
    with pytest.raises(ConfigError, match="does not end in -<ordinal>"):
        shard_from_environment(None, {"POD_NAME": "trading-engine"})


def test_shard_symbols() -> None:
    config = load_config(REPO_ROOT / "examples" / "live.yaml").config
    assert shard_symbols(config, 1) == ["binance:ETHUSDT", "binance:SOLUSDT"]
    with pytest.raises(ConfigError, match="shard 7 is not in the config"):
        shard_symbols(config, 7)


def test_risk_limits_are_exact_integers() -> None:
    config = load_config(REPO_ROOT / "examples" / "paper.yaml").config
    limits = risk_limits(config, _instruments())
    assert limits.notional_scale == 16
    btc = limits.instruments["binance:BTCUSDT"]
    assert btc.max_order_qty == S8 // 2 and btc.max_position == 2 * S8
    assert btc.max_order_notional == 50_000 * 10**16
    assert limits.daily_loss_limit == 2_000 * 10**16
    assert limits.max_book_age_ns == 5_000_000_000


def test_strategies_built_for_owned_instruments_only() -> None:
    config = load_config(REPO_ROOT / "examples" / "paper.yaml").config
    built = strategies(config, _instruments())
    [mm] = built
    assert isinstance(mm, MarketMaker) and mm.params.quote_size == S8 // 100 and mm.params.half_spread_bps == 5
    only_eth = {k: v for k, v in _instruments().items() if k == "binance:ETHUSDT"}
    assert strategies(config, only_eth) == []


def test_an_armed_taker_from_the_config(tmp_path: Path) -> None:
    text = (REPO_ROOT / "examples" / "paper.yaml").read_text()
    text = text.replace("strategies:\n", (
        "strategies:\n"
        "  - name: dip-buyer\n"
        "    params: {kind: armed_taker, instruments: [\"binance:BTCUSDT\"], side: buy, total_qty: \"0.5\",\n"
        "             clip_qty: \"0.01\", edge_bps: 3, rearm_bps: 4}\n"
    ), 1)
    path = tmp_path / "paper.yaml"
    path.write_text(text)
    built = strategies(load_config(path).config, _instruments())
    [taker] = [s for s in built if isinstance(s, ArmedTaker)]
    assert taker.name == "dip-buyer" and taker.params == ArmedTakerParams(
        "binance:BTCUSDT", Side.BUY, S8 // 2, S8 // 100, edge_bps=3, rearm_bps=4)
    path.write_text(text.replace("edge_bps: 3", "edge_bps: 3000"))
    with pytest.raises(ConfigError, match=r"strategies\.0\.params\.edge_bps"):
        load_config(path)
