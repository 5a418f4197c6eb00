"""Synthetic market: determinism, depth diffs, truth window, users inside the synthetic book."""

from __future__ import annotations

from tests.sim.unit.simcore_helpers import E, btc_spec, limit, make_exchange, market

from stanchion.core.clock import TestClock
from stanchion.sim.exchange import (
    Accepted,
    AccountSpec,
    DepthDiff,
    ExecutionEvent,
    MarketConfig,
    OrderRequest,
    Rejected,
    SimEvent,
    SimExchange,
    Trade,
)

SMALL = MarketConfig(levels_per_side=300)


def diffs_of(events: list[SimEvent]) -> list[DepthDiff]:
    return [e for e in events if isinstance(e, DepthDiff)]


def apply(book: tuple[dict[int, int], dict[int, int]], diff: DepthDiff) -> None:
    for side, changes in ((book[0], diff.bids), (book[1], diff.asks)):
        for price, qty in changes:
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)


def scripted_run(seed: int, steps: int = 300) -> list[SimEvent]:
    exchange, clock = make_exchange(market=SMALL, seed=seed)
    events: list[SimEvent] = []
    for i in range(steps):
        if i % 50 == 10:
            exchange.place_order("alice", limit("BUY", E // 10, 100 * E - (i % 7) * E // 100))
        if i % 50 == 30:
            exchange.place_order("bob", market("SELL", E // 20))
        exchange.step()
        clock.advance(100_000_000)
        events.extend(exchange.drain_events())
    return events


def test_same_seed_same_event_stream_and_different_seed_differs() -> None:
    first = scripted_run(11)
    assert first == scripted_run(11)
    assert first != scripted_run(12)
    assert any(isinstance(e, Trade) for e in first)
    assert any(isinstance(e, ExecutionEvent) and e.execution_type == "TRADE" for e in first)


def test_default_market_keeps_thousands_of_levels_and_emits_one_varied_diff_per_step() -> None:
    exchange, clock = make_exchange(market=MarketConfig(), seed=3)
    _, bids, asks = exchange.book_now("BTCUSDT")
    assert len(bids) >= 4900
    assert len(asks) >= 4900
    previous_u = exchange.current_update_id("BTCUSDT")
    spans = []
    changed = []
    trades = 0
    for _ in range(2000):
        exchange.step()
        clock.advance(100_000_000)
        events = exchange.drain_events()
        trades += sum(isinstance(e, Trade) for e in events)
        (diff,) = diffs_of(events)
        assert diff.first_update_id == previous_u + 1
        previous_u = diff.final_update_id
        spans.append(diff.final_update_id - diff.first_update_id + 1)
        changed.append(len(diff.bids) + len(diff.asks))
        assert all(qty >= 0 for _, qty in diff.bids + diff.asks)
    assert len(set(spans)) > 10
    assert 10 <= sum(changed) / len(changed) <= 30
    assert trades > 500
    _, bids, asks = exchange.book_now("BTCUSDT")
    assert 4500 <= len(bids) <= 5000
    assert 4500 <= len(asks) <= 5000
    assert max(bids) < min(asks)
    assert exchange.consistency_errors() == []


def test_book_at_equals_snapshot_plus_replayed_diffs() -> None:
    exchange, clock = make_exchange(market=SMALL, seed=5, truth_window=2_000)
    start, bids, asks = exchange.book_now("BTCUSDT")
    local = (bids, asks)
    checked = 0
    for i in range(400):
        if i % 40 == 5:
            exchange.place_order("alice", limit("SELL", E // 10, 100 * E + (i % 9) * E // 100))
        exchange.step()
        clock.advance(100_000_000)
        for diff in diffs_of(exchange.drain_events()):
            apply(local, diff)
            truth = exchange.book_at("BTCUSDT", diff.final_update_id)
            if truth is not None:
                assert truth == local
                checked += 1
    assert checked > 50
    now_id, now_bids, now_asks = exchange.book_now("BTCUSDT")
    assert (now_bids, now_asks) == local
    assert exchange.book_at("BTCUSDT", now_id) == local
    # Outside the bounded window: None, not a wrong book.
    assert exchange.book_at("BTCUSDT", start) is None
    assert exchange.book_at("BTCUSDT", now_id + 1) is None
    assert exchange.oldest_truth_update_id("BTCUSDT") >= now_id - 2 * 2_000


def test_snapshot_between_diffs_follows_binance_sync_rule() -> None:
    """A depth snapshot taken while user changes are pending: the next diff covers it."""
    exchange, _ = make_exchange(market=SMALL, seed=9)
    exchange.step()
    exchange.drain_events()
    exchange.place_order("alice", limit("BUY", E, 99 * E))
    snapshot = exchange.depth("BTCUSDT", 5000)
    assert not isinstance(snapshot, Rejected)
    exchange.step()
    (diff,) = diffs_of(exchange.drain_events())
    assert diff.first_update_id <= snapshot.last_update_id <= diff.final_update_id
    local = (dict(snapshot.bids), dict(snapshot.asks))
    apply(local, diff)
    _, bids, asks = exchange.book_now("BTCUSDT")
    assert local == (bids, asks)


def test_user_orders_meet_synthetic_liquidity_both_ways() -> None:
    exchange, clock = make_exchange(market=SMALL, seed=21)
    ticker = exchange.book_ticker("BTCUSDT")
    assert not isinstance(ticker, Rejected)
    # Taker: a market buy sweeps synthetic asks, and the diff shows it.
    result = exchange.place_order("alice", market("BUY", E // 20))
    assert isinstance(result, Accepted)
    assert result.order.status == "FILLED"
    assert result.fills[0].price == ticker.ask_price
    exchange.flush_depth()
    (diff,) = diffs_of(exchange.drain_events())
    assert (ticker.ask_price, 0) in diff.asks or any(p == ticker.ask_price for p, _ in diff.asks)
    # Maker: a bid joining the touch is filled by synthetic takers sooner or later.
    ticker = exchange.book_ticker("BTCUSDT")
    assert not isinstance(ticker, Rejected)
    resting = exchange.place_order("alice", limit("BUY", E // 100, ticker.bid_price))
    assert isinstance(resting, Accepted)
    filled = False
    for _ in range(3000):
        exchange.step()
        clock.advance(100_000_000)
        reports = [
            e for e in exchange.drain_events() if isinstance(e, ExecutionEvent) and e.order_id == resting.order.order_id
        ]
        if any(r.execution_type == "TRADE" and r.is_maker for r in reports):
            filled = True
            break
    assert filled
    assert exchange.consistency_errors() == []
    avg = exchange.avg_price("BTCUSDT")
    assert not isinstance(avg, Rejected)
    assert avg.price > 0


def test_depth_and_book_ticker_agree_with_the_full_book() -> None:
    exchange, _ = make_exchange(market=SMALL, seed=2)
    for _ in range(50):
        exchange.step()
    snapshot = exchange.depth("BTCUSDT", 10)
    ticker = exchange.book_ticker("BTCUSDT")
    assert not isinstance(snapshot, Rejected)
    assert not isinstance(ticker, Rejected)
    update_id, bids, asks = exchange.book_now("BTCUSDT")
    assert snapshot.last_update_id == ticker.update_id == update_id
    assert list(snapshot.bids) == sorted(bids.items(), reverse=True)[:10]
    assert list(snapshot.asks) == sorted(asks.items())[:10]
    assert (ticker.bid_price, ticker.bid_qty) == snapshot.bids[0]
    assert (ticker.ask_price, ticker.ask_qty) == snapshot.asks[0]


def test_hundred_thousand_steps_stay_correct_and_bounded() -> None:
    exchange, clock = make_exchange(market=MarketConfig(levels_per_side=1000), seed=1, truth_window=10_000)
    for i in range(100_000):
        exchange.step()
        if i % 1000 == 0:
            clock.advance(1_000_000_000)
            exchange.drain_events()
            if i % 20_000 == 0:
                exchange.place_order("bob", OrderRequest("BTCUSDT", "SELL", "MARKET", quantity=E // 100))
    exchange.drain_events()
    assert exchange.consistency_errors() == []
    _, bids, asks = exchange.book_now("BTCUSDT")
    assert 850 <= len(bids) <= 1000
    assert 850 <= len(asks) <= 1000
    current = exchange.current_update_id("BTCUSDT")
    assert current - exchange.oldest_truth_update_id("BTCUSDT") <= 2 * 10_000
    assert exchange.book_at("BTCUSDT", current - 9_999) is not None


def test_truth_at_every_update_id_of_the_window_without_any_flush() -> None:
    """User-only book, no diffs flushed: book_at(n) is the book as it was at n, for every n kept."""
    exchange, _ = make_exchange(truth_window=60)
    seen: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
    for i in range(150):
        side = "BUY" if i % 2 else "SELL"
        price = 100 * E + (1 if side == "SELL" else -1) * (1 + i % 7) * E // 100
        exchange.place_order("alice" if i % 3 else "bob", limit(side, E // 10 * (1 + i % 4), price))
        if i % 5 == 4:
            exchange.place_order("bob", market("BUY", E // 10))
        update_id, bids, asks = exchange.book_now("BTCUSDT")
        seen[update_id] = (bids, asks)
    current = exchange.current_update_id("BTCUSDT")
    oldest = exchange.oldest_truth_update_id("BTCUSDT")
    assert current - oldest <= 2 * 60
    assert oldest > 1000  # it did trim
    checked = 0
    for update_id, book in seen.items():
        truth = exchange.book_at("BTCUSDT", update_id)
        if update_id >= oldest:
            assert truth == book
            checked += 1
        else:
            assert truth is None
    assert checked > 10


def test_undrained_events_shed_market_data_but_keep_execution_reports() -> None:
    exchange = SimExchange(
        [btc_spec()],
        [AccountSpec("alice", {"USDT": 10**6 * E, "BTC": 10 * E})],
        TestClock(),
        market=SMALL,
        max_pending_events=100,
    )
    exchange.place_order("alice", limit("BUY", E // 100, 90 * E))
    for _ in range(300):
        exchange.step()
    stats = exchange.statistics()
    assert stats["dropped_market_events_total"] > 0
    assert stats["pending_events"] <= 100 + 40
    events = exchange.drain_events()
    assert any(isinstance(e, ExecutionEvent) and e.execution_type == "NEW" for e in events)
    assert stats["open_orders"] == 1
    assert stats["trades_total"] > 0


def test_several_symbols_share_balances_but_not_ids_or_books() -> None:
    eth = btc_spec(symbol="ETHBTC", base="ETH", quote="BTC", tick=10**3, step=10**4, initial_price=5 * 10**6)
    exchange = SimExchange(
        [btc_spec(), eth],
        [AccountSpec("alice", {"USDT": 10**6 * E, "BTC": 10 * E, "ETH": 10 * E})],
        TestClock(),
        seed=4,
        market=SMALL,
    )
    exchange.step()
    diffs = diffs_of(exchange.drain_events())
    assert sorted(d.symbol for d in diffs) == ["BTCUSDT", "ETHBTC"]
    first = exchange.place_order("alice", limit("BUY", E // 10, 90 * E))
    second = exchange.place_order("alice", OrderRequest("ETHBTC", "BUY", "LIMIT", "GTC", quantity=E, price=4 * 10**6))
    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    btc = {b.asset: b for b in exchange.balances("alice")}  # type: ignore[union-attr]
    assert btc["BTC"].locked == 4 * 10**6  # 1 ETH at 0.04 BTC
    assert btc["USDT"].locked == 9 * E
    assert exchange.consistency_errors() == []
