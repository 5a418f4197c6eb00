"""Matching engine scenarios on an exchange without synthetic market (books hold user orders only)."""

from __future__ import annotations

import pytest
from tests.sim.unit.simcore_helpers import E, accepted, btc_spec, limit, make_exchange, market

from stanchion.core.clock import TestClock
from stanchion.sim.exchange import (
    AccountSpec,
    AccountUpdate,
    BalanceView,
    ExecutionEvent,
    OrderRequest,
    Rejected,
    SimExchange,
    Trade,
)


def executions(events: list[object]) -> list[ExecutionEvent]:
    return [e for e in events if isinstance(e, ExecutionEvent)]


def balance(exchange: object, account: str, asset: str) -> BalanceView:
    views = exchange.balances(account)  # type: ignore[attr-defined]
    return next(b for b in views if b.asset == asset)


def test_limit_rests_and_locks_quote_then_cancel_releases() -> None:
    exchange, _ = make_exchange()
    order = accepted(exchange.place_order("alice", limit("BUY", 2 * E, 100 * E, client_id="a1"))).order
    assert order.status == "NEW"
    assert balance(exchange, "alice", "USDT") == BalanceView("USDT", 999_800 * E, 200 * E)
    snapshot = exchange.depth("BTCUSDT", 5)
    assert not isinstance(snapshot, Rejected)
    assert snapshot.bids == ((100 * E, 2 * E),)
    canceled = accepted(exchange.cancel_order("alice", "BTCUSDT", client_order_id="a1", new_client_order_id="c1"))
    assert canceled.order.status == "CANCELED"
    assert canceled.order.client_order_id == "c1"
    assert canceled.order.orig_client_order_id == "a1"
    assert balance(exchange, "alice", "USDT") == BalanceView("USDT", 1_000_000 * E, 0)
    report = executions(exchange.drain_events())[-1]
    assert (report.execution_type, report.status, report.orig_client_order_id, report.client_order_id) == (
        "CANCELED",
        "CANCELED",
        "a1",
        "c1",
    )
    assert exchange.cancel_order("alice", "BTCUSDT", order_id=order.order_id) == Rejected(-2011, "Unknown order sent.")


def test_cancel_restrictions_follow_the_order_status() -> None:
    exchange, _ = make_exchange()
    resting = accepted(exchange.place_order("bob", limit("SELL", 3 * E, 100 * E, client_id="r1"))).order
    fresh = accepted(exchange.place_order("bob", limit("SELL", E, 105 * E, client_id="f1"))).order
    accepted(exchange.place_order("alice", limit("BUY", E, 100 * E)))  # r1 is now PARTIALLY_FILLED
    restricted = Rejected(-2011, "Order was not canceled due to cancel restrictions.")
    assert exchange.cancel_order("bob", "BTCUSDT", order_id=resting.order_id, restriction="ONLY_NEW") == restricted
    assert exchange.cancel_order("bob", "BTCUSDT", order_id=fresh.order_id, restriction="ONLY_PARTIALLY_FILLED") == restricted
    exchange.drain_events()
    both = [
        accepted(exchange.cancel_order("bob", "BTCUSDT", order_id=resting.order_id, restriction="ONLY_PARTIALLY_FILLED")),
        accepted(exchange.cancel_order("bob", "BTCUSDT", order_id=fresh.order_id, restriction="ONLY_NEW")),
    ]
    assert [(c.order.status, c.order.executed_qty) for c in both] == [("CANCELED", E), ("CANCELED", 0)]
    assert [r.execution_type for r in executions(exchange.drain_events())] == ["CANCELED", "CANCELED"]


def test_partial_fill_fees_in_received_asset_and_ids_increase() -> None:
    exchange, _ = make_exchange(maker_bps=10, taker_bps=20)
    maker = accepted(exchange.place_order("bob", limit("SELL", 3 * E, 100 * E))).order
    exchange.drain_events()
    taker = accepted(exchange.place_order("alice", limit("BUY", E, 101 * E)))
    assert taker.order.status == "FILLED"
    assert taker.order.order_id > maker.order_id
    (fill,) = taker.fills
    assert (fill.price, fill.qty, fill.quote_qty) == (100 * E, E, 100 * E)
    assert (fill.commission, fill.commission_asset, fill.is_maker) == (E * 20 // 10_000, "BTC", False)
    # Taker locked 101 USDT, paid 100: the rest is released.
    assert balance(exchange, "alice", "USDT") == BalanceView("USDT", 999_900 * E, 0)
    assert balance(exchange, "alice", "BTC").free == 101 * E - E * 20 // 10_000
    assert balance(exchange, "bob", "USDT").free == 1_000_000 * E + 100 * E - 100 * E * 10 // 10_000
    assert balance(exchange, "bob", "BTC") == BalanceView("BTC", 97 * E, 2 * E)
    bob_order = exchange.get_order("bob", "BTCUSDT", order_id=maker.order_id)
    assert not isinstance(bob_order, Rejected)
    assert (bob_order.status, bob_order.executed_qty) == ("PARTIALLY_FILLED", E)
    events = exchange.drain_events()
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.qty, t.is_buyer_maker) for t in trades] == [(100 * E, E, False)]
    kinds = [(e.account, e.execution_type, e.status, e.is_maker) for e in executions(events)]
    assert kinds == [
        ("alice", "NEW", "NEW", False),
        ("bob", "TRADE", "PARTIALLY_FILLED", True),
        ("alice", "TRADE", "FILLED", False),
    ]
    assert {e.account for e in events if isinstance(e, AccountUpdate)} == {"alice", "bob"}
    second = accepted(exchange.place_order("alice", limit("BUY", E, 100 * E)))
    assert second.fills[0].trade_id == fill.trade_id + 1


def test_price_time_priority() -> None:
    exchange, _ = make_exchange(accounts=("alice", "bob", "carol"))
    first = accepted(exchange.place_order("bob", limit("SELL", E, 101 * E))).order
    second = accepted(exchange.place_order("carol", limit("SELL", E, 101 * E))).order
    better = accepted(exchange.place_order("carol", limit("SELL", E, 100 * E))).order
    result = accepted(exchange.place_order("alice", limit("BUY", 5 * E // 2, 101 * E)))
    maker_ids = [e.order_id for e in executions(exchange.drain_events()) if e.is_maker]
    assert maker_ids == [better.order_id, first.order_id, second.order_id]
    assert [f.price for f in result.fills] == [100 * E, 101 * E, 101 * E]
    assert [f.qty for f in result.fills] == [E, E, E // 2]


def test_ioc_never_rests_and_expires_remainder() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", E, 100 * E))
    result = accepted(exchange.place_order("alice", limit("BUY", 3 * E, 100 * E, "IOC")))
    assert (result.order.status, result.order.executed_qty) == ("EXPIRED", E)
    assert exchange.open_orders("alice") == []
    assert balance(exchange, "alice", "USDT").locked == 0
    assert executions(exchange.drain_events())[-1].execution_type == "EXPIRED"


def test_fok_is_all_or_nothing() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", E, 100 * E))
    exchange.place_order("bob", limit("SELL", E, 102 * E))
    not_enough = accepted(exchange.place_order("alice", limit("BUY", 2 * E, 101 * E, "FOK")))
    assert (not_enough.order.status, not_enough.order.executed_qty, not_enough.fills) == ("EXPIRED", 0, ())
    depth = exchange.depth("BTCUSDT")
    assert not isinstance(depth, Rejected)
    assert depth.asks == ((100 * E, E), (102 * E, E))
    enough = accepted(exchange.place_order("alice", limit("BUY", 2 * E, 102 * E, "FOK")))
    assert (enough.order.status, enough.order.executed_qty) == ("FILLED", 2 * E)


def test_market_order_runs_out_of_liquidity_and_expires() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", E, 100 * E))
    result = accepted(exchange.place_order("alice", market("BUY", 3 * E)))
    assert (result.order.status, result.order.executed_qty) == ("EXPIRED", E)
    assert result.order.cumulative_quote_qty == 100 * E
    assert balance(exchange, "alice", "USDT") == BalanceView("USDT", 999_900 * E, 0)


def test_market_by_quote_amount_respects_lot_step() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", 10 * E, 300 * E))
    result = accepted(exchange.place_order("alice", market("BUY", quote=1000 * E)))
    # 1000 / 300 = 3.333..., floored to the 0.00001 step.
    assert result.order.executed_qty == 333_333_000
    assert result.order.executed_qty % (E // 100_000) == 0
    assert result.order.cumulative_quote_qty <= 1000 * E
    assert result.order.status == "FILLED"
    assert result.order.orig_quote_order_qty == 1000 * E
    assert result.order.time_in_force == "GTC"  # as Binance reports MARKET orders
    assert balance(exchange, "alice", "USDT").locked == 0
    reports = [e for e in executions(exchange.drain_events()) if e.account == "alice"]
    assert [(r.execution_type, r.status) for r in reports] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    assert reports[-1].cumulative_quote_qty == result.order.cumulative_quote_qty


def test_limit_maker_that_would_take_is_rejected() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", E, 100 * E))
    would_take = OrderRequest("BTCUSDT", "BUY", "LIMIT_MAKER", quantity=E, price=100 * E)
    assert exchange.place_order("alice", would_take) == Rejected(-2010, "Order would immediately match and take.")
    resting = OrderRequest("BTCUSDT", "BUY", "LIMIT_MAKER", quantity=E, price=99 * E)
    assert accepted(exchange.place_order("alice", resting)).order.status == "NEW"


def test_insufficient_balance_and_duplicate_client_id() -> None:
    exchange, _ = make_exchange()
    too_big = limit("BUY", 9000 * E, 200 * E)
    assert exchange.place_order("alice", too_big) == Rejected(
        -2010, "Account has insufficient balance for requested action."
    )
    assert exchange.place_order("alice", limit("SELL", 101 * E, 100 * E)) == Rejected(
        -2010, "Account has insufficient balance for requested action."
    )
    exchange.place_order("alice", limit("BUY", E, 90 * E, client_id="dup"))
    assert exchange.place_order("alice", limit("BUY", E, 91 * E, client_id="dup")) == Rejected(
        -2010, "Duplicate order sent."
    )
    exchange.cancel_order("alice", "BTCUSDT", client_order_id="dup")
    assert accepted(exchange.place_order("alice", limit("BUY", E, 91 * E, client_id="dup"))).order.status == "NEW"


def test_unknown_things_get_binance_errors() -> None:
    exchange, _ = make_exchange()
    bad_symbol = OrderRequest("ETHUSDT", "BUY", "LIMIT", "GTC", quantity=E, price=E)
    assert exchange.place_order("alice", bad_symbol) == Rejected(-1121, "Invalid symbol.")
    assert exchange.get_order("alice", "BTCUSDT", order_id=999) == Rejected(-2013, "Order does not exist.")
    assert exchange.depth("NOPE") == Rejected(-1121, "Invalid symbol.")
    assert isinstance(exchange.place_order("mallory", limit("BUY", E, E)), Rejected)
    no_tif = OrderRequest("BTCUSDT", "BUY", "LIMIT", quantity=E, price=100 * E)
    assert exchange.place_order("alice", no_tif) == Rejected(
        -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
    )
    bad_id = limit("BUY", E, 100 * E, client_id="has space")
    rejected = exchange.place_order("alice", bad_id)
    assert isinstance(rejected, Rejected)
    assert rejected.code == -1100


def test_autogenerated_client_ids_are_binance_like_and_unique() -> None:
    exchange, _ = make_exchange()
    ids = {
        accepted(exchange.place_order("alice", limit("BUY", E, (50 + i) * E))).order.client_order_id for i in range(20)
    }
    assert len(ids) == 20
    assert all(len(i) == 22 and i.isalnum() for i in ids)


def test_stp_expire_maker_is_the_default() -> None:
    exchange, _ = make_exchange()
    own = accepted(exchange.place_order("alice", limit("SELL", E, 100 * E))).order
    other = accepted(exchange.place_order("bob", limit("SELL", E, 101 * E))).order
    exchange.drain_events()
    taker = accepted(exchange.place_order("alice", limit("BUY", E, 101 * E)))
    assert taker.order.status == "FILLED"
    assert [f.price for f in taker.fills] == [101 * E]
    expired = exchange.get_order("alice", "BTCUSDT", order_id=own.order_id)
    assert not isinstance(expired, Rejected)
    assert expired.status == "EXPIRED_IN_MATCH"
    assert expired.prevented_quantity == E
    prevention = [e for e in executions(exchange.drain_events()) if e.execution_type == "TRADE_PREVENTION"]
    assert len(prevention) == 1
    report = prevention[0]
    assert (report.order_id, report.status, report.counter_order_id) == (
        own.order_id,
        "EXPIRED_IN_MATCH",
        taker.order.order_id,
    )
    assert report.prevented_match_id is not None
    assert report.prevented_quantity == E
    assert balance(exchange, "alice", "BTC").locked == 0
    (match,) = taker.prevented_matches
    assert (match.maker_order_id, match.price, match.maker_prevented_quantity, match.taker_prevented_quantity) == (
        own.order_id,
        100 * E,
        E,
        None,
    )
    assert match.prevented_match_id == report.prevented_match_id
    del other


def test_stp_expire_taker_and_none() -> None:
    exchange, _ = make_exchange()
    own = accepted(exchange.place_order("alice", limit("SELL", E, 100 * E))).order
    taker = accepted(exchange.place_order("alice", limit("BUY", E, 100 * E, stp="EXPIRE_TAKER")))
    assert taker.order.status == "EXPIRED_IN_MATCH"
    assert taker.order.prevented_quantity == E
    still = exchange.get_order("alice", "BTCUSDT", order_id=own.order_id)
    assert not isinstance(still, Rejected)
    assert still.status == "NEW"
    self_trade = accepted(exchange.place_order("alice", limit("BUY", E, 100 * E, stp="NONE")))
    assert self_trade.order.status == "FILLED"


def test_stp_expire_both() -> None:
    exchange, _ = make_exchange()
    own = accepted(exchange.place_order("alice", limit("SELL", E, 100 * E))).order
    taker = accepted(exchange.place_order("alice", limit("BUY", 3 * E, 100 * E, stp="EXPIRE_BOTH")))
    assert taker.order.status == "EXPIRED_IN_MATCH"
    assert taker.order.prevented_quantity == 3 * E
    (match,) = taker.prevented_matches
    assert (match.maker_prevented_quantity, match.taker_prevented_quantity) == (E, 3 * E)
    maker = exchange.get_order("alice", "BTCUSDT", order_id=own.order_id)
    assert not isinstance(maker, Rejected)
    assert maker.status == "EXPIRED_IN_MATCH"
    assert exchange.open_orders("alice") == []


def test_queries_all_orders_my_trades_and_cancel_all() -> None:
    exchange, clock = make_exchange()
    exchange.place_order("bob", limit("SELL", 2 * E, 100 * E))
    first = accepted(exchange.place_order("alice", limit("BUY", E, 100 * E))).order
    clock.advance(1_000_000_000)
    exchange.place_order("alice", limit("BUY", E, 90 * E))
    exchange.place_order("alice", limit("BUY", E, 80 * E))
    all_orders = exchange.all_orders("alice", "BTCUSDT")
    assert not isinstance(all_orders, Rejected)
    assert [o.order_id for o in all_orders] == sorted(o.order_id for o in all_orders)
    assert len(all_orders) == 3
    trades = exchange.my_trades("alice", "BTCUSDT")
    assert not isinstance(trades, Rejected)
    assert [(t.order_id, t.is_buyer, t.is_maker) for t in trades] == [(first.order_id, True, False)]
    canceled = exchange.cancel_open_orders("alice", "BTCUSDT")
    assert not isinstance(canceled, Rejected)
    assert {o.status for o in canceled} == {"CANCELED"}
    assert len(canceled) == 2
    assert exchange.cancel_open_orders("alice", "BTCUSDT") == Rejected(-2011, "Unknown order sent.")


def test_book_ticker_recent_trades_and_avg_price() -> None:
    exchange, clock = make_exchange()
    exchange.place_order("bob", limit("SELL", 2 * E, 100 * E))
    exchange.place_order("alice", limit("BUY", E, 100 * E))
    clock.advance(60 * 1_000_000_000)
    exchange.place_order("bob", limit("SELL", E, 110 * E))
    exchange.place_order("alice", market("BUY", 2 * E))  # E at 100, E at 110
    ticker = exchange.book_ticker("BTCUSDT")
    assert not isinstance(ticker, Rejected)
    assert (ticker.ask_price, ticker.bid_price) == (0, 0)
    trades = exchange.recent_trades("BTCUSDT", 10)
    assert not isinstance(trades, Rejected)
    assert [t.price for t in trades] == [100 * E, 100 * E, 110 * E]
    avg = exchange.avg_price("BTCUSDT")
    assert not isinstance(avg, Rejected)
    assert (avg.mins, avg.price) == (5, (310 * E) // 3)
    clock.advance(5 * 60 * 1_000_000_000)  # first trade leaves the window
    later = exchange.avg_price("BTCUSDT")
    assert not isinstance(later, Rejected)
    assert later.price == 110 * E  # no trade within 5 minutes: last price


def test_history_is_bounded_but_open_orders_are_kept() -> None:

    exchange = SimExchange([btc_spec()], [AccountSpec("alice", {"USDT": 10**6 * E})], TestClock(), history_limit=8)
    kept = accepted(exchange.place_order("alice", limit("BUY", E, 50 * E))).order
    first_ioc = accepted(exchange.place_order("alice", limit("BUY", E, 60 * E, "IOC"))).order
    for _ in range(30):
        exchange.place_order("alice", limit("BUY", E, 60 * E, "IOC"))
    history = exchange.all_orders("alice", "BTCUSDT", limit=1000)
    assert not isinstance(history, Rejected)
    assert len(history) <= 10
    assert kept.order_id in {o.order_id for o in history}
    assert exchange.get_order("alice", "BTCUSDT", order_id=first_ioc.order_id) == Rejected(
        -2013, "Order does not exist."
    )
    still = exchange.get_order("alice", "BTCUSDT", order_id=kept.order_id)
    assert not isinstance(still, Rejected)
    assert still.status == "NEW"


def test_stp_modes_the_simulator_does_not_offer_are_refused_like_binance() -> None:
    exchange, _ = make_exchange()
    for mode in ("DECREMENT", "TRANSFER"):
        assert exchange.place_order("alice", limit("BUY", E, 100 * E, stp=mode)) == Rejected(
            -1013, "This symbol does not allow the specified self-trade prevention mode."
        )


def test_driving_and_truth_api_reject_unknown_symbols_clearly() -> None:
    exchange, _ = make_exchange()
    for call in (
        lambda: exchange.current_update_id("NOPE"),
        lambda: exchange.book_at("NOPE", 1),
        lambda: exchange.book_now("NOPE"),
        lambda: exchange.step_symbol("NOPE"),
        lambda: exchange.flush_depth("NOPE"),
    ):
        with pytest.raises(ValueError, match="unknown symbol 'NOPE'"):
            call()


def test_account_truth_collects_balances_orders_and_fills() -> None:
    exchange, _ = make_exchange()
    exchange.place_order("bob", limit("SELL", E, 100 * E))
    exchange.place_order("alice", limit("BUY", E, 100 * E))
    exchange.place_order("alice", limit("BUY", E, 90 * E))
    truth = exchange.account_truth("alice")
    assert not isinstance(truth, Rejected)
    assert (truth.maker_fee_bps, truth.taker_fee_bps) == (10, 20)
    assert [o.status for o in truth.orders] == ["FILLED", "NEW"]
    assert [o.price for o in truth.open_orders] == [90 * E]
    assert [(f.qty, f.is_maker) for f in truth.fills] == [(E, False)]
    assert {b.asset for b in truth.balances} == {"BTC", "USDT"}
    assert exchange.account_truth("mallory") == Rejected(-2015, "Invalid API-key, IP, or permissions for action.")
