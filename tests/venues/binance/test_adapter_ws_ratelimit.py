"""WebSocket API requests share the REST rate limiter: charged before sending, corrected by the
answers' ``rateLimits``, paused by a 429 and stopped by a 418 like REST (web-socket-api.md
"Rate limits": the WebSocket API and REST count against the same IP weight and order limits).

Against the simulator on loopback; the simulator's limiter stands in for other processes
behind the same IP and account (``charge_ip`` / ``charge_order``) and its ``ip_ban`` fault is a
real ban: any request sent before it ends, REST or WebSocket API, is answered 418.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest

from stanchion.core.clock import TestClock
from stanchion.core.errors import RateLimitedError
from stanchion.model.commands import CancelOrder, SubmitOrder
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import RateLimitSpec
from stanchion.sim.binance.faults import Fault
from stanchion.transport.ratelimit import Budget, RateLimiter, Usage
from stanchion.venues.binance.adapter import BinanceAdapter, BinanceRateLimitPolicy
from stanchion.venues.binance.codec import decode_ws_api_error_data, decode_ws_api_response
from stanchion.venues.binance.errors import BinanceBannedError, classify
from stanchion.venues.binance.ratelimit import Limit, limits_from_rate_limits, parse_rate_limits, ws_api_retry_after_s
from tests.venues.binance.adapter_support import Sink, make_adapter, started, until

IP = "127.0.0.1"
ACCOUNT = "default"  # the simulator's account behind its default key
WEIGHT, ORDERS_10S, ORDERS_1D = "REQUEST_WEIGHT:60", "ORDERS:10", "ORDERS:86400"
CONNECTIONS = "CONNECTIONS:300"  # connection attempts per 5 minutes per IP

# web-socket-api.md "Unfilled Order Count": a successful order.place answer.
DOC_PLACED = (
    b'{"id":"e2a85d9f-07a5-4f94-8d5f-789dc3deb097","status":200,"result":{"symbol":"BTCUSDT","orderId":12510053279,'
    b'"orderListId":-1,"clientOrderId":"a097fe6304b20a7e4fc436","transactTime":1655716096505,"price":"0.10000000",'
    b'"origQty":"10.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000",'
    b'"cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY",'
    b'"workingTime":1655716096505,"selfTradePreventionMode":"NONE"},"rateLimits":['
    b'{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":12},'
    b'{"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000,"count":4043},'
    b'{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":321}]}'
)
# web-socket-api.md "IP limits": a banned IP's answer.
DOC_BANNED = (
    b'{"id":"fc93a61a-a192-4cf4-bb2a-a8f0f0c51e06","status":418,"error":{"code":-1003,'
    b'"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for '
    b'live updates to avoid bans.","data":{"serverTime":1659142907531,"retryAfter":1659146400000}},'
    b'"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,'
    b'"count":2411}]}'
)


# --- pure: the venue's numbers and the limiter's calls ------------------------------------------


def test_the_docs_rate_limits_are_the_counts_the_rest_headers_carry() -> None:
    usage = parse_rate_limits(decode_ws_api_response(DOC_PLACED).rateLimits)
    assert usage.used_weight == {60: 321}
    assert usage.order_count == {10: 12, 86_400: 4043}
    policy = BinanceRateLimitPolicy()
    assert {(u.key, u.used) for u in policy.parse_ws_rate_limits(decode_ws_api_response(DOC_PLACED).rateLimits)} == {
        (WEIGHT, 321), (ORDERS_10S, 12), (ORDERS_1D, 4043)
    }


def test_the_docs_ban_answer_gives_its_retry_after_as_a_timestamp() -> None:
    response = decode_ws_api_response(DOC_BANNED)
    data = decode_ws_api_error_data(DOC_BANNED)
    assert data is not None and data.retryAfter == 1_659_146_400_000 and data.serverTime == 1_659_142_907_531
    wait_s = ws_api_retry_after_s(data.retryAfter, data.serverTime, now_server_ms=0)
    assert wait_s == pytest.approx(3492.469)
    # Without serverTime the wait is measured from our estimate of the venue's clock.
    assert ws_api_retry_after_s(data.retryAfter, None, now_server_ms=1_659_146_399_000) == pytest.approx(1.0)
    assert ws_api_retry_after_s(None, data.serverTime, now_server_ms=0) is None
    assert response.error is not None
    exc = classify(http_status=response.status, code=response.error.code, message=response.error.msg,
                   request_was_order=True, retry_after_s=wait_s)
    # An order answered 418 was not executed: a refusal, not an unknown outcome.
    assert isinstance(exc, BinanceBannedError) and exc.retry_after == pytest.approx(3492.469)


def test_ws_api_requests_cost_what_their_rest_twins_cost() -> None:
    policy = BinanceRateLimitPolicy()
    assert policy.ws_weight("order.place") == policy.weight("POST", "/api/v3/order", {}) == {
        WEIGHT: 1, ORDERS_10S: 1, ORDERS_1D: 1
    }
    assert policy.ws_weight("order.cancel") == policy.weight("DELETE", "/api/v3/order", {}) == {WEIGHT: 1}
    assert policy.ws_weight("userDataStream.subscribe.signature") == {WEIGHT: 2}


def test_refund_observe_and_acquire_now() -> None:
    clock = TestClock(wall_ns=1_700_000_000_000_000_000 + 5 * 10**9)  # 5 s into a fixed 60 s window
    limiter = RateLimiter([Budget("W", 10, 60)], clock=clock)
    ticket = limiter.acquire_now({"W": 4})
    limiter.refund(ticket)  # never sent: the charge is given back
    assert limiter.usage_ratio()["W"] == 0
    held = limiter.acquire_now({"W": 3})
    limiter.observe([Usage("W", 6)])  # the venue's count (another process's weight included) + ours in flight
    assert limiter.usage_ratio()["W"] == pytest.approx(0.9)
    with pytest.raises(RateLimitedError, match="budget exhausted"):
        limiter.acquire_now({"W": 2})
    limiter.complete(held, [Usage("W", 9)])
    assert limiter.usage_ratio()["W"] == pytest.approx(0.9)
    assert limiter.statistics()["local_refusals"] == 1


# --- the adapter against the simulator --------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=20, ping_interval_s=1, pong_timeout_s=30)) as server:
        yield server


def ws_adapter(sim: BinanceSimServer) -> BinanceAdapter:
    return make_adapter(sim, symbols=("BTCUSDT",), request_timeout_s=2.0, snapshot_limit=100)


@pytest.fixture
async def connected(sim: BinanceSimServer) -> AsyncIterator[tuple[BinanceAdapter, Sink]]:
    adapter = ws_adapter(sim)
    async with started(adapter) as sink:
        yield adapter, sink


def resting_buy(adapter: BinanceAdapter, cid: str) -> SubmitOrder:
    """A BUY far below the touch: it rests (NEW) without filling."""
    book = adapter.live_book("BTCUSDT")
    assert book is not None
    bid = book.best_bid_price()
    assert bid is not None
    instrument = adapter._instruments["BTCUSDT"]
    price = (bid * 9 // 10) // instrument.tick * instrument.tick
    qty = (instrument.min_notional // price // instrument.step + 2) * instrument.step
    return SubmitOrder("BTCUSDT", cid, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.GTC)


def used(adapter: BinanceAdapter) -> dict[str, int]:
    """What the shared limiter counts per budget in the current window."""
    limits = {b.key: b.limit for b in adapter.rate_limiter.budgets()}
    return {key: round(ratio * limits[key]) for key, ratio in adapter.rate_limiter.usage_ratio().items()}


def at_venue(sim: BinanceSimServer, cid: str) -> bool:
    truth = sim.exchange.account_truth(ACCOUNT)
    return any(o.client_order_id == cid for o in truth.orders)  # type: ignore[union-attr]


def rejected(sink: Sink, cid: str) -> str | None:
    return next((reason for c, reason in sink.rejected if c == cid), None)


async def clear_of_window_ends(seconds_left: float) -> None:
    """Wait until the 10 s and the minute windows have ``seconds_left`` before they roll over (the
    venue and the limiter reset their counts there; a day ends on a minute boundary too)."""
    await until(lambda: time.time() % 10 < 10 - seconds_left and time.time() % 60 < 60 - seconds_left, 12.0)


async def test_a_ws_api_order_and_cancel_are_charged_before_they_are_sent(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    await clear_of_window_ends(3.0)
    before = used(adapter)
    adapter.submit(resting_buy(adapter, "wsrl-charge-1"))  # synchronous: charged before the frame is written
    after = used(adapter)
    assert adapter.stats.orders_sent_ws == 1 and adapter.stats.orders_sent_rest == 0
    assert after[WEIGHT] == before[WEIGHT] + 1
    assert after[ORDERS_10S] == before[ORDERS_10S] + 1
    assert after[ORDERS_1D] == before[ORDERS_1D] + 1
    await until(lambda: OrderStatus.NEW in sink.statuses("wsrl-charge-1"))
    before = used(adapter)
    adapter.cancel(CancelOrder("BTCUSDT", "wsrl-charge-1"))
    after = used(adapter)
    assert after[WEIGHT] == before[WEIGHT] + 1 and after[ORDERS_10S] == before[ORDERS_10S]
    await until(lambda: OrderStatus.CANCELED in sink.statuses("wsrl-charge-1"))
    assert adapter.rate_limiter.statistics()["local_refusals"] == 0


async def test_the_answers_counts_are_adopted_and_an_exhausted_budget_refuses_the_next_order(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    await clear_of_window_ends(5.0)
    # The simulator publishes Binance's production limits (100 orders per 10 s), which the
    # adapter budgets. Another process behind the same IP and account: 4000 weight and 89
    # orders the adapter never saw.
    assert {b.key: b.limit for b in adapter.rate_limiter.budgets()}[ORDERS_10S] == 100
    sim.limiter.charge_ip(IP, 4000, sim.now_ms())
    for _ in range(89):
        sim.limiter.charge_order(ACCOUNT, sim.now_ms())
    assert used(adapter)[ORDERS_10S] == 0
    adapter.submit(resting_buy(adapter, "wsrl-adopt-1"))
    await until(lambda: OrderStatus.NEW in sink.statuses("wsrl-adopt-1"))
    counts = used(adapter)
    assert counts[ORDERS_10S] == 90 and counts[ORDERS_1D] == 90  # the venue's count replaced ours (1)
    assert counts[WEIGHT] >= 4001
    # The highest ratio: 90 of the 100 orders per 10 s the limiter budgets.
    assert adapter.rate_limit_usage() == pytest.approx(90 / 100)
    # 90 is the budget's allowance (90 % of 100): the next order is refused here, never sent.
    adapter.submit(resting_buy(adapter, "wsrl-adopt-2"))
    await until(lambda: rejected(sink, "wsrl-adopt-2") is not None)
    assert "budget exhausted" in (rejected(sink, "wsrl-adopt-2") or "")
    assert not at_venue(sim, "wsrl-adopt-2") and adapter.stats.orders_sent_ws == 1
    assert sink.unknown == []


async def test_a_ws_api_429_pauses_rest_and_ws_api_requests_until_retry_after(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    limiter = adapter.rate_limiter
    sim.inject(Fault("ws_api_rate_limit_storm", count=1, duration_s=1.5))
    adapter.submit(resting_buy(adapter, "wsrl-429-1"))
    await until(lambda: rejected(sink, "wsrl-429-1") is not None)
    paused_until = time.monotonic() + limiter.blocked_for_s
    assert limiter.statistics()["blocked_status"] == 429 and not limiter.banned
    assert 1.0 < limiter.blocked_for_s <= 1.5  # the answer's retryAfter, not the 60 s default
    assert "-1003" in (rejected(sink, "wsrl-429-1") or "") and sink.unknown == []  # refused, not unknown
    assert not at_venue(sim, "wsrl-429-1")
    # A further WebSocket API order is refused here during the pause: it never reaches the venue.
    adapter.submit(resting_buy(adapter, "wsrl-429-2"))
    await until(lambda: rejected(sink, "wsrl-429-2") is not None)
    assert "paused after 429" in (rejected(sink, "wsrl-429-2") or "")
    assert not at_venue(sim, "wsrl-429-2") and adapter.stats.orders_sent_ws == 1
    # A REST request waits for the pause to end before it is sent.
    await adapter.sync_clock(samples=1)
    assert time.monotonic() >= paused_until - 0.02
    # Then orders flow again.
    adapter.submit(resting_buy(adapter, "wsrl-429-3"))
    await until(lambda: OrderStatus.NEW in sink.statuses("wsrl-429-3"))
    assert limiter.statistics()["rate_limited_total"] == 1


async def test_a_ws_api_418_stops_every_request_until_the_ban_ends(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    limiter = adapter.rate_limiter
    adapter.submit(resting_buy(adapter, "wsrl-418-rest"))
    await until(lambda: OrderStatus.NEW in sink.statuses("wsrl-418-rest"))
    venue_ban_ends = time.monotonic() + 1.5
    sim.inject(Fault("ip_ban", duration_s=1.5))
    adapter.submit(resting_buy(adapter, "wsrl-418-1"))  # the request that meets the ban
    await until(lambda: rejected(sink, "wsrl-418-1") is not None)
    assert limiter.banned
    ban_ends = time.monotonic() + limiter.blocked_for_s
    # The limiter's ban ends when the venue's does (retryAfter read as a timestamp, not a delay).
    assert ban_ends == pytest.approx(venue_ban_ends, abs=0.25)
    assert "banned" in (rejected(sink, "wsrl-418-1") or "") and sink.unknown == []  # refused, not unknown
    # During the ban: a WebSocket API order is refused here, a cancel waits (over REST) ...
    adapter.submit(resting_buy(adapter, "wsrl-418-2"))
    await until(lambda: rejected(sink, "wsrl-418-2") is not None)
    assert "banned (418)" in (rejected(sink, "wsrl-418-2") or "")
    adapter.cancel(CancelOrder("BTCUSDT", "wsrl-418-rest"))
    # ... and REST reads wait too. The venue answers 418 to anything sent before the ban ends, so
    # this succeeds only because nothing was sent early.
    snapshot = await adapter.account_snapshot()
    assert time.monotonic() >= ban_ends - 0.02
    assert "BTC" in snapshot.balances or "USDT" in snapshot.balances
    await until(lambda: OrderStatus.CANCELED in sink.statuses("wsrl-418-rest"))
    assert sink.cancel_rejected == []
    assert not at_venue(sim, "wsrl-418-1") and not at_venue(sim, "wsrl-418-2")
    assert limiter.statistics()["banned_total"] == 1 and not limiter.banned


async def test_a_429_answer_to_the_user_stream_subscribe_is_retried_after_the_pause(sim: BinanceSimServer) -> None:
    sim.inject(Fault("ws_api_rate_limit_storm", count=1, duration_s=1.0))  # the first WS API request: subscribe
    adapter = ws_adapter(sim)
    started = time.monotonic()
    try:
        await adapter.start(Sink())
        assert time.monotonic() - started >= 1.0  # the subscribe was sent again only after retryAfter
        assert adapter.rate_limiter.statistics()["rate_limited_total"] == 1
        assert adapter._api_live()
    finally:
        await adapter.stop()


# --- the simulator's wire format -----------------------------------------------------------------


async def test_the_simulator_answers_429_and_418_on_the_ws_api_in_binances_format(sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        sim.inject(Fault("ws_api_rate_limit_storm", count=1, duration_s=1.5))
        await ws.send_str('{"id":1,"method":"ping"}')
        limited = msgspec.json.decode((await ws.receive(timeout=5)).data)
        assert limited["status"] == 429 and limited["error"]["code"] == -1003
        data = limited["error"]["data"]
        assert set(data) == {"serverTime", "retryAfter"}
        assert 1400 <= data["retryAfter"] - data["serverTime"] <= 1500  # a timestamp on the venue's clock
        assert limited["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"

        sim.inject(Fault("ip_ban", duration_s=2.0))
        await ws.send_str('{"id":2,"method":"ping"}')
        banned = msgspec.json.decode((await ws.receive(timeout=5)).data)
        assert banned["status"] == 418 and banned["error"]["code"] == -1003
        until_ms = banned["error"]["data"]["retryAfter"]
        assert f"IP banned until {until_ms}." in banned["error"]["msg"]
        assert 1500 <= until_ms - banned["error"]["data"]["serverTime"] <= 2000
        # The ban is timed on the simulator's monotonic clock: a venue clock step does not stretch it.
        sim.inject(Fault("clock_skew", offset_ms=-6500))
        await ws.send_str('{"id":3,"method":"ping"}')
        stepped = msgspec.json.decode((await ws.receive(timeout=5)).data)
        assert stepped["status"] == 418
        assert 0 < stepped["error"]["data"]["retryAfter"] - stepped["error"]["data"]["serverTime"] <= 2000
        sim.inject(Fault("clock_skew", offset_ms=0))
        # The ban is the IP's: REST is refused too, with Retry-After in seconds.
        async with http.get(sim.rest_url + "/api/v3/ping") as response:
            assert response.status == 418 and 1 <= int(response.headers["Retry-After"]) <= 3


# --- connection attempts: budgeted, and held during a ban ---------------------------------------


def test_a_connection_attempt_costs_one_of_300_per_5_minutes_and_the_ws_api_2_weight() -> None:
    policy = BinanceRateLimitPolicy()
    assert policy.connect_costs(ws_api=False) == {CONNECTIONS: 1}
    assert policy.connect_costs(ws_api=True) == {CONNECTIONS: 1, WEIGHT: 2}
    assert {b.key: (b.limit, b.interval_s) for b in policy.budgets()}[CONNECTIONS] == (300, 300.0)


async def test_starting_charges_both_connections_and_the_ws_api_connect_weight(sim: BinanceSimServer) -> None:
    adapter = ws_adapter(sim)
    async with started(adapter):
        assert used(adapter)[CONNECTIONS] == 2  # the market-data link and the WebSocket API link
        assert adapter.rate_limiter.statistics()["local_refusals"] == 0


async def _relinked(adapter: BinanceAdapter) -> None:
    """Wait until both links are back: the WebSocket API live, the book LIVE again."""
    await until(lambda: adapter._api_live() and adapter.live_book("BTCUSDT") is not None, 15.0)


async def test_a_known_ban_holds_every_reconnect_until_it_ends(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, sink = connected
    sim.inject(Fault("ip_ban", duration_s=2.0))
    adapter.submit(resting_buy(adapter, "wsrl-ban-rc"))  # meets the ban: the limiter learns it
    await until(lambda: rejected(sink, "wsrl-ban-rc") is not None)
    ban_ends = time.monotonic() + adapter.rate_limiter.blocked_for_s
    sim.inject(Fault("close"))  # both links drop mid-ban
    await until(lambda: not adapter._api_live(), 5.0)
    await _relinked(adapter)
    assert time.monotonic() >= ban_ends - 0.05  # nobody knocked before the ban ended ...
    assert sim.statistics()["handshakes_refused_banned"] == 0  # ... as the venue saw it


async def test_a_ban_first_heard_of_at_the_handshake_holds_the_other_attempts(
    connected: tuple[BinanceAdapter, Sink], sim: BinanceSimServer
) -> None:
    adapter, _sink = connected
    limiter = adapter.rate_limiter
    started_at = time.monotonic()
    sim.inject(Fault("ip_ban", duration_s=2.0))
    sim.inject(Fault("close"))  # the links drop before any request told the adapter of the ban
    await until(lambda: limiter.banned, 5.0)  # the refused upgrade's 418 and Retry-After
    await _relinked(adapter)
    assert time.monotonic() - started_at >= 2.0 - 0.05
    # One refused attempt per link at most; then the limiter held them (the backoff alone would
    # have knocked again within the ban: its first delays are well under 2 s).
    assert 1 <= sim.statistics()["handshakes_refused_banned"] <= 2  # type: ignore[operator]
    assert limiter.statistics()["banned_total"] >= 1


# --- the venue's limits, not only its counts ----------------------------------------------------


def test_the_policy_adopts_the_venues_limits_whole_from_exchange_info_and_per_entry_from_answers() -> None:
    policy = BinanceRateLimitPolicy()
    assert policy.set_limits(limits_from_rate_limits(decode_ws_api_response(DOC_PLACED).rateLimits)) is False
    lower = (Limit("REQUEST_WEIGHT", 60, 1200), Limit("ORDERS", 10, 7), Limit("RAW_REQUESTS", 300, 61000))
    assert policy.set_limits(lower) is True  # exchangeInfo: the whole list (RAW_REQUESTS is not budgeted)
    # The connection-attempt limit is documented, not listed: it stays whatever the venue lists.
    assert {b.key: b.limit for b in policy.budgets()} == {WEIGHT: 1200, ORDERS_10S: 7, CONNECTIONS: 300}
    # A WebSocket API answer lists only what its request counts against: the rest is kept.
    assert policy.set_limits((Limit("REQUEST_WEIGHT", 60, 3000),), complete=False) is True
    assert {b.key: b.limit for b in policy.budgets()} == {WEIGHT: 3000, ORDERS_10S: 7, CONNECTIONS: 300}
    assert policy.set_limits((), complete=True) is False  # a body without rateLimits changes nothing
    assert policy.ws_weight("order.place") == {WEIGHT: 1, ORDERS_10S: 1}  # no 1-day budget any more


def test_the_limiter_keeps_a_windows_count_under_a_new_limit_and_drops_what_the_venue_no_longer_lists() -> None:
    clock = TestClock(wall_ns=1_700_000_000 * 10**9)
    limiter = RateLimiter(BinanceRateLimitPolicy().budgets(), clock=clock)
    ticket = limiter.acquire_now({WEIGHT: 40, ORDERS_10S: 3, ORDERS_1D: 3})
    limiter.complete(ticket)
    limiter.set_budgets([Budget(WEIGHT, 100, 60.0, 1.0), Budget(ORDERS_10S, 5, 10.0, 1.0)])
    assert limiter.usage_ratio() == {WEIGHT: pytest.approx(0.4), ORDERS_10S: pytest.approx(0.6)}
    limiter.acquire_now({WEIGHT: 60, ORDERS_10S: 2})
    with pytest.raises(RateLimitedError, match="budget exhausted"):
        limiter.acquire_now({WEIGHT: 1})


async def test_the_adapter_budgets_the_limits_the_venue_publishes() -> None:
    limits = (
        RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 1200),
        RateLimitSpec("ORDERS", "SECOND", 10, 10),
        RateLimitSpec("ORDERS", "DAY", 1, 1000),
    )
    async with BinanceSimServer(SimServerConfig(rate=20, rate_limits=limits)) as venue:
        adapter = ws_adapter(venue)
        async with started(adapter) as sink:  # exchangeInfo first: its rateLimits become the budgets
            assert {b.key: b.limit for b in adapter.rate_limiter.budgets()} == {
                WEIGHT: 1200, ORDERS_10S: 10, ORDERS_1D: 1000, CONNECTIONS: 300
            }
            await clear_of_window_ends(5.0)
            # 90 % of 10 orders per 10 s: the tenth order in the window is refused here, never sent.
            cids = [f"wsrl-limits-{i}" for i in range(10)]
            for cid in cids:
                adapter.submit(resting_buy(adapter, cid))
            await until(lambda: all(sink.statuses(c) or rejected(sink, c) for c in cids))
            refused = [c for c in cids if rejected(sink, c)]
            assert refused == cids[9:], refused
            assert "budget exhausted" in (rejected(sink, cids[9]) or "")
            assert not at_venue(venue, cids[9])
            assert adapter.rate_limit_usage() == pytest.approx(9 / 10)
