"""Binance codec: the docs' own examples, real frames, round trips, fuzzing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import format_fixed, parse_fixed
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport
from stanchion.model.instrument import Instrument
from stanchion.model.market import AggressorSide, BestBidAsk, BookDelta, BookSnapshot, TradeTick
from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from stanchion.venues.binance.codec import (
    AccountPosition,
    BalanceChange,
    BinanceCodec,
    BinanceParseError,
    ControlResponse,
    EventStreamTerminated,
    IgnoredStream,
    OrderEncodingError,
    ServerShutdown,
    cancel_params,
    cancel_replace_params,
    decimals_of,
    decode_order_response,
    decode_user_event,
    decode_ws_api_response,
    order_params,
    order_response_fills,
)
from stanchion.venues.binance.symbols import parse_exchange_info

DOCS = Path(__file__).parent / "docs_examples"
E8 = 10**8


def doc(name: str) -> bytes:
    return (DOCS / name).read_bytes()


@pytest.fixture
def codec() -> BinanceCodec:
    return BinanceCodec()


BTCUSDT = Instrument(
    venue="binance", symbol="BTCUSDT", base="BTC", quote="USDT", price_scale=8, qty_scale=8,
    tick=1_000_000, step=1_000, min_qty=1_000, max_qty=900 * E8, min_notional=5 * E8 * E8,
)


# --- market data: documented payloads -------------------------------------------------------


def test_depth_update_doc_example_raw_and_combined(codec: BinanceCodec) -> None:
    raw = doc("depth_update.json")
    expected = BookDelta("BNBBTC", 157, 160, 1672515782136, ((240_000, 10 * E8),), ((260_000, 100 * E8),))
    assert codec.decode_market(raw) == expected
    combined = b'{"stream":"bnbbtc@depth","data":' + raw + b"}"
    assert codec.decode_market(combined) == expected
    combined_100 = b'{"stream":"bnbbtc@depth@100ms","data":' + raw + b"}"
    assert codec.decode_market(combined_100) == expected


def test_book_ticker_trade_agg_trade_partial_depth_doc_examples(codec: BinanceCodec) -> None:
    assert codec.decode_market(doc("book_ticker.json")) == BestBidAsk(
        "BNBUSDT", 400900217, 2_535_190_000, 3_121_000_000, 2_536_520_000, 4_066_000_000
    )
    trade = codec.decode_market(b'{"stream":"bnbbtc@trade","data":' + doc("trade.json") + b"}")
    assert trade == TradeTick("BNBBTC", 12345, 100_000, 100 * E8, AggressorSide.SELL, 1672515782136, 1672515782136)
    agg = codec.decode_market(doc("agg_trade.json"))
    assert isinstance(agg, TradeTick) and agg.aggregate and agg.aggressor is AggressorSide.SELL
    partial = codec.decode_market(b'{"stream":"bnbbtc@depth5@100ms","data":' + doc("partial_depth.json") + b"}")
    assert isinstance(partial, BookSnapshot) and partial.symbol == "BNBBTC" and partial.last_update_id == 160
    assert partial.bids[0] == (parse_fixed("0.0024", 8), 10 * E8)


def test_control_and_shutdown_frames(codec: BinanceCodec) -> None:
    assert codec.decode_market(b'{"result":null,"id":1}') == ControlResponse(1, None)
    assert codec.decode_market(b'{"result":["btcusdt@depth"],"id":"x2"}') == ControlResponse("x2", b'["btcusdt@depth"]')
    error = codec.decode_market(b'{"error":{"code":2,"msg":"Invalid request"},"id":3}')
    assert error == ControlResponse(3, None, 2, "Invalid request")
    assert codec.decode_market(b'{"e":"serverShutdown","E":1}') == ServerShutdown(1)
    assert codec.decode_market(b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":5}}') == ServerShutdown(5)
    assert codec.decode_market(b'{"stream":"x@kline_1m","data":{"e":"kline"}}') == IgnoredStream("x@kline_1m")


def test_unknown_fields_are_ignored(codec: BinanceCodec) -> None:
    frame = b'{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[],"pu":0,"new":{"a":1}},"extra":1}'
    assert codec.decode_market(frame) == BookDelta("X", 1, 2, 1, (), ())


# --- user data ----------------------------------------------------------------------------------


def test_execution_report_doc_example() -> None:
    report = decode_user_event(doc("execution_report_new.json"))
    assert isinstance(report, ExecutionReport)
    assert report.symbol == "ETHBTC" and report.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert report.side is Side.BUY and report.order_type is OrderType.LIMIT
    assert report.time_in_force is TimeInForce.GTC
    assert report.execution_type is ExecutionType.NEW and report.status is OrderStatus.NEW
    assert report.order_qty == E8 and report.price == 10_264_410 and report.venue_order_id == 4293153
    assert report.reject_reason is None and report.fill is None


def _trade_report(**overrides: object) -> bytes:
    base = msgspec.json.decode(doc("execution_report_new.json"))["event"]
    base.update({"x": "TRADE", "X": "PARTIALLY_FILLED", "l": "0.40000000", "z": "0.40000000",
                 "L": "0.10264410", "n": "0.00000411", "N": "BNB", "t": 777, "m": True})
    base.update(overrides)
    return msgspec.json.encode(base)


def test_trade_execution_report_carries_a_fill_with_commission_and_dedup_key() -> None:
    report = decode_user_event(_trade_report())
    assert isinstance(report, ExecutionReport) and report.fill is not None
    fill = report.fill
    assert (fill.price, fill.qty, fill.commission, fill.commission_asset) == (10_264_410, 40_000_000, 411, "BNB")
    assert fill.is_maker and fill.trade_id == 777
    assert fill.dedup_key == ("binance", "ETHBTC", 777)
    # The same report replayed has the same key: counted once downstream.
    again = decode_user_event(_trade_report())
    assert isinstance(again, ExecutionReport) and again.fill is not None and again.fill.dedup_key == fill.dedup_key


def test_cancel_report_names_the_canceled_order_and_expired_in_match_maps_to_expired() -> None:
    report = decode_user_event(_trade_report(x="CANCELED", X="CANCELED", c="cancel-req-1", C="orig-1"))
    assert isinstance(report, ExecutionReport)
    assert report.client_order_id == "orig-1" and report.original_client_order_id == "orig-1"
    expired = decode_user_event(_trade_report(x="EXPIRED", X="EXPIRED_IN_MATCH"))
    assert isinstance(expired, ExecutionReport) and expired.status is OrderStatus.EXPIRED


def test_other_user_events_doc_examples() -> None:
    position = decode_user_event(doc("outbound_account_position.json"))
    assert isinstance(position, AccountPosition) and position.balances[0].free == 10000 * E8
    balance = decode_user_event(doc("balance_update.json"))
    assert balance == BalanceChange("BTC", 100 * E8, 1573200697110, 1573200697068)
    negative = decode_user_event(b'{"e":"balanceUpdate","E":1,"a":"BTC","d":"-0.5","T":2}')
    assert isinstance(negative, BalanceChange) and negative.delta == -50_000_000
    assert isinstance(decode_user_event(doc("event_stream_terminated.json")), EventStreamTerminated)
    assert decode_user_event(b'{"e":"listStatus","E":1}') is None


def test_order_responses_ack_and_full() -> None:
    ack = decode_order_response(doc("order_response_ack.json"))
    assert ack.orderId == 28 and ack.status is None and order_response_fills(ack) == []
    full = decode_order_response(doc("order_response_full.json"))
    fills = order_response_fills(full)
    assert [f.trade_id for f in fills] == [56, 57, 58, 59, 60]
    assert fills[1].commission == 1_999_500_000 and fills[1].commission_asset == "USDT"
    assert fills[0].side is Side.SELL and fills[0].price == 4000 * E8


def test_ws_api_response_envelope() -> None:
    response = decode_ws_api_response(
        b'{"id":"a1","status":400,"error":{"code":-2010,"msg":"Account has insufficient balance for requested action."},'
        b'"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1}]}'
    )
    assert response.status == 400 and response.error is not None and response.error.code == -2010
    assert response.rateLimits[0].count == 1
    ok = decode_ws_api_response(b'{"id":1,"status":200,"result":' + doc("order_response_ack.json") + b"}")
    assert decode_order_response(bytes(ok.result)).orderId == 28
    assert bytes(response.result) == b""


# --- commands → params ----------------------------------------------------------------------


def test_limit_order_params_use_tick_and_step_decimals() -> None:
    cmd = SubmitOrder("BTCUSDT", "S000000010000000001", Side.BUY, OrderType.LIMIT, qty=123_000, price=6_000_001_000_000,
                      time_in_force=TimeInForce.IOC)
    assert order_params(cmd, BTCUSDT) == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
        "quantity": "0.00123", "price": "60000.01", "newClientOrderId": "S000000010000000001",
        "newOrderRespType": "FULL",
    }
    market = SubmitOrder("BTCUSDT", "c2", Side.SELL, OrderType.MARKET, qty=5 * E8)
    assert order_params(market, BTCUSDT, response_type="RESULT") == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "5.00000",
        "newClientOrderId": "c2", "newOrderRespType": "RESULT",
    }


def test_invalid_commands_are_refused_before_sending() -> None:
    with pytest.raises(OrderEncodingError, match="tick"):
        order_params(SubmitOrder("BTCUSDT", "c", Side.BUY, OrderType.LIMIT, qty=1000, price=6_000_000_500_000), BTCUSDT)
    with pytest.raises(OrderEncodingError, match="step"):
        order_params(SubmitOrder("BTCUSDT", "c", Side.BUY, OrderType.LIMIT, qty=1001, price=6 * E8), BTCUSDT)
    with pytest.raises(OrderEncodingError, match="needs a price"):
        order_params(SubmitOrder("BTCUSDT", "c", Side.BUY, OrderType.LIMIT, qty=1000), BTCUSDT)
    with pytest.raises(OrderEncodingError, match="takes no price"):
        order_params(SubmitOrder("BTCUSDT", "c", Side.BUY, OrderType.MARKET, qty=1000, price=6 * E8), BTCUSDT)
    with pytest.raises(OrderEncodingError, match="stop price"):
        order_params(SubmitOrder("BTCUSDT", "c", Side.BUY, OrderType.STOP_LOSS, qty=1000), BTCUSDT)
    with pytest.raises(OrderEncodingError):
        order_params(SubmitOrder("ETHUSDT", "c", Side.BUY, OrderType.MARKET, qty=1000), BTCUSDT)


def test_cancel_and_replace_params() -> None:
    assert cancel_params(CancelOrder("BTCUSDT", "c1")) == {"symbol": "BTCUSDT", "origClientOrderId": "c1"}
    assert cancel_params(CancelOrder("BTCUSDT", "c1", 42)) == {"symbol": "BTCUSDT", "orderId": "42"}
    replace = cancel_replace_params(
        ReplaceOrder("BTCUSDT", "c2", "c1", Side.SELL, OrderType.LIMIT, qty=2000, price=7 * E8), BTCUSDT
    )
    assert replace["cancelOrigClientOrderId"] == "c1" and replace["newClientOrderId"] == "c2"
    assert replace["price"] == "7.00" and replace["cancelReplaceMode"] == "STOP_ON_FAILURE"


def test_decimals_of_increment() -> None:
    assert decimals_of(1_000_000, 8) == 2 and decimals_of(1, 8) == 8 and decimals_of(E8, 8) == 0
    assert decimals_of(10 * E8, 8) == 0


# --- exchangeInfo from the real capture ---------------------------------------------------------


def test_exchange_info_from_the_capture() -> None:
    from tests.venues.binance.capture import capture_dir

    line = (capture_dir() / "BINANCE.0").read_bytes().split(b"\n")[0]
    instruments = parse_exchange_info(line.partition(b": ")[2])
    nkn = instruments["NKNUSDT"]
    assert (nkn.tick, nkn.step, nkn.min_qty) == (10_000, E8, E8)
    assert nkn.min_notional == 10 * E8 * E8 and nkn.price_scale == nkn.qty_scale == 8
    assert len(instruments) > 1000
    with pytest.raises(BinanceParseError):
        parse_exchange_info(b'{"symbols":[{"symbol":"X"}]}')


# --- round trips and fuzzing ----------------------------------------------------------------------

units = st.integers(min_value=0, max_value=10**14)
levels = st.lists(st.tuples(units, units), max_size=25)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2**62), st.integers(min_value=0, max_value=50), levels, levels)
def test_depth_round_trip_through_wire_format(first: int, width: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    delta = BookDelta("BTCUSDT", first, first + width, 1_700_000_000_000, tuple(bids), tuple(asks))
    wire = {
        "e": "depthUpdate", "E": delta.event_time_ms, "s": delta.symbol, "U": delta.first_update_id,
        "u": delta.final_update_id,
        "b": [[format_fixed(p, 8), format_fixed(q, 8)] for p, q in bids],
        "a": [[format_fixed(p, 8, -1), format_fixed(q, 8, -1)] for p, q in asks],  # trimmed forms too
    }
    frame = msgspec.json.encode({"stream": "btcusdt@depth@100ms", "data": wire})
    codec = BinanceCodec(cache_limit=8)  # tiny cache: exercises clearing
    assert codec.decode_market(frame) == delta
    assert codec.decode_market(frame) == delta  # second pass from the caches


decimal_ish = st.text(alphabet="0123456789.-+e _١²\u00a0", min_size=0, max_size=32)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(decimal_ish, st.from_regex(r"\A[0-9]{1,22}\.[0-9]{8}\Z"), st.from_regex(r"\A[0-9]{0,3}\.?[0-9]{0,10}\Z")))
def test_level_parse_matches_parse_fixed_exactly(text: str) -> None:
    """The inline fast path of ``levels`` agrees with parse_fixed on every string."""
    try:
        expected: int | None = parse_fixed(text, 8)
    except ParseError:
        expected = None
    for cache_limit in (1, 1000):
        codec = BinanceCodec(cache_limit=cache_limit)
        for _ in range(2):
            if expected is None:
                with pytest.raises(ParseError):
                    codec.levels([(text, "1")])
                with pytest.raises(ParseError):
                    codec.levels([("1", text)])
            else:
                assert codec.levels([(text, text)]) == ((expected, expected),)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_parse_errors(data: bytes) -> None:
    codec = BinanceCodec()
    for decode in (
        codec.decode_market,
        lambda d: codec.decode_depth_snapshot(d, "X"),
        decode_user_event,
        decode_order_response,
        decode_ws_api_response,
        parse_exchange_info,
    ):
        with contextlib.suppress(ParseError):
            decode(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(["0.1", "1.00000000", "-1", "1e5"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from([*list("eEsUubaBApqtTmxXcSofiClzLnNrZ"), "stream", "data", "id", "result", "lastUpdateId", "bids", "asks", "event", "subscriptionId"]), children, max_size=8),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None)
@given(json_values, st.sampled_from(["", "btcusdt@depth", "btcusdt@depth@100ms", "x@bookTicker", "x@trade", "x@aggTrade", "x@depth10", "!serverShutdown"]))
def test_structured_garbage_raises_only_parse_errors(value: object, stream: str) -> None:
    codec = BinanceCodec()
    payload = msgspec.json.encode(value)
    frames = [payload, msgspec.json.encode({"stream": stream, "data": value})]
    for frame in frames:
        for decode in (codec.decode_market, decode_user_event):
            try:
                decode(frame)
            except ParseError as exc:
                assert str(exc)  # says what was wrong


def test_parse_error_messages_say_what_and_where(codec: BinanceCodec) -> None:
    with pytest.raises(BinanceParseError, match="depth frame"):
        codec.decode_market(b'{"stream":"x@depth","data":{"e":"depthUpdate"}}')
    with pytest.raises(BinanceParseError, match="exponent"):
        codec.decode_market(b'{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1e5","1"]],"a":[]}}')
    with pytest.raises(BinanceParseError, match="unknown order status"):
        decode_user_event(_trade_report(X="WHATEVER"))


def test_ws_api_order_place_request_is_signed_over_the_formatted_params() -> None:
    from stanchion.venues.binance.auth import HmacSigner, sign_ws_params, ws_signature_payload
    from stanchion.venues.binance.codec import ws_api_request

    signer = HmacSigner("api-key-123456789", "secret-abcdefghijkl")
    cmd = SubmitOrder("BTCUSDT", "S000000010000000001", Side.BUY, OrderType.LIMIT, qty=1_000, price=6 * E8 * 10_000)
    params = sign_ws_params(signer, order_params(cmd, BTCUSDT), timestamp_ms=1_700_000_000_000)
    frame = msgspec.json.decode(ws_api_request("req-1", "order.place", params))
    assert frame["method"] == "order.place" and frame["id"] == "req-1"
    sent = frame["params"]
    assert sent["price"] == "60000.00" and sent["quantity"] == "0.00001"
    assert sent["signature"] == signer.sign(ws_signature_payload(sent))
    assert msgspec.json.decode(ws_api_request(7, "ping")) == {"id": 7, "method": "ping"}
