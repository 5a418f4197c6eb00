"""Binance simulator throughput over loopback, server and client in one process (one core).

* ``sim.depth_updates``: depth update ids per second the simulator generates and delivers
  to one ``<symbol>@depth@100ms`` subscriber (the market stepped as fast as it can).
* ``sim.order_round_trips``: sequential order requests (place, then cancel) per second,
  over REST (aiohttp client, signed) and over the WebSocket API (signed ``order.place`` /
  ``order.cancel`` on one connection).

Medians of several runs; each run starts a fresh server on an ephemeral loopback port.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp

from bench.common import Result, median
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, RateLimitSpec
from stanchion.sim.types import MarketConfig


def _sign(params: dict[str, str]) -> str:
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    return query + "&signature=" + hmac.new(DEFAULT_API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()


def _ws_sign(params: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {**params, "apiKey": DEFAULT_API_KEY, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={out[k]}" for k in sorted(out))
    out["signature"] = hmac.new(DEFAULT_API_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return out


async def _depth_run(seconds: float) -> float:
    config = SimServerConfig(symbols=("BTCUSDT",), rate=1_000_000, truth_window=10_000)
    async with BinanceSimServer(config, market=MarketConfig(levels_per_side=5000)) as sim, aiohttp.ClientSession() as http, \
            http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms", max_msg_size=0) as ws:
        first = json.loads((await ws.receive()).data)
        start_u, start_t = first["u"], time.perf_counter()
        last_u = start_u
        while time.perf_counter() - start_t < seconds:
            event = json.loads((await ws.receive()).data)
            assert event["U"] == last_u + 1
            last_u = event["u"]
        return (last_u - start_u) / (time.perf_counter() - start_t)


# Generous limits: the bench measures the server, not Binance's order-rate policy.
UNLIMITED = (RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10**9), RateLimitSpec("ORDERS", "SECOND", 10, 10**9))
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
         "price": "30000.00"}


async def _rest_run(count: int) -> float:
    async with BinanceSimServer(SimServerConfig(rate=0, rate_limits=UNLIMITED)) as sim, \
            aiohttp.ClientSession(headers={"X-MBX-APIKEY": DEFAULT_API_KEY}) as http:
        start = time.perf_counter()
        for _ in range(count // 2):
            async with http.post(sim.rest_url + "/api/v3/order?" + _sign(ORDER)) as r:
                order_id = (await r.json())["orderId"]
            async with http.delete(sim.rest_url + "/api/v3/order?" + _sign({"symbol": "BTCUSDT", "orderId": str(order_id)})) as r:
                assert r.status == 200
        return (count // 2 * 2) / (time.perf_counter() - start)


async def _ws_api_run(count: int) -> float:
    async with BinanceSimServer(SimServerConfig(rate=0, rate_limits=UNLIMITED)) as sim, aiohttp.ClientSession() as http, \
            http.ws_connect(sim.ws_api_url) as ws:
        start = time.perf_counter()
        for i in range(count // 2):
            await ws.send_str(json.dumps({"id": 2 * i, "method": "order.place", "params": _ws_sign(ORDER)}))
            order_id = json.loads((await ws.receive()).data)["result"]["orderId"]
            await ws.send_str(json.dumps({"id": 2 * i + 1, "method": "order.cancel",
                                          "params": _ws_sign({"symbol": "BTCUSDT", "orderId": order_id})}))
            assert json.loads((await ws.receive()).data)["status"] == 200
        return (count // 2 * 2) / (time.perf_counter() - start)


def run(quick: bool) -> list[Result]:
    repeats = 1 if quick else 5
    seconds = 1.0 if quick else 3.0
    orders = 200 if quick else 2000
    depth = [asyncio.run(_depth_run(seconds)) for _ in range(repeats)]
    rest = [asyncio.run(_rest_run(orders)) for _ in range(repeats)]
    ws_api = [asyncio.run(_ws_api_run(orders)) for _ in range(repeats)]
    return [
        Result("sim.depth_updates", "stanchion sim → 1 client (@depth@100ms)", median(depth), "updates/s",
               higher_is_better=True, samples=depth, notes="update ids delivered per second, loopback, one process"),
        Result("sim.order_round_trips", "REST place+cancel (sequential)", median(rest), "req/s",
               higher_is_better=True, samples=rest),
        Result("sim.order_round_trips", "WS API place+cancel (sequential)", median(ws_api), "req/s",
               higher_is_better=True, samples=ws_api),
    ]


if __name__ == "__main__":
    for result in run(quick=False):
        print(f"{result.benchmark:<24} {result.variant:<42} {result.median:>12,.0f} {result.unit}")
