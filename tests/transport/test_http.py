"""HTTP client + shared rate limiter against a loopback aiohttp server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from stanchion.core.clock import TestClock
from stanchion.core.errors import ConfigError, ConnectionLostError, OrderOutcomeUnknownError, RateLimitedError
from stanchion.transport.http import (
    HttpClient,
    HttpConfig,
    HttpRequest,
    HttpServerError,
    RequestTimeoutError,
)
from stanchion.transport.ratelimit import Budget, RateLimiter, Usage, parse_retry_after_seconds

WEIGHT = "REQUEST_WEIGHT:1M"
ORDERS = "ORDERS:10S"


class TestPolicy:
    """A Binance-shaped policy: weight per endpoint, usage from X-MBX-* headers."""

    __test__ = False

    def __init__(self, weight_limit: int = 1200) -> None:
        self.weight_limit = weight_limit

    def budgets(self) -> Sequence[Budget]:
        return [Budget(WEIGHT, self.weight_limit, 60.0), Budget(ORDERS, 50, 10.0)]

    def weight(self, method: str, path: str, params: Mapping[str, str]) -> Mapping[str, int]:
        if path == "/api/v3/order" and method == "POST":
            return {WEIGHT: 1, ORDERS: 1}
        if path == "/api/v3/depth":
            return {WEIGHT: 50}
        return {WEIGHT: 1}

    def parse_usage(self, headers: Mapping[str, str]) -> Sequence[Usage]:
        out = []
        if "X-MBX-USED-WEIGHT-1M" in headers:
            out.append(Usage(WEIGHT, int(headers["X-MBX-USED-WEIGHT-1M"])))
        if "X-MBX-ORDER-COUNT-10S" in headers:
            out.append(Usage(ORDERS, int(headers["X-MBX-ORDER-COUNT-10S"])))
        return out

    def parse_retry_after(self, status: int, headers: Mapping[str, str]) -> float | None:
        return parse_retry_after_seconds(headers)


@dataclass
class Venue:
    """Scripted responses per path; counts every request that reached it."""

    url: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    script: dict[str, web.Response | str] = field(default_factory=dict)
    seen: list[web.Request] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    used_weight: int = 0


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    state = Venue()

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        state.counts[path] = state.counts.get(path, 0) + 1
        state.seen.append(request)
        await request.read()
        action = state.script.get(path, "ok")
        if action == "hang":
            async with asyncio.timeout(5):
                await state.release.wait()
        if action == "drop":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0)
        if isinstance(action, web.Response):
            return action
        state.used_weight += 50 if path == "/api/v3/depth" else 1  # the venue's own accounting
        return web.json_response({"ok": True}, headers={"X-MBX-USED-WEIGHT-1M": str(state.used_weight)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


class FakeTime:
    """A TestClock plus a sleep that advances it: rate-limit waits without wall time."""

    def __init__(self) -> None:
        self.clock = TestClock(wall_ns=1_700_000_000_000_000_000)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance_seconds(seconds)
        await asyncio.sleep(0)


def _client(venue: Venue, limiter: RateLimiter | None = None, **config: object) -> HttpClient:
    policy = TestPolicy()
    return HttpClient(
        HttpConfig(base_url=venue.url, name="test", **config),  # type: ignore[arg-type]
        policy=policy,
        limiter=limiter or RateLimiter(policy.budgets()),
    )


async def test_usage_headers_are_the_truth(venue: Venue) -> None:
    venue.used_weight = 599  # other processes on this IP already used weight
    async with _client(venue) as http:
        resp = await http.request("GET", "/api/v3/ping")
        assert resp.status == 200 and resp.json() == {"ok": True}
        assert resp.usages == [Usage(WEIGHT, 600)]
        assert http.limiter is not None
        assert http.limiter.usage_ratio()[WEIGHT] == pytest.approx(0.5)


async def test_429_honours_retry_after_for_every_request(venue: Venue) -> None:
    fake = FakeTime()
    venue.script["/api/v3/depth"] = web.Response(status=429, headers={"Retry-After": "7"})
    limiter = RateLimiter(TestPolicy().budgets(), clock=fake.clock, sleep=fake.sleep)
    async with _client(venue, limiter) as http:
        with pytest.raises(RateLimitedError) as caught:
            await http.request("GET", "/api/v3/depth")
        assert caught.value.retry_after == 7.0 and caught.value.http_status == 429
        # fail fast: not sent at all
        with pytest.raises(RateLimitedError) as fast:
            await http.request("GET", "/api/v3/ping", wait_for_rate_limit=False)
        assert fast.value.retry_after == pytest.approx(7.0)
        assert venue.counts.get("/api/v3/ping", 0) == 0
        # wait: sent only after Retry-After has passed
        resp = await http.request("GET", "/api/v3/ping")
        assert resp.status == 200
        assert sum(fake.slept) >= 7.0
        assert venue.counts["/api/v3/ping"] == 1


async def test_418_ban_blocks_all_requests_until_it_ends(venue: Venue) -> None:
    fake = FakeTime()
    venue.script["/api/v3/order"] = web.Response(status=418, headers={"Retry-After": "120"})
    limiter = RateLimiter(TestPolicy().budgets(), clock=fake.clock, sleep=fake.sleep)
    async with _client(venue, limiter) as http:
        with pytest.raises(RateLimitedError) as caught:
            await http.request("POST", "/api/v3/order", idempotent=False)
        assert caught.value.http_status == 418
        assert limiter.banned
        for path in ("/api/v3/ping", "/api/v3/depth", "/api/v3/account"):
            with pytest.raises(RateLimitedError, match="banned") as blocked:
                await http.request("GET", path, wait_for_rate_limit=False)
            assert blocked.value.http_status == 418
        with pytest.raises(RateLimitedError):  # a wait bound shorter than the ban: refused
            await http.request("GET", "/api/v3/ping", max_rate_limit_wait_s=60)
        assert set(venue.counts) == {"/api/v3/order"}  # nothing else reached the venue
        fake.clock.advance_seconds(119)
        assert limiter.banned
        resp = await http.request("GET", "/api/v3/ping")  # waits out the last second
        assert resp.status == 200
        assert not limiter.banned
        assert fake.slept and fake.slept[-1] == pytest.approx(1.0)


async def test_local_budget_is_charged_before_sending(venue: Venue) -> None:
    fake = FakeTime()
    policy = TestPolicy(weight_limit=120)
    limiter = RateLimiter(policy.budgets(), clock=fake.clock, sleep=fake.sleep)
    async with HttpClient(HttpConfig(base_url=venue.url), policy=policy, limiter=limiter) as http:
        await http.request("GET", "/api/v3/depth")  # 50
        await http.request("GET", "/api/v3/depth")  # 100
        with pytest.raises(RateLimitedError, match="budget exhausted"):
            await http.request("GET", "/api/v3/depth", wait_for_rate_limit=False)
        assert venue.counts["/api/v3/depth"] == 2
        await http.request("GET", "/api/v3/depth")  # waits for the next minute window
        assert 0 < fake.slept[-1] <= 60


async def test_non_idempotent_timeout_is_outcome_unknown_and_not_retried(venue: Venue) -> None:
    venue.script["/api/v3/order"] = "hang"
    fake = FakeTime()  # fixed wall time: no window boundary between charge and check
    limiter = RateLimiter(TestPolicy().budgets(), clock=fake.clock, sleep=fake.sleep)
    async with _client(venue, limiter, connect_timeout_s=0.2, total_timeout_s=0.3) as http:
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await http.request("POST", "/api/v3/order", params={"symbol": "BTCUSDT"}, idempotent=False)
        assert caught.value.outcome_unknown
        assert isinstance(caught.value.__cause__, TimeoutError)
        assert venue.counts["/api/v3/order"] == 1
        with pytest.raises(ConfigError, match="never retried"):
            await http.request("POST", "/api/v3/order", idempotent=False, retries=3)
        assert venue.counts["/api/v3/order"] == 1
        assert http.limiter is not None and http.limiter.usage_ratio()[ORDERS] == pytest.approx(1 / 50)


async def test_idempotent_timeout_is_retryable_and_retried_when_asked(venue: Venue) -> None:
    venue.script["/api/v3/depth"] = "hang"
    async with _client(venue, connect_timeout_s=0.1, total_timeout_s=0.15) as http:
        with pytest.raises(RequestTimeoutError) as caught:
            await http.request("GET", "/api/v3/depth", retries=2)
        assert caught.value.retryable
        assert venue.counts["/api/v3/depth"] == 3


async def test_5xx_and_dropped_connection_by_idempotency(venue: Venue) -> None:
    venue.script["/api/v3/order"] = web.Response(status=503, text="busy")
    venue.script["/api/v3/depth"] = web.Response(status=502)
    venue.script["/api/v3/openOrders"] = "drop"
    async with _client(venue) as http:
        with pytest.raises(OrderOutcomeUnknownError) as unknown:
            await http.request("POST", "/api/v3/order", idempotent=False)
        assert unknown.value.http_status == 503
        with pytest.raises(HttpServerError):
            await http.request("GET", "/api/v3/depth")
        with pytest.raises(OrderOutcomeUnknownError, match="connection lost"):
            await http.request("DELETE", "/api/v3/openOrders")  # not marked idempotent
        with pytest.raises(ConnectionLostError):
            await http.request("GET", "/api/v3/openOrders")
        # a 4xx is returned for the venue's error module to classify
        venue.script["/api/v3/order"] = web.json_response({"code": -2010, "msg": "rejected"}, status=400)
        resp = await http.request("POST", "/api/v3/order", idempotent=False)
        assert resp.status == 400 and resp.json()["code"] == -2010


async def test_connect_refused_is_connection_lost_even_for_orders() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with HttpClient(HttpConfig(base_url=f"http://127.0.0.1:{port}")) as http:
        with pytest.raises(ConnectionLostError) as caught:
            await http.request("POST", "/api/v3/order", idempotent=False)
        assert caught.value.retryable  # nothing was sent


async def test_signer_runs_after_rate_limit_and_secrets_stay_out_of_repr(venue: Venue) -> None:
    signed: list[str] = []

    def signer(request: HttpRequest) -> HttpRequest:
        request.query = f"{request.query}&signature=deadbeef"
        request.headers["X-MBX-APIKEY"] = "secret-key"
        signed.append(repr(request))
        return request

    policy = TestPolicy()
    async with HttpClient(HttpConfig(base_url=venue.url), policy=policy, signer=signer) as http:
        await http.request("POST", "/api/v3/order", params={"symbol": "BTC USDT", "side": "BUY"}, signed=True)
    seen = venue.seen[-1]
    assert seen.raw_path == "/api/v3/order?symbol=BTC%20USDT&side=BUY&signature=deadbeef"  # sent verbatim
    assert seen.headers["X-MBX-APIKEY"] == "secret-key"
    assert "secret-key" not in signed[0] and "deadbeef" not in signed[0]


def test_config_and_budget_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="http://"):
        HttpConfig(base_url="ftp://x")
    with pytest.raises(ConfigError, match="REQUEST_WEIGHT"):
        Budget("REQUEST_WEIGHT", 0, 60)
    limiter = RateLimiter([Budget("W", 10, 60)])
    with pytest.raises(ConfigError, match="never fit"):
        limiter.try_acquire({"W": 11})
    assert parse_retry_after_seconds({"retry-after": "abc"}) is None
    assert parse_retry_after_seconds({"Retry-After": " 3 "}) == 3.0


def test_late_429_never_shortens_or_downgrades_a_ban() -> None:
    fake = FakeTime()
    limiter = RateLimiter([Budget("W", 10, 60)], clock=fake.clock, sleep=fake.sleep)
    limiter.on_rate_limited(418, 120)
    limiter.on_rate_limited(429, 5)  # an answer to a request that was already in flight
    assert limiter.banned and limiter.blocked_for_s == pytest.approx(120)
    fake.clock.advance_seconds(121)
    assert not limiter.banned and limiter.blocked_for_s == 0
    limiter.on_rate_limited(429, None)  # no Retry-After: the default pause
    assert not limiter.banned and limiter.blocked_for_s == pytest.approx(60)
    assert limiter.statistics()["blocked_status"] == 429
