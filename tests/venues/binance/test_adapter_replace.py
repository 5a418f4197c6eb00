"""Replace in one request (``order.cancelReplace``, STOP_ON_FAILURE): the answers of the docs, each
half reported to the engine as what it is; then end to end against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stanchion.model.commands import ReplaceOrder, SubmitOrder
from stanchion.model.instrument import Instrument
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.binance.faults import Fault
from stanchion.sim.types import OrderView, Rejected
from stanchion.venues.binance.adapter import BinanceAdapter, BinanceAdapterConfig, _Pending
from stanchion.venues.binance.auth import HmacSigner
from stanchion.venues.binance.codec import decode_ws_api_response
from tests.venues.binance.adapter_support import Sink, make_adapter, started, until

CANCELED = (
    b'{"symbol":"BTCUSDT","origClientOrderId":"S01old","orderId":125690984230,"orderListId":-1,'
    b'"clientOrderId":"91fe37ce9e69c90d6358c0","transactTime":1684804350068,"price":"23450.00000000",'
    b'"origQty":"0.00847000","executedQty":"0.00001000","origQuoteOrderQty":"0.000000",'
    b'"cummulativeQuoteQty":"0.23450000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"SELL",'
    b'"selfTradePreventionMode":"NONE"}'
)
PLACED = (
    b'{"symbol":"BTCUSDT","orderId":12569099453,"orderListId":-1,"clientOrderId":"S01new",'
    b'"transactTime":1660813156959,"price":"23416.10000000","origQty":"0.00847000","executedQty":"0.00000000",'
    b'"origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC",'
    b'"type":"LIMIT","side":"SELL","workingTime":1660813156959,"selfTradePreventionMode":"NONE"}'
)
LIMITS = b'"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1}]'


def _offline() -> tuple[BinanceAdapter, Sink]:
    adapter = BinanceAdapter(
        BinanceAdapterConfig(name="binance", rest_url="http://127.0.0.1:1", ws_stream_url="ws://127.0.0.1:1/ws",
                             ws_api_url="ws://127.0.0.1:1/ws-api/v3", symbols=("BTCUSDT",)),
        HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET),
    )
    adapter._instruments["BTCUSDT"] = Instrument(
        "binance", "BTCUSDT", "BTC", "USDT", 8, 8, tick=10**6, step=10**3, min_qty=10**3, max_qty=10**12,
        min_notional=5 * 10**16, cancel_replace=True,
    )
    sink = Sink()
    adapter._sink = sink
    adapter._pending[9] = _Pending("replace", "S01new", "BTCUSDT", 0, original="S01old")
    return adapter, sink


def _answer(adapter: BinanceAdapter, frame: bytes) -> None:
    adapter._on_api_response(decode_ws_api_response(frame), frame)


def test_both_halves_succeeded() -> None:
    adapter, sink = _offline()
    _answer(adapter, b'{"id":9,"status":200,"result":{"cancelResult":"SUCCESS","newOrderResult":"SUCCESS",'
                     b'"cancelResponse":' + CANCELED + b',"newOrderResponse":' + PLACED + b'},' + LIMITS + b'}')
    assert [(r.client_order_id, r.status) for r in sink.reports] == [
        ("S01old", OrderStatus.CANCELED), ("S01new", OrderStatus.NEW)
    ]
    assert sink.rejected == sink.unknown == sink.cancel_rejected == [] and adapter._pending == {}


def test_cancel_failed_so_the_order_was_not_attempted() -> None:
    adapter, sink = _offline()
    _answer(adapter, b'{"id":9,"status":400,"error":{"code":-2022,"msg":"Order cancel-replace failed.",'
                     b'"data":{"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED",'
                     b'"cancelResponse":{"code":-2011,"msg":"Unknown order sent."},"newOrderResponse":null}},'
                     + LIMITS + b'}')
    assert sink.reports == []
    assert [cid for cid, _ in sink.rejected] == ["S01new"]  # definite: it never reached the matching engine
    assert sink.cancel_rejected == [("S01old", "cancel rejected: -2011 Unknown order sent.")]  # → a query
    assert sink.unknown == []
    assert adapter.stats.rejects_by_reason == {"-2022": 1}


def test_cancel_succeeded_and_the_new_order_failed() -> None:
    adapter, sink = _offline()
    _answer(adapter, b'{"id":9,"status":409,"error":{"code":-2021,"msg":"Order cancel-replace partially failed.",'
                     b'"data":{"cancelResult":"SUCCESS","newOrderResult":"FAILURE","cancelResponse":' + CANCELED
                     + b',"newOrderResponse":{"code":-2010,"msg":"Order would immediately match and take."}}},'
                     + LIMITS + b'}')
    assert [(r.client_order_id, r.status) for r in sink.reports] == [("S01old", OrderStatus.CANCELED)]
    assert len(sink.rejected) == 1 and sink.rejected[0][0] == "S01new"
    assert "would immediately match" in sink.rejected[0][1] or "rejected" in sink.rejected[0][1]
    assert sink.cancel_rejected == [] and sink.unknown == []


def test_a_refused_request_rejects_the_order_and_queries_the_original() -> None:
    adapter, sink = _offline()  # filters are evaluated before the cancel: nothing happened
    _answer(adapter, b'{"id":9,"status":400,"error":{"code":-1013,"msg":"Filter failure: PRICE_FILTER"},'
                     + LIMITS + b'}')
    assert [cid for cid, _ in sink.rejected] == ["S01new"] and "Filter failure" in sink.rejected[0][1]
    assert [cid for cid, _ in sink.cancel_rejected] == ["S01old"]
    assert sink.reports == [] and sink.unknown == []


def test_a_partial_failure_without_its_data_leaves_both_to_a_query() -> None:
    adapter, sink = _offline()
    _answer(adapter, b'{"id":9,"status":409,"error":{"code":-2021,"msg":"Order cancel-replace partially failed."},'
                     + LIMITS + b'}')
    assert [cid for cid, _ in sink.unknown] == ["S01new"]
    assert [cid for cid, _ in sink.cancel_rejected] == ["S01old"]
    assert sink.rejected == [] and sink.reports == []


def test_no_answer_makes_both_halves_unknown() -> None:
    adapter, sink = _offline()
    adapter._fail_pending("connection lost before the answer")
    assert [cid for cid, _ in sink.unknown] == ["S01new"]
    assert [cid for cid, _ in sink.cancel_rejected] == ["S01old"]


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=50, ping_interval_s=1, pong_timeout_s=30)) as server:
        yield server


def _far_bid(adapter: BinanceAdapter) -> tuple[int, int]:
    """A bid 10 % under the touch, and a quantity just over the minimum notional there."""
    book = adapter.live_book("BTCUSDT")
    assert book is not None
    bid = book.best_bid_price()
    assert bid is not None
    instrument = adapter._instruments["BTCUSDT"]
    price = (bid * 9 // 10) // instrument.tick * instrument.tick
    return price, (instrument.min_notional // price // instrument.step + 2) * instrument.step


def _working(sim: BinanceSimServer) -> dict[str, OrderView]:
    """The account's orders the venue has working (NEW or PARTIALLY_FILLED), by client order id."""
    truth = sim.exchange.account_truth("default")
    assert not isinstance(truth, Rejected)
    return {o.client_order_id: o for o in truth.orders if o.status in ("NEW", "PARTIALLY_FILLED")}


async def _resting(adapter: BinanceAdapter, sink: Sink, cid: str) -> tuple[int, int]:
    price, qty = _far_bid(adapter)
    adapter.submit(SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.GTC))
    await until(lambda: OrderStatus.NEW in sink.statuses(cid))
    return price, qty


async def test_a_replace_is_one_request_and_the_venue_holds_only_the_successor(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        assert adapter._instruments["BTCUSDT"].cancel_replace  # from exchangeInfo's cancelReplaceAllowed
        price, qty = await _resting(adapter, sink, "t5old00000000000000001")
        sent = adapter.stats.orders_sent_ws
        tick = adapter._instruments["BTCUSDT"].tick
        adapter.replace(ReplaceOrder("BTCUSDT", "t5new00000000000000001", "t5old00000000000000001", Side.BUY,
                                     OrderType.LIMIT, qty, price - tick, TimeInForce.GTC))
        await until(lambda: OrderStatus.CANCELED in sink.statuses("t5old00000000000000001")
                    and OrderStatus.NEW in sink.statuses("t5new00000000000000001"))
        assert adapter.stats.orders_sent_ws == sent + 1 and adapter.stats.replaces_sent == 1
        assert adapter.stats.cancels_sent == 0  # no separate cancel request
        open_ids = _working(sim)
        assert set(open_ids) == {"t5new00000000000000001"}
        assert open_ids["t5new00000000000000001"].price == price - tick
        assert sink.rejected == sink.unknown == sink.cancel_rejected == []


async def test_a_successor_the_venue_refuses_leaves_the_original_canceled(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        price, qty = await _resting(adapter, sink, "t5old00000000000000002")
        sim.inject(Fault("force_reject", count=1))  # the matching engine refuses the new order: -2021
        adapter.replace(ReplaceOrder("BTCUSDT", "t5new00000000000000002", "t5old00000000000000002", Side.BUY,
                                     OrderType.LIMIT, qty, price, TimeInForce.GTC))
        await until(lambda: bool(sink.rejected) and OrderStatus.CANCELED in sink.statuses("t5old00000000000000002"))
        assert [cid for cid, _ in sink.rejected] == ["t5new00000000000000002"]
        assert sink.unknown == [] and sink.cancel_rejected == []
        assert _working(sim) == {}


async def test_replacing_an_order_the_venue_does_not_have_attempts_nothing(sim: BinanceSimServer) -> None:
    adapter = make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0)
    async with started(adapter) as sink:
        price, qty = _far_bid(adapter)
        adapter.replace(ReplaceOrder("BTCUSDT", "t5new00000000000000003", "t5gone0000000000000003", Side.BUY,
                                     OrderType.LIMIT, qty, price, TimeInForce.GTC))
        await until(lambda: bool(sink.rejected) and bool(sink.cancel_rejected))
        assert sink.rejected[0] == ("t5new00000000000000003", "not attempted: the cancel failed")
        assert sink.cancel_rejected[0][0] == "t5gone0000000000000003"  # the engine queries it
        assert _working(sim) == {}
