"""The simulated Binance Spot venue as one aiohttp application on one host:port.

REST ``/api/v3/...`` and ``/sapi/v1/account/apiRestrictions``; WebSocket streams
at ``/ws``, ``/ws/<stream>[/<stream>...]``, ``/ws/<listenKey>`` and
``/stream?streams=a/b``; the WebSocket API at ``/ws-api/v3``; and a control
endpoint under ``/_sim/`` (loopback peers only) for faults and truth.

One task drives the synthetic market (``step()`` at ``rate`` per second), one
keeps connections honest (pings, pong deadline, lifetime, listenKey expiry);
each connection has its own writer draining a bounded queue. All are owned by
the server and cancelled by :meth:`BinanceSimServer.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

from stanchion.core.clock import Clock, LiveClock
from stanchion.core.fixedpoint import parse_fixed
from stanchion.sim.binance import apierror, control, rest, wsapi
from stanchion.sim.binance.apierror import BinanceApiError, HoldReply
from stanchion.sim.binance.auth import KeyStore
from stanchion.sim.binance.config import SimServerConfig
from stanchion.sim.binance.connection import Connection
from stanchion.sim.binance.faults import Fault, FaultState, load_scenario
from stanchion.sim.binance.limits import RateLimiter
from stanchion.sim.binance.orders import OrderInput, parse_cancel_replace, parse_cancel_restrictions, parse_order
from stanchion.sim.binance.params import Params
from stanchion.sim.binance.render import (
    account_position,
    balance_update,
    cancel_reply,
    execution_report,
    fx,
    order_reply,
)
from stanchion.sim.binance.streams import CADENCES_MS, StreamHub
from stanchion.sim.binance.symbols import default_spec
from stanchion.sim.exchange import SimExchange
from stanchion.sim.types import (
    ORDER_TYPES,
    AccountSpec,
    AccountUpdate,
    BalanceUpdate,
    DepthDiff,
    ExecutionEvent,
    MarketConfig,
    OrderRequest,
    Rejected,
    Trade,
)

log = logging.getLogger("stanchion.sim.binance")


class _MalformedHttpIsOneLine(logging.Filter):
    """aiohttp logs a request it cannot parse (request line or headers too long, bad framing) with the
    parser's traceback before answering 400 itself. That is the client's fault, not ours: one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: {type(exc).__name__} (HTTP {exc.code}): {exc.message[:200]}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_http_log = logging.getLogger("stanchion.sim.binance.http")
_http_log.addFilter(_MalformedHttpIsOneLine())
T = TypeVar("T")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_CONNECTION_FAULTS = frozenset({"close", "stall", "malformed_frame", "user_stream_drop"})


class BinanceSimServer:
    """Start/stop the simulated venue inside the running event loop.

    ``async with BinanceSimServer(SimServerConfig(port=0)) as sim:`` then use
    ``sim.rest_url``, ``sim.ws_stream_url``, ``sim.ws_api_url``, ``sim.control_url``.
    """

    def __init__(
        self,
        config: SimServerConfig | None = None,
        *,
        clock: Clock | None = None,
        exchange: SimExchange | None = None,
        market: MarketConfig | None = None,
    ) -> None:
        self.config = config or SimServerConfig()
        self.clock: Clock = clock or LiveClock()
        self.keys = KeyStore(self.config.effective_keys())
        self.limiter = RateLimiter(
            self.config.rate_limits, self.config.ban_after_429, self.config.ban_first_s, self.config.ban_max_s
        )
        self.faults = FaultState()
        if self.config.faults_file:
            self.faults.schedule(load_scenario(self.config.faults_file))
        if exchange is None:
            specs = [default_spec(s) for s in self.config.symbols]
            accounts = sorted({k.account for k in self.config.effective_keys()} | {"default"})
            balances = {asset: parse_fixed(amount, 8) for asset, amount in self.config.default_balances}
            exchange = SimExchange(
                specs,
                [AccountSpec(name, dict(balances)) for name in accounts],
                self.clock,
                seed=self.config.seed,
                market=market if market is not None else MarketConfig(),
                truth_window=self.config.truth_window,
            )
        self.exchange = exchange
        self.symbol_names = frozenset(self.exchange.symbols)
        self.hub = StreamHub(tuple(self.exchange.symbols), self.faults, self._top, self.now_ms)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._port = 0
        self._started_mono = time.monotonic()
        self._listen_key_seen: dict[str, float] = {}
        self._account_uids: dict[str, int] = {}
        self._sub_ids = itertools.count(0)
        self.internal_errors = 0
        self._pump_scheduled = False
        self._ws_attempts: dict[str, list[float]] = {}
        self.handshakes_refused_banned = 0  # WebSocket handshakes tried while the IP was banned
        self.steps_done = 0

    # --- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> BinanceSimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_route("GET", "/ws", self._ws_streams)
        app.router.add_route("GET", "/ws/{tail:.*}", self._ws_streams)
        app.router.add_route("GET", "/stream", self._ws_streams)
        app.router.add_route("GET", "/ws-api/v3", self._ws_api)
        control.add_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
                                     logger=_http_log)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1] if sockets else self.config.port
        self._started_mono = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._drive(), name="sim-market"),
            asyncio.create_task(self._keep_connections(), name="sim-keeper"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        """A background task that ends before stop() is a bug: say so at once (stop() re-raises it)."""
        if not task.cancelled() and task.exception() is not None:
            self.internal_errors += 1
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for conn in list(self.hub.connections.values()):
            conn.abort("server stopping")
        if self._conn_tasks:
            await asyncio.wait(self._conn_tasks, timeout=3.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self._port}"

    @property
    def ws_stream_url(self) -> str:
        return f"ws://{self.config.host}:{self._port}/ws"

    @property
    def ws_base_url(self) -> str:
        return f"ws://{self.config.host}:{self._port}"

    @property
    def ws_api_url(self) -> str:
        return f"ws://{self.config.host}:{self._port}/ws-api/v3"

    @property
    def control_url(self) -> str:
        return f"http://{self.config.host}:{self._port}/_sim"

    def urls(self) -> dict[str, str]:
        return {"rest": self.rest_url, "ws_streams": self.ws_stream_url, "ws_combined": self.ws_base_url + "/stream",
                "ws_api": self.ws_api_url, "control": self.control_url}

    # --- time and helpers ------------------------------------------------------------
    def now_ms(self) -> int:
        return self.clock.time_ns() // 1_000_000 + self.faults.clock_offset_ms

    def elapsed_s(self) -> float:
        return time.monotonic() - self._started_mono

    @staticmethod
    def ok(value: T | Rejected) -> T:
        if isinstance(value, Rejected):
            raise BinanceApiError(value.code, value.msg)
        return value

    def exchange_info_symbols(self, names: list[str]) -> list[dict[str, object]]:
        wanted = set(names)
        return [s for s in self.exchange.exchange_info_symbols() if s["symbol"] in wanted]

    def account_uid(self, account: str) -> int:
        return self._account_uids.setdefault(account, 354_937_868 + len(self._account_uids))

    def log_internal_error(self, where: str) -> None:
        self.internal_errors += 1
        log.exception("internal error while serving %s", where)

    def statistics(self) -> dict[str, object]:
        """Counters for tests and dashboards: connections by kind, market steps, internal errors."""
        kinds: dict[str, int] = {}
        for conn in self.hub.connections.values():
            kinds[conn.kind] = kinds.get(conn.kind, 0) + 1
        return {
            "connections": kinds, "steps": self.steps_done, "internal_errors": self.internal_errors,
            "slow_clients_dropped": self.hub.slow_clients_dropped, "faults_fired": len(self.faults.fired),
            "handshakes_refused_banned": self.handshakes_refused_banned,
            "update_ids": {s: self.exchange.current_update_id(s) for s in self.exchange.symbols},
        }

    def inject(self, fault: Fault) -> None:
        """Arm a fault now (control endpoint and tests)."""
        self.faults.arm(fault, self.elapsed_s())
        self._apply_connection_faults()

    def step(self, count: int = 1) -> None:
        """Advance the synthetic market by ``count`` ticks and deliver the events (tests with rate 0)."""
        for _ in range(count):
            self.exchange.step()
        self.steps_done += count
        self.pump()

    def _top(self, symbol: str, levels: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        snap = self.exchange.depth(symbol, levels)
        if isinstance(snap, Rejected):
            return 0, [], []
        return snap.last_update_id, list(snap.bids), list(snap.asks)

    # --- orders (shared by REST and the WebSocket API) ---------------------------------
    async def place_order(self, account: str, params: Params, request: web.Request | None = None) -> object:
        order, order_request = self._parse_new_order(params)
        body = self._submit(account, order, order_request)
        self._answer_after_accept(order.symbol, account)
        return body

    def _parse_new_order(self, params: Params) -> tuple[OrderInput, OrderRequest]:
        """The new order of order.place, order.test and cancel-replace, checked as Binance reads the wire."""
        order = parse_order(params, self.symbol_names)
        if order.type not in ORDER_TYPES:
            raise BinanceApiError(-1014, "Unsupported order combination.")
        return order, OrderRequest(
            symbol=order.symbol, side=order.side, type=order.type, time_in_force=order.time_in_force,
            quantity=order.quantity, quote_order_qty=order.quote_order_qty, price=order.price,
            client_order_id=order.client_order_id, stp_mode=order.stp_mode,
        )

    def _submit(self, account: str, order: OrderInput, order_request: OrderRequest) -> dict[str, object]:
        """The matching engine's part of a new order (injected rejections, then the core) → its reply."""
        forced = self.faults.take("force_reject", symbol=order.symbol, account=account)
        if forced is not None:
            raise BinanceApiError(forced.code, forced.msg)
        if self.faults.active("symbol_outage", self.elapsed_s(), symbol=order.symbol) is not None:
            raise BinanceApiError(-2010, "Market is closed.")
        accepted = self.ok(self.exchange.place_order(account, order_request))
        self.after_book_change(order.symbol)
        return order_reply(accepted.order, self.now_ms(), accepted.fills, order.resp_type)

    def _answer_after_accept(self, symbol: str, account: str) -> None:
        """Faults that strike once an order was accepted: its reply lost (-1007) or withheld."""
        if self.faults.take("unknown_after_accept", symbol=symbol, account=account) is not None:
            raise apierror.timeout_unknown()
        held = self.faults.take("timeout_after_accept", symbol=symbol, account=account)
        if held is not None:
            raise HoldReply(held.hold_s)

    def test_order(self, account: str, params: Params) -> object:
        _, order_request = self._parse_new_order(params)
        rejected = self.exchange.test_order(account, order_request)
        if rejected is not None:
            raise BinanceApiError(rejected.code, rejected.msg)
        if params.opt_str("computeCommissionRates") == "true":
            maker, taker = self.ok(self.exchange.fee_bps(account))
            return {
                "standardCommissionForOrder": {"maker": fx(maker * 10**4), "taker": fx(taker * 10**4)},
                "taxCommissionForOrder": {"maker": fx(0), "taker": fx(0)},
                "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                             "discount": fx(0)},
            }
        return {}

    def cancel_order(self, account: str, params: Params) -> object:
        symbol = params.symbol(self.symbol_names)
        order_id = params.opt_int("orderId")
        orig = params.opt_str("origClientOrderId")
        if order_id is None and orig is None:
            raise BinanceApiError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        new_id = params.client_order_id("newClientOrderId")
        return self._cancel(account, symbol, order_id, orig, new_id, parse_cancel_restrictions(params))

    def _cancel(
        self, account: str, symbol: str, order_id: int | None, orig: str | None, new_id: str | None,
        restriction: str | None,
    ) -> dict[str, object]:
        view = self.ok(self.exchange.cancel_order(account, symbol, order_id, orig, new_id, restriction)).order
        self.after_book_change(symbol)
        return cancel_reply(view, self.now_ms())

    async def cancel_replace(self, account: str, params: Params) -> object:
        """order.cancelReplace / POST /api/v3/order/cancelReplace; not transactional, as on Binance.

        The parameters and filters of both halves are checked first: a failure there is a plain
        error and nothing is canceled. Then the cancel, then the new order (skipped when the cancel
        failed in STOP_ON_FAILURE). Both done → the two replies; otherwise -2021 (409, one half
        failed) or -2022 (400, both failed or not attempted) with the same object in ``data``.
        """
        replace = parse_cancel_replace(params, self.symbol_names)
        order, order_request = self._parse_new_order(params)
        rejected = self.exchange.test_order(account, order_request)
        if rejected is not None:
            raise BinanceApiError(rejected.code, rejected.msg)
        cancel_response: dict[str, object]
        try:
            cancel_response = self._cancel(
                account, replace.symbol, replace.cancel_order_id, replace.cancel_orig_client_order_id,
                replace.cancel_new_client_order_id, replace.cancel_restriction,
            )
            cancel_result = "SUCCESS"
        except BinanceApiError as exc:
            cancel_response, cancel_result = exc.body(), "FAILURE"
        new_response: dict[str, object] | None = None
        new_result = "NOT_ATTEMPTED"
        if cancel_result == "SUCCESS" or replace.mode == "ALLOW_FAILURE":
            try:
                new_response, new_result = self._submit(account, order, order_request), "SUCCESS"
            except BinanceApiError as exc:
                new_response, new_result = exc.body(), "FAILURE"
        outcome: dict[str, object] = {
            "cancelResult": cancel_result, "newOrderResult": new_result,
            "cancelResponse": cancel_response, "newOrderResponse": new_response,
        }
        if new_result == "SUCCESS":
            self._answer_after_accept(order.symbol, account)
            if cancel_result == "SUCCESS":
                return outcome
        if "SUCCESS" in (cancel_result, new_result):
            raise apierror.cancel_replace_partially_failed(outcome)
        raise apierror.cancel_replace_failed(outcome)

    def after_book_change(self, symbol: str) -> None:
        """Flush the symbol's book changes; deliver the events just after the reply is queued (as Binance does)."""
        self.exchange.flush_depth(symbol)
        if not self._pump_scheduled:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self.pump()

    # --- listen keys -------------------------------------------------------------------
    def create_listen_key(self, account: str) -> str:
        for key, owner in self.hub.listen_keys.items():
            if owner == account:  # Binance returns the account's existing key while it is valid
                self._listen_key_seen[key] = time.monotonic()
                return key
        key = secrets.token_urlsafe(45)[:60].replace("-", "a").replace("_", "b")
        self.hub.listen_keys[key] = account
        self._listen_key_seen[key] = time.monotonic()
        return key

    def touch_listen_key(self, key: str, *, close: bool) -> None:
        if key not in self.hub.listen_keys:
            raise BinanceApiError(-1125, "This listenKey does not exist.")
        if close:
            del self.hub.listen_keys[key]
            self._listen_key_seen.pop(key, None)
            for conn in list(self.hub.subscribers.get(key, ())):
                conn.abort("listenKey closed")
        else:
            self._listen_key_seen[key] = time.monotonic()

    # --- market driving ------------------------------------------------------------------
    def pump(self) -> None:
        """Drain the core's events and fan them out to subscribers."""
        now_s = self.elapsed_s()
        touched: set[str] = set()
        hub = self.hub
        outage_cache: dict[str, bool] = {}
        for event in self.exchange.drain_events():
            if isinstance(event, DepthDiff):
                sym = event.symbol
                outage = outage_cache.get(sym)
                if outage is None:
                    outage = outage_cache[sym] = (
                        self.faults.active("symbol_outage", now_s, symbol=sym) is not None
                    )
                hub.on_diff(event, outage)
                touched.add(sym)
            elif isinstance(event, Trade):
                hub.on_trade(event)
            elif isinstance(event, ExecutionEvent):
                hub.on_user(event.account, execution_report(event))
            elif isinstance(event, AccountUpdate):
                hub.on_user(event.account, account_position(event))
            elif isinstance(event, BalanceUpdate):
                hub.on_user(event.account, balance_update(event))
        for sym in touched:
            if not outage_cache.get(sym):
                hub.book_ticker(sym)

    async def _drive(self) -> None:
        rate = self.config.rate
        start = time.monotonic()
        done = 0
        next_flush = {c: start + c / 1000 for c in CADENCES_MS}
        # At most 50 ms of steps (and at most 500) per loop turn, so sockets are served in between.
        max_batch = min(max(1, int(rate * 0.05)), 500) if rate else 0
        while True:
            now = time.monotonic()
            if rate > 0:
                due = min(int((now - start) * rate) - done, max_batch)
                for _ in range(due):
                    self.exchange.step()
                done += due
                self.steps_done += due
                if int((now - start) * rate) - done > rate:  # more than 1 s behind: do not try to catch up
                    start = now - done / rate
            self.pump()
            ids = {s: self.exchange.current_update_id(s) for s in self.exchange.symbols}
            if self.faults.due(self.elapsed_s(), ids):
                self._apply_connection_faults()
            for cadence in CADENCES_MS:
                if now >= next_flush[cadence]:
                    self.hub.flush(cadence, self.elapsed_s())
                    next_flush[cadence] += cadence / 1000
                    if next_flush[cadence] < now:
                        next_flush[cadence] = now + cadence / 1000
            wait = min(next_flush.values()) - time.monotonic()
            if rate > 0:  # sleep until the next step is due (yield only, when behind)
                wait = min(wait, start + (done + 1) / rate - time.monotonic())
            await asyncio.sleep(max(wait, 0.0))

    def _apply_connection_faults(self) -> None:
        for fault in self.faults.pop(_CONNECTION_FAULTS):
            if fault.kind == "user_stream_drop":
                self.hub.terminate_user_streams(fault.account)
                continue
            targets = [
                c for c in self.hub.connections.values()
                if (fault.connection is None or c.id == fault.connection)
                and (fault.symbol is None or any(s.startswith(fault.symbol.lower()) for s in c.streams))
            ]
            for conn in targets:
                if fault.kind == "close":
                    conn.close_with_frame = fault.with_close_frame
                    conn.abort("closed by injected fault")
                elif fault.kind == "stall":
                    conn.stalled_until = time.monotonic() + fault.duration_s
                    conn.answer_pings = fault.answer_pings
                elif fault.kind == "malformed_frame":
                    conn.send('{"e":"depthUpdate","E":')

    async def _keep_connections(self) -> None:
        cfg = self.config
        tick = min(1.0, cfg.ping_interval_s / 4, cfg.pong_timeout_s / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for conn in list(self.hub.connections.values()):
                if conn.closed:
                    continue
                age = now - conn.opened_mono
                if age >= cfg.connection_lifetime_s and not conn.shutdown_sent:
                    conn.shutdown_sent = True
                    if conn.kind == "stream":
                        self.hub.server_shutdown(conn)
                    conn.close_after = now + min(1.0, tick * 2)
                if conn.close_after and now >= conn.close_after:
                    conn.abort("connection lifetime reached")
                    continue
                if now - conn.last_pong_mono > cfg.pong_timeout_s:
                    conn.abort("no pong within the timeout")
                    continue
                if conn.stalled_until > now:
                    continue
                if now - conn.last_ping_mono >= cfg.ping_interval_s:
                    conn.last_ping_mono = now
                    conn.ping_payload = str(self.now_ms()).encode()
                    with contextlib.suppress(ConnectionResetError, RuntimeError):
                        await conn.ws.ping(conn.ping_payload)
            for key, seen in list(self._listen_key_seen.items()):
                if now - seen > cfg.listen_key_ttl_s:
                    self._expire_listen_key(key)

    def _expire_listen_key(self, key: str) -> None:
        self._listen_key_seen.pop(key, None)
        self.hub.listen_keys.pop(key, None)
        for conn in list(self.hub.subscribers.get(key, ())):
            conn.send(_dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}))
            conn.finish("listenKey expired")

    # --- REST ------------------------------------------------------------------------------
    async def rest_faults(self, request: web.Request) -> None:
        delay = self.faults.take("delay")
        if delay is not None:
            await asyncio.sleep(delay.delay_ms / 1000)
        self._refuse_if_banned()
        if self.faults.take("rate_limit_storm") is not None:
            raise BinanceApiError(
                -1003, "Too much request weight used; current limit is "
                f"{self.config.rate_limits[0].limit} request weight per 1 MINUTE. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                status=429, retry_after=1,
            )
        failure = self.faults.take("rest_5xx")
        if failure is not None:
            raise BinanceApiError(-1001, "Internal error; unable to process your request. Please try again.",
                                  status=failure.status)

    def ws_api_faults(self, conn: Connection) -> None:
        """Faults a WebSocket API request meets before it is counted (may raise its error answer)."""
        self._refuse_if_banned()
        storm = self.faults.take("ws_api_rate_limit_storm", connection=conn.id)
        if storm is not None:
            now = self.now_ms()
            raise BinanceApiError(
                -1003, "Too much request weight used; current limit is "
                f"{self.config.rate_limits[0].limit} request weight per 1 MINUTE. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                status=429, retry_after=max(1, math.ceil(storm.duration_s)),
                retry_at_ms=now + round(storm.duration_s * 1000),
            )

    def _refuse_if_banned(self) -> None:
        """``ip_ban`` in force: 418 until it ends. Timed on the monotonic fault clock, so a
        ``clock_skew`` step does not stretch the ban; ``retryAfter`` is that end on the venue's clock."""
        elapsed = self.elapsed_s()
        until = self.faults.active_until("ip_ban", elapsed)
        if until is not None:
            now = self.now_ms()
            raise apierror.banned(now + math.ceil((until - elapsed) * 1000), now)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            return await rest.dispatch(self, request)
        except HoldReply as held:
            await asyncio.sleep(held.hold_s)
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable from None  # never delivered: the socket is gone

    # --- WebSocket streams ------------------------------------------------------------------
    async def _ws_streams(self, request: web.Request) -> web.StreamResponse:
        initial: list[str] = []
        combined = False
        kind = "stream"
        account: str | None = None
        if request.path == "/stream":
            combined = True
            initial = [s for s in request.query.get("streams", "").split("/") if s]
        elif request.path.startswith("/ws/"):
            for name in request.path[len("/ws/"):].split("/"):
                if name in self.hub.listen_keys:
                    kind, account = "listenKey", self.hub.listen_keys[name]
                    initial.append(name)
                elif self.hub.is_valid_stream(name):
                    initial.append(name)
        if len(initial) > self.config.ws_max_streams:
            return rest.json_response({"code": -1101, "msg": "Too many streams requested."}, status=400)
        return await self._serve_ws(request, kind, initial, combined, account, self._stream_message)

    async def _ws_api(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_ws(request, "api", [], False, None, self._api_message)

    def _connection_allowed(self, ip: str) -> bool:
        """Binance: at most 300 connection attempts per 5 minutes per IP (configurable)."""
        now = time.monotonic()
        attempts = self._ws_attempts.setdefault(ip, [])
        attempts[:] = [t for t in attempts if now - t < 300.0]
        attempts.append(now)
        return len(attempts) <= self.config.ws_connections_per_5min

    async def _serve_ws(
        self, request: web.Request, kind: str, initial: list[str], combined: bool, account: str | None,
        on_text: Callable[[Connection, str], Awaitable[None]],
    ) -> web.StreamResponse:
        try:
            self._refuse_if_banned()  # a banned IP cannot connect either; each attempt is counted
        except BinanceApiError as exc:
            self.handshakes_refused_banned += 1
            return rest.json_response(exc.body(), status=exc.status, headers={"Retry-After": str(exc.retry_after)})
        if not self._connection_allowed(request.remote or "?"):
            return rest.json_response({"code": -1003, "msg": "Too many connection attempts; retry later."},
                                      status=429, headers={"Retry-After": "60"})
        time_unit = request.query.get("timeUnit", "MILLISECOND").upper()
        if time_unit not in ("MILLISECOND", "MICROSECOND"):
            return rest.json_response(apierror.illegal("timeUnit", "MILLISECOND, MICROSECOND").body(), status=400)
        ws = web.WebSocketResponse(autoping=False, max_msg_size=self.config.max_body_bytes)
        await ws.prepare(request)
        conn = Connection(ws, kind, request.remote or "?", request.path_qs, self.config.ws_queue_frames)
        conn.combined = combined
        conn.micros = time_unit == "MICROSECOND"
        conn.account = account
        self.hub.register(conn)
        for name in initial:
            self.hub.subscribe(conn, name)
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        writer = asyncio.create_task(conn.writer(), name=f"sim-ws-writer-{conn.id}")
        reader = asyncio.create_task(self._read_ws(conn, on_text), name=f"sim-ws-reader-{conn.id}")
        try:
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if "slow client" in conn.close_reason:
                self.hub.slow_clients_dropped += 1
            self.hub.unregister(conn)
            conn.abort(conn.close_reason or "closed")
            for t in (writer, reader):
                t.cancel()
            for t in (writer, reader):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await conn.close(with_frame=conn.close_with_frame)
            if task is not None:
                self._conn_tasks.discard(task)
        return ws

    async def _read_ws(self, conn: Connection, on_text: Callable[[Connection, str], Awaitable[None]]) -> None:
        ws = conn.ws
        limit = self.config.ws_incoming_per_s
        while not conn.closed:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                conn.abort("peer closed")
                return
            # The 5 messages/s rule is the streams' (web-socket-streams.md); the WS API is limited by weight.
            if conn.kind != "api" and not conn.count_inbound(limit):
                conn.abort("too many incoming messages")
                return
            if msg.type == WSMsgType.PING:
                if conn.stalled_until <= time.monotonic() or conn.answer_pings:
                    with contextlib.suppress(ConnectionResetError, RuntimeError):
                        await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                # Unsolicited pongs are allowed but do not keep the connection alive (web-socket-streams.md).
                if conn.ping_payload is not None and msg.data == conn.ping_payload:
                    conn.last_pong_mono = time.monotonic()
            elif msg.type == WSMsgType.TEXT:
                try:
                    await on_text(conn, msg.data)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 — a bug answers as the venue would, and is logged
                    self.log_internal_error(conn.path)
                    conn.send(_dumps({"error": {"code": -1000, "msg": "An unknown error occurred."}, "id": None}))
            elif msg.type == WSMsgType.BINARY:
                conn.send(_dumps({"error": {"code": 3, "msg": "Invalid JSON: binary frames are not accepted"},
                                  "id": None}))

    async def _stream_message(self, conn: Connection, text: str) -> None:
        reply = wsapi.stream_control(self.hub, conn, text, self.config.ws_max_streams)
        if reply is not None:
            conn.send(_dumps(reply))

    async def _api_message(self, conn: Connection, text: str) -> None:
        try:
            reply = await wsapi.handle(self, conn, text)
        except HoldReply as held:
            await asyncio.sleep(held.hold_s)
            conn.close_with_frame = False
            conn.abort("reply withheld (injected timeout_after_accept)")
            return
        if reply is not None:
            conn.send(_dumps(reply))

    def next_subscription_id(self) -> int:
        return next(self._sub_ids)
