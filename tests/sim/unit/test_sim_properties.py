"""Property tests: any sequence of orders, cancels and market steps keeps the invariants.

After every operation: balances are conserved (users + fee pool + market-maker
flows == initial), nothing is negative, locked == what open orders lock, the
book is never crossed and its levels equal their queues; IOC/FOK/MARKET never
rest; FOK fills all or nothing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sim.unit.simcore_helpers import E, make_exchange

from stanchion.sim.exchange import Accepted, DepthDiff, MarketConfig, OrderRequest, SimExchange

TICK = E // 100
STEP = E // 100_000
ACCOUNTS = ("alice", "bob", "carol")

order_op = st.tuples(
    st.just("order"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(("BUY", "SELL")),
    st.sampled_from(("GTC", "IOC", "FOK", "MARKET", "QUOTE", "MAKER")),
    st.integers(min_value=1, max_value=300_000),  # qty in steps (up to 3 BTC)
    st.integers(min_value=-30, max_value=30),  # price offset from 100.00 in ticks
    st.sampled_from((None, "NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")),
)
cancel_op = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 10))
step_op = st.tuples(st.just("step"))


def _request(kind: str, side: str, qty_steps: int, offset: int, stp: str | None) -> OrderRequest:
    qty = qty_steps * STEP
    price = 100 * E + offset * TICK
    if kind == "MARKET":
        return OrderRequest("BTCUSDT", side, "MARKET", quantity=qty, stp_mode=stp)
    if kind == "QUOTE":
        return OrderRequest("BTCUSDT", side, "MARKET", quote_order_qty=qty * 100, stp_mode=stp)
    if kind == "MAKER":
        return OrderRequest("BTCUSDT", side, "LIMIT_MAKER", quantity=qty, price=price, stp_mode=stp)
    return OrderRequest("BTCUSDT", side, "LIMIT", kind, quantity=qty, price=price, stp_mode=stp)


def _run(exchange: SimExchange, ops: list[tuple[object, ...]]) -> None:
    for op in ops:
        if op[0] == "order":
            _, account, side, kind, qty_steps, offset, stp = op
            req = _request(str(kind), str(side), int(qty_steps), int(offset), stp)  # type: ignore[arg-type, call-overload]
            result = exchange.place_order(str(account), req)
            if isinstance(result, Accepted):
                order = result.order
                assert sum(f.qty for f in result.fills) == order.executed_qty
                if kind in ("IOC", "FOK", "MARKET", "QUOTE"):
                    assert not order.is_open, order
                if kind == "FOK":
                    assert order.executed_qty in (0, order.orig_qty)
                if kind == "MAKER":
                    assert order.executed_qty == 0
        elif op[0] == "cancel":
            _, account, index = op
            open_orders = exchange.open_orders(str(account))
            assert isinstance(open_orders, list)
            if open_orders:
                target = open_orders[int(index) % len(open_orders)]  # type: ignore[call-overload]
                assert isinstance(exchange.cancel_order(str(account), "BTCUSDT", order_id=target.order_id), Accepted)
        else:
            exchange.step()
        assert exchange.consistency_errors() == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(order_op, cancel_op), min_size=1, max_size=40))
def test_user_only_book_keeps_invariants(ops: list[tuple[object, ...]]) -> None:
    exchange, _ = make_exchange(accounts=ACCOUNTS)
    _run(exchange, ops)


SMALL_MARKET = MarketConfig(levels_per_side=60, mean_level_qty_steps=20_000, near_touch_levels=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(order_op, cancel_op, step_op, step_op), min_size=1, max_size=40),
    st.integers(0, 2**32),
)
def test_users_and_synthetic_market_keep_invariants(ops: list[tuple[object, ...]], seed: int) -> None:
    exchange, _ = make_exchange(accounts=ACCOUNTS, market=SMALL_MARKET, seed=seed)
    _run(exchange, ops)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(-3, 3)), min_size=2, max_size=12))
def test_price_time_priority_holds_for_any_ladder(orders: list[tuple[int, int]]) -> None:
    """A sweeping buy fills the resting sells best price first, then oldest first."""
    exchange, _ = make_exchange(accounts=("alice", "bob"))
    placed = []
    for sequence, (qty, offset) in enumerate(orders):
        req = OrderRequest("BTCUSDT", "SELL", "LIMIT", "GTC", quantity=qty * E // 10, price=100 * E + offset * TICK)
        result = exchange.place_order("bob", req)
        assert isinstance(result, Accepted)
        placed.append((100 * E + offset * TICK, sequence, result.order.order_id))
    sweep = OrderRequest("BTCUSDT", "BUY", "LIMIT", "IOC", quantity=100 * E, price=101 * E)
    result = exchange.place_order("alice", sweep)
    assert isinstance(result, Accepted)
    expected = [order_id for _, _, order_id in sorted(placed)]
    assert [f.price for f in result.fills] == sorted(f.price for f in result.fills)
    makers = [
        e.order_id
        for e in exchange.drain_events()
        if getattr(e, "is_maker", False) and getattr(e, "execution_type", "") == "TRADE"
    ]
    assert makers == expected


def _diff_replay_matches_truth(exchange: SimExchange, ops: list[tuple[object, ...]]) -> None:
    start, bids, asks = exchange.book_now("BTCUSDT")
    local = (bids, asks)
    for op in ops:
        _run(exchange, [op])
        exchange.flush_depth()
        for event in exchange.drain_events():
            if isinstance(event, DepthDiff):
                assert event.first_update_id == start + 1
                start = event.final_update_id
                for side, changes in ((local[0], event.bids), (local[1], event.asks)):
                    for price, qty in changes:
                        if qty:
                            side[price] = qty
                        else:
                            side.pop(price, None)
                assert exchange.book_at("BTCUSDT", event.final_update_id) == local
    assert exchange.book_now("BTCUSDT")[1:] == local


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(order_op, cancel_op, step_op), min_size=1, max_size=25),
    st.integers(0, 2**32),
)
def test_diffs_replayed_on_a_snapshot_equal_truth_and_same_seed_replays_identically(
    ops: list[tuple[object, ...]], seed: int
) -> None:
    exchange, _ = make_exchange(accounts=ACCOUNTS, market=SMALL_MARKET, seed=seed)
    _diff_replay_matches_truth(exchange, ops)
    first, _ = make_exchange(accounts=ACCOUNTS, market=SMALL_MARKET, seed=seed)
    second, _ = make_exchange(accounts=ACCOUNTS, market=SMALL_MARKET, seed=seed)
    _run(first, ops)
    _run(second, ops)
    assert first.drain_events() == second.drain_events()
