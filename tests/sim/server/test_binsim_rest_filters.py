"""Over HTTP: every exchangeInfo filter rejects with Binance's -1013 JSON and 400; order/test and trades endpoints;
an oversized request line gets a 4xx, not a hang, and the server logs no traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from binsim_helpers import signed_query

from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import RateLimitSpec

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
         "price": "50000"}
MARKET = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET"}


async def call(http: aiohttp.ClientSession, method: str, url: str) -> tuple[int, object]:
    async with http.request(method, url) as r:
        return r.status, await r.json(content_type=None)


FILTER_CASES = [
    ({**LIMIT, "price": "50000.005"}, "PRICE_FILTER"),  # off the tick
    ({**LIMIT, "price": "2000000"}, "PRICE_FILTER"),  # above maxPrice
    ({**LIMIT, "quantity": "0.000015"}, "LOT_SIZE"),  # off the step (precision is fine: 6 decimals)
    ({**LIMIT, "quantity": "0.000001"}, "LOT_SIZE"),  # below minQty
    ({**LIMIT, "quantity": "9001"}, "LOT_SIZE"),  # above maxQty
    ({**LIMIT, "quantity": "0.00001", "price": "100"}, "NOTIONAL"),  # 0.001 USDT < minNotional 5
    ({**MARKET, "quantity": "9001"}, "LOT_SIZE"),  # LOT_SIZE applies to MARKET too (MARKET_LOT_SIZE: unit tests)
    ({**MARKET, "quantity": "0.00001"}, "NOTIONAL"),  # applyMinToMarket: 0.6 USDT at the average price
]


@pytest.mark.parametrize(("params", "name"), FILTER_CASES)
@pytest.mark.parametrize("path", ["/api/v3/order", "/api/v3/order/test"])
async def test_filter_violations_over_http(
    sim: BinanceSimServer, http: aiohttp.ClientSession, params: dict[str, str], name: str, path: str,
) -> None:
    status, body = await call(http, "POST", f"{sim.rest_url}{path}?{signed_query(params)}")
    assert (status, body) == (400, {"code": -1013, "msg": f"Filter failure: {name}"})
    _, opened = await call(http, "GET", f"{sim.rest_url}/api/v3/openOrders?{signed_query({'symbol': 'BTCUSDT'})}")
    assert opened == []


@pytest.fixture
async def many_orders_sim() -> AsyncIterator[BinanceSimServer]:
    limits = (RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 100_000), RateLimitSpec("ORDERS", "SECOND", 10, 1000),
              RateLimitSpec("ORDERS", "DAY", 1, 200_000))
    async with BinanceSimServer(SimServerConfig(rate=0, rate_limits=limits)) as server:
        yield server


async def test_max_num_orders_over_http(many_orders_sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    sim = many_orders_sim
    for i in range(200):  # maxNumOrders of BTCUSDT; resting far below the market
        status, body = await call(http, "POST", f"{sim.rest_url}/api/v3/order?"
                                  + signed_query({**LIMIT, "price": f"{40000 + i}"}))
        assert status == 200, body
    status, body = await call(http, "POST", f"{sim.rest_url}/api/v3/order?" + signed_query({**LIMIT, "price": "39000"}))
    assert (status, body) == (400, {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"})
    status, body = await call(http, "POST", f"{sim.rest_url}/api/v3/order/test?" + signed_query(LIMIT))
    assert (status, body) == (400, {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"})
    status, body = await call(http, "POST", f"{sim.rest_url}/api/v3/order?"
                              + signed_query({**LIMIT, "symbol": "ETHUSDT", "price": "2000", "quantity": "0.01"}))
    assert status == 200, body  # the limit counts per symbol


async def test_order_test_validates_without_placing(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    assert await call(http, "POST", f"{base}/api/v3/order/test?{signed_query(LIMIT)}") == (200, {})
    status, rates = await call(http, "POST", f"{base}/api/v3/order/test?"
                               + signed_query({**LIMIT, "computeCommissionRates": "true"}))
    assert status == 200 and set(rates) == {"standardCommissionForOrder", "taxCommissionForOrder", "discount"}  # type: ignore[arg-type]
    _, opened = await call(http, "GET", f"{base}/api/v3/openOrders?{signed_query({'symbol': 'BTCUSDT'})}")
    _, everything = await call(http, "GET", f"{base}/api/v3/allOrders?{signed_query({'symbol': 'BTCUSDT'})}")
    assert opened == [] and everything == []
    status, body = await call(http, "POST", f"{base}/api/v3/order/test?{signed_query({**LIMIT, 'symbol': 'NOPEUSDT'})}")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})


async def test_recent_trades_show_a_fill(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    base = sim.rest_url
    status, filled = await call(http, "POST", f"{base}/api/v3/order?"
                                + signed_query({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}))
    assert status == 200 and filled["status"] == "FILLED"  # type: ignore[index]
    status, trades = await call(http, "GET", f"{base}/api/v3/trades?symbol=BTCUSDT&limit=1000")
    assert status == 200 and isinstance(trades, list) and trades
    assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    fill_ids = {f["tradeId"] for f in filled["fills"]}  # type: ignore[index]
    assert fill_ids <= {t["id"] for t in trades}
    assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)  # oldest first, as Binance lists them
    status, body = await call(http, "GET", f"{base}/api/v3/trades?symbol=NOPEUSDT")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})


async def test_oversized_request_line_is_refused_without_a_traceback(
    sim: BinanceSimServer, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http, \
            http.get(f"{sim.rest_url}/api/v3/depth?symbol=BTCUSDT&pad={'a' * 20_000}",
                     timeout=aiohttp.ClientTimeout(total=10)) as r:
        assert 400 <= r.status < 500
        assert "Traceback" not in await r.text()
    assert not [rec for rec in caplog.records if rec.exc_info or rec.exc_text], \
        [rec.getMessage() for rec in caplog.records if rec.exc_info]
    async with aiohttp.ClientSession() as http:  # and the server still serves
        assert (await call(http, "GET", f"{sim.rest_url}/api/v3/ping")) == (200, {})
