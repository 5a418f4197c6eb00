"""Control endpoint under ``/_sim/`` (loopback peers only): truth, accounts, connections, faults.

- ``GET  /_sim/book?symbol=BTCUSDT[&update_id=N]`` exact book (all levels) at an update id in
  the recent window, or the current book; 404 outside the window.
- ``GET  /_sim/accounts`` every account's open and past orders, fills and balances.
- ``GET  /_sim/connections`` open WebSocket connections (ids for targeting faults).
- ``GET  /_sim/faults`` armed and pending faults; ``POST /_sim/faults`` one fault or a list.
- ``POST /_sim/step?n=N`` advance the synthetic market by N ticks.
- ``POST /_sim/deposit?account=A&asset=X&amount=D`` credit (``-D`` debit): emits ``balanceUpdate``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from aiohttp import web

from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import parse_fixed
from stanchion.sim.binance.faults import Fault
from stanchion.sim.binance.render import fx, my_trade, order_query
from stanchion.sim.types import Rejected

if TYPE_CHECKING:
    from stanchion.sim.binance.server import BinanceSimServer

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(body), status=status, content_type="application/json")


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def add_routes(app: web.Application, sim: BinanceSimServer) -> None:
    async def guarded(request: web.Request) -> web.Response:
        if not _loopback(request):
            return _json({"error": "control endpoint is loopback-only"}, 403)
        handler = _ROUTES.get((request.method, request.path))
        if handler is None:
            return _json({"error": f"unknown control route {request.method} {request.path}"}, 404)
        try:
            return await handler(sim, request)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    app.router.add_route("*", "/_sim/{tail:.*}", guarded)


def _levels(side: dict[int, int], reverse: bool) -> list[list[str]]:
    return [[fx(p), fx(q)] for p, q in sorted(side.items(), reverse=reverse)]


async def _book(sim: BinanceSimServer, request: web.Request) -> web.Response:
    symbol = request.query.get("symbol", "")
    if symbol not in sim.symbol_names:
        raise ValueError(f"unknown symbol {symbol!r}")
    raw = request.query.get("update_id")
    if raw is None:
        uid, bids, asks = sim.exchange.book_now(symbol)
    else:
        if not raw.isdigit():
            raise ValueError("update_id must be a non-negative integer")
        uid = int(raw)
        found = sim.exchange.book_at(symbol, uid)
        if found is None:
            return _json({"error": f"update id {uid} is outside the truth window",
                          "current": sim.exchange.current_update_id(symbol)}, 404)
        bids, asks = found
    return _json({"symbol": symbol, "lastUpdateId": uid, "bids": _levels(bids, True), "asks": _levels(asks, False)})


async def _accounts(sim: BinanceSimServer, request: web.Request) -> web.Response:
    out: dict[str, object] = {}
    for account in sim.exchange.accounts:
        balances = sim.exchange.balances(account)
        orders: list[dict[str, object]] = []
        fills: list[dict[str, object]] = []
        for symbol in sorted(sim.symbol_names):
            got = sim.exchange.all_orders(account, symbol, limit=1000)
            if not isinstance(got, Rejected):
                orders.extend(order_query(o) for o in got)
            trades = sim.exchange.my_trades(account, symbol, limit=1000)
            if not isinstance(trades, Rejected):
                fills.extend(my_trade(f) for f in trades)
        out[account] = {
            "balances": [] if isinstance(balances, Rejected) else
            [{"asset": b.asset, "free": fx(b.free), "locked": fx(b.locked)} for b in balances],
            "orders": orders, "fills": fills,
        }
    return _json(out)


async def _connections(sim: BinanceSimServer, request: web.Request) -> web.Response:
    return _json([c.info() for c in sim.hub.connections.values()])


async def _faults_get(sim: BinanceSimServer, request: web.Request) -> web.Response:
    return _json({"armed": sim.faults.pending_kinds(), "pending": len(sim.faults.pending),
                  "clock_offset_ms": sim.faults.clock_offset_ms, "fired": len(sim.faults.fired)})


async def _faults_post(sim: BinanceSimServer, request: web.Request) -> web.Response:
    try:
        doc = await request.json()
    except ValueError:
        raise ValueError("body must be JSON: a fault object or a list of them") from None
    items = doc if isinstance(doc, list) else [doc]
    faults = [Fault.from_mapping(i) for i in items]
    for fault in faults:
        if fault.at_s is None and fault.at_update is None:
            sim.inject(fault)
        else:
            sim.faults.schedule([fault])
    return _json({"accepted": len(faults)})


async def _deposit(sim: BinanceSimServer, request: web.Request) -> web.Response:
    """Credit (negative: debit) an account; user-data subscribers get a ``balanceUpdate``."""
    account = request.query.get("account", "default")
    asset = request.query.get("asset", "")
    raw = request.query.get("amount", "")
    negative = raw.startswith("-")
    try:
        amount = parse_fixed(raw[1:] if negative else raw, 8)
    except ParseError as exc:
        raise ValueError(f"amount: {exc}") from None
    result = sim.exchange.deposit(account, asset, -amount if negative else amount)
    if isinstance(result, Rejected):
        raise ValueError(f"deposit refused: {result.msg}")
    sim.pump()
    return _json({"account": account, "asset": asset, "delta": raw})


async def _step(sim: BinanceSimServer, request: web.Request) -> web.Response:
    raw = request.query.get("n", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise ValueError("n must be an integer in 1..1000000")
    sim.step(int(raw))
    return _json({"update_ids": {s: sim.exchange.current_update_id(s) for s in sorted(sim.symbol_names)}})


_ROUTES = {
    ("GET", "/_sim/book"): _book,
    ("GET", "/_sim/accounts"): _accounts,
    ("GET", "/_sim/connections"): _connections,
    ("GET", "/_sim/faults"): _faults_get,
    ("POST", "/_sim/faults"): _faults_post,
    ("POST", "/_sim/step"): _step,
    ("POST", "/_sim/deposit"): _deposit,
}
