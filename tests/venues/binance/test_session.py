"""BinanceStreamSession, sans-I/O: frames in, events + actions + frames out."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.book.sync import BookLive, BookResync, BookStale, FetchSnapshot, ResyncReason
from stanchion.core.errors import ParseError
from stanchion.model.market import BookDelta
from stanchion.venues.binance.codec import ServerShutdown
from stanchion.venues.binance.session import (
    BinanceStreamSession,
    Rotate,
    SubscriptionConfirmed,
    SubscriptionFailed,
    depth_stream,
    pong_payload,
)


def depth(symbol: str, first: int, last: int, bids: list[list[str]] | None = None) -> bytes:
    data = {"e": "depthUpdate", "E": 1, "s": symbol, "U": first, "u": last, "b": bids or [], "a": []}
    return msgspec.json.encode({"stream": depth_stream(symbol), "data": data})


def snapshot(last_update_id: int) -> bytes:
    return msgspec.json.encode(
        {"lastUpdateId": last_update_id, "bids": [["100.00000000", "1.00000000"]], "asks": [["101.00000000", "2.00000000"]]}
    )


def live_session(*symbols: str) -> BinanceStreamSession:
    session = BinanceStreamSession()
    frame = session.subscribe_depth(symbols)
    request_id = msgspec.json.decode(frame)["id"]
    session.on_frame(msgspec.json.encode({"result": None, "id": request_id}))
    for symbol in symbols:
        session.on_frame(depth(symbol, 9, 11))
        out = session.on_snapshot(symbol, snapshot(10))
        assert out.actions == [BookLive(symbol, 11)]
    return session


def test_subscribe_frame_and_confirmation() -> None:
    session = BinanceStreamSession()
    frame = session.subscribe_depth(["BTCUSDT", "ethusdt"])
    request = msgspec.json.decode(frame)
    assert request["method"] == "SUBSCRIBE"
    assert request["params"] == ["btcusdt@depth@100ms", "ethusdt@depth@100ms"]
    assert session.pending_requests()[request["id"]][0] == "SUBSCRIBE"
    out = session.on_frame(msgspec.json.encode({"result": None, "id": request["id"]}))
    assert out.actions == [SubscriptionConfirmed(request["id"], "SUBSCRIBE", ("btcusdt@depth@100ms", "ethusdt@depth@100ms"))]
    assert session.subscriptions() == {"btcusdt@depth@100ms", "ethusdt@depth@100ms"}
    assert session.pending_requests() == {}


def test_subscription_error_is_reported() -> None:
    session = BinanceStreamSession()
    request_id = msgspec.json.decode(session.subscribe(["bad@stream"]))["id"]
    out = session.on_frame(msgspec.json.encode({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id}))
    assert out.actions == [SubscriptionFailed(request_id, ("bad@stream",), 2, "Invalid request")]
    assert session.subscriptions() == frozenset()


def test_response_to_an_unknown_request_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unknown request id"):
        BinanceStreamSession().on_frame(b'{"result":null,"id":99}')


def test_first_diff_asks_for_a_snapshot_and_books_go_live() -> None:
    session = BinanceStreamSession(emit_book_deltas=True)
    session.subscribe_depth(["BTCUSDT"])
    out = session.on_frame(depth("BTCUSDT", 9, 11))
    assert out.actions == [FetchSnapshot("BTCUSDT", 1, "first diff buffered")] and out.events == []
    request = session.snapshot_request("BTCUSDT")
    assert request.params == {"symbol": "BTCUSDT", "limit": "5000"} and request.weight == 250
    assert session.live_book("BTCUSDT") is None
    assert session.on_snapshot("BTCUSDT", snapshot(10)).actions == [BookLive("BTCUSDT", 11)]
    out = session.on_frame(depth("BTCUSDT", 12, 12, [["100.00000000", "5.00000000"]]))
    assert len(out.events) == 1 and isinstance(out.events[0], BookDelta)
    assert out.events[0].bids == ((100 * 10**8, 5 * 10**8),) and out.book_updated == "BTCUSDT"
    book = session.live_book("btcusdt")
    assert book is not None and book.best_bid() == (100 * 10**8, 5 * 10**8)


def test_without_delta_events_the_output_names_the_updated_book() -> None:
    session = live_session("BTCUSDT")
    out = session.on_frame(depth("BTCUSDT", 12, 12, [["100.00000000", "5.00000000"]]))
    assert out.events == [] and out.book_updated == "BTCUSDT"
    raw = msgspec.json.encode({"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 13, "u": 13, "b": [], "a": []})
    assert session.on_frame(raw).book_updated == "BTCUSDT"  # a raw (non-combined) frame too


def test_a_malformed_level_resyncs_that_book_only() -> None:
    session = live_session("AAAUSDT", "BBBUSDT")
    out = session.on_frame(depth("AAAUSDT", 12, 12, [["100.00000000", "1e5"]]))
    assert len(out.actions) == 1
    resync = out.actions[0]
    assert isinstance(resync, BookResync) and resync.reason is ResyncReason.MALFORMED
    assert "exponent" in resync.detail
    assert session.live_book("AAAUSDT") is None and session.live_book("BBBUSDT") is not None
    # The next diff restarts the procedure.
    assert isinstance(session.on_frame(depth("AAAUSDT", 13, 13)).actions[0], FetchSnapshot)


def test_a_gap_on_one_symbol_leaves_the_other_live() -> None:
    session = live_session("AAAUSDT", "BBBUSDT")
    out = session.on_frame(depth("AAAUSDT", 40, 41))
    assert out.actions[0] == BookResync("AAAUSDT", ResyncReason.GAP, 12, 40)
    assert isinstance(out.actions[1], FetchSnapshot) and out.events == []
    assert session.live_book("AAAUSDT") is None and session.live_book("BBBUSDT") is not None


def test_server_shutdown_asks_for_rotation_and_resubscribe_covers_everything() -> None:
    session = live_session("BTCUSDT")
    out = session.on_frame(b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}')
    assert out.actions == [Rotate("serverShutdown")] and out.events == [ServerShutdown(1)]
    frames = session.resubscribe_frames()
    assert len(frames) == 1 and msgspec.json.decode(frames[0])["params"] == ["btcusdt@depth@100ms"]


def test_disconnect_resets_every_book_and_stale_hides_one() -> None:
    session = live_session("AAAUSDT", "BBBUSDT")
    assert session.mark_stale("AAAUSDT").actions == [BookStale("AAAUSDT", 11)]
    assert session.live_book("AAAUSDT") is None and session.live_book("BBBUSDT") is not None
    out = session.on_disconnected()
    assert {a.symbol for a in out.actions if isinstance(a, BookResync)} == {"AAAUSDT", "BBBUSDT"}
    assert session.live_book("BBBUSDT") is None


def test_unsubscribed_symbols_are_forgotten_and_stream_limit_is_enforced() -> None:
    session = live_session("BTCUSDT")
    session.unsubscribe([depth_stream("BTCUSDT")])
    assert session.on_frame(depth("BTCUSDT", 12, 12)).events == []
    assert session.live_book("BTCUSDT") is None
    with pytest.raises(ValueError, match="1024"):
        session.subscribe(f"s{i}@trade" for i in range(1025))


def test_pong_copies_the_ping_payload() -> None:
    assert pong_payload(b"\x01\x02abc") == b"\x01\x02abc"
    with pytest.raises(ValueError):
        depth_stream("BTCUSDT", 250)


@settings(max_examples=800, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.builds(lambda first, last, bid: depth("BTCUSDT", first, last, [bid]),
              st.integers(min_value=-5, max_value=30), st.integers(min_value=-5, max_value=30),
              st.lists(st.text(alphabet="0123456789.-e ", max_size=14), min_size=2, max_size=3)),
))
def test_garbage_frames_raise_only_parse_errors_and_never_expose_a_wrong_book(frame: bytes) -> None:
    session = live_session("BTCUSDT")
    with contextlib.suppress(ParseError):
        session.on_frame(frame)
    book = session.live_book("BTCUSDT")
    if book is not None:
        assert not book.is_crossed()
    with contextlib.suppress(ParseError):
        session.on_snapshot("BTCUSDT", frame)


def test_text_frames_as_str_are_accepted() -> None:
    session = live_session("BTCUSDT")
    out = session.on_frame(depth("BTCUSDT", 12, 12, [["100.00000000", "5.00000000"]]).decode())
    assert out.book_updated == "BTCUSDT"
    assert session.on_frame('{"e":"serverShutdown","E":1}').actions == [Rotate("serverShutdown")]


def test_session_statistics() -> None:
    session = live_session("AAAUSDT", "BBBUSDT")
    stats = session.statistics()
    assert stats["subscriptions"] == 2 and stats["pending_requests"] == 0
    assert set(stats["books"]) == {"AAAUSDT", "BBBUSDT"}  # type: ignore[call-overload]


def _raw(symbol: str, first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    return msgspec.json.encode({"e": "depthUpdate", "E": 1, "s": symbol, "U": first, "u": last, "b": bids, "a": asks})


def test_raw_ws_depth_frames_take_the_wire_path_and_build_the_same_book_as_combined_ones() -> None:
    # The adapter subscribes on /ws, where Binance sends raw {"e":"depthUpdate",...} payloads.
    from stanchion.venues.binance.codec import BinanceCodec

    codec = BinanceCodec()
    raw = _raw("BTCUSDT", 12, 12, [["100.00000000", "5.00000000"]], [["101.50000000", "1.00000000"]])
    wire = codec.depth_wire(raw)
    assert wire is not None and (wire.s, wire.U, wire.u) == ("BTCUSDT", 12, 12)
    assert bytes(wire.b) == b'[["100.00000000","5.00000000"]]'
    with pytest.raises(ParseError):
        codec.depth_wire(b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1",}]')
    assert codec.depth_wire(b'{"e":"trade","E":1}') is None

    via_raw, via_combined = live_session("BTCUSDT"), live_session("BTCUSDT")
    steps = [
        (12, 12, [["100.00000000", "5.00000000"], ["99.00000000", "1.00000000"]], [["101.50000000", "1.00000000"]]),
        (13, 14, [["100.00000000", "0.00000000"]], [["101.00000000", "0.00000000"], ["102.25000000", "3.5"]]),
        (15, 15, [["98.10000000", "2.00000000"]], []),
    ]
    for first, last, bids, asks in steps:
        out_raw = via_raw.on_frame(_raw("BTCUSDT", first, last, bids, asks))
        out_combined = via_combined.on_frame(
            msgspec.json.encode({"stream": "btcusdt@depth@100ms", "data": msgspec.json.decode(
                _raw("BTCUSDT", first, last, bids, asks))})
        )
        assert out_raw.book_updated == out_combined.book_updated == "BTCUSDT"
        assert out_raw.actions == out_combined.actions == []
    book_raw, book_combined = via_raw.live_book("BTCUSDT"), via_combined.live_book("BTCUSDT")
    assert book_raw is not None and book_combined is not None
    assert book_raw.same_levels(book_combined)
    assert book_raw.best_bid() == (99 * 10**8, 10**8) and book_raw.best_ask() == (10_150_000_000, 10**8)
    assert book_raw.ask_levels()[10_225_000_000] == 350_000_000  # "3.5": the Python path's rule


def test_a_raw_frame_with_a_malformed_level_resyncs_only_its_book() -> None:
    session = live_session("AAAUSDT", "BBBUSDT")
    out = session.on_frame(_raw("AAAUSDT", 12, 12, [["100.00000000", "1.00000000"], ["99.00000000", "1e5"]], []))
    assert len(out.actions) == 1 and isinstance(out.actions[0], BookResync)
    assert out.actions[0].reason is ResyncReason.MALFORMED and "exponent" in out.actions[0].detail
    assert session.live_book("AAAUSDT") is None and session.live_book("BBBUSDT") is not None
