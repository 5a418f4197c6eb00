"""REST surface of the simulator: shapes, order round trip, and Binance's errors for bad requests."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from binsim_helpers import signed_query
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import RateLimitSpec, load_keys_file

ORDER_KEYS_RESULT = [
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty", "executedQty",
    "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
    "selfTradePreventionMode",
]


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: object) -> tuple[int, object, dict[str, str]]:
    async with http.request(method, url, **kw) as r:  # type: ignore[arg-type]
        return r.status, await r.json(content_type=None), dict(r.headers)


async def test_public_endpoints(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    assert (await call(http, "GET", base + "/api/v3/ping"))[1] == {}
    status, body, headers = await call(http, "GET", base + "/api/v3/time")
    assert status == 200 and abs(body["serverTime"] - time.time() * 1000) < 5000  # type: ignore[index]
    assert headers["X-MBX-USED-WEIGHT-1M"] == "2"
    _, info, headers = await call(http, "GET", base + "/api/v3/exchangeInfo")
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]  # type: ignore[index]
    assert headers["X-MBX-USED-WEIGHT-1M"] == "22"  # exchangeInfo weighs 20
    btc = info["symbols"][0]  # type: ignore[index]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" and filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    _, one, _ = await call(http, "GET", base + "/api/v3/exchangeInfo", params={"symbols": '["ETHUSDT"]'})
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]  # type: ignore[index]
    _, depth, headers = await call(http, "GET", base + "/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "500"})
    assert len(depth["bids"]) == 500 and depth["lastUpdateId"] >= 1000  # type: ignore[index]
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) == 22 + 20 + 25  # two exchangeInfo, depth limit 500
    _, ticker, _ = await call(http, "GET", base + "/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"})
    assert float(ticker["bidPrice"]) < float(ticker["askPrice"])  # type: ignore[index]
    _, avg, _ = await call(http, "GET", base + "/api/v3/avgPrice", params={"symbol": "ETHUSDT"})
    assert avg["mins"] == 5  # type: ignore[index]


async def test_limit_order_round_trip_and_response_types(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
             "price": "50000.00", "newClientOrderId": "rt-1"}
    status, full, headers = await call(http, "POST", base + "/api/v3/order?" + signed_query(order))
    assert status == 200, full
    assert list(full) == [*ORDER_KEYS_RESULT, "fills"]  # type: ignore[arg-type]
    assert full["status"] == "NEW" and full["clientOrderId"] == "rt-1" and full["cummulativeQuoteQty"] == "0.00000000"  # type: ignore[index]
    assert headers["X-MBX-ORDER-COUNT-10S"] == "1" and headers["X-MBX-ORDER-COUNT-1D"] == "1"
    status, result, _ = await call(http, "POST", base + "/api/v3/order",
                                   data=signed_query({**order, "newClientOrderId": "rt-2", "newOrderRespType": "RESULT"}),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and list(result) == ORDER_KEYS_RESULT  # type: ignore[arg-type]
    status, ack, _ = await call(http, "POST", base + "/api/v3/order?" + signed_query(
        {**order, "newClientOrderId": "rt-3", "newOrderRespType": "ACK"}))
    assert list(ack) == ["symbol", "orderId", "orderListId", "clientOrderId", "transactTime"]  # type: ignore[arg-type]
    _, got, _ = await call(http, "GET", base + "/api/v3/order?" + signed_query({"symbol": "BTCUSDT", "orderId": str(full["orderId"])}))  # type: ignore[index]
    assert got["clientOrderId"] == "rt-1" and got["isWorking"] is True  # type: ignore[index]
    _, opened, _ = await call(http, "GET", base + "/api/v3/openOrders?" + signed_query({"symbol": "BTCUSDT"}))
    assert {o["clientOrderId"] for o in opened} == {"rt-1", "rt-2", "rt-3"}  # type: ignore[union-attr]
    status, canceled, _ = await call(http, "DELETE", base + "/api/v3/order?" + signed_query({"symbol": "BTCUSDT", "origClientOrderId": "rt-1"}))
    assert status == 200 and canceled["status"] == "CANCELED" and canceled["origClientOrderId"] == "rt-1"  # type: ignore[index]
    status, rest, _ = await call(http, "DELETE", base + "/api/v3/openOrders?" + signed_query({"symbol": "BTCUSDT"}))
    assert status == 200 and len(rest) == 2  # type: ignore[arg-type]
    _, all_orders, _ = await call(http, "GET", base + "/api/v3/allOrders?" + signed_query({"symbol": "BTCUSDT"}))
    assert [o["status"] for o in all_orders] == ["CANCELED"] * 3  # type: ignore[union-attr]


async def test_market_order_fills_and_my_trades(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    status, full, _ = await call(http, "POST", base + "/api/v3/order?" + signed_query(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}))
    assert status == 200 and full["status"] == "FILLED" and full["fills"], full  # type: ignore[index]
    assert set(full["fills"][0]) == {"price", "qty", "commission", "commissionAsset", "tradeId"}  # type: ignore[index]
    _, trades, _ = await call(http, "GET", base + "/api/v3/myTrades?" + signed_query({"symbol": "BTCUSDT"}))
    assert sum(float(t["qty"]) for t in trades) == pytest.approx(0.01)  # type: ignore[union-attr]
    _, account, _ = await call(http, "GET", base + "/api/v3/account?" + signed_query({"omitZeroBalances": "true"}))
    btc = next(b for b in account["balances"] if b["asset"] == "BTC")  # type: ignore[index]
    assert float(btc["free"]) > 10.0


BAD = [
    ("GET", "/api/v3/depth", {}, False, 400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
    ("GET", "/api/v3/depth", {"symbol": "NOPEUSDT"}, False, 400, -1121, "Invalid symbol."),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "ten"}, False, 400, -1100, None),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1"}, True, 400, -1102,
     "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                               "quantity": "0.1", "price": "1.123456789"}, True, 400, -1111, "Parameter 'price' has too much precision."),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                               "quantity": "0.1", "price": "50000.005"}, True, 400, -1013, "Filter failure: PRICE_FILTER"),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                               "quantity": "abc", "price": "50000"}, True, 400, -1100,
     "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "UP", "type": "LIMIT"}, True, 400, -1117, "Invalid side."),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}, True, 400, -1102,
     "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
    ("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "999999"}, True, 400, -2011, "Unknown order sent."),
    ("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "999999"}, True, 400, -2013, "Order does not exist."),
]


@pytest.mark.parametrize(("method", "path", "params", "signed", "status", "code", "msg"), BAD)
async def test_bad_requests_get_binance_errors(
    sim: BinanceSimServer, http: aiohttp.ClientSession, method: str, path: str, params: dict[str, str], signed: bool,
    status: int, code: int, msg: str | None,
) -> None:
    query = signed_query(params) if signed else urlencode(params)
    got_status, body, headers = await call(http, method, f"{sim.rest_url}{path}?{query}")
    assert (got_status, body["code"]) == (status, code), body  # type: ignore[index]
    if msg is not None:
        assert body["msg"] == msg  # type: ignore[index]
    assert set(body) == {"code", "msg"}  # type: ignore[arg-type]
    assert "X-MBX-USED-WEIGHT-1M" in headers


async def test_auth_failures(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url + "/api/v3/account?"
    good = signed_query({})
    bad_sig = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    status, body, _ = await call(http, "GET", base + bad_sig)
    assert (status, body) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    stale = signed_query({}, timestamp=int(time.time() * 1000) - 10_000)
    status, body, _ = await call(http, "GET", base + stale)
    assert body == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    ahead = signed_query({}, timestamp=int(time.time() * 1000) + 5_000)
    assert (await call(http, "GET", base + ahead))[1]["msg"] == "Timestamp for this request was 1000ms ahead of the server's time."  # type: ignore[index]
    unsigned = urlencode({"timestamp": str(int(time.time() * 1000))})
    assert (await call(http, "GET", base + unsigned))[1]["code"] == -1102  # type: ignore[index]
    status, body, _ = await call(http, "GET", base + good, headers={"X-MBX-APIKEY": "x" * 64})
    assert (status, body["code"]) == (401, -2015)  # type: ignore[index]
    async with aiohttp.ClientSession() as anonymous:
        status, body, _ = await call(anonymous, "GET", base + good)
    assert body["code"] == -2014  # type: ignore[index]


async def test_malformed_and_oversized_requests(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    status, body, _ = await call(http, "GET", base + "/api/v3/depth?symbol=BTCUSDT&symbol=ETHUSDT")
    assert (status, body["code"]) == (400, -1101)  # type: ignore[index]
    status, body, _ = await call(http, "POST", base + "/api/v3/order", data=b"x=" + b"a" * (sim.config.max_body_bytes + 10),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and body["code"] == -1101  # type: ignore[index]
    status, body, _ = await call(http, "POST", base + "/api/v3/order", data=b"\xff\xfe=1",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["code"]) == (400, -1100)  # type: ignore[index]
    status, body, _ = await call(http, "GET", base + "/api/v3/nothing")
    assert status == 404 and "code" in body  # type: ignore[operator]


@pytest.fixture
async def keyed_sim(tmp_path: Path) -> AsyncIterator[tuple[BinanceSimServer, Ed25519PrivateKey]]:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        "keys:\n"
        "  - {api_key: readonlyKey1, type: hmac, secret: s3cret, account: alice, enableSpotAndMarginTrading: false}\n"
        "  - {api_key: withdrawKey1, type: hmac, secret: s3cret2, account: bob, enableWithdrawals: true, ipRestrict: true, allowedIps: ['127.0.0.1']}\n"
        "  - api_key: edKey1\n    type: ed25519\n    account: carol\n    public_key: |\n"
        + "".join(f"      {line}\n" for line in pem.decode().splitlines()),
        encoding="utf-8",
    )
    config = SimServerConfig(rate=0, keys=load_keys_file(keys),
                             rate_limits=(RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 30),
                                          RateLimitSpec("ORDERS", "SECOND", 10, 100)), ban_after_429=2)
    async with BinanceSimServer(config) as server:
        yield server, private


async def test_keys_file_permissions_and_ed25519(keyed_sim: tuple[BinanceSimServer, Ed25519PrivateKey]) -> None:
    sim, private = keyed_sim
    base = sim.rest_url
    async with aiohttp.ClientSession() as http:
        _, body, _ = await call(http, "GET", base + "/sapi/v1/account/apiRestrictions?" + signed_query({}, "s3cret"),
                                headers={"X-MBX-APIKEY": "readonlyKey1"})
        assert body["enableSpotAndMarginTrading"] is False and body["enableWithdrawals"] is False  # type: ignore[index]
        assert body["enableReading"] is True and "createTime" in body  # type: ignore[operator,index]
        _, body, _ = await call(http, "GET", base + "/sapi/v1/account/apiRestrictions?" + signed_query({}, "s3cret2"),
                                headers={"X-MBX-APIKEY": "withdrawKey1"})
        assert body["enableWithdrawals"] is True and body["ipRestrict"] is True  # type: ignore[index]
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "50000"}
        status, body, _ = await call(http, "POST", base + "/api/v3/order?" + signed_query(order, "s3cret"),
                                     headers={"X-MBX-APIKEY": "readonlyKey1"})
        assert (status, body["code"]) == (401, -2015)  # type: ignore[index]
        query = urlencode({**order, "timestamp": str(int(time.time() * 1000))})
        signature = quote(base64.b64encode(private.sign(query.encode())).decode(), safe="")
        status, body, _ = await call(http, "POST", f"{base}/api/v3/order?{query}&signature={signature}",
                                     headers={"X-MBX-APIKEY": "edKey1"})
        assert status == 200 and body["status"] == "NEW", body  # type: ignore[index]
        status, body, _ = await call(http, "POST", f"{base}/api/v3/order?{query}&signature={signature[:-6]}AAAA%3D%3D",
                                     headers={"X-MBX-APIKEY": "edKey1"})
        assert body["code"] == -1022  # type: ignore[index]


async def test_rate_limit_429_then_418_over_http(keyed_sim: tuple[BinanceSimServer, Ed25519PrivateKey]) -> None:
    sim, _ = keyed_sim
    statuses: list[int] = []
    last: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(40):
            status, body, headers = await call(http, "GET", sim.rest_url + "/api/v3/ping")
            statuses.append(status)
            if status != 200:
                assert body["code"] == -1003 and "Retry-After" in headers  # type: ignore[index]
                last = headers
            if status == 418:
                break
    assert statuses[:30] == [200] * 30
    assert statuses[30:32] == [429, 429] and statuses[32] == 418, statuses
    assert int(last["Retry-After"]) == 120
