"""Filters: each rule with Binance's exact code and message, and the exchangeInfo shape."""

from __future__ import annotations

import json

import pytest
from tests.sim.unit.simcore_helpers import E, btc_spec, limit, make_exchange, market

from stanchion.sim.exchange import MarketConfig, OrderRequest, Rejected


def failure(name: str) -> Rejected:
    return Rejected(-1013, f"Filter failure: {name}")


@pytest.mark.parametrize(
    ("overrides", "request_", "expected"),
    [
        ({"min_price": 50 * E}, limit("BUY", E, 49 * E), failure("PRICE_FILTER")),
        ({"max_price": 150 * E}, limit("BUY", E, 151 * E), failure("PRICE_FILTER")),
        ({}, limit("BUY", E, 100 * E + 1), failure("PRICE_FILTER")),  # off tick
        ({"min_qty": E}, limit("BUY", E // 2, 100 * E), failure("LOT_SIZE")),
        ({"max_qty": E}, limit("BUY", 2 * E, 100 * E), failure("LOT_SIZE")),
        ({}, limit("BUY", E + 1, 100 * E), failure("LOT_SIZE")),  # off step
        ({"market_max_qty": E}, market("SELL", 2 * E), failure("MARKET_LOT_SIZE")),
        ({"market_min_qty": E}, market("SELL", E // 2), failure("MARKET_LOT_SIZE")),
        ({"min_notional": 10 * E}, limit("BUY", E // 20, 100 * E), failure("NOTIONAL")),
        ({"max_notional": 10 * E}, limit("BUY", E, 100 * E), failure("NOTIONAL")),
        ({"min_notional": 10 * E}, market("BUY", quote=5 * E), failure("NOTIONAL")),
        (
            {"min_notional": 10 * E, "notional_filter": "MIN_NOTIONAL"},
            limit("BUY", E // 20, 100 * E),
            failure("MIN_NOTIONAL"),
        ),
    ],
)
def test_each_filter_rejects_with_binance_code_and_message(
    overrides: dict[str, object], request_: OrderRequest, expected: Rejected
) -> None:
    exchange, _ = make_exchange(spec=btc_spec(**overrides))
    assert exchange.place_order("alice", request_) == expected
    assert exchange.test_order("alice", request_) == expected
    assert exchange.open_orders("alice") == []


@pytest.mark.parametrize(
    ("overrides", "request_"),
    [
        ({"min_price": 0, "max_price": 0}, limit("BUY", E, 1)),  # price rules off, tick 0.01 -> 1 fails tick
    ],
)
def test_rules_at_zero_are_off_but_tick_still_applies(overrides: dict[str, object], request_: OrderRequest) -> None:
    exchange, _ = make_exchange(spec=btc_spec(**overrides))
    assert exchange.place_order("alice", request_) == failure("PRICE_FILTER")
    assert exchange.place_order("alice", limit("BUY", E, E // 100)) != failure("PRICE_FILTER")


def test_notional_max_not_applied_to_market_unless_asked() -> None:
    exchange, _ = make_exchange(spec=btc_spec(max_notional=10 * E, apply_max_to_market=False))
    exchange.place_order("bob", limit("SELL", 5 * E, 100 * E))
    result = exchange.place_order("alice", market("BUY", 2 * E))
    assert not isinstance(result, Rejected)
    strict, _ = make_exchange(spec=btc_spec(max_notional=10 * E, apply_max_to_market=True))
    assert strict.place_order("alice", market("BUY", 2 * E)) == failure("NOTIONAL")


def test_max_num_orders_counts_open_orders_of_the_account_on_the_symbol() -> None:
    exchange, _ = make_exchange(spec=btc_spec(max_num_orders=2))
    for i in range(2):
        assert not isinstance(exchange.place_order("alice", limit("BUY", E, (90 + i) * E)), Rejected)
    assert exchange.place_order("alice", limit("BUY", E, 80 * E)) == failure("MAX_NUM_ORDERS")
    # Another account has its own count.
    assert not isinstance(exchange.place_order("bob", limit("BUY", E, 80 * E)), Rejected)


def test_exchange_info_symbol_object_has_what_clients_read() -> None:
    info = btc_spec(min_notional=5 * E).exchange_info_json()
    json.dumps(info)  # serializable as is
    assert info["symbol"] == "BTCUSDT"
    assert info["status"] == "TRADING"
    assert info["baseAsset"] == "BTC"
    assert info["quoteAsset"] == "USDT"
    assert info["baseAssetPrecision"] == 8
    assert info["quoteAssetPrecision"] == 8
    assert info["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET"]
    assert info["defaultSelfTradePreventionMode"] == "EXPIRE_MAKER"
    assert "EXPIRE_MAKER" in info["allowedSelfTradePreventionModes"]  # type: ignore[operator]
    assert info["permissionSets"] == [["SPOT"]]
    filters = {f["filterType"]: f for f in info["filters"]}  # type: ignore[attr-defined]
    assert filters["PRICE_FILTER"] == {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.00000000",
        "maxPrice": "0.00000000",
        "tickSize": "0.01000000",
    }
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert filters["NOTIONAL"]["applyMinToMarket"] is True
    assert filters["MAX_NUM_ORDERS"] == {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}


def test_bad_specs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="tick and step"):
        btc_spec(tick=0)
    with pytest.raises(ValueError, match="multiple of tick"):
        btc_spec(initial_price=100 * E + 1)
    with pytest.raises(ValueError, match="upper-case"):
        btc_spec(symbol="btc/usdt")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"levels_per_side": 0}, "levels_per_side"),
        ({"changes_per_step_min": 5, "changes_per_step_max": 4}, "changes_per_step"),
        ({"volatility_ticks": -1.0}, "volatility"),
        ({"taker_probability": 1.0}, "taker_probability"),
    ],
)
def test_bad_market_config_is_refused_with_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MarketConfig(**fields)  # type: ignore[arg-type]


def test_bad_accounts_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="duplicate account"):
        make_exchange(accounts=("alice", "alice"))
