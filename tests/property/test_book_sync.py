"""BookSyncer under random gaps, duplicates and reorders: a LIVE book is never wrong.

A "venue" evolves a true book and emits contiguous diffs. The stream the syncer
sees is perturbed (dropped, duplicated, swapped diffs). Snapshots are the true
book at the venue's latest update id when the syncer asks, delivered a few
frames later. After every step: if the syncer exposes a book, it equals the
truth at the syncer's last applied update id.
"""

from __future__ import annotations

import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book.sync import BookSyncer, FetchSnapshot
from stanchion.core.fixedpoint import format_fixed
from stanchion.model.market import BookDelta, BookSnapshot

Truth = tuple[dict[int, int], dict[int, int]]


def venue_stream(rng: random.Random, n: int) -> tuple[list[BookDelta], dict[int, Truth]]:
    bids = {p: 1 for p in range(40, 50)}
    asks = {p: 1 for p in range(51, 61)}
    truth: dict[int, Truth] = {0: (dict(bids), dict(asks))}
    diffs = []
    last = 0
    for _ in range(n):
        b = tuple((rng.randint(30, 50), rng.choice((0, 1, 2, 3))) for _ in range(rng.randint(0, 4)))
        a = tuple((rng.randint(51, 70), rng.choice((0, 1, 2, 3))) for _ in range(rng.randint(0, 4)))
        for side, levels in ((bids, b), (asks, a)):
            for price, qty in levels:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        first = last + 1
        last += rng.randint(1, 3)
        diffs.append(BookDelta("X", first, last, 0, b, a))
        truth[last] = (dict(bids), dict(asks))
    return diffs, truth


def perturb(rng: random.Random, diffs: list[BookDelta], p_drop: float, p_dup: float, p_swap: float) -> list[int]:
    """Delivery order as indexes into ``diffs``."""
    order: list[int] = []
    for i in range(len(diffs)):
        if rng.random() < p_drop:
            continue
        order.append(i)
        if rng.random() < p_dup and order:
            order.append(rng.choice(order))
    for i in range(len(order) - 1):
        if rng.random() < p_swap:
            order[i], order[i + 1] = order[i + 1], order[i]
    return order


def _text(delta: BookDelta) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(format_fixed(p, 8), format_fixed(q, 8)) for p, q in delta.bids],
        [(format_fixed(p, 8, -1), format_fixed(q, 8, -1)) for p, q in delta.asks],
    )


def run(
    seed: int, n: int, p_drop: float, p_dup: float, p_swap: float, delay: int,
    checks: list[int] | None = None, text: bool | str = False,
) -> BookSyncer:
    """``text``: feed the diffs as decimal strings (``on_text_diff``); ``"json"``: as the
    bytes of their JSON level arrays (``on_json_diff``, the hot path)."""
    rng = random.Random(seed)
    diffs, truth = venue_stream(rng, n)
    syncer = BookSyncer("X", max_buffer=50)
    pending: list[tuple[int, BookSnapshot]] = []  # (deliver after step, snapshot)
    for step, index in enumerate(perturb(rng, diffs, p_drop, p_dup, p_swap)):
        delta = diffs[index]
        # The venue's "now" is the newest diff it has produced so far.
        venue_now = max(diffs[i].final_update_id for i in range(index + 1))
        if text == "json":
            bids, asks = _text(delta)
            actions = list(syncer.on_json_diff(
                delta.first_update_id, delta.final_update_id, 0, msgspec.json.encode(bids), msgspec.json.encode(asks)
            ))
        elif text:
            bids, asks = _text(delta)
            actions = list(syncer.on_text_diff(delta.first_update_id, delta.final_update_id, 0, bids, asks))
        else:
            actions = list(syncer.on_diff(delta))
        for due, snapshot in [p for p in pending if p[0] <= step]:
            pending.remove((due, snapshot))
            actions += syncer.on_snapshot(snapshot)
        for action in actions:
            if isinstance(action, FetchSnapshot):
                bids, asks = truth[venue_now]
                snapshot = BookSnapshot("X", venue_now, tuple(bids.items()), tuple(asks.items()))
                pending.append((step + rng.randint(0, delay), snapshot))
        book = syncer.live_book()
        if book is not None:
            want_bids, want_asks = truth[syncer.last_update_id]
            assert book.bid_levels() == want_bids, (seed, step)
            assert book.ask_levels() == want_asks, (seed, step)
            if checks is not None:
                checks.append(syncer.stats.resyncs)
    return syncer


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    p_drop=st.sampled_from((0.0, 0.02, 0.1, 0.3)),
    p_dup=st.sampled_from((0.0, 0.05, 0.2)),
    p_swap=st.sampled_from((0.0, 0.05, 0.2)),
    delay=st.integers(min_value=0, max_value=5),
    text=st.sampled_from((False, True, "json")),
)
def test_a_live_book_always_equals_the_truth(
    seed: int, p_drop: float, p_dup: float, p_swap: float, delay: int, text: bool | str
) -> None:
    run(seed, 120, p_drop, p_dup, p_swap, delay, text=text)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), delay=st.integers(min_value=0, max_value=5))
def test_a_clean_stream_goes_live_and_stays_live(seed: int, delay: int) -> None:
    syncer = run(seed, 80, 0.0, 0.0, 0.0, delay, text=(False, True, "json")[seed % 3])
    assert syncer.live_book() is not None
    assert syncer.stats.resyncs == 0


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), delay=st.integers(min_value=0, max_value=3))
def test_duplicates_alone_never_force_a_resync_once_live(seed: int, delay: int) -> None:
    syncer = run(seed, 80, 0.0, 0.3, 0.0, delay)
    assert syncer.live_book() is not None


def test_the_perturbed_runs_do_reach_live_after_resyncs() -> None:
    """Guard against a vacuous property: gaps cause resyncs, and books come back LIVE."""
    checks: list[int] = []
    for seed in range(20):
        run(seed, 200, 0.05, 0.05, 0.05, 2, checks, text=seed % 2 == 0)
    assert any(resyncs > 0 for resyncs in checks), "no LIVE book was ever checked after a resync"
    assert len(checks) > 500
