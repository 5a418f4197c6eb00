"""Replay real Binance traffic (2021-10-12) through the codec and the sync procedure.

Books are synced exactly as the docs say — buffer diffs, fetch the snapshot
when the first diff arrives, drop old diffs, straddle, continue — using the
captured ``depth?limit=1000`` snapshots (delivered at their recorded receive
time, and only when the syncer asked for one) and the captured
``@depth@100ms`` diffs. At every ``@bookTicker`` whose ``u`` equals the book's
last applied update id, the synced best bid and ask (price *and* quantity)
must equal the exchange's own top of book.
"""

from __future__ import annotations

import heapq

from stanchion.book.sync import BookLive, BookResync, BookSyncer, FetchSnapshot, SyncState
from stanchion.model.market import BestBidAsk, BookDelta
from stanchion.venues.binance.codec import BinanceCodec
from tests.venues.binance.capture import capture_dir, read_http, read_ws


def test_synced_books_match_the_exchanges_book_ticker_at_equal_update_ids() -> None:
    folder = capture_dir()
    codec = BinanceCodec()
    snapshots = {r.symbol: r for r in read_http(folder / "BINANCE.http.0.0") if "/depth" in r.url}
    frames = read_ws(folder / "BINANCE.ws.1.0")
    assert len(snapshots) == 4 and len(frames) > 250

    # One timeline: frames and snapshot arrivals, by receive time.
    timeline: list[tuple[float, int, str, bytes]] = [(t, i, "ws", f) for i, (t, f) in enumerate(frames)]
    timeline += [(r.received, -1, "http:" + symbol, r.body) for symbol, r in snapshots.items()]
    heapq.heapify(timeline)

    syncers: dict[str, BookSyncer] = {}
    requested: set[str] = set()
    refetch_denied: dict[str, int] = {}
    went_live: dict[str, int] = {}
    resyncs: list[BookResync] = []
    matches: dict[str, int] = {}
    tickers_seen = 0

    def handle(actions: object) -> None:
        for action in actions:  # type: ignore[attr-defined]
            if isinstance(action, FetchSnapshot):
                if action.symbol in requested:
                    refetch_denied[action.symbol] = refetch_denied.get(action.symbol, 0) + 1
                requested.add(action.symbol)
            elif isinstance(action, BookLive):
                went_live[action.symbol] = action.update_id
            elif isinstance(action, BookResync):
                resyncs.append(action)

    pending: dict[str, dict[int, BestBidAsk]] = {}
    diff_ends: dict[str, set[int]] = {}
    ticker_ids: dict[str, set[int]] = {}

    def check(symbol: str) -> None:
        syncer = syncers.get(symbol)
        book = syncer.live_book() if syncer else None
        if book is None or syncer is None:
            return
        ticker = pending.get(symbol, {}).pop(syncer.last_update_id, None)
        if ticker is None:
            return
        assert book.best_bid() == (ticker.bid_price, ticker.bid_qty), (ticker, book.top(3))
        assert book.best_ask() == (ticker.ask_price, ticker.ask_qty), (ticker, book.top(3))
        matches[symbol] = matches.get(symbol, 0) + 1

    while timeline:
        _, _, kind, payload = heapq.heappop(timeline)
        if kind.startswith("http:"):
            symbol = kind[5:]
            assert symbol in requested, f"{symbol}: snapshot arrived but the syncer never asked for it"
            handle(syncers[symbol].on_snapshot(codec.decode_depth_snapshot(payload, symbol)))
            continue
        event = codec.decode_market(payload)
        if isinstance(event, BookDelta):
            syncer = syncers.setdefault(event.symbol, BookSyncer(event.symbol))
            handle(syncer.on_diff(event))
            diff_ends.setdefault(event.symbol, set()).add(event.final_update_id)
            check(event.symbol)
        elif isinstance(event, BestBidAsk):
            # @bookTicker is real-time, @depth@100ms batches: the ticker for update
            # id u usually arrives before the diff that ends at u. Keep it until
            # the book reaches u (tickers inside a diff's [U, u] never match one).
            tickers_seen += 1
            ticker_ids.setdefault(event.symbol, set()).add(event.update_id)
            pending.setdefault(event.symbol, {})[event.update_id] = event
            check(event.symbol)

    total = sum(matches.values())
    print(
        f"\ncapture replay: {total} bookTicker matches at equal update ids {matches}; "
        f"{tickers_seen} bookTickers seen; live at {went_live}; refetches asked {refetch_denied}"
    )
    # Every symbol of the capture is syncable: each snapshot's lastUpdateId falls
    # inside the buffered diffs (checked here, so a change in the capture shows).
    assert set(went_live) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    assert not resyncs, resyncs
    assert not refetch_denied
    assert all(s.state is SyncState.LIVE for s in syncers.values())
    # Every ticker that *can* be compared was: its u ends a diff applied while LIVE.
    comparable = {
        symbol: len({u for u in ids & diff_ends.get(symbol, set()) if u >= went_live.get(symbol, 1 << 62)})
        for symbol, ids in ticker_ids.items()
    }
    print(f"comparable tickers {comparable}")
    assert matches == {k: v for k, v in comparable.items() if v}
    assert total >= 25, matches
    # The book is exact, not just its top: every diff after the snapshot applied.
    nkn = syncers["NKNUSDT"]
    assert nkn.stats.diffs_applied > 100
