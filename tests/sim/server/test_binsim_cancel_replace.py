"""Cancel-replace (``order.cancelReplace``, ``POST /api/v3/order/cancelReplace``) over REST and the WebSocket API:
each outcome of Binance's table with its status and shape, checks before the cancel, restrictions, order counts,
user data, book, order faults."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from binsim_helpers import receive_until, signed_query, ws_signed

from stanchion.sim.binance import BinanceSimServer
from stanchion.sim.binance.faults import Fault

ORIGINAL = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
            "price": "40000.00", "newClientOrderId": "cr-orig"}
NEW_ORDER = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "41000.00",
             "newClientOrderId": "cr-new"}
TAKING_MAKER = {"side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": "100000.00",
                "newClientOrderId": "cr-new"}  # far above the ask: it would take
CANCEL_KEYS = [
    "symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty",
    "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
    "selfTradePreventionMode",
]
ORDER_KEYS_RESULT = [
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty", "executedQty",
    "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
    "selfTradePreventionMode",
]
OUTCOME_KEYS = ["cancelResult", "newOrderResult", "cancelResponse", "newOrderResponse"]
UNKNOWN_ORDER = {"code": -2011, "msg": "Unknown order sent."}
WOULD_TAKE = {"code": -2010, "msg": "Order would immediately match and take."}
_REST = {
    "order.place": ("POST", "/api/v3/order"),
    "order.cancelReplace": ("POST", "/api/v3/order/cancelReplace"),
    "order.status": ("GET", "/api/v3/order"),
    "order.cancel": ("DELETE", "/api/v3/order"),
    "openOrders.status": ("GET", "/api/v3/openOrders"),
}


def replace(mode: str = "STOP_ON_FAILURE", new: dict[str, str] | None = None, **cancel: str) -> dict[str, str]:
    """cancelReplace params: the original by its client id unless an order id is given, then the new order."""
    ids = cancel if "cancelOrderId" in cancel else {"cancelOrigClientOrderId": "cr-orig", **cancel}
    return {"symbol": "BTCUSDT", "cancelReplaceMode": mode, **ids, **(new if new is not None else NEW_ORDER)}


class Venue:
    """One transport to the simulator. ``call`` answers (status, body): REST's HTTP status and JSON, or the
    WebSocket API's status and its ``result`` or ``error`` (the same object REST returns)."""

    def __init__(self, sim: BinanceSimServer, http: aiohttp.ClientSession,
                 ws: aiohttp.ClientWebSocketResponse | None) -> None:
        self.sim = sim
        self.http = http
        self.ws = ws
        self.order_count: int | None = None  # ORDERS per 10 s after the last order request
        self._ids = itertools.count(1)

    async def call(self, method: str, params: dict[str, str]) -> tuple[int, Any]:
        if self.ws is None:
            verb, path = _REST[method]
            async with self.http.request(verb, f"{self.sim.rest_url}{path}?{signed_query(params)}") as r:
                if "X-MBX-ORDER-COUNT-10S" in r.headers:
                    self.order_count = int(r.headers["X-MBX-ORDER-COUNT-10S"])
                return r.status, await r.json()
        request_id = next(self._ids)
        await self.ws.send_str(json.dumps({"id": request_id, "method": method, "params": ws_signed(params)}))
        reply: Any = await receive_until(self.ws, lambda m: m.get("id") == request_id)
        for limit in reply["rateLimits"]:
            if limit["rateLimitType"] == "ORDERS" and limit["interval"] == "SECOND":
                self.order_count = limit["count"]
        return reply["status"], reply["result"] if "result" in reply else reply["error"]

    async def place_original(self) -> int:
        status, body = await self.call("order.place", ORIGINAL)
        assert status == 200 and body["status"] == "NEW", body
        return int(body["orderId"])

    async def open_client_ids(self) -> list[str]:
        status, body = await self.call("openOrders.status", {"symbol": "BTCUSDT"})
        assert status == 200, body
        return [o["clientOrderId"] for o in body]


@pytest.fixture(params=["rest", "ws_api"])
async def venue(request: pytest.FixtureRequest, sim: BinanceSimServer,
                http: aiohttp.ClientSession) -> AsyncIterator[Venue]:
    if request.param == "rest":
        yield Venue(sim, http, None)
        return
    async with http.ws_connect(sim.ws_api_url) as ws:
        yield Venue(sim, http, ws)


async def test_both_halves_succeed(venue: Venue) -> None:
    original_id = await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace(cancelNewClientOrderId="cr-cxl",
                                                                   cancelOrigClientOrderId="cr-orig"))
    assert status == 200, body
    assert list(body) == OUTCOME_KEYS and (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    canceled, placed = body["cancelResponse"], body["newOrderResponse"]
    assert list(canceled) == CANCEL_KEYS  # the order.cancel / DELETE /api/v3/order reply
    assert (canceled["orderId"], canceled["origClientOrderId"], canceled["clientOrderId"], canceled["status"],
            canceled["price"]) == (original_id, "cr-orig", "cr-cxl", "CANCELED", "40000.00000000")
    assert list(placed) == [*ORDER_KEYS_RESULT, "fills"]  # LIMIT: FULL by default, as order.place
    assert (placed["clientOrderId"], placed["status"], placed["price"]) == ("cr-new", "NEW", "41000.00000000")
    assert placed["orderId"] > original_id
    assert venue.order_count == 2  # the place and the cancel-replace
    assert await venue.open_client_ids() == ["cr-new"]
    status, old = await venue.call("order.status", {"symbol": "BTCUSDT", "orderId": str(original_id)})
    assert (status, old["status"]) == (200, "CANCELED")


async def test_by_order_id_with_ack_reply(venue: Venue) -> None:
    original_id = await venue.place_original()
    new = {**NEW_ORDER, "newOrderRespType": "ACK"}
    status, body = await venue.call("order.cancelReplace", replace(new=new, cancelOrderId=str(original_id)))
    assert status == 200, body
    assert body["cancelResponse"]["orderId"] == original_id and body["cancelResponse"]["origClientOrderId"] == "cr-orig"
    assert list(body["newOrderResponse"]) == ["symbol", "orderId", "orderListId", "clientOrderId", "transactTime"]
    assert await venue.open_client_ids() == ["cr-new"]


async def test_stop_on_failure_unknown_original_attempts_nothing(venue: Venue) -> None:
    status, body = await venue.call("order.cancelReplace", replace(cancelOrderId="999999"))
    assert (status, body) == (400, {
        "code": -2022, "msg": "Order cancel-replace failed.",
        "data": {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": UNKNOWN_ORDER,
                 "newOrderResponse": None},
    })
    assert venue.order_count == 1  # a new order not attempted still counts
    assert await venue.open_client_ids() == []
    status, body = await venue.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "cr-new"})
    assert (status, body["code"]) == (400, -2013)


async def test_cancel_done_new_order_rejected_by_the_engine(venue: Venue) -> None:
    original_id = await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace(new=TAKING_MAKER))
    assert status == 409, body
    assert (body["code"], body["msg"]) == (-2021, "Order cancel-replace partially failed.")
    data = body["data"]
    assert list(data) == OUTCOME_KEYS
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert list(data["cancelResponse"]) == CANCEL_KEYS and data["cancelResponse"]["orderId"] == original_id
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"] == WOULD_TAKE
    assert await venue.open_client_ids() == []  # not transactional: the original stays canceled


BAD_NEW_ORDERS = [
    ({**NEW_ORDER, "price": "41000.005"}, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}),
    ({**NEW_ORDER, "quantity": "0.000015"}, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}),
    ({**NEW_ORDER, "price": "1.123456789"}, {"code": -1111, "msg": "Parameter 'price' has too much precision."}),
    ({k: v for k, v in NEW_ORDER.items() if k != "timeInForce"},
     {"code": -1102, "msg": "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."}),
    ({**NEW_ORDER, "type": "STOP_LOSS_LIMIT", "stopPrice": "39000"}, {"code": -1014,
                                                                       "msg": "Unsupported order combination."}),
]


@pytest.mark.parametrize(("new", "error"), BAD_NEW_ORDERS)
async def test_a_new_order_failing_checks_is_refused_before_the_cancel(
    venue: Venue, new: dict[str, str], error: dict[str, object],
) -> None:
    await venue.place_original()
    for mode in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        status, body = await venue.call("order.cancelReplace", replace(mode, new=new))
        assert (status, body) == (400, error)
    assert await venue.open_client_ids() == ["cr-orig"]


async def test_allow_failure_places_the_new_order_when_the_cancel_fails(venue: Venue) -> None:
    await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace("ALLOW_FAILURE", cancelOrigClientOrderId="nope"))
    assert status == 409, body
    assert (body["code"], body["msg"]) == (-2021, "Order cancel-replace partially failed.")
    data = body["data"]
    assert list(data) == OUTCOME_KEYS
    assert (data["cancelResult"], data["newOrderResult"], data["cancelResponse"]) == ("FAILURE", "SUCCESS",
                                                                                       UNKNOWN_ORDER)
    assert list(data["newOrderResponse"]) == [*ORDER_KEYS_RESULT, "fills"]
    assert data["newOrderResponse"]["status"] == "NEW"
    assert sorted(await venue.open_client_ids()) == ["cr-new", "cr-orig"]


async def test_allow_failure_with_both_halves_failing(venue: Venue) -> None:
    await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace("ALLOW_FAILURE", new=TAKING_MAKER,
                                                                   cancelOrderId="999999"))
    assert (status, body) == (400, {
        "code": -2022, "msg": "Order cancel-replace failed.",
        "data": {"cancelResult": "FAILURE", "newOrderResult": "FAILURE", "cancelResponse": UNKNOWN_ORDER,
                 "newOrderResponse": WOULD_TAKE},
    })
    assert await venue.open_client_ids() == ["cr-orig"]


async def test_cancel_restrictions(venue: Venue) -> None:
    await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace(cancelOrigClientOrderId="cr-orig",
                                                                   cancelRestrictions="ONLY_PARTIALLY_FILLED"))
    assert (status, body["data"]) == (400, {
        "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."},
        "newOrderResponse": None,
    })
    assert await venue.open_client_ids() == ["cr-orig"]
    status, body = await venue.call("order.cancelReplace", replace(cancelOrigClientOrderId="cr-orig",
                                                                   cancelRestrictions="ONLY_FILLED"))
    assert (status, body) == (400, {"code": -1145, "msg": "Invalid cancelRestrictions"})
    status, body = await venue.call("order.cancelReplace", replace(cancelOrigClientOrderId="cr-orig",
                                                                   cancelRestrictions="ONLY_NEW"))
    assert status == 200 and body["cancelResponse"]["status"] == "CANCELED", body
    assert await venue.open_client_ids() == ["cr-new"]


async def test_cancel_restrictions_on_a_plain_cancel(venue: Venue) -> None:
    await venue.place_original()
    cancel = {"symbol": "BTCUSDT", "origClientOrderId": "cr-orig"}
    status, body = await venue.call("order.cancel", {**cancel, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"})
    assert (status, body) == (400, {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."})
    status, body = await venue.call("order.cancel", {**cancel, "cancelRestrictions": "ONLY_NEW"})
    assert (status, body["status"]) == (200, "CANCELED")


async def test_order_id_and_client_id_must_name_the_same_order(venue: Venue) -> None:
    original_id = await venue.place_original()
    status, body = await venue.call("order.cancelReplace", replace(cancelOrderId=str(original_id),
                                                                   cancelOrigClientOrderId="someone-else"))
    assert (status, body["code"], body["data"]["cancelResponse"]) == (400, -2022, UNKNOWN_ORDER)
    assert await venue.open_client_ids() == ["cr-orig"]
    status, body = await venue.call("order.cancelReplace", replace(cancelOrderId=str(original_id),
                                                                   cancelOrigClientOrderId="cr-orig"))
    assert status == 200, body


MISSING = [
    ({k: v for k, v in replace().items() if k != "cancelReplaceMode"},
     {"code": -1102, "msg": "Mandatory parameter 'cancelReplaceMode' was not sent, was empty/null, or malformed."}),
    (replace("STOP_ON_SUCCESS"),
     {"code": -1100, "msg": "Illegal characters found in parameter 'cancelReplaceMode'; "
                            "legal range is 'STOP_ON_FAILURE, ALLOW_FAILURE'."}),
    ({k: v for k, v in replace().items() if k != "cancelOrigClientOrderId"},
     {"code": -1102, "msg": "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!"}),
    ({k: v for k, v in replace().items() if k != "side"},
     {"code": -1102, "msg": "Mandatory parameter 'side' was not sent, was empty/null, or malformed."}),
]


@pytest.mark.parametrize(("params", "error"), MISSING)
async def test_missing_or_bad_parameters(venue: Venue, params: dict[str, str], error: dict[str, object]) -> None:
    await venue.place_original()
    assert await venue.call("order.cancelReplace", params) == (400, error)
    assert await venue.open_client_ids() == ["cr-orig"]


async def test_user_data_stream_gets_both_reports(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_api_url) as events, http.ws_connect(sim.ws_api_url) as api:
        await events.send_str(json.dumps({"id": 1, "method": "userDataStream.subscribe.signature",
                                          "params": ws_signed({})}))
        assert (await receive_until(events, lambda m: m.get("id") == 1))["status"] == 200
        venue = Venue(sim, http, api)
        original_id = await venue.place_original()
        status, body = await venue.call("order.cancelReplace", replace(cancelNewClientOrderId="cr-cxl"))
        assert status == 200, body
        new_id = body["newOrderResponse"]["orderId"]
        reports: list[dict[str, Any]] = []
        while not reports or (reports[-1]["x"], reports[-1]["c"]) != ("NEW", "cr-new"):
            frame: Any = await receive_until(events, lambda m: m.get("event", {}).get("e") == "executionReport")  # type: ignore[union-attr]
            reports.append(frame["event"])
    assert [(r["x"], r["X"], r["i"], r["c"]) for r in reports] == [
        ("NEW", "NEW", original_id, "cr-orig"),
        ("CANCELED", "CANCELED", original_id, "cr-cxl"),  # as order.cancel: c the cancel's id, C the order's
        ("NEW", "NEW", new_id, "cr-new"),
    ]
    assert reports[1]["C"] == "cr-orig" and reports[1]["p"] == "40000.00000000"
    assert reports[2]["p"] == "41000.00000000"


async def test_the_book_shows_the_replacement(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as depth, \
            http.ws_connect(sim.ws_api_url) as api:
        await receive_until(depth, lambda m: m.get("e") == "depthUpdate")
        venue = Venue(sim, http, api)
        await venue.place_original()
        await receive_until(depth, lambda m: ["40000.00000000", "0.00100000"] in m["b"])  # type: ignore[operator]
        diff: Any
        status, body = await venue.call("order.cancelReplace", replace())
        assert status == 200, body
        seen: set[str] = set()
        while seen != {"gone", "added"}:
            diff = await receive_until(depth, lambda m: m.get("e") == "depthUpdate")
            if ["40000.00000000", "0.00000000"] in diff["b"]:
                seen.add("gone")
            if ["41000.00000000", "0.00100000"] in diff["b"]:
                seen.add("added")


async def test_exchange_info_allows_cancel_replace(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.rest_url + "/api/v3/exchangeInfo") as r:
        symbols = (await r.json())["symbols"]
    assert symbols and all(s["cancelReplaceAllowed"] is True for s in symbols)


async def test_forced_rejection_strikes_the_new_order_after_the_cancel(venue: Venue) -> None:
    await venue.place_original()
    venue.sim.inject(Fault(kind="force_reject", code=-2010, msg="Account has insufficient balance for requested action."))
    status, body = await venue.call("order.cancelReplace", replace())
    assert (status, body["code"]) == (409, -2021), body
    assert body["data"]["newOrderResponse"] == {"code": -2010,
                                                "msg": "Account has insufficient balance for requested action."}
    assert await venue.open_client_ids() == []


async def test_reply_lost_after_the_new_order_was_accepted(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    venue = Venue(sim, http, None)
    await venue.place_original()
    sim.inject(Fault(kind="unknown_after_accept"))
    status, body = await venue.call("order.cancelReplace", replace())
    assert (status, body["code"]) == (503, -1007)
    assert await venue.open_client_ids() == ["cr-new"]  # both halves were done


async def test_reply_withheld_after_the_new_order_was_accepted(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_api_url) as ws:
        await Venue(sim, http, ws).place_original()
        sim.inject(Fault(kind="timeout_after_accept", hold_s=0.2))
        await ws.send_str(json.dumps({"id": 99, "method": "order.cancelReplace", "params": ws_signed(replace())}))
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    assert await Venue(sim, http, None).open_client_ids() == ["cr-new"]


async def test_times_in_microseconds_in_both_halves(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_api_url + "?timeUnit=MICROSECOND") as ws:
        venue = Venue(sim, http, ws)
        await venue.place_original()
        status, body = await venue.call("order.cancelReplace", replace())
        assert status == 200, body
        assert body["cancelResponse"]["transactTime"] > 10**15 and body["newOrderResponse"]["workingTime"] > 10**15
        status, body = await venue.call("order.cancelReplace", replace(new=TAKING_MAKER,
                                                                       cancelOrigClientOrderId="cr-new"))
        assert status == 409 and body["data"]["cancelResponse"]["transactTime"] > 10**15, body
