"""Positions and PnL are exact, against a Fraction reference, under any fill sequence."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from stanchion.engine.positions import Position, PositionBook

PS, QS = 2, 3  # price 0.01, qty 0.001
N = 10 ** (PS + QS)


def _pos() -> Position:
    return Position("binance", "BTCUSDT", "BTC", "USDT", qty_scale=QS, price_scale=PS)


def test_round_trip_long_with_quote_fee() -> None:
    p = _pos()
    p.apply_fill(is_buy=True, price=10_000, qty=2_000, commission=0, commission_asset="USDT")  # buy 2 @ 100
    assert p.qty == 2_000 and p.average_price() == 10_000
    r = p.apply_fill(is_buy=False, price=11_000, qty=1_000, commission=110, commission_asset="USDT")
    assert r == 10 * N  # +10 USDT on 1 BTC
    assert p.realised == 10 * N
    assert p.fees_quote == Fraction(110, 10**QS) * N  # 0.110 USDT
    assert p.unrealised(12_000) == 20 * N  # 1 BTC left, entry 100, mark 120
    assert p.net_pnl(12_000) == 10 * N + 20 * N - p.fees_quote


def test_short_and_flip() -> None:
    p = _pos()
    p.apply_fill(is_buy=False, price=10_000, qty=1_000, commission=0, commission_asset="USDT")
    assert p.qty == -1_000 and p.average_price() == 10_000
    r = p.apply_fill(is_buy=True, price=9_000, qty=3_000, commission=0, commission_asset="USDT")
    assert r == 10 * N  # covered 1 @ 90, sold @ 100
    assert p.qty == 2_000 and p.average_price() == 9_000  # flipped long 2 @ 90


def test_base_fee_reduces_holding_like_the_venue() -> None:
    p = _pos()
    p.apply_fill(is_buy=True, price=10_000, qty=1_000, commission=1, commission_asset="BTC")
    assert p.qty == 999  # venue balance: 0.999 BTC
    assert p.fees_quote == 1 * 10_000  # 0.001 BTC valued at 100 = 0.1 USDT
    assert p.realised == 0
    assert p.net_pnl(10_000) == -1 * 10_000  # exactly the fee


def test_third_asset_fee_is_tracked_separately() -> None:
    p = _pos()
    p.apply_fill(is_buy=True, price=10_000, qty=1_000, commission=5, commission_asset="BNB")
    assert p.fees_other == {"BNB": 5} and p.fees_quote == 0 and p.qty == 1_000


fills = st.lists(
    st.tuples(st.booleans(), st.integers(1, 100_000), st.integers(1, 5_000)), min_size=1, max_size=40
)


@given(fills, st.integers(1, 100_000))
def test_pnl_matches_exact_reference(sequence: list[tuple[bool, int, int]], mark: int) -> None:
    """Total PnL (realised + unrealised) equals cash flow + mark value, exactly up to
    the half-even rounding of cost shares (at most 1 unit per closing fill)."""
    p = _pos()
    cash = 0
    for is_buy, price, qty in sequence:
        p.apply_fill(is_buy=is_buy, price=price, qty=qty, commission=0, commission_asset="USDT")
        cash += -price * qty if is_buy else price * qty
    reference = cash + mark * p.qty
    assert abs((p.realised + p.unrealised(mark)) - reference) <= len(sequence)
    assert p.qty == sum(q if b else -q for b, _, q in sequence)
    if p.qty == 0:
        assert p.cost == 0 and p.realised == cash


def test_book_aggregates_across_venues() -> None:
    book = PositionBook()
    a = book.open("binance", "BTCUSDT", "BTC", "USDT", PS, QS)
    b = book.open("binance-2", "BTCUSDT", "BTC", "USDT", PS, QS)
    a.apply_fill(is_buy=True, price=10_000, qty=1_000, commission=0, commission_asset="USDT")
    b.apply_fill(is_buy=False, price=10_100, qty=400, commission=0, commission_asset="USDT")
    assert book.net_qty_by_symbol() == {"BTCUSDT": 600}
    marks = {("binance", "BTCUSDT"): 10_050, ("binance-2", "BTCUSDT"): 10_050}
    views = book.views(marks)
    assert [v.venue for v in views] == ["binance", "binance-2"]
    assert book.total_pnl(marks) == 50 * 1_000 + 50 * 400
