"""Binance Spot adapter: the asyncio pump around the pure session and codec.

Two WebSocket connections and one HTTP client, each supervised on its own:

* **market data** (``/ws``): depth diffs for every symbol, one
  :class:`~stanchion.venues.binance.session.BinanceStreamSession` deciding the
  book sync; snapshots are fetched over REST when it asks; per-symbol staleness
  from the transport marks a silent symbol's book STALE; a reconnect resets
  every book (they resync) and a ``serverShutdown`` rotates the link
  make-before-break;
* **WebSocket API** (``/ws-api/v3``): order entry (``order.place`` /
  ``order.cancel``) and the user-data stream
  (``userDataStream.subscribe.signature``) on the same link;
* **REST**: instruments, snapshots, account, queries, and the fallback for
  orders while the WebSocket API is down.

Rate limits: REST and the WebSocket API share Binance's IP weight and
per-account order count, so both go through one limiter (``rate_limiter``).
WebSocket API requests are charged their documented weight before they are
sent, exactly as their REST twins: an order is refused at once when the budget
is exhausted or a pause is on (never queued), a cancel that cannot be charged
takes the REST path, which waits for the budget, and the user-stream subscribe
waits. Every answer's ``rateLimits`` replaces the limiter's counts (like the
``X-MBX-*`` headers do), and a 429/418 answer pauses or bans the limiter until
its ``retryAfter``, which stops REST requests too.

Order outcomes: an order whose request timed out, got a 5xx or -1007, or whose
link dropped before the answer is **unknown**: the engine is told
(``on_request_unknown``) and resolves it by query, never by resending. A query
returns the order's state and, when it has executed quantity, its trades, so a
fill the user stream missed is delivered once (the OMS drops trade ids it has
seen). After the user stream is re-established every open order is resolved the
same way, and the composition root is told so it can reconcile.

The adapter implements the engine's ``ExecutionGateway`` (non-blocking
``submit``/``cancel``/``query``) and the runtime's ``VenueAdapter``. It talks to
the engine only through :class:`EngineSink` (the kernel satisfies it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import msgspec

from stanchion.book.l2 import L2Book
from stanchion.book.sync import BookLive, BookResync, BookStale, FetchSnapshot
from stanchion.core import failpoints
from stanchion.core.clock import Clock, LiveClock
from stanchion.core.errors import (
    ClockSkewError,
    ConnectionLostError,
    OrderOutcomeUnknownError,
    ParseError,
    RateLimitedError,
    StanchionError,
    VenueRejectedError,
)
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport
from stanchion.model.instrument import Instrument
from stanchion.model.orders import ExecutionType, OrderType, Side, TimeInForce
from stanchion.transport.backoff import BackoffPolicy
from stanchion.transport.http import HttpClient, HttpConfig, HttpRequest
from stanchion.transport.liveness import LivenessPolicy
from stanchion.transport.ratelimit import Budget, RateLimiter, Ticket, Usage
from stanchion.transport.staleness import StalenessTransition, StreamHealth, StreamPolicy
from stanchion.transport.state import ConnectionState
from stanchion.transport.websocket import WebSocketClient, WebSocketConfig
from stanchion.venues.binance.auth import Signer, percent_encode, sign_ws_params, signed_ws_request
from stanchion.venues.binance.codec import (
    AccountPosition,
    BalanceChange,
    EventStreamTerminated,
    OrderEncodingError,
    cancel_params,
    cancel_replace_params,
    decode_cancel_replace,
    decode_cancel_replace_error_data,
    decode_error,
    decode_order_response,
    decode_user_event,
    decode_ws_api_error_data,
    decode_ws_api_response,
    order_params,
    order_status,
    parse_number,
    ws_api_request,
)
from stanchion.venues.binance.errors import BinanceUnknownOrderError, classify
from stanchion.venues.binance.queries import (
    decode_account_balances,
    decode_canceled_order,
    decode_open_orders,
    decode_queried_order,
    decode_trades,
    queried_order_report,
    trade_fill_reports,
)
from stanchion.venues.binance.ratelimit import (
    DEFAULT_LIMITS,
    ORDER_COUNT,
    WS_API_ORDER_COUNT,
    Limit,
    UsageHeaders,
    limits_from_rate_limits,
    parse_rate_limits,
    parse_usage_headers,
    rate_limit_window_s,
    request_weight,
    ws_api_retry_after_s,
    ws_api_weight,
)
from stanchion.venues.binance.reflex import Reflex
from stanchion.venues.binance.schemas import BinanceRateLimit, BinanceWsApiResponse
from stanchion.venues.binance.session import BinanceStreamSession
from stanchion.venues.binance.symbols import parse_exchange_info_and_limits
from stanchion.venues.binance.timesync import ClockOffset, TimeSample
from stanchion.venues.ports import AccountSnapshot

_log = logging.getLogger(__name__)

_NS = 1_000_000_000
_CLOCK_RESYNC_QUIET_NS = _NS  # -1021s this soon after a resync answer requests signed before it
_SUBSCRIBE = "userDataStream.subscribe.signature"


# --- what the adapter needs of the engine ------------------------------------------------


class EngineSink(Protocol):
    """The engine as the adapter sees it (``stanchion.engine.kernel.Kernel`` satisfies it)."""

    def on_book(self, key: str, book: L2Book, received_ns: int | None = None) -> None: ...

    def on_book_lost(self, key: str) -> None: ...

    def on_execution_report(self, venue: str, report: ExecutionReport) -> None: ...

    def on_request_rejected(self, venue: str, client_order_id: str, reason: str) -> None: ...

    def on_request_unknown(self, venue: str, client_order_id: str, reason: str) -> None: ...

    def on_cancel_rejected(self, venue: str, client_order_id: str, reason: str) -> None: ...

    def on_query_not_found(self, venue: str, client_order_id: str) -> None: ...

    def on_armed_fired(self, venue: str, client_order_id: str, latency_ns: int | None) -> None:
        """An armed order's frame was written, ``latency_ns`` after the depth frame that fired it
        arrived (None when sent by ``fire_armed``)."""

    def on_armed_failed(self, venue: str, client_order_id: str, reason: str) -> None:
        """An armed order's condition showed but its frame could not be written (it never left)."""


class OrderQuery(Protocol):
    @property
    def symbol(self) -> str: ...

    @property
    def client_order_id(self) -> str: ...


class AdapterEvents:
    """Observers of the adapter (metrics, the terminal view). Override what you need."""

    def on_book_state(self, venue: str, symbol: str, state: str) -> None:
        """``live``, ``syncing`` or ``stale``."""

    def on_resync(self, venue: str, symbol: str, reason: str) -> None: ...

    def on_connection_state(self, venue: str, connection: str, state: str) -> None: ...

    def on_reconnect(self, venue: str, connection: str) -> None: ...

    def on_heartbeat_rtt(self, venue: str, connection: str, seconds: float) -> None: ...

    def on_order_rejected(self, venue: str, reason: str) -> None: ...

    def on_user_stream_restored(self, venue: str) -> None:
        """The user stream came back after a gap: the composition root reconciles."""


# --- rate-limit policy (the shared limiter's rules for Binance) ----------------------------


def budget_key(kind: str, interval_s: int) -> str:
    """``REQUEST_WEIGHT:60``, ``ORDERS:10``, ``ORDERS:86400``."""
    return f"{kind}:{interval_s}"


CONNECTION_LIMIT: Final = Limit("CONNECTIONS", 300, 300)
"""300 connection attempts every 5 minutes per IP (web-socket-streams.md, web-socket-api.md)."""
CONNECTIONS_KEY: Final = budget_key(CONNECTION_LIMIT.kind, CONNECTION_LIMIT.interval_s)
WS_API_CONNECT_WEIGHT: Final = 2


def _budgeted(limits: Iterable[Limit]) -> tuple[Limit, ...]:
    """The limits we budget (request weight, order counts), in one order whatever the venue's."""
    return tuple(sorted(
        (limit for limit in limits if limit.kind in ("REQUEST_WEIGHT", "ORDERS")),
        key=lambda limit: (limit.kind, limit.interval_s),
    ))


class BinanceRateLimitPolicy:
    """:class:`stanchion.transport.ratelimit.RateLimitPolicy` for Binance Spot REST, and the
    same budgets' costs and counts for the WebSocket API (they share the venue's limits).

    Budgets are the venue's limits (``exchangeInfo.rateLimits`` when known, the
    documented defaults until then) less ``headroom`` for other processes behind
    the same IP; costs are the documented weights; the response headers
    ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-10S``/``-1D`` and the WebSocket
    API's ``rateLimits`` are the truth.
    """

    __slots__ = ("_connection_limit", "_headroom", "_limits", "_ws_costs")

    def __init__(
        self,
        limits: tuple[Limit, ...] = DEFAULT_LIMITS,
        *,
        headroom: float = 0.9,
        connection_limit: int = CONNECTION_LIMIT.limit,
    ) -> None:
        self._limits = _budgeted(limits)
        self._headroom = headroom
        self._connection_limit = connection_limit
        self._ws_costs: dict[str, dict[str, int]] = {}  # per method, until the limits change

    def budgets(self) -> list[Budget]:
        """The venue's limits, and the connection-attempt limit (documented, not in ``rateLimits``)."""
        return [
            *(
                Budget(budget_key(limit.kind, limit.interval_s), limit.limit, float(limit.interval_s), self._headroom)
                for limit in self._limits
            ),
            Budget(CONNECTIONS_KEY, self._connection_limit, float(CONNECTION_LIMIT.interval_s), self._headroom),
        ]

    def connect_costs(self, *, ws_api: bool) -> dict[str, int]:
        """One connection attempt: it counts against the IP's 300 per 5 minutes (streams
        and WebSocket API alike); connecting to the WebSocket API also costs 2 weight
        (web-socket-api.md "Connection limits", "IP limits")."""
        costs = {CONNECTIONS_KEY: 1}
        if ws_api:
            costs[budget_key("REQUEST_WEIGHT", 60)] = WS_API_CONNECT_WEIGHT
        return costs

    @property
    def limits(self) -> tuple[Limit, ...]:
        return self._limits

    def set_limits(self, limits: tuple[Limit, ...], *, complete: bool = True) -> bool:
        """Adopt the venue's limits; True when they changed.

        ``complete``: the venue's whole list (``exchangeInfo.rateLimits``), which replaces
        ours; otherwise a WebSocket API answer's ``rateLimits``, which lists only the
        limits that request counts against: those are updated, the others kept. An
        empty list (a body without ``rateLimits``) changes nothing.
        """
        kept = _budgeted(limits)
        if not kept:
            return False
        if not complete:
            merged = {(limit.kind, limit.interval_s): limit for limit in self._limits}
            merged.update({(limit.kind, limit.interval_s): limit for limit in kept})
            kept = _budgeted(merged.values())
        if kept == self._limits:
            return False
        self._limits = kept
        self._ws_costs.clear()
        return True

    def weight(self, method: str, path: str, params: Mapping[str, str]) -> dict[str, int]:
        try:
            weight = request_weight(method, path, params)
        except KeyError:
            weight = 1  # an endpoint without a documented weight still counts
        return self._costs(weight, ORDER_COUNT.get((method.upper(), path), 0))

    def ws_weight(self, method: str) -> Mapping[str, int]:
        """Cost of one WebSocket API request: the same budgets as its REST twin
        (``order.place`` = ``POST /api/v3/order``: weight 1 and one order). Computed once
        per method while the limits stand (it is read on every order); read-only."""
        costs = self._ws_costs.get(method)
        if costs is None:
            try:
                weight = ws_api_weight(method)
            except KeyError:
                weight = 1
            costs = self._ws_costs[method] = self._costs(weight, WS_API_ORDER_COUNT.get(method, 0))
        return costs

    def _costs(self, weight: int, orders: int) -> dict[str, int]:
        costs = {budget_key("REQUEST_WEIGHT", 60): weight}
        if orders:
            for limit in self._limits:
                if limit.kind == "ORDERS":
                    costs[budget_key("ORDERS", limit.interval_s)] = orders
        return costs

    def parse_usage(self, headers: Mapping[str, str]) -> list[Usage]:
        return _usages(parse_usage_headers(headers))

    def parse_ws_rate_limits(self, rate_limits: list[BinanceRateLimit]) -> list[Usage]:
        """A WebSocket API answer's ``rateLimits`` as the same usage records the headers give."""
        return _usages(parse_rate_limits(rate_limits))

    def parse_retry_after(self, status: int, headers: Mapping[str, str]) -> float | None:
        return parse_usage_headers(headers).retry_after_s


def _usages(usage: UsageHeaders) -> list[Usage]:
    out = [Usage(budget_key("REQUEST_WEIGHT", s), n) for s, n in usage.used_weight.items()]
    out.extend(Usage(budget_key("ORDERS", s), n) for s, n in usage.order_count.items())
    return out


# --- configuration and statistics -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BinanceAdapterConfig:
    name: str
    rest_url: str
    ws_stream_url: str
    ws_api_url: str
    symbols: tuple[str, ...]
    account: str = "main"
    book_stale_after_s: float = 10.0
    liveness_timeout_s: float = 30.0
    use_ws_api_for_orders: bool = True
    request_timeout_s: float = 5.0
    """No answer to an order request within this: its outcome is unknown (resolved by query)."""
    recv_window_ms: int = 5000
    snapshot_limit: int = 5000
    subscribe_interval_s: float = 0.25
    backoff: BackoffPolicy = field(default_factory=lambda: BackoffPolicy(base_s=0.1, cap_s=5.0))
    connect_timeout_s: float = 10.0
    connection_attempts_per_5min: int = CONNECTION_LIMIT.limit
    """The venue's limit on WebSocket connection attempts per IP (Binance: 300 per 5 minutes)."""
    armed_resign_s: float = 1.0
    """An armed order's frame is signed again this often, so that its ``timestamp`` is never
    older than this (plus the clock offset's error) when it goes out (``recvWindow``)."""


@dataclass(slots=True)
class AdapterStatistics:
    md_messages: int = 0
    malformed_frames: int = 0
    snapshots_fetched: int = 0
    snapshot_failures: int = 0
    resyncs: int = 0
    stale_marks: int = 0
    orders_sent_ws: int = 0
    orders_sent_rest: int = 0
    cancels_sent: int = 0
    replaces_sent: int = 0  # order.cancelReplace requests (each also counted in orders_sent_ws)
    armed: int = 0  # orders armed (signed ahead, waiting for their market condition)
    armed_fired: int = 0  # of which went out (each also counted in orders_sent_ws)
    armed_failed: int = 0  # condition showed, frame not written (connection lost)
    order_rejects: int = 0
    outcome_unknown: int = 0
    queries: int = 0
    fills_recovered: int = 0
    user_events: int = 0
    user_resubscribes: int = 0
    clock_resyncs: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)


class _Armed:
    """An armed order at the adapter: its signed frame (re-signed every ``armed_resign_s``),
    the request id it will go out under, and its charge on the limiter, held from arming
    (counted as in flight in every window until the answer settles it)."""

    __slots__ = ("client_order_id", "frame", "params", "request_id", "symbol", "ticket")

    def __init__(
        self, client_order_id: str, symbol: str, request_id: int, params: dict[str, str], frame: bytes, ticket: Ticket
    ) -> None:
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.request_id = request_id
        self.params = params
        self.frame = frame
        self.ticket = ticket


@dataclass(slots=True)
class _Pending:
    kind: str  # "place" | "cancel" | "replace" | "subscribe"
    client_order_id: str  # a replace: the successor's
    symbol: str
    deadline_ns: int
    ticket: Ticket | None = None  # its charge on the shared limiter, settled by the answer
    original: str = ""  # a replace: the client order id of the order it cancels


class BinanceAdapter:
    """One Binance Spot account: books, orders and the user stream. See the module docstring."""

    def __init__(
        self,
        config: BinanceAdapterConfig,
        signer: Signer,
        *,
        clock: Clock | None = None,
        events: AdapterEvents | None = None,
        open_orders: Callable[[], Iterable[tuple[str, str]]] | None = None,
    ) -> None:
        """``open_orders``: the engine's open orders on this venue as ``(symbol, client id)``,
        resolved by query after the user stream was interrupted."""
        self.name = config.name
        self.account = config.account
        self.config = config
        self._signer = signer
        self._clock = clock or LiveClock()
        self._events = events or AdapterEvents()
        self._open_orders = open_orders
        self._policy = BinanceRateLimitPolicy(connection_limit=config.connection_attempts_per_5min)
        # One budget for REST and the WebSocket API: Binance counts both against the same limits.
        self._limiter = RateLimiter(self._policy.budgets(), clock=self._clock)
        self._http = HttpClient(
            HttpConfig(
                config.rest_url,
                name=f"{config.name}-rest",
                total_timeout_s=config.request_timeout_s,
                connect_timeout_s=min(5.0, config.request_timeout_s),
            ),
            policy=self._policy,
            limiter=self._limiter,
            signer=self._sign_request,
            clock=self._clock,
        )
        self._session = BinanceStreamSession()
        self._symbols = tuple(s.upper() for s in config.symbols)
        self._instruments: dict[str, Instrument] = {}
        self._sink: EngineSink | None = None
        self._md: WebSocketClient | None = None
        self._api: WebSocketClient | None = None
        self._runners: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._offset = ClockOffset()
        self._snapshot_inflight: set[str] = set()
        self._book_state: dict[str, str] = dict.fromkeys(self._symbols, "syncing")
        self._books_changed = asyncio.Event()
        self._user_subscribed = asyncio.Event()
        self._user_generation = 0
        self._subscribe_refusals = 0
        self._subscribe_wait: asyncio.Task[Any] | None = None
        self._clock_resync: asyncio.Task[Any] | None = None
        self._clock_synced_ns = 0
        self._queries_inflight: set[str] = set()
        self._stop = asyncio.Event()
        self._http_open = False
        self._ws_usage: dict[str, tuple[float, int]] = {}  # limit → (count/limit, its window's end, wall ns)
        self._balances: dict[str, tuple[int, int]] = {}
        self._reflex = Reflex()
        self._reflex.paused = True  # until the WebSocket API and the user stream are up
        self._armed: dict[str, _Armed] = {}
        self._resign_task: asyncio.Task[Any] | None = None
        self._unhold: asyncio.TimerHandle | None = None
        self._limiter.on_blocked = self._on_limiter_blocked
        # Armed orders fire on the raw stream's frames (/ws); a combined stream (/stream) wraps them.
        self._raw_stream = not urlsplit(config.ws_stream_url).path.startswith("/stream")
        self.stats = AdapterStatistics()

    @property
    def rate_limiter(self) -> RateLimiter:
        """The budget every REST and WebSocket API request of this adapter is charged to."""
        return self._limiter

    # --- instruments and time ---------------------------------------------------------

    async def _open_http(self) -> None:
        if not self._http_open:
            await self._http.__aenter__()
            self._http_open = True

    async def load_instruments(self, symbols: list[str] | None = None) -> dict[str, Instrument]:
        await self._open_http()
        wanted = [s.upper() for s in (symbols or self._symbols)]
        body = await self._rest("GET", "/api/v3/exchangeInfo", {}, signed=False)
        everything, limits = parse_exchange_info_and_limits(body)
        self._adopt_limits(limits)
        missing = [s for s in wanted if s not in everything]
        if missing:
            raise StanchionError(f"{self.name}: symbols not trading at the venue: {', '.join(missing)}")
        self._instruments = {s: replace(everything[s], venue=self.name) for s in wanted}
        return dict(self._instruments)

    async def sync_clock(self, samples: int = 3) -> int:
        """Estimate the offset to the venue's clock from ``samples`` ``/api/v3/time`` calls."""
        await self._open_http()
        for _ in range(samples):
            self._offset.add(await self._time_sample())
        return self._offset.offset_ms

    async def _time_sample(self) -> TimeSample:
        sent = self._clock.time_ns() // 1_000_000
        body = await self._rest("GET", "/api/v3/time", {}, signed=False)
        received = self._clock.time_ns() // 1_000_000
        server = msgspec.json.decode(body).get("serverTime")
        if not isinstance(server, int):
            raise ParseError(f"{self.name}: /api/v3/time without serverTime")
        return TimeSample(sent, server, received)

    async def _resync_clock(self, samples: int = 3) -> None:
        """Fresh samples replace the old ones only once they are all in (a failed resync
        keeps the previous estimate instead of signing with no offset at all)."""
        fresh = ClockOffset()
        for _ in range(samples):
            fresh.add(await self._time_sample())
        self._offset = fresh
        self._clock_synced_ns = self._clock.monotonic_ns()

    def _timestamp_ms(self) -> int:
        return self._offset.server_time_ms(self._clock.time_ns() // 1_000_000)

    def _clock_skewed(self) -> None:
        """-1021: refresh the offset once (not a retry storm). One resync at a time, and the
        -1021s of requests signed just before a resync completed do not start another."""
        inflight = self._clock_resync
        if inflight is not None and not inflight.done():
            return
        if self._clock.monotonic_ns() - self._clock_synced_ns < _CLOCK_RESYNC_QUIET_NS:
            return
        self.stats.clock_resyncs += 1
        self._clock_resync = self._spawn(self._resync_clock(), "clock-resync")

    # --- REST -------------------------------------------------------------------------

    def _sign_request(self, request: HttpRequest) -> HttpRequest:
        timing = f"recvWindow={self.config.recv_window_ms}&timestamp={self._timestamp_ms()}"
        query = f"{request.query}&{timing}" if request.query else timing
        body = request.body.decode() if request.body else ""
        signature = percent_encode(self._signer.signature_param(query + body))
        headers = dict(request.headers)
        headers["X-MBX-APIKEY"] = self._signer.api_key
        return replace(request, query=f"{query}&signature={signature}", headers=headers)

    async def _rest(
        self, method: str, path: str, params: dict[str, str], *, signed: bool, order: bool = False
    ) -> bytes:
        response = await self._http.request(
            method,
            path,
            params=params,
            signed=signed,
            idempotent=not order,
            retries=0 if order else 2,
            wait_for_rate_limit=not order,
            max_rate_limit_wait_s=None if not order else 0,
        )
        if response.status >= 400:
            code: int | None = None
            message: str | None = None
            with contextlib.suppress(msgspec.DecodeError, AttributeError):
                error = msgspec.json.decode(response.body)
                code, message = error.get("code"), error.get("msg")
            exc = classify(
                http_status=response.status,
                code=code if isinstance(code, int) else None,
                message=message if isinstance(message, str) else None,
                headers=response.headers,
                request_was_order=order,
            )
            if isinstance(exc, ClockSkewError):
                self._clock_skewed()
            raise exc
        return response.body

    # --- start and stop -----------------------------------------------------------------

    async def start(self, sink: EngineSink) -> None:
        """Connect market data and the WebSocket API; returns once the user stream is live."""
        self._sink = sink
        await self._open_http()
        if not self._instruments:
            await self.load_instruments()
        if self._offset.samples == 0:
            await self.sync_clock()
        config = self.config
        self._md = WebSocketClient(
            WebSocketConfig(
                config.ws_stream_url,
                LivenessPolicy.binance(config.liveness_timeout_s),
                name=f"{self.name}-md",
                default_stream=StreamPolicy(stale_after_s=config.book_stale_after_s),
                backoff=config.backoff,
                connect_timeout_s=config.connect_timeout_s,
                subscribe_interval_s=config.subscribe_interval_s,
            ),
            on_message=self._on_md_message,
            on_connected=self._on_md_connected,
            on_staleness=self._on_md_staleness,
            on_state=self._on_md_state,
            on_reconnect=lambda: self._events.on_reconnect(self.name, "market_data"),
            on_heartbeat_rtt=lambda s: self._events.on_heartbeat_rtt(self.name, "market_data", s),
            clock=self._clock,
            connect_gate=lambda: self._connect_gate(ws_api=False),
            on_handshake_refused=self._on_handshake_refused,
        )
        now = self._clock.monotonic_ns()
        for symbol in self._symbols:
            self._md.staleness.add_stream(symbol, now)
        self._api = WebSocketClient(
            WebSocketConfig(
                config.ws_api_url,
                LivenessPolicy.binance(config.liveness_timeout_s),
                name=f"{self.name}-api",
                backoff=config.backoff,
                connect_timeout_s=config.connect_timeout_s,
                max_lifetime_s=None,  # orders must never be sent on two links: no rotation, reconnect instead
            ),
            on_message=self._on_api_message,
            on_connected=self._on_api_connected,
            on_state=self._on_api_state,
            on_reconnect=lambda: self._events.on_reconnect(self.name, "ws_api"),
            on_heartbeat_rtt=lambda s: self._events.on_heartbeat_rtt(self.name, "ws_api", s),
            clock=self._clock,
            connect_gate=lambda: self._connect_gate(ws_api=True),
            on_handshake_refused=self._on_handshake_refused,
        )
        self._runners = [
            asyncio.create_task(self._run_client(self._md), name=f"{self.name}-md"),
            asyncio.create_task(self._run_client(self._api), name=f"{self.name}-api"),
            asyncio.create_task(self._sweep_timeouts(), name=f"{self.name}-timeouts"),
        ]
        try:
            async with asyncio.timeout(config.connect_timeout_s + 5.0):
                await self._user_subscribed.wait()
        except TimeoutError:
            raise ConnectionLostError(f"{self.name}: user data stream not established", venue=self.name) from None

    async def _connect_gate(self, *, ws_api: bool) -> None:
        """Before every connection attempt: charge it to the IP's connection budget (and the
        WebSocket API's 2 weight), waiting while a 429 pause or a 418 ban holds every request
        (a reconnect during a ban would extend it) or the budget is spent."""
        ticket = await self._limiter.acquire(self._policy.connect_costs(ws_api=ws_api))
        self._limiter.complete(ticket)  # no answer carries it: the venue's next count includes it

    def _on_handshake_refused(self, status: int, retry_after_s: float | None) -> None:
        """A WebSocket upgrade answered 418: the IP is banned (it may be the first we hear
        of it): every request and every connection attempt waits until it ends. A 429
        (too many connection attempts) is left to the reconnect backoff: it says nothing
        of the request-weight and order limits, so orders are not paused for it."""
        if status == 418:
            self._limiter.on_rate_limited(418, retry_after_s)

    async def _run_client(self, client: WebSocketClient) -> None:
        try:
            async with client:
                await self._stop.wait()
        except Exception as exc:  # noqa: BLE001 - reported; the runtime sees the connection state
            _log.error("venue_connection_failed venue=%s error=%s", self.name, f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        self._stop.set()
        self._reflex.paused = True
        if self._unhold is not None:
            self._unhold.cancel()
            self._unhold = None
        for client in (self._md, self._api):
            if client is not None:
                client.close()
        if self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http_open:
            await self._http.__aexit__(None, None, None)
            self._http_open = False

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        if self._stop.is_set():
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            _log.warning(
                "venue_task_failed venue=%s task=%s error=%s",
                self.name,
                task.get_name(),
                f"{type(exc).__name__}: {exc}",
            )

    # --- market data ----------------------------------------------------------------------

    def _key(self, symbol: str) -> str:
        return f"{self.name}:{symbol}"

    def _on_md_connected(self, generation: int) -> list[bytes]:
        frames = self._session.resubscribe_frames()
        return frames or [self._session.subscribe_depth(self._symbols)]

    def _on_md_message(self, payload: bytes) -> str | None:
        received = self._clock.monotonic_ns()
        if self._reflex.count:  # armed orders: their frames go out before anything else is done
            fired = self._reflex.match(payload)
            if fired is not None:
                self._fire(fired, received)
        self.stats.md_messages += 1
        try:
            out = self._session.on_frame(payload)
        except ParseError as exc:
            # A lost diff is caught by the continuity check of the next one.
            self.stats.malformed_frames += 1
            _log.warning("malformed_frame venue=%s error=%s", self.name, str(exc)[:200])
            return None
        if out.send and self._md is not None:
            for frame in out.send:
                self._md.send_control(frame)
        if out.actions:
            self._on_actions(out.actions)
        symbol = out.book_updated
        if symbol is None:
            return None
        if self._reflex.count:
            self._reflex.set_next(symbol, self._next_update_id(symbol))
        book = self._session.live_book(symbol)
        if book is not None and self._sink is not None:
            if self._book_state.get(symbol) != "live":
                self._set_book_state(symbol, "live")
            self._sink.on_book(self._key(symbol), book, received)
        return symbol

    def _on_actions(self, actions: Iterable[object]) -> None:
        for action in actions:
            if isinstance(action, FetchSnapshot):
                self._request_snapshot(action.symbol)
            elif isinstance(action, BookLive):
                self._set_book_state(action.symbol, "live")
                book = self._session.live_book(action.symbol)
                if book is not None and self._sink is not None:
                    self._sink.on_book(self._key(action.symbol), book, None)
            elif isinstance(action, BookResync):
                self.stats.resyncs += 1
                self._events.on_resync(self.name, action.symbol, action.reason.value)
                self._set_book_state(action.symbol, "syncing")
            elif isinstance(action, BookStale):
                self.stats.stale_marks += 1
                self._set_book_state(action.symbol, "stale")
            elif type(action).__name__ == "Rotate" and self._md is not None:
                self._md.request_rotation(str(getattr(action, "reason", "rotate")))
            elif type(action).__name__ == "SubscriptionFailed":
                _log.error("subscription_failed venue=%s detail=%s", self.name, repr(action))

    def _set_book_state(self, symbol: str, state: str) -> None:
        previous = self._book_state.get(symbol)
        if previous == state:
            return
        self._book_state[symbol] = state
        self._reflex.set_next(symbol, self._next_update_id(symbol))  # 0 unless LIVE: nothing fires
        if previous == "live" and self._sink is not None:
            self._sink.on_book_lost(self._key(symbol))
        self._events.on_book_state(self.name, symbol, state)
        self._books_changed.set()

    def _request_snapshot(self, symbol: str) -> None:
        if symbol in self._snapshot_inflight:
            return
        self._snapshot_inflight.add(symbol)
        self._spawn(self._fetch_snapshot(symbol), f"snapshot-{symbol}")

    async def _fetch_snapshot(self, symbol: str) -> None:
        try:
            request = self._session.snapshot_request(symbol, self.config.snapshot_limit)
            for attempt in range(1_000_000):
                try:
                    body = await self._rest(request.method, request.path, dict(request.params), signed=False)
                    break
                except (RateLimitedError, ConnectionLostError, StanchionError) as exc:
                    self.stats.snapshot_failures += 1
                    retry = exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else None
                    delay = retry if retry is not None else min(5.0, 0.2 * 2**attempt)
                    _log.warning(
                        "snapshot_failed venue=%s symbol=%s error=%s retry_s=%s",
                        self.name,
                        symbol,
                        str(exc)[:200],
                        delay,
                    )
                    await asyncio.sleep(delay)
            self.stats.snapshots_fetched += 1
        finally:
            self._snapshot_inflight.discard(symbol)
        try:
            out = self._session.on_snapshot(symbol, body)
        except ParseError as exc:
            self.stats.malformed_frames += 1
            _log.warning("malformed_snapshot venue=%s symbol=%s error=%s", self.name, symbol, str(exc)[:200])
            self._request_snapshot(symbol)
            return
        self._on_actions(out.actions)

    def _on_md_staleness(self, transition: StalenessTransition) -> None:
        symbol = transition.stream
        if symbol is None or transition.current not in (StreamHealth.STALE, StreamHealth.DEAD):
            return
        out = self._session.mark_stale(symbol)
        self._on_actions(out.actions)

    def _on_md_state(self, state: ConnectionState) -> None:
        self._events.on_connection_state(self.name, "market_data", state.value)
        if state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING, ConnectionState.CLOSED):
            out = self._session.on_disconnected()
            self._snapshot_inflight.clear()
            self._on_actions(out.actions)

    async def wait_books_live(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                while not all(self._book_state.get(s) == "live" for s in self._symbols):
                    self._books_changed.clear()
                    await self._books_changed.wait()
        except TimeoutError:
            return False
        return True

    def book_states(self) -> dict[str, str]:
        return dict(self._book_state)

    def live_book(self, symbol: str) -> L2Book | None:
        return self._session.live_book(symbol)

    # --- WebSocket API: orders and the user stream -----------------------------------------

    def _request_id(self) -> int:
        request_id = self._next_id
        self._next_id += 1
        return request_id

    def _on_api_connected(self, generation: int) -> list[bytes]:
        self._user_generation = generation
        ticket = self._limiter.try_acquire(self._policy.ws_weight(_SUBSCRIBE))
        if not isinstance(ticket, Ticket):
            self._subscribe_when_allowed()
            return []
        return [self._subscribe_frame(ticket)[1]]

    def _subscribe_frame(self, ticket: Ticket) -> tuple[int, bytes]:
        request_id = self._request_id()
        params = sign_ws_params(self._signer, {}, timestamp_ms=self._timestamp_ms())
        self._pending[request_id] = _Pending("subscribe", "", "", self._deadline(), ticket)
        return request_id, ws_api_request(request_id, _SUBSCRIBE, params)

    def _send_subscribe(self, api: WebSocketClient, ticket: Ticket) -> None:
        request_id, frame = self._subscribe_frame(ticket)
        try:
            api.send(frame)
        except ConnectionLostError:
            self._pending.pop(request_id, None)
            self._limiter.refund(ticket)  # the next connection subscribes on its own

    def _subscribe_when_allowed(self) -> None:
        """The subscribe is not an order: like a REST read, it waits for the budget (one waiter)."""
        waiting = self._subscribe_wait
        if waiting is None or waiting.done():
            self._subscribe_wait = self._spawn(self._wait_and_subscribe(), "user-subscribe-wait")

    async def _wait_and_subscribe(self) -> None:
        ticket = await self._limiter.acquire(self._policy.ws_weight(_SUBSCRIBE))
        api = self._api
        already = self._user_subscribed.is_set() or any(p.kind == "subscribe" for p in self._pending.values())
        if api is None or api.state is not ConnectionState.LIVE or already:
            self._limiter.refund(ticket)  # nothing to do, or the next connection subscribes on its own
            return
        self._send_subscribe(api, ticket)

    def _deadline(self) -> int:
        return self._clock.monotonic_ns() + int(self.config.request_timeout_s * _NS)

    def _on_api_state(self, state: ConnectionState) -> None:
        self._events.on_connection_state(self.name, "ws_api", state.value)
        self._update_hold()
        if state is ConnectionState.LIVE:
            return
        if state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING, ConnectionState.CLOSED):
            self._user_subscribed.clear()
            self._update_hold()
            self._fail_pending("connection lost before the answer")

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for request in pending.values():
            self._settle(request)
            self._request_outcome_unknown(request, reason)

    def _settle(self, request: _Pending) -> None:
        """No answer will come: release the request's in-flight charge (it stays counted)."""
        if request.ticket is not None:
            self._limiter.complete(request.ticket)

    def _request_outcome_unknown(self, request: _Pending, reason: str) -> None:
        sink = self._sink
        if sink is None:
            return
        if request.kind in ("place", "replace"):
            self.stats.outcome_unknown += 1
            sink.on_request_unknown(self.name, request.client_order_id, reason)
        if request.kind == "cancel":
            sink.on_cancel_rejected(self.name, request.client_order_id, f"cancel outcome unknown: {reason}")
        elif request.kind == "replace":
            sink.on_cancel_rejected(self.name, request.original, f"cancel outcome unknown: {reason}")

    async def _sweep_timeouts(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.1)
            now = self._clock.monotonic_ns()
            expired = [rid for rid, p in self._pending.items() if p.deadline_ns <= now]
            for rid in expired:
                request = self._pending.pop(rid, None)
                if request is None:
                    continue  # answered or failed by a callback of an earlier one in this sweep
                try:
                    self._settle(request)
                    if request.kind == "subscribe":
                        _log.warning("user_stream_subscribe_timeout venue=%s", self.name)
                        self._resubscribe_user_stream()
                    else:
                        self._request_outcome_unknown(request, f"no answer within {self.config.request_timeout_s} s")
                except Exception as exc:  # noqa: BLE001 - the sweep must outlive one bad callback
                    # Without the sweep no later request would ever time out (CANCEL_PENDING forever).
                    _log.error("request_timeout_handling_failed venue=%s kind=%s error=%s", self.name,
                               request.kind, f"{type(exc).__name__}: {exc}")

    def _resubscribe_user_stream(self) -> None:
        api = self._api
        if api is None or api.state is not ConnectionState.LIVE:
            return
        ticket = self._limiter.try_acquire(self._policy.ws_weight(_SUBSCRIBE))
        if not isinstance(ticket, Ticket):
            self._subscribe_when_allowed()
            return
        self._send_subscribe(api, ticket)

    def _on_api_message(self, payload: bytes) -> str | None:
        try:
            if payload[:17] == b'{"subscriptionId"' or b'"event"' in payload[:40]:
                self._on_user_event(payload)
            else:
                self._on_api_response(decode_ws_api_response(payload), payload)
        except ParseError as exc:
            self.stats.malformed_frames += 1
            _log.warning("malformed_api_frame venue=%s error=%s", self.name, str(exc)[:200])
        return None

    def _on_user_event(self, payload: bytes) -> None:
        event = decode_user_event(payload)
        self.stats.user_events += 1
        sink = self._sink
        if isinstance(event, ExecutionReport):
            if sink is not None:
                sink.on_execution_report(self.name, event)
        elif isinstance(event, AccountPosition):
            for balance in event.balances:
                self._balances[balance.asset] = (balance.free, balance.locked)
        elif isinstance(event, BalanceChange):
            pass  # reconciliation reads balances from the account; deposits show up as drift
        elif isinstance(event, EventStreamTerminated):
            _log.warning("user_stream_terminated venue=%s", self.name)
            self._user_subscribed.clear()
            self._update_hold()
            self._resubscribe_user_stream()

    def _adopt_limits(self, limits: tuple[Limit, ...], *, complete: bool = True) -> None:
        """The venue's limits (its own numbers, which change over time) become the budgets."""
        if self._policy.set_limits(limits, complete=complete):
            self._limiter.set_budgets(self._policy.budgets())
            _log.info(
                "rate_limits_adopted venue=%s limits=%s",
                self.name,
                ",".join(f"{limit.kind}:{limit.interval_s}s={limit.limit}" for limit in self._policy.limits),
            )

    def _on_api_response(self, response: BinanceWsApiResponse, frame: bytes | None = None) -> None:
        """One answer; ``frame`` (its bytes) is read again only for a 429/418's ``error.data``."""
        if response.rateLimits:
            self._adopt_limits(limits_from_rate_limits(response.rateLimits), complete=False)
        self._note_reported_usage(response.rateLimits)
        usages = self._policy.parse_ws_rate_limits(response.rateLimits)
        request_id = response.id
        request = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if request is not None and request.ticket is not None:
            self._limiter.complete(request.ticket, usages)
        else:
            self._limiter.observe(usages)  # an answer we gave up on still carries the venue's counts
        retry_after_s = self._on_rate_limited(response.status, frame) if response.status in (418, 429) else None
        if request is None:
            return  # answered after we gave up on it (its outcome is being resolved by query)
        if request.kind == "subscribe":
            self._on_subscribed(response)
            return
        if response.status == 200:
            if request.kind == "place":
                self._on_placed(request, response.result)
            elif request.kind == "cancel":
                self._on_canceled(response.result)
            elif request.kind == "replace":
                self._on_replaced(request, response.result)
            return
        error = response.error
        if request.kind == "replace" and error is not None and error.code in (-2021, -2022) and frame is not None:
            self._on_replace_half_failed(request, frame, error.msg)
            return
        exc = classify(
            http_status=response.status,
            code=error.code if error else None,
            message=error.msg if error else None,
            request_was_order=request.kind in ("place", "replace"),
            retry_after_s=retry_after_s,
        )
        self._on_request_failed(request, exc)

    def _on_rate_limited(self, status: int, frame: bytes | None) -> float | None:
        """A WebSocket API 429 pauses and a 418 bans the shared limiter until ``retryAfter``, as an
        HTTP 429/418 does: REST requests and further WebSocket API requests are held too."""
        data = None  # without retryAfter: the limiter's default pause
        if frame is not None:
            with contextlib.suppress(ParseError):
                data = decode_ws_api_error_data(frame)
        retry_after_s = ws_api_retry_after_s(
            data.retryAfter if data is not None else None,
            data.serverTime if data is not None else None,
            self._timestamp_ms(),
        )
        self._limiter.on_rate_limited(status, retry_after_s)
        _log.warning("ws_api_rate_limited venue=%s status=%s retry_after_s=%s", self.name, status, retry_after_s)
        return retry_after_s

    def _note_reported_usage(self, rate_limits: list[BinanceRateLimit]) -> None:
        """Every limit the venue reports, for ``rate_limit_usage`` (also those the limiter does
        not budget), valid until the end of its window."""
        now = self._clock.time_ns()
        for limit in rate_limits:
            seconds = rate_limit_window_s(limit)
            if seconds is None or limit.count is None or limit.limit <= 0:
                continue
            window_ns = seconds * _NS
            self._ws_usage[f"{limit.rateLimitType}:{seconds}"] = (
                limit.count / limit.limit,
                (now // window_ns + 1) * window_ns,
            )

    def _on_subscribed(self, response: BinanceWsApiResponse) -> None:
        if response.status != 200:
            error = response.error
            message = error.msg if error else str(response.status)
            _log.error("user_stream_subscribe_refused venue=%s error=%s", self.name, message)
            exc = classify(
                http_status=response.status,
                code=error.code if error else None,
                message=error.msg if error else None,
                request_was_order=False,
            )
            # Without the user stream no execution report arrives: try again (after fresh time
            # samples when the venue refused our timestamp), with capped backoff.
            self._spawn(self._resubscribe_after_refusal(isinstance(exc, ClockSkewError)), "user-resubscribe")
            return
        self._subscribe_refusals = 0
        restored = self._user_generation > 1 or self.stats.user_resubscribes > 0
        self.stats.user_resubscribes += 1
        self._user_subscribed.set()
        self._update_hold()
        if restored:
            self._events.on_user_stream_restored(self.name)
            self._spawn(self._resolve_open_orders(), "catch-up")

    async def _resubscribe_after_refusal(self, clock_skewed: bool) -> None:
        backoff = self.config.backoff
        delay = min(backoff.cap_s, backoff.base_s * 2**self._subscribe_refusals)
        self._subscribe_refusals += 1
        if clock_skewed:
            self._clock_skewed()
            resync = self._clock_resync
            if resync is not None:
                await asyncio.wait({resync})
        await asyncio.sleep(delay)
        if not self._user_subscribed.is_set():
            self._resubscribe_user_stream()

    def _on_placed(self, request: _Pending, result: msgspec.Raw) -> None:
        try:
            response = decode_order_response(result)
        except ParseError:
            return  # the user stream carries the same news
        if response.status != "NEW" or self._sink is None:
            return  # fills and final states come from the user stream (or a query)
        instrument = self._instruments.get(response.symbol)
        if instrument is None:
            return
        self._sink.on_execution_report(
            self.name,
            ExecutionReport(
                venue=self.name,
                symbol=response.symbol,
                client_order_id=response.clientOrderId,
                original_client_order_id=None,
                venue_order_id=response.orderId,
                side=Side(response.side or "BUY"),
                order_type=OrderType(response.type or "LIMIT"),
                time_in_force=TimeInForce(response.timeInForce)
                if response.timeInForce in ("GTC", "IOC", "FOK")
                else None,
                execution_type=ExecutionType.NEW,
                status=order_status(response.status),
                order_qty=parse_number(response.origQty or "0"),
                price=parse_number(response.price or "0"),
                cumulative_qty=0,
                cumulative_quote=0,
                reject_reason=None,
                event_time_ms=response.transactTime,
                transaction_time_ms=response.transactTime,
            ),
        )

    def _on_canceled(self, result: msgspec.Raw) -> None:
        """A cancel's success answer is news too: the order is CANCELED even if the user
        stream's event is lost (a repeated CANCELED from the stream is a no-op in the OMS)."""
        try:
            canceled = decode_canceled_order(result)
        except ParseError:
            return
        if self._sink is not None:
            self._sink.on_execution_report(self.name, queried_order_report(canceled, self.name))

    def _on_replaced(self, request: _Pending, result: msgspec.Raw) -> None:
        """Both halves of a replace went through: the cancel's answer and the order's."""
        try:
            answer = decode_cancel_replace(result)
        except ParseError:
            return  # the user stream carries the same news
        if answer.cancelResult == "SUCCESS":
            self._on_canceled(answer.cancelResponse)
        if answer.newOrderResult == "SUCCESS":
            self._on_placed(request, answer.newOrderResponse)

    def _on_replace_half_failed(self, request: _Pending, frame: bytes, message: str) -> None:
        """-2021 (one half failed) or -2022 (the cancel failed; STOP_ON_FAILURE did not attempt
        the order): ``error.data`` says which half did what. Not transactional: a half that
        succeeded stands."""
        sink = self._sink
        if sink is None:
            return
        try:
            data = decode_cancel_replace_error_data(frame)
        except ParseError:
            data = None
        if data is None:  # which half went through cannot be told: both are resolved by query
            self._request_outcome_unknown(request, f"cancel-replace failed without its data: {message}")
            return
        if data.cancelResult == "SUCCESS":
            self._on_canceled(data.cancelResponse)
        else:  # e.g. -2011 "Unknown order sent." (the order filled, or never reached the venue)
            reason = f"cancel rejected: {self._half_error(data.cancelResponse)}"
            sink.on_cancel_rejected(self.name, request.original, reason)
        if data.newOrderResult == "SUCCESS":
            self._on_placed(request, data.newOrderResponse)
        elif data.newOrderResult == "NOT_ATTEMPTED":
            self._count_reject(VenueRejectedError("cancel-replace: new order not attempted", venue_code=-2022))
            sink.on_request_rejected(self.name, request.client_order_id, "not attempted: the cancel failed")
        else:
            try:
                failure = decode_error(data.newOrderResponse)
                code: int | None = failure.code
                text = failure.msg
            except ParseError:
                code, text = None, message
            self._on_request_failed(
                _Pending("place", request.client_order_id, request.symbol, 0),
                classify(http_status=409, code=code, message=text, request_was_order=True),
            )

    @staticmethod
    def _half_error(body: msgspec.Raw) -> str:
        try:
            failure = decode_error(body)
        except ParseError:
            return "no reason given"
        return f"{failure.code} {failure.msg}"

    def _on_request_failed(self, request: _Pending, exc: Exception) -> None:
        sink = self._sink
        if sink is None:
            return
        reason = str(exc)
        if isinstance(exc, ClockSkewError):
            self._clock_skewed()
        if request.kind in ("place", "replace"):
            if isinstance(exc, OrderOutcomeUnknownError):
                self.stats.outcome_unknown += 1
                sink.on_request_unknown(self.name, request.client_order_id, reason)
            else:
                self._count_reject(exc)
                sink.on_request_rejected(self.name, request.client_order_id, reason)
        if request.kind == "cancel":
            sink.on_cancel_rejected(self.name, request.client_order_id, reason)
        elif request.kind == "replace":
            # Refused as a whole (filters and limits are checked before the cancel) or of unknown
            # outcome: the original may still be working. Its state is asked of the venue.
            sink.on_cancel_rejected(self.name, request.original, f"cancel-replace refused: {reason}")

    def _count_reject(self, exc: Exception) -> None:
        self.stats.order_rejects += 1
        code = getattr(exc, "venue_code", None)
        key = str(code) if code is not None else type(exc).__name__
        self.stats.rejects_by_reason[key] = self.stats.rejects_by_reason.get(key, 0) + 1
        self._events.on_order_rejected(self.name, key)

    # --- ExecutionGateway (non-blocking; outcomes come back through the sink) ---------------

    def _api_live(self) -> bool:
        return (
            self.config.use_ws_api_for_orders
            and self._api is not None
            and self._api.state is ConnectionState.LIVE
            and self._user_subscribed.is_set()
        )

    def _later(self, call: Callable[..., None], *args: object) -> None:
        asyncio.get_running_loop().call_soon(call, *args)

    def submit(self, command: SubmitOrder) -> None:
        sink = self._sink
        assert sink is not None, "submit before start"
        instrument = self._instruments.get(command.symbol)
        if instrument is None:
            reason = f"unknown symbol {command.symbol}"
            self._later(sink.on_request_rejected, self.name, command.client_order_id, reason)
            return
        try:
            params = order_params(command, instrument, response_type="RESULT")
        except OrderEncodingError as exc:
            self._later(sink.on_request_rejected, self.name, command.client_order_id, str(exc))
            return
        if self._api_live():
            assert self._api is not None
            request = _Pending("place", command.client_order_id, command.symbol, self._deadline())
            try:
                # Charged like the REST order it replaces, and like it never queued: refused at once
                # when the budget is exhausted or a 429/418 pause is on.
                request.ticket = self._limiter.acquire_now(self._policy.ws_weight("order.place"))
            except RateLimitedError as exc:
                self._later(self._on_request_failed, request, exc)
                return
            request_id = self._request_id()
            frame = signed_ws_request(
                self._signer, request_id, "order.place", params, timestamp_ms=self._timestamp_ms()
            )
            self._pending[request_id] = request
            try:
                self._api.send(frame)
                self.stats.orders_sent_ws += 1
                if failpoints.ARMED:
                    failpoints.hit("adapter.order_frame_written")
                return
            except ConnectionLostError:
                del self._pending[request_id]  # nothing was written: REST may carry it
                self._limiter.refund(request.ticket)
        self.stats.orders_sent_rest += 1
        self._spawn(self._rest_order("place", "POST", command.client_order_id, params), "rest-place")

    def cancel(self, command: CancelOrder) -> None:
        assert self._sink is not None, "cancel before start"
        params = cancel_params(command)
        self.stats.cancels_sent += 1
        # A cancel that cannot be charged now takes the REST path, which waits for the budget
        # (a REST cancel is never refused by the limiter: it only lowers risk).
        ticket = self._limiter.try_acquire(self._policy.ws_weight("order.cancel")) if self._api_live() else None
        if isinstance(ticket, Ticket):
            assert self._api is not None
            request_id = self._request_id()
            frame = signed_ws_request(
                self._signer, request_id, "order.cancel", params, timestamp_ms=self._timestamp_ms()
            )
            self._pending[request_id] = _Pending(
                "cancel", command.client_order_id, command.symbol, self._deadline(), ticket
            )
            try:
                self._api.send(frame)
                return
            except ConnectionLostError:
                del self._pending[request_id]
                self._limiter.refund(ticket)
        self._spawn(self._rest_order("cancel", "DELETE", command.client_order_id, params), "rest-cancel")

    def replace(self, command: ReplaceOrder) -> None:
        """Cancel ``command.original_client_order_id`` and place its successor in one
        ``order.cancelReplace`` (STOP_ON_FAILURE: never two orders working). Without a live
        WebSocket API, or for a symbol that does not allow it, a cancel and an order."""
        sink = self._sink
        assert sink is not None, "replace before start"
        instrument = self._instruments.get(command.symbol)
        if instrument is None or not instrument.cancel_replace or not self._api_live():
            self._replace_as_two(command)
            return
        try:
            params = cancel_replace_params(command, instrument, response_type="RESULT")
        except OrderEncodingError as exc:
            self.cancel(CancelOrder(command.symbol, command.original_client_order_id))  # the cancel stands alone
            self._later(sink.on_request_rejected, self.name, command.client_order_id, str(exc))
            return
        request = _Pending(
            "replace", command.client_order_id, command.symbol, self._deadline(),
            original=command.original_client_order_id,
        )
        try:
            request.ticket = self._limiter.acquire_now(self._policy.ws_weight("order.cancelReplace"))
        except RateLimitedError as exc:
            # The order half is refused as an order would be; the cancel half only lowers risk
            # and takes the cancel path (which waits for the budget).
            self.cancel(CancelOrder(command.symbol, command.original_client_order_id))
            self._later(self._on_request_failed, _Pending("place", command.client_order_id, command.symbol, 0), exc)
            return
        assert self._api is not None
        request_id = self._request_id()
        frame = signed_ws_request(
            self._signer, request_id, "order.cancelReplace", params, timestamp_ms=self._timestamp_ms()
        )
        self._pending[request_id] = request
        try:
            self._api.send(frame)
            self.stats.orders_sent_ws += 1
            self.stats.replaces_sent += 1
            if failpoints.ARMED:
                failpoints.hit("adapter.order_frame_written")
            return
        except ConnectionLostError:
            del self._pending[request_id]  # nothing was written: REST carries the two halves
            self._limiter.refund(request.ticket)
        self._replace_as_two(command)

    # --- armed orders ---------------------------------------------------------------------

    def arm(self, command: SubmitOrder, trigger_price: int) -> str | None:
        """Sign ``command``'s ``order.place`` frame now and send it the moment a depth frame of
        its symbol shows the opposite side at or through ``trigger_price`` (a BUY: an ask at or
        below it; a SELL: a bid at or above it), in sequence with the LIVE book. The frame is
        written before that depth frame is otherwise parsed (:mod:`.reflex`).

        Returns None when armed, else why it could not be (the order must then be withdrawn):
        an unknown symbol, an order the venue's filters refuse, no live WebSocket API (an armed
        order goes out on it only), or no rate-limit budget. The order's charge on the limiter
        is taken now and held (counted as in flight) until the venue answers or it is disarmed.
        """
        instrument = self._instruments.get(command.symbol)
        if instrument is None:
            return f"unknown symbol {command.symbol}"
        if trigger_price <= 0:
            return f"trigger price {trigger_price} is not positive"
        if not self._raw_stream:
            return "armed orders need the raw stream endpoint (/ws), not a combined stream (/stream)"
        if not self._api_live():
            return "the WebSocket API is not live (armed orders go out on it only)"
        try:
            params = order_params(command, instrument, response_type="RESULT")
            ticket = self._limiter.acquire_now(self._policy.ws_weight("order.place"))
        except (OrderEncodingError, RateLimitedError) as exc:
            return str(exc)
        request_id = self._request_id()
        frame = signed_ws_request(self._signer, request_id, "order.place", params, timestamp_ms=self._timestamp_ms())
        armed = _Armed(command.client_order_id, command.symbol, request_id, params, frame, ticket)
        self._reflex.arm(command.symbol, command.side is Side.BUY, trigger_price, instrument.price_scale, armed)
        self._armed[command.client_order_id] = armed
        self._reflex.set_next(command.symbol, self._next_update_id(command.symbol))
        self.stats.armed += 1
        if self._resign_task is None or self._resign_task.done():
            self._resign_task = self._spawn(self._resign_armed(), "armed-resign")
        return None

    def disarm(self, client_order_id: str) -> bool:
        """Withdraw an armed order. False when it is not armed here (it fired, or never was)."""
        armed = self._armed.pop(client_order_id, None)
        if armed is None or not self._reflex.disarm(armed):
            return False
        self._limiter.refund(armed.ticket)  # never sent: its charge is given back
        return True

    def fire_armed(self, client_order_id: str) -> bool:
        """Send an armed order now (its condition shows in the book although no frame fired it:
        the frame came while orders were held, or a snapshot brought it). False when it is not
        armed here or orders are held now (it stays armed)."""
        armed = self._armed.get(client_order_id)
        if armed is None or self._reflex.paused or not self._reflex.disarm(armed):
            return False
        self._fire((armed,), None)
        return True

    def armed_count(self) -> int:
        return self._reflex.count

    def _next_update_id(self, symbol: str) -> int:
        """The update id the LIVE book of ``symbol`` expects next; 0 when it is not LIVE."""
        syncer = self._session.syncer(symbol)
        if syncer is None or syncer.live_book() is None:
            return 0
        return syncer.last_update_id + 1

    def _fire(self, fired: tuple[object, ...], received_ns: int | None) -> None:
        """Write the fired orders' frames (the hot path: nothing before the writes), then account
        for them as for any order sent on the WebSocket API."""
        api = self._api
        sent: list[_Armed] = []
        lost: list[_Armed] = []
        for handle in fired:
            armed: _Armed = handle  # type: ignore[assignment]
            try:
                api.send(armed.frame)  # type: ignore[union-attr]
                sent.append(armed)
            except (ConnectionLostError, AttributeError):
                lost.append(armed)
        latency = None if received_ns is None else self._clock.monotonic_ns() - received_ns
        sink = self._sink
        for armed in sent:
            del self._armed[armed.client_order_id]
            self._pending[armed.request_id] = _Pending(
                "place", armed.client_order_id, armed.symbol, self._deadline(), armed.ticket
            )
            self.stats.orders_sent_ws += 1
            self.stats.armed_fired += 1
            if sink is not None:
                sink.on_armed_fired(self.name, armed.client_order_id, latency)
            if failpoints.ARMED:
                failpoints.hit("adapter.order_frame_written")
        for armed in lost:
            del self._armed[armed.client_order_id]
            self._limiter.refund(armed.ticket)
            self.stats.armed_failed += 1
            if sink is not None:
                sink.on_armed_failed(self.name, armed.client_order_id, "connection lost: the frame was not written")

    async def _resign_armed(self) -> None:
        """Every ``armed_resign_s``: a fresh ``timestamp`` and signature on every armed frame
        (the request id, client order id and every other field stay), so one that goes out is
        never older than that against the venue's ``recvWindow``."""
        interval = self.config.armed_resign_s
        while self._armed:
            await asyncio.sleep(interval)
            timestamp = self._timestamp_ms()
            for armed in list(self._armed.values()):
                armed.frame = signed_ws_request(
                    self._signer, armed.request_id, "order.place", armed.params, timestamp_ms=timestamp
                )

    def _update_hold(self) -> None:
        """Armed orders may fire only while an order could be sent: the WebSocket API and the
        user stream up, and no 429 pause or 418 ban in force."""
        self._reflex.paused = not self._api_live() or self._limiter.blocked_for_s > 0

    def _on_limiter_blocked(self, seconds: float) -> None:
        """A 429 or 418: hold armed orders until it ends (then look again: it may have grown)."""
        self._reflex.paused = True
        if self._unhold is not None:
            self._unhold.cancel()
        with contextlib.suppress(RuntimeError):  # no running loop (a synchronous test of the limiter)
            self._unhold = asyncio.get_running_loop().call_later(seconds + 0.001, self._update_hold_or_wait)

    def _update_hold_or_wait(self) -> None:
        self._unhold = None
        remaining = self._limiter.blocked_for_s
        if remaining > 0:
            self._on_limiter_blocked(remaining)
            return
        self._update_hold()

    def _replace_as_two(self, command: ReplaceOrder) -> None:
        self.cancel(CancelOrder(command.symbol, command.original_client_order_id))
        self.submit(SubmitOrder(
            command.symbol, command.client_order_id, command.side, command.order_type, command.qty, command.price,
            command.time_in_force,
        ))

    def query(self, query: OrderQuery) -> None:
        if query.client_order_id in self._queries_inflight:
            return  # its answer is on the way: one query per order at a time
        self._queries_inflight.add(query.client_order_id)
        self.stats.queries += 1
        self._spawn(self._query_and_deliver(query.symbol, query.client_order_id), "query")

    async def _rest_order(self, kind: str, method: str, client_order_id: str, params: dict[str, str]) -> None:
        request = _Pending(kind, client_order_id, params.get("symbol", ""), 0)
        try:
            body = await self._rest(method, "/api/v3/order", params, signed=True, order=kind == "place")
        except ConnectionLostError as exc:
            # Nothing reached the venue (connect failed): the order was not placed.
            self._on_request_failed(request, _NotSentError(str(exc)))
            return
        except StanchionError as exc:
            self._on_request_failed(request, exc)
            return
        if kind == "place":
            self._on_placed(request, msgspec.Raw(body))
        else:
            self._on_canceled(msgspec.Raw(body))

    # --- queries and recovery -------------------------------------------------------------

    async def _query_and_deliver(self, symbol: str, client_order_id: str) -> None:
        self._queries_inflight.add(client_order_id)
        try:
            report = await self._resolve(symbol, client_order_id)
        except StanchionError as exc:
            _log.warning(
                "order_query_failed venue=%s client_order_id=%s error=%s", self.name, client_order_id, str(exc)[:200]
            )
            return  # the engine asks again on its next tick
        finally:
            self._queries_inflight.discard(client_order_id)
        sink = self._sink
        if sink is None:
            return
        if report is None:
            sink.on_query_not_found(self.name, client_order_id)
        else:
            sink.on_execution_report(self.name, report)

    async def resolve(self, query: OrderQuery) -> ExecutionReport | None:
        """The venue's view of one order by client order id (None: unknown to the venue).

        Its missed fills, if any, are delivered to the engine first.
        """
        return await self._resolve(query.symbol, query.client_order_id)

    async def _resolve(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        try:
            body = await self._rest(
                "GET", "/api/v3/order", {"symbol": symbol, "origClientOrderId": client_order_id}, signed=True
            )
        except BinanceUnknownOrderError:
            return None
        report = queried_order_report(decode_queried_order(body), self.name)
        await self._deliver_trades(report)
        return report

    async def _deliver_trades(self, report: ExecutionReport) -> None:
        if report.cumulative_qty <= 0 or self._sink is None:
            return
        body = await self._rest(
            "GET", "/api/v3/myTrades", {"symbol": report.symbol, "orderId": str(report.venue_order_id)}, signed=True
        )
        for fill_report in trade_fill_reports(decode_trades(body), report, self.name):
            self.stats.fills_recovered += 1
            self._sink.on_execution_report(self.name, fill_report)

    async def _resolve_open_orders(self) -> None:
        """After the user stream was interrupted: every open order's state and fills, by query."""
        if self._open_orders is None:
            return
        for symbol, client_order_id in list(self._open_orders()):
            await self._query_and_deliver(symbol, client_order_id)

    async def account_snapshot(self) -> AccountSnapshot:
        """Balances (total per asset, scale 8) and our symbols' open orders, from REST.

        Open orders with executed quantity get their trades delivered to the engine
        first, so positions include fills the user stream may have missed.
        """
        balances = decode_account_balances(await self._rest("GET", "/api/v3/account", {}, signed=True))
        open_orders: dict[str, ExecutionReport] = {}
        for symbol in self._symbols:
            body = await self._rest("GET", "/api/v3/openOrders", {"symbol": symbol}, signed=True)
            for order in decode_open_orders(body):
                report = queried_order_report(order, self.name)
                await self._deliver_trades(report)
                open_orders[report.client_order_id] = report
        return AccountSnapshot(balances, open_orders)

    # --- statistics -----------------------------------------------------------------------

    def rate_limit_usage(self) -> float:
        """The highest usage ratio of any limit: the shared limiter's budgets (REST and WebSocket
        API requests, corrected by the venue's counts), and each limit the WebSocket API last
        reported (count / the venue's limit) until its window ends."""
        now = self._clock.time_ns()
        ratios = [ratio for ratio, window_end in self._ws_usage.values() if window_end > now]
        ratios.extend(self._limiter.usage_ratio().values())
        return max(ratios, default=0.0)

    def clock_offset_s(self) -> float:
        return self._offset.offset_ms / 1000

    def connection_states(self) -> dict[str, str]:
        return {
            "market_data": self._md.state.value if self._md is not None else "disconnected",
            "ws_api": self._api.state.value if self._api is not None else "disconnected",
        }

    def statistics(self) -> dict[str, object]:
        stats = {k: getattr(self.stats, k) for k in self.stats.__slots__}
        return {
            "venue": self.name,
            "adapter": stats,
            "books": self.book_states(),
            "connections": self.connection_states(),
            "market_data": self._md.statistics() if self._md is not None else {},
            "ws_api": self._api.statistics() if self._api is not None else {},
            "rest": self._http.statistics(),
            "session": self._session.statistics(),
            "clock_offset_ms": self._offset.offset_ms,
            "rate_limit_usage": self.rate_limit_usage(),
            "pending_requests": len(self._pending),
        }


class _NotSentError(StanchionError):
    """A request that never left this machine (connect failed)."""
