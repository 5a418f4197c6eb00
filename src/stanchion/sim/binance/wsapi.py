"""Text frames: stream control (SUBSCRIBE & co.) and the WebSocket API (``/ws-api/v3``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from stanchion.sim.binance import apierror, auth
from stanchion.sim.binance.apierror import BinanceApiError
from stanchion.sim.binance.connection import Connection
from stanchion.sim.binance.limits import WS_WEIGHTS
from stanchion.sim.binance.params import Params
from stanchion.sim.binance.render import cancel_reply, order_query
from stanchion.sim.binance.streams import StreamHub, micros_reply

if TYPE_CHECKING:
    from stanchion.sim.binance.server import BinanceSimServer

_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


def _stream_error(code: int, msg: str, request_id: object = None) -> dict[str, object]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def _valid_id(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value < 2**63
    return isinstance(value, str) and bool(_ID.match(value))


def stream_control(hub: StreamHub, conn: Connection, text: str, max_streams: int) -> dict[str, object] | None:
    """One control message on a stream connection → the reply (web-socket-streams.md)."""
    try:
        request = json.loads(text)
    except json.JSONDecodeError as exc:
        return _stream_error(3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}")
    if not isinstance(request, dict):
        return _stream_error(2, "Invalid request: expected an object")
    request_id = request.get("id")
    if not _valid_id(request_id):
        return _stream_error(2, "Invalid request: request ID must be an unsigned integer")
    method = request.get("method")
    if method is None:
        return _stream_error(2, "Invalid request: missing field `method`", request_id)
    params = request.get("params", [])
    if not isinstance(params, list):
        return _stream_error(2, "Invalid request: params must be an array", request_id)
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        return _subscribe(hub, conn, method, params, request_id, max_streams)
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(conn.streams), "id": request_id}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _property(conn, method, params, request_id)
    return _stream_error(2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}", request_id)


def _subscribe(
    hub: StreamHub, conn: Connection, method: str, params: list[object], request_id: object, max_streams: int
) -> dict[str, object]:
    names = [p for p in params if isinstance(p, str) and hub.is_valid_stream(p)]
    if len(names) != len(params):
        return _stream_error(2, "Invalid request: invalid stream", request_id)
    if method == "SUBSCRIBE":
        if len(conn.streams | set(names)) > max_streams:
            return _stream_error(2, "Invalid request: too many streams", request_id)
        for name in names:
            hub.subscribe(conn, name)
    else:
        for name in names:
            hub.unsubscribe(conn, name)
    return {"result": None, "id": request_id}


def _property(conn: Connection, method: str, params: list[object], request_id: object) -> dict[str, object]:
    if not params or not isinstance(params[0], str):
        return _stream_error(2, "Invalid request: property name must be a string", request_id)
    if params[0] != "combined":
        return _stream_error(0, "Unknown property", request_id)
    if method == "GET_PROPERTY":
        return {"result": conn.combined, "id": request_id}
    if len(params) != 2 or not isinstance(params[1], bool):
        return _stream_error(1, "Invalid value type: expected Boolean", request_id)
    conn.combined = params[1]
    return {"result": None, "id": request_id}


# --- WebSocket API ---------------------------------------------------------------------------

def _wire(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _Request:
    def __init__(self, request_id: object, method: str, params: dict[str, object]) -> None:
        self.id = request_id
        self.method = method
        self.raw = params
        self.params = Params({k: _wire(v) for k, v in params.items()})
        self.account: str | None = None  # set once an order request is authenticated (its rateLimits)


def _authenticate(sim: BinanceSimServer, conn: Connection, req: _Request, *, signed: bool) -> str:
    """Account of a signed request (apiKey + signature) or of the logged-on session."""
    params = req.params
    if "signature" not in params and conn.session_key is not None and "apiKey" not in params:
        key = sim.keys.lookup(conn.session_key, conn.peer)
        if signed:
            auth.check_timestamp(params.opt_str("timestamp"), params.opt_str("recvWindow"), sim.now_ms())
        return key.spec.account
    key = sim.keys.lookup(params.opt_str("apiKey"), conn.peer)
    if not signed:
        return key.spec.account
    signature = params.opt_str("signature")
    if signature is None:
        raise apierror.mandatory("signature")
    auth.check_timestamp(params.opt_str("timestamp"), params.opt_str("recvWindow"), sim.now_ms())
    if not key.verify(auth.ws_payload(req.raw), signature):
        raise apierror.invalid_signature()
    return key.spec.account


async def handle(sim: BinanceSimServer, conn: Connection, text: str) -> dict[str, object] | None:
    """One WebSocket API request → its response ``{"id","status","result"|"error","rateLimits"}``."""
    try:
        request = json.loads(text)
    except ValueError:
        return {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}}
    if not isinstance(request, dict):
        return {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}}
    request_id = request.get("id")
    method = request.get("method")
    params = request.get("params", {})
    if not _valid_id(request_id):
        return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Mandatory parameter 'id' was not sent, "
                                                               "was empty/null, or malformed."}}
    if not isinstance(params, dict):
        return {"id": request_id, "status": 400,
                "error": {"code": -1135, "msg": "Invalid 'params' in JSON request; expected an object."}}
    if not isinstance(method, str) or not method:
        return {"id": request_id, "status": 400, "error": apierror.mandatory("method").body()}
    req = _Request(request_id, method, params)
    ip = conn.peer
    account: str | None = None
    is_order = method in _ORDER_METHODS
    try:
        handler = _METHODS_TABLE.get(method)
        if handler is None:
            raise BinanceApiError(-1020, "This operation is not supported.")
        sim.ws_api_faults(conn)
        sim.limiter.charge_ip(ip, WS_WEIGHTS.get(method, 1), sim.now_ms())
        result, account = await handler(sim, conn, req)
        if conn.micros:
            result = micros_reply(result)
        status = 200
        body: dict[str, object] = {"id": request_id, "status": status, "result": result}
    except BinanceApiError as exc:
        body = {"id": request_id, "status": exc.status, "error": exc.body()}
        if exc.data is not None and conn.micros:
            body["error"] = {**exc.body(), "data": micros_reply(exc.data)}  # cancel-replace: the halves' times
        if exc.retry_at_ms is not None or exc.retry_after is not None:
            # web-socket-api.md "IP limits": retryAfter is the time (ms) the client may retry, not a delay.
            now = sim.now_ms()
            retry_at = exc.retry_at_ms if exc.retry_at_ms is not None else now + (exc.retry_after or 0) * 1000
            body["error"] = {**exc.body(), "data": {"serverTime": now, "retryAfter": retry_at}}
    # An order request that failed after it was counted still shows the account's ORDERS counts.
    body["rateLimits"] = sim.limiter.ws_rate_limits(ip, account or req.account, sim.now_ms(), orders=is_order)
    return body


async def _ping(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    return {}, None


async def _time(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    return {"serverTime": sim.now_ms()}, None


def _order_account(sim: BinanceSimServer, conn: Connection, req: _Request) -> str:
    """Account of a request that places an order: signed, allowed to trade, one unfilled order counted."""
    account = _authenticate(sim, conn, req, signed=True)
    key = sim.keys.lookup(req.params.opt_str("apiKey") or conn.session_key, conn.peer)
    if not key.spec.enable_spot_and_margin_trading:
        raise apierror.rejected_key()
    req.account = account
    sim.limiter.charge_order(account, sim.now_ms())
    return account


async def _order_place(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _order_account(sim, conn, req)
    return await sim.place_order(account, _strip(req.params)), account


async def _order_cancel_replace(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _order_account(sim, conn, req)
    return await sim.cancel_replace(account, _strip(req.params)), account


async def _order_test(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _authenticate(sim, conn, req, signed=True)
    return sim.test_order(account, _strip(req.params)), account


async def _order_cancel(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _authenticate(sim, conn, req, signed=True)
    return sim.cancel_order(account, _strip(req.params)), account


async def _order_status(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _authenticate(sim, conn, req, signed=True)
    p = req.params
    symbol = p.symbol(sim.symbol_names)
    order_id = p.opt_int("orderId")
    orig = p.opt_str("origClientOrderId")
    if order_id is None and orig is None:
        raise BinanceApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return order_query(sim.ok(sim.exchange.get_order(account, symbol, order_id, orig))), account


async def _open_orders(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _authenticate(sim, conn, req, signed=True)
    symbol = req.params.symbol(sim.symbol_names) if "symbol" in req.params else None
    return [order_query(o) for o in sim.ok(sim.exchange.open_orders(account, symbol))], account


async def _logon(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    key = sim.keys.lookup(req.params.opt_str("apiKey"), conn.peer)
    if key.spec.key_type != "ed25519":
        raise BinanceApiError(-4056, "HMAC_SHA256 API key is not supported.")
    account = _authenticate(sim, conn, req, signed=True)
    conn.session_key = key.spec.api_key
    conn.account = account
    return _session_status(sim, conn), account


def _session_status(sim: BinanceSimServer, conn: Connection) -> dict[str, object]:
    return {
        "apiKey": conn.session_key, "authorizedSince": sim.now_ms() if conn.session_key else None,
        "connectedSince": sim.now_ms(), "returnRateLimits": True, "serverTime": sim.now_ms(),
        "userDataStream": conn.id in sim.hub.user_sessions,
    }


async def _session_status_method(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    return _session_status(sim, conn), conn.account


async def _logout(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    conn.session_key = None
    return _session_status(sim, conn), None


async def _uds_subscribe(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    if req.method == "userDataStream.subscribe.signature":
        account = _authenticate(sim, conn, req, signed=True)
    else:
        if conn.session_key is None:
            raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        account = sim.keys.lookup(conn.session_key, conn.peer).spec.account
    sub_id = sim.next_subscription_id()
    sim.hub.user_sessions[conn.id] = (conn, account, sub_id)
    return {"subscriptionId": sub_id}, account


async def _uds_unsubscribe(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    sim.hub.user_sessions.pop(conn.id, None)
    return {}, None


async def _account_status(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    from stanchion.sim.binance import rest

    account = _authenticate(sim, conn, req, signed=True)
    body = await rest.account_info_for(sim, account, req.params)
    return body, account


async def _depth(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    from stanchion.sim.binance import rest

    return await rest.depth(sim, None, req.params, None), None  # type: ignore[arg-type]


async def _exchange_info(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    from stanchion.sim.binance import rest

    return await rest.exchange_info(sim, None, req.params, None), None  # type: ignore[arg-type]


async def _ticker_book(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    from stanchion.sim.binance import rest

    return await rest.book_ticker(sim, None, req.params, None), None  # type: ignore[arg-type]


async def _cancel_all(sim: BinanceSimServer, conn: Connection, req: _Request) -> tuple[object, str | None]:
    account = _authenticate(sim, conn, req, signed=True)
    symbol = req.params.symbol(sim.symbol_names)
    canceled = sim.ok(sim.exchange.cancel_open_orders(account, symbol))
    sim.after_book_change(symbol)
    now = sim.now_ms()
    return [cancel_reply(o, now) for o in canceled], account


def _strip(params: Params) -> Params:
    return Params({k: v for k, v in params.values.items() if k not in ("apiKey", "signature")})


_ORDER_METHODS = frozenset({"order.place", "order.cancelReplace"})  # count as orders: ORDERS in rateLimits

_METHODS_TABLE = {
    "ping": _ping,
    "time": _time,
    "order.place": _order_place,
    "order.test": _order_test,
    "order.cancel": _order_cancel,
    "order.cancelReplace": _order_cancel_replace,
    "order.status": _order_status,
    "openOrders.status": _open_orders,
    "openOrders.cancelAll": _cancel_all,
    "depth": _depth,
    "exchangeInfo": _exchange_info,
    "ticker.book": _ticker_book,
    "account.status": _account_status,
    "session.logon": _logon,
    "session.status": _session_status_method,
    "session.logout": _logout,
    "userDataStream.subscribe": _uds_subscribe,
    "userDataStream.subscribe.signature": _uds_subscribe,
    "userDataStream.unsubscribe": _uds_unsubscribe,
}
