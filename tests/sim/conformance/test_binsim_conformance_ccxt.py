"""ccxt 4.5.90 (sync REST and ccxt.pro WebSocket) against the simulator: override of ``urls['api']`` only."""

from __future__ import annotations

import asyncio
import re

import ccxt
import ccxt.pro

from stanchion.sim.binance import BinanceSimServer
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


def localize(urls: object, http_base: str, ws_base: str) -> object:
    """Rewrite every scheme://host[:port] prefix to the simulator, keeping the path (tooling.md §6)."""
    if isinstance(urls, dict):
        return {k: localize(v, http_base, ws_base) for k, v in urls.items()}
    if isinstance(urls, str):
        match = re.match(r"^(https?|wss?)://[^/]+(.*)$", urls)
        if match:
            return (ws_base if match.group(1).startswith("ws") else http_base) + match.group(2)
    return urls


def _rest_round_trip(sim: BinanceSimServer) -> dict[str, object]:
    ex = ccxt.binance({"apiKey": DEFAULT_API_KEY, "secret": DEFAULT_API_SECRET, "options": dict(OPTIONS)})
    ex.urls["api"] = localize(ex.urls["api"], sim.rest_url, sim.ws_base_url)
    markets = ex.load_markets()
    book = ex.fetch_order_book("BTC/USDT", 5)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
    fetched = ex.fetch_order(order["id"], "BTC/USDT")
    canceled = ex.cancel_order(order["id"], "BTC/USDT")
    balance = ex.fetch_balance()
    return {"markets": markets, "book": book, "order": order, "fetched": fetched, "canceled": canceled,
            "balance": balance}


async def test_ccxt_rest(sim: BinanceSimServer) -> None:
    got = await asyncio.to_thread(_rest_round_trip, sim)
    markets = got["markets"]
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}  # type: ignore[arg-type]
    assert markets["BTC/USDT"]["precision"]["price"] == 0.01 and markets["BTC/USDT"]["active"]  # type: ignore[index]
    assert len(got["book"]["bids"]) == 5 and got["book"]["nonce"] >= 1000  # type: ignore[index]
    assert got["order"]["status"] == "open" and got["fetched"]["status"] == "open"  # type: ignore[index]
    assert got["canceled"]["status"] == "canceled"  # type: ignore[index]
    assert got["balance"]["BTC"]["free"] == 10.0  # type: ignore[index]


async def test_ccxt_pro_order_book_and_own_orders(sim: BinanceSimServer) -> None:
    ex = ccxt.pro.binance({"apiKey": DEFAULT_API_KEY, "secret": DEFAULT_API_SECRET, "options": dict(OPTIONS)})
    ex.urls["api"] = localize(ex.urls["api"], sim.rest_url, sim.ws_base_url)
    try:
        await ex.load_markets()
        first = await ex.watch_order_book("BTC/USDT")
        nonce = first["nonce"]
        for _ in range(3):
            later = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 5)
        assert later["nonce"] > nonce
        truth = sim.exchange.book_at("BTCUSDT", later["nonce"])
        assert truth is not None
        best_bid = max(truth[0]) / 1e8
        assert later["bids"][0][0] == best_bid  # ccxt's synced book has the true best bid at its nonce
        watcher = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        await asyncio.sleep(0)
        async with asyncio.timeout(5):
            # Wait until ccxt's user-data subscription is in place (WS API session or listenKey stream).
            while not (sim.hub.user_sessions or any(c.kind == "listenKey" for c in sim.hub.connections.values())):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
        orders = await asyncio.wait_for(watcher, 5)
        assert orders[-1]["id"] == placed["id"] and orders[-1]["status"] == "open"
    finally:
        await ex.close()
