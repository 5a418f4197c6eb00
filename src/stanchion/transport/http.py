"""The shared HTTP client (aiohttp): one persistent session, rate-limited, signed, translated errors.

How a venue adapter uses it::

    limiter = RateLimiter(policy.budgets())          # one per process and IP, shared
    async with HttpClient(HttpConfig(base_url="https://api.binance.com", name="binance"),
                          policy=policy, limiter=limiter, signer=binance_signer) as http:
        resp = await http.request("GET", "/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "1000"})
        resp = await http.request("POST", "/api/v3/order", params=order_params, signed=True, idempotent=False)

Order of work per request: charge the budgets (wait or fail fast) → sign (after the
wait, so the timestamp is fresh for ``recvWindow``) → send → adopt the venue's usage
headers → translate.

Errors, translated at the boundary (``raise ... from``):

=====================================  ==============================  =========================
what happened                           idempotent request              non-idempotent (orders)
=====================================  ==============================  =========================
connect refused / DNS / connect timeout :class:`ConnectionLostError`    :class:`ConnectionLostError`
                                                                        (nothing was sent)
timeout after connecting                :class:`RequestTimeoutError`    :class:`OrderOutcomeUnknownError`
connection dropped mid-request          :class:`ConnectionLostError`    :class:`OrderOutcomeUnknownError`
HTTP 5xx                                :class:`HttpServerError`        :class:`OrderOutcomeUnknownError`
HTTP 429 / 418                          :class:`RateLimitedError`       :class:`RateLimitedError`
other statuses                          returned; the venue's errors module classifies the body
=====================================  ==============================  =========================

A non-idempotent request is never retried here: ``retries`` is refused for it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from yarl import URL

from stanchion.core.clock import Clock, LiveClock
from stanchion.core.errors import (
    ConfigError,
    ConnectionLostError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    RemoteRetryableError,
)
from stanchion.transport.backoff import Backoff, BackoffPolicy
from stanchion.transport.ratelimit import RateLimiter, RateLimitPolicy, Ticket, Usage

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestTimeoutError(RemoteRetryableError):
    """An idempotent request timed out; trying again is safe."""


class HttpServerError(RemoteRetryableError):
    """The venue answered 5xx to an idempotent request."""


@dataclass(frozen=True, slots=True)
class HttpConfig:
    base_url: str
    name: str = "http"
    connect_timeout_s: float = 5.0
    total_timeout_s: float = 10.0
    connections_per_host: int = 16

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"http base_url must start with http:// or https:// (got {self.base_url!r})")
        if not (0 < self.connect_timeout_s <= self.total_timeout_s):
            raise ConfigError("http: need 0 < connect_timeout_s <= total_timeout_s")


@dataclass(slots=True)
class HttpRequest:
    """A request as the signer sees it. ``query`` is already encoded and sent verbatim.

    The repr shows neither headers nor parameters: they carry keys and signatures.
    """

    method: str
    path: str
    query: str = ""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {self.path}, query={len(self.query)} chars, headers=<redacted>)"


RequestSigner = Callable[[HttpRequest], HttpRequest]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    usages: Sequence[Usage] = ()

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class HttpClient:
    """A persistent aiohttp session with the shared limiter in front of it."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        policy: RateLimitPolicy | None = None,
        limiter: RateLimiter | None = None,
        signer: RequestSigner | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._policy = policy
        self._clock = clock or LiveClock()
        self._limiter = limiter or (RateLimiter(policy.budgets(), clock=self._clock) if policy else None)
        self._signer = signer
        self._rng = rng
        self._session: aiohttp.ClientSession | None = None
        self._base = URL(config.base_url)
        self._requests = 0
        self._errors: dict[str, int] = {}

    @property
    def limiter(self) -> RateLimiter | None:
        return self._limiter

    async def __aenter__(self) -> HttpClient:
        timeout = aiohttp.ClientTimeout(
            total=self._config.total_timeout_s,
            connect=self._config.connect_timeout_s,
        )
        connector = aiohttp.TCPConnector(limit_per_host=self._config.connections_per_host)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, raise_for_status=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def statistics(self) -> dict[str, object]:
        stats: dict[str, object] = {"name": self._config.name, "requests": self._requests, "errors": dict(self._errors)}
        if self._limiter is not None:
            stats["rate_limit"] = self._limiter.statistics()
        return stats

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        signed: bool = False,
        idempotent: bool | None = None,
        wait_for_rate_limit: bool = True,
        max_rate_limit_wait_s: float | None = None,
        retries: int = 0,
    ) -> HttpResponse:
        """Send one request. ``idempotent`` defaults to True for GET/HEAD/OPTIONS only.

        ``retries`` (idempotent requests only) retries retryable transport failures
        with full-jitter backoff; rate-limit waits are governed by ``wait_for_rate_limit``.
        """
        method = method.upper()
        is_idempotent = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        if retries and not is_idempotent:
            raise ConfigError(f"{method} {path}: a non-idempotent request is never retried blindly")
        if signed and self._signer is None:
            raise ConfigError(f"{method} {path}: signed request but no signer configured")
        backoff = Backoff(BackoffPolicy(base_s=0.1, cap_s=2.0), self._rng)
        attempt = 0
        while True:
            try:
                return await self._request_once(
                    method, path, dict(params or {}), body, dict(headers or {}), signed, is_idempotent,
                    wait_for_rate_limit, max_rate_limit_wait_s,
                )  # fmt: skip
            except (ConnectionLostError, RequestTimeoutError, HttpServerError):
                if attempt >= retries:
                    raise
                attempt += 1
                await asyncio.sleep(backoff.next_delay_s())

    async def _request_once(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None,
        headers: dict[str, str],
        signed: bool,
        idempotent: bool,
        wait: bool,
        max_wait_s: float | None,
    ) -> HttpResponse:
        if self._session is None:
            raise ConfigError("HttpClient used outside `async with`")
        ticket: Ticket | None = None
        if self._limiter is not None and self._policy is not None:
            costs = self._policy.weight(method, path, params)
            ticket = await self._limiter.acquire(costs, wait=wait, max_wait_s=max_wait_s)
        # RFC 3986 percent-encoding (space -> %20): what venues sign (Binance encodes before signing).
        request = HttpRequest(method, path, urlencode(list(params.items()), quote_via=quote), body, headers)
        if signed:
            assert self._signer is not None
            request = self._signer(replace(request, headers=dict(request.headers)))
        url = self._base.join(URL(request.path + ("?" + request.query if request.query else ""), encoded=True))
        self._requests += 1
        where = f"{self._config.name} {method} {path}"
        try:
            status, resp_headers, payload = await self._send(method, url, request, where, idempotent)
        except BaseException:
            if ticket is not None and self._limiter is not None:
                self._limiter.complete(ticket)  # release the in-flight charge; no usage truth
            raise
        usages: Sequence[Usage] = self._policy.parse_usage(resp_headers) if self._policy is not None else ()
        if ticket is not None and self._limiter is not None:
            self._limiter.complete(ticket, usages)
        return self._translate(where, status, resp_headers, payload, usages, idempotent)

    async def _send(
        self, method: str, url: URL, request: HttpRequest, where: str, idempotent: bool
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        venue = self._config.name
        try:
            async with self._session.request(method, url, data=request.body, headers=request.headers) as resp:
                payload = await resp.read()
                return resp.status, dict(resp.headers.items()), payload
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            self._count("connect")
            raise ConnectionLostError(f"{where}: connect failed", venue=venue) from exc
        except aiohttp.ConnectionTimeoutError as exc:  # the connect phase timed out: nothing was sent
            self._count("connect_timeout")
            raise ConnectionLostError(f"{where}: connect timed out", venue=venue) from exc
        except TimeoutError as exc:
            self._count("timeout")
            if idempotent:
                raise RequestTimeoutError(f"{where}: timed out", venue=venue) from exc
            raise OrderOutcomeUnknownError(f"{where}: timed out after sending; outcome unknown", venue=venue) from exc
        except aiohttp.ClientError as exc:  # dropped mid-request, bad payload, reset
            self._count("dropped")
            if idempotent:
                raise ConnectionLostError(f"{where}: connection lost", venue=venue) from exc
            raise OrderOutcomeUnknownError(
                f"{where}: connection lost after sending; outcome unknown", venue=venue
            ) from exc

    def _translate(
        self,
        where: str,
        status: int,
        headers: dict[str, str],
        payload: bytes,
        usages: Sequence[Usage],
        idempotent: bool,
    ) -> HttpResponse:
        if status in (418, 429):
            retry_after = self._policy.parse_retry_after(status, headers) if self._policy else None
            if self._limiter is not None:
                self._limiter.on_rate_limited(status, retry_after)
            self._count(str(status))
            what = "IP banned" if status == 418 else "rate limited"
            raise RateLimitedError(
                f"{where}: {what} (HTTP {status})",
                retry_after=retry_after,
                venue=self._config.name,
                http_status=status,
            )
        if status >= 500:
            self._count("5xx")
            if idempotent:
                raise HttpServerError(f"{where}: HTTP {status}", venue=self._config.name, http_status=status)
            raise OrderOutcomeUnknownError(
                f"{where}: HTTP {status}; execution status unknown", venue=self._config.name, http_status=status
            )
        return HttpResponse(status, headers, payload, usages)

    def _count(self, kind: str) -> None:
        self._errors[kind] = self._errors.get(kind, 0) + 1
