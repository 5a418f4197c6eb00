"""REST endpoints of the simulated venue (``/api/v3/...``, ``/sapi/v1/account/apiRestrictions``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from aiohttp import web

from stanchion.sim.binance import apierror, auth
from stanchion.sim.binance.apierror import BinanceApiError, HoldReply
from stanchion.sim.binance.limits import rest_weight
from stanchion.sim.binance.params import Params, parse_form
from stanchion.sim.binance.render import cancel_reply, fx, my_trade, order_query
from stanchion.sim.binance.streams import micros_reply

if TYPE_CHECKING:
    from stanchion.sim.binance.server import BinanceSimServer

_SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class Endpoint:
    security: str  # NONE | USER_STREAM (key only) | SIGNED
    handler: Callable[[BinanceSimServer, web.Request, Params, str | None], Awaitable[object]]
    orders: bool = False  # counts against ORDERS limits


class _Held(Exception):
    pass


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=_dumps(body), status=status, content_type="application/json", headers=headers)


async def read_params(request: web.Request, max_body: int) -> tuple[Params, str, str]:
    raw_query = request.rel_url.raw_query_string
    raw_body = ""
    if request.body_exists:
        if request.content_length is not None and request.content_length > max_body:
            raise BinanceApiError(-1101, "Too many parameters sent for this endpoint.", status=413)
        data = await request.content.read(max_body + 1)
        if len(data) > max_body:
            raise BinanceApiError(-1101, "Too many parameters sent for this endpoint.", status=413)
        try:
            raw_body = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BinanceApiError(-1100, "Illegal characters found in a parameter.") from None
    if len(raw_query) > max_body:
        raise BinanceApiError(-1101, "Too many parameters sent for this endpoint.", status=413)
    values: dict[str, str] = {}
    parse_form(raw_query, values, overwrite=True)
    parse_form(raw_body, values, overwrite=False)  # the query string wins when both carry a name
    return Params(values), raw_query, raw_body


def authenticate(
    sim: BinanceSimServer, request: web.Request, params: Params, raw_query: str, raw_body: str, security: str,
) -> str | None:
    """Returns the account of the key, after Binance's key, timestamp and signature checks."""
    if security == "NONE":
        return None
    key = sim.keys.lookup(request.headers.get("X-MBX-APIKEY"), request.remote)
    if security == "USER_STREAM":
        return key.spec.account
    payload, signature = auth.rest_payload(raw_query, raw_body)
    if not signature:
        raise apierror.mandatory("signature")
    auth.check_timestamp(params.opt_str("timestamp"), params.opt_str("recvWindow"), sim.now_ms())
    if not key.verify(payload, unquote_plus(signature)):
        raise apierror.invalid_signature()
    return key.spec.account


def _permission(sim: BinanceSimServer, request: web.Request, trading: bool) -> None:
    key = sim.keys.lookup(request.headers.get("X-MBX-APIKEY"), request.remote)
    if trading and not key.spec.enable_spot_and_margin_trading:
        raise apierror.rejected_key()
    if not trading and not key.spec.enable_reading:
        raise apierror.rejected_key()


# --- handlers ------------------------------------------------------------------------------

async def ping(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    return {}


async def server_time(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    return {"serverTime": sim.now_ms()}


async def exchange_info(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    names = sorted(sim.symbol_names)
    if "symbol" in p:
        names = [p.symbol(sim.symbol_names)]
    elif "symbols" in p:
        try:
            wanted = json.loads(p.req_str("symbols"))
        except ValueError:
            raise apierror.illegal("symbols", _SYMBOLS_RANGE) from None
        if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
            raise apierror.illegal("symbols", _SYMBOLS_RANGE)
        if any(w not in sim.symbol_names for w in wanted):
            raise apierror.bad_symbol()
        names = wanted
    return {
        "timezone": "UTC", "serverTime": sim.now_ms(),
        "rateLimits": [r.as_json() for r in sim.config.rate_limits],
        "exchangeFilters": [], "symbols": sim.exchange_info_symbols(names),
    }


async def depth(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    symbol = p.symbol(sim.symbol_names)
    limit = p.opt_int("limit", lo=1) or 100
    limit = min(limit, 5000)
    snap = sim.ok(sim.exchange.depth(symbol, limit))
    uid, bids, asks = snap.last_update_id, snap.bids, snap.asks
    return {"lastUpdateId": uid, "bids": [[fx(a), fx(b)] for a, b in bids], "asks": [[fx(a), fx(b)] for a, b in asks]}


async def trades(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    symbol = p.symbol(sim.symbol_names)
    limit = min(p.opt_int("limit", lo=1) or 500, 1000)
    return [
        {"id": t.trade_id, "price": fx(t.price), "qty": fx(t.qty), "quoteQty": fx(t.quote_qty),
         "time": t.time, "isBuyerMaker": t.is_buyer_maker, "isBestMatch": t.is_best_match}
        for t in sim.ok(sim.exchange.recent_trades(symbol, limit))
    ]


async def book_ticker(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    def one(symbol: str) -> dict[str, object]:
        t = sim.ok(sim.exchange.book_ticker(symbol))
        return {"symbol": symbol, "bidPrice": fx(t.bid_price), "bidQty": fx(t.bid_qty),
                "askPrice": fx(t.ask_price), "askQty": fx(t.ask_qty)}

    if "symbol" in p:
        return one(p.symbol(sim.symbol_names))
    return [one(s) for s in sorted(sim.symbol_names)]


async def avg_price(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    symbol = p.symbol(sim.symbol_names)
    a = sim.ok(sim.exchange.avg_price(symbol))
    return {"mins": a.mins, "price": fx(a.price), "closeTime": a.close_time}


async def new_order(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=True)
    return await sim.place_order(account, p, request=request)


async def test_order(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=True)
    return sim.test_order(account, p)


async def cancel_replace(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=True)
    return await sim.cancel_replace(account, p)


async def get_order(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    symbol = p.symbol(sim.symbol_names)
    order_id = p.opt_int("orderId")
    orig = p.opt_str("origClientOrderId")
    if order_id is None and orig is None:
        raise BinanceApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return order_query(sim.ok(sim.exchange.get_order(account, symbol, order_id, orig)))


async def cancel_order(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=True)
    return sim.cancel_order(account, p)


async def open_orders(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    symbol = p.symbol(sim.symbol_names) if "symbol" in p else None
    return [order_query(o) for o in sim.ok(sim.exchange.open_orders(account, symbol))]


async def cancel_open_orders(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=True)
    symbol = p.symbol(sim.symbol_names)
    canceled = sim.ok(sim.exchange.cancel_open_orders(account, symbol))
    sim.after_book_change(symbol)
    now = sim.now_ms()
    return [cancel_reply(o, now) for o in canceled]


async def all_orders(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    symbol = p.symbol(sim.symbol_names)
    order_id = p.opt_int("orderId")
    limit = min(p.opt_int("limit", lo=1) or 500, 1000)
    orders = sim.ok(sim.exchange.all_orders(account, symbol, order_id, p.opt_int("startTime"), p.opt_int("endTime"),
                                            limit))
    return [order_query(o) for o in orders]


async def account_info(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    _permission(sim, request, trading=False)
    return await account_info_for(sim, account, p)


async def account_info_for(sim: BinanceSimServer, account: str, p: Params) -> dict[str, object]:
    omit = p.opt_str("omitZeroBalances") == "true"
    balances = [
        {"asset": a, "free": fx(f), "locked": fx(lk)}
        for a, f, lk in ((b.asset, b.free, b.locked) for b in sim.ok(sim.exchange.balances(account)))
        if not (omit and f == 0 and lk == 0)
    ]
    maker_bps, taker_bps = sim.ok(sim.exchange.fee_bps(account))
    maker, taker = maker_bps * 10**4, taker_bps * 10**4
    return {
        "makerCommission": maker_bps, "takerCommission": taker_bps,
        "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": fx(maker), "taker": fx(taker), "buyer": fx(0), "seller": fx(0)},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": sim.now_ms(),
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": sim.account_uid(account),
    }


async def my_trades(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    symbol = p.symbol(sim.symbol_names)
    order_id = p.opt_int("orderId")
    limit = min(p.opt_int("limit", lo=1) or 500, 1000)
    fills = sim.ok(sim.exchange.my_trades(account, symbol, order_id, p.opt_int("fromId"), p.opt_int("startTime"),
                                          p.opt_int("endTime"), limit))
    return [my_trade(f) for f in fills]


async def create_listen_key(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    assert account is not None
    return {"listenKey": sim.create_listen_key(account)}


async def keepalive_listen_key(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    sim.touch_listen_key(p.req_str("listenKey"), close=request.method == "DELETE")
    return {}


async def api_restrictions(sim: BinanceSimServer, request: web.Request, p: Params, account: str | None) -> object:
    key = sim.keys.lookup(request.headers.get("X-MBX-APIKEY"), request.remote).spec
    return {
        "ipRestrict": key.ip_restrict, "createTime": key.create_time, "enableInternalTransfer": False,
        "enableFutures": False, "enablePortfolioMarginTrading": False, "enableVanillaOptions": False,
        "permitsUniversalTransfer": False, "enableReading": key.enable_reading,
        "enableSpotAndMarginTrading": key.enable_spot_and_margin_trading,
        "enableWithdrawals": key.enable_withdrawals, "enableMargin": False, "enableFixApiTrade": False,
        "enableFixReadOnly": False,
    }


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/api/v3/ping"): Endpoint("NONE", ping),
    ("GET", "/api/v3/time"): Endpoint("NONE", server_time),
    ("GET", "/api/v3/exchangeInfo"): Endpoint("NONE", exchange_info),
    ("GET", "/api/v3/depth"): Endpoint("NONE", depth),
    ("GET", "/api/v3/trades"): Endpoint("NONE", trades),
    ("GET", "/api/v3/ticker/bookTicker"): Endpoint("NONE", book_ticker),
    ("GET", "/api/v3/avgPrice"): Endpoint("NONE", avg_price),
    ("POST", "/api/v3/order"): Endpoint("SIGNED", new_order, orders=True),
    ("POST", "/api/v3/order/test"): Endpoint("SIGNED", test_order),
    ("GET", "/api/v3/order"): Endpoint("SIGNED", get_order),
    ("DELETE", "/api/v3/order"): Endpoint("SIGNED", cancel_order),
    ("POST", "/api/v3/order/cancelReplace"): Endpoint("SIGNED", cancel_replace, orders=True),
    ("GET", "/api/v3/openOrders"): Endpoint("SIGNED", open_orders),
    ("DELETE", "/api/v3/openOrders"): Endpoint("SIGNED", cancel_open_orders),
    ("GET", "/api/v3/allOrders"): Endpoint("SIGNED", all_orders),
    ("GET", "/api/v3/account"): Endpoint("SIGNED", account_info),
    ("GET", "/api/v3/myTrades"): Endpoint("SIGNED", my_trades),
    ("POST", "/api/v3/userDataStream"): Endpoint("USER_STREAM", create_listen_key),
    ("PUT", "/api/v3/userDataStream"): Endpoint("USER_STREAM", keepalive_listen_key),
    ("DELETE", "/api/v3/userDataStream"): Endpoint("USER_STREAM", keepalive_listen_key),
    ("GET", "/sapi/v1/account/apiRestrictions"): Endpoint("SIGNED", api_restrictions),
}
KNOWN_PATHS = {path for _, path in ENDPOINTS}


async def dispatch(sim: BinanceSimServer, request: web.Request) -> web.StreamResponse:
    """Every REST request: faults, rate limits, parameters, auth, handler, Binance error JSON."""
    ip = request.remote or "?"
    headers: dict[str, str] = {}
    status = 200
    body: object
    try:
        endpoint = ENDPOINTS.get((request.method, request.path))
        if endpoint is None:
            if request.path in KNOWN_PATHS:
                raise BinanceApiError(-1000, "An unknown error occurred while processing the request.", status=405)
            return json_response({"code": -1000, "msg": f"Unknown endpoint {request.path}."}, status=404)
        params, raw_query, raw_body = await read_params(request, sim.config.max_body_bytes)
        try:
            weight = rest_weight(request.method, request.path, params.values)
        except ValueError:
            weight = 1
        await sim.rest_faults(request)
        try:
            sim.limiter.charge_ip(ip, weight, sim.now_ms())
        finally:
            headers.update(sim.limiter.weight_headers(ip, sim.now_ms()))
        account = authenticate(sim, request, params, raw_query, raw_body, endpoint.security)
        if endpoint.orders and account is not None:
            sim.limiter.charge_order(account, sim.now_ms())
        try:
            body = await endpoint.handler(sim, request, params, account)
        finally:
            if endpoint.orders and account is not None:
                headers.update(sim.limiter.order_headers(account, sim.now_ms()))
    except HoldReply:
        raise
    except BinanceApiError as exc:
        status, body = exc.status, exc.body()
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.data is not None and request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND":
            body["data"] = micros_reply(exc.data)  # cancel-replace: the halves' replies carry times
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 — a bug must still answer as the venue would, never a traceback
        sim.log_internal_error(request.path)
        status, body = 500, apierror.unknown_error().body()
    if status == 200 and request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND":
        body = micros_reply(body)
    return json_response(body, status=status, headers=headers)
