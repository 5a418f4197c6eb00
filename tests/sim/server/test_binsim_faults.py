"""Each injected fault happens as specified: via the control endpoint, the Python API, or a scenario file."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from binsim_helpers import receive_json, receive_until, signed_query, wait_for, ws_signed

from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.faults import Fault

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
         "price": "45000.00"}


async def post_fault(http: aiohttp.ClientSession, sim: BinanceSimServer, fault: dict[str, object]) -> None:
    async with http.post(sim.control_url + "/faults", json=fault) as r:
        assert r.status == 200, await r.text()


async def only_connection(http: aiohttp.ClientSession, sim: BinanceSimServer) -> int:
    async with http.get(sim.control_url + "/connections") as r:
        conns = await r.json()
    assert len(conns) == 1
    return int(conns[0]["id"])


@pytest.mark.parametrize("with_frame", [True, False])
async def test_close_with_and_without_close_frame(sim: BinanceSimServer, http: aiohttp.ClientSession, with_frame: bool) -> None:
    async with http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        await receive_json(ws)
        conn_id = await only_connection(http, sim)
        await post_fault(http, sim, {"kind": "close", "connection": conn_id, "with_close_frame": with_frame})
        while True:
            msg = await ws.receive(timeout=3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
        if with_frame:
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001
        else:
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            assert ws.close_code in (None, 1006)


@pytest.mark.parametrize("answer_pings", [True, False])
async def test_silent_stall(sim: BinanceSimServer, http: aiohttp.ClientSession, answer_pings: bool) -> None:
    async with http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms", autoping=False) as ws:
        before = await receive_json(ws)
        sim.inject(Fault(kind="stall", duration_s=1.0, answer_pings=answer_pings))
        stalled_at = time.monotonic()
        await ws.ping(b"hello")
        frames: list[aiohttp.WSMessage] = []
        while True:  # collect until the first data frame after the stall
            msg = await ws.receive(timeout=3)
            frames.append(msg)
            if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["U"] > before["u"] + 1:  # type: ignore[operator]
                break
            if msg.type == aiohttp.WSMsgType.TEXT and time.monotonic() - stalled_at > 0.9:
                break
        text_times = [m for m in frames if m.type == aiohttp.WSMsgType.TEXT]
        assert time.monotonic() - stalled_at >= 0.9, "data resumed before the stall ended"
        pongs = [m for m in frames if m.type == aiohttp.WSMsgType.PONG]
        assert (pongs[0].data == b"hello") if answer_pings else not pongs
        assert text_times  # data resumes after the stall, socket still open


async def test_diff_faults_skip_duplicate_reorder(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_stream_url + "/ethusdt@depth@100ms") as ws:
        last = await receive_json(ws)
        sim.inject(Fault(kind="skip_diff", symbol="ETHUSDT"))
        event = await receive_json(ws)
        assert event["U"] > last["u"] + 1  # type: ignore[operator]  # a sequence gap
        sim.inject(Fault(kind="duplicate_diff", symbol="ETHUSDT"))
        first, second = await receive_json(ws), await receive_json(ws)
        assert first == second
        sim.inject(Fault(kind="reorder_diff", symbol="ETHUSDT"))
        a, b = await receive_json(ws), await receive_json(ws)
        assert b["u"] + 1 == a["U"]  # type: ignore[operator]  # the later diff arrived first


async def test_malformed_frame(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_stream_url + "/btcusdt@trade") as ws:
        await wait_for(lambda: len(sim.hub.connections) == 1)
        sim.inject(Fault(kind="malformed_frame"))
        msg = await ws.receive(timeout=3)
        with pytest.raises(json.JSONDecodeError):
            json.loads(msg.data)


async def test_rest_delay_5xx_and_429_storm(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    sim.inject(Fault(kind="delay", delay_ms=300))
    started = time.monotonic()
    async with http.get(sim.rest_url + "/api/v3/ping") as r:
        assert r.status == 200
    assert time.monotonic() - started >= 0.3
    sim.inject(Fault(kind="rest_5xx", status=502, count=2))
    statuses = []
    for _ in range(3):
        async with http.get(sim.rest_url + "/api/v3/time") as r:
            statuses.append(r.status)
    assert statuses == [502, 502, 200]
    sim.inject(Fault(kind="rate_limit_storm", count=3))
    statuses = []
    for _ in range(4):
        async with http.get(sim.rest_url + "/api/v3/time") as r:
            statuses.append(r.status)
            if r.status == 429:
                assert r.headers["Retry-After"] == "1" and (await r.json())["code"] == -1003
    assert statuses == [429, 429, 429, 200]


async def test_unknown_status_after_accept(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    sim.inject(Fault(kind="unknown_after_accept"))
    async with http.post(sim.rest_url + "/api/v3/order?" + signed_query({**ORDER, "newClientOrderId": "unk-1"})) as r:
        assert r.status == 503 and (await r.json())["code"] == -1007
    async with http.get(sim.rest_url + "/api/v3/order?" + signed_query({"symbol": "BTCUSDT", "origClientOrderId": "unk-1"})) as r:
        assert (await r.json())["status"] == "NEW"  # it was accepted


async def test_timeout_after_accept_rest_and_ws_api(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    sim.inject(Fault(kind="timeout_after_accept", hold_s=0.3))
    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        async with http.post(sim.rest_url + "/api/v3/order?" + signed_query({**ORDER, "newClientOrderId": "held-1"})) as r:
            await r.read()
    assert time.monotonic() - started >= 0.3
    sim.inject(Fault(kind="timeout_after_accept", hold_s=0.2))
    async with http.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str(json.dumps({"id": 1, "method": "order.place", "params": ws_signed({**ORDER, "newClientOrderId": "held-2"})}))
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    async with http.get(sim.control_url + "/accounts") as r:
        orders = {o["clientOrderId"]: o["status"] for o in (await r.json())["default"]["orders"]}
    assert orders["held-1"] == "NEW" and orders["held-2"] == "NEW"  # both accepted, neither answered


async def test_clock_skew_and_forced_reject(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    await post_fault(http, sim, {"kind": "clock_skew", "offset_ms": -20_000})
    async with http.get(sim.rest_url + "/api/v3/time") as r:
        assert abs((await r.json())["serverTime"] - (time.time() * 1000 - 20_000)) < 2000
    async with http.get(sim.rest_url + "/api/v3/account?" + signed_query({})) as r:
        assert (await r.json())["msg"] == "Timestamp for this request was 1000ms ahead of the server's time."
    await post_fault(http, sim, {"kind": "clock_skew", "offset_ms": 0})
    await post_fault(http, sim, {"kind": "force_reject", "code": -2010, "msg": "Account has insufficient balance for requested action."})
    async with http.post(sim.rest_url + "/api/v3/order?" + signed_query(ORDER)) as r:
        assert (r.status, await r.json()) == (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."})
    async with http.post(sim.rest_url + "/api/v3/order?" + signed_query(ORDER)) as r:
        assert r.status == 200


async def test_one_symbol_outage(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_base_url + "/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms") as ws:
        await receive_until(ws, lambda m: m["stream"] == "ethusdt@depth@100ms")
        last_eth = (await receive_until(ws, lambda m: m["stream"] == "ethusdt@depth@100ms"))["data"]
        sim.inject(Fault(kind="symbol_outage", symbol="ETHUSDT", duration_s=0.8))
        async with http.post(sim.rest_url + "/api/v3/order?" + signed_query({**ORDER, "symbol": "ETHUSDT", "price": "2000.00"})) as r:
            assert (await r.json()) == {"code": -2010, "msg": "Market is closed."}
        started = time.monotonic()
        btc_during = 0
        while True:
            m = await receive_json(ws)
            if m["stream"] == "ethusdt@depth@100ms":
                break
            btc_during += 1
        assert time.monotonic() - started >= 0.6 and btc_during >= 4  # ETH silent, BTC flowing
        assert m["data"]["U"] > last_eth["u"] + 1  # type: ignore[index,operator]  # the outage shows as a gap


async def test_user_stream_drop(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.rest_url + "/api/v3/userDataStream") as r:
        listen_key = (await r.json())["listenKey"]
    async with http.ws_connect(sim.ws_api_url) as api, http.ws_connect(f"{sim.ws_stream_url}/{listen_key}") as legacy:
        await api.send_str(json.dumps({"id": 1, "method": "userDataStream.subscribe.signature", "params": ws_signed({})}))
        await receive_json(api)
        await wait_for(lambda: any(c.kind == "listenKey" for c in sim.hub.connections.values()))
        await post_fault(http, sim, {"kind": "user_stream_drop", "account": "default"})
        dropped = await receive_json(api)
        assert dropped["event"]["e"] == "eventStreamTerminated"  # type: ignore[index]
        assert (await receive_json(legacy))["e"] == "eventStreamTerminated"
        assert (await legacy.receive(timeout=3)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


@pytest.fixture
async def scenario_sim(tmp_path: Path) -> AsyncIterator[BinanceSimServer]:
    path = tmp_path / "faults.yaml"
    path.write_text("faults:\n  - {kind: rest_5xx, at_s: 0.3, status: 500}\n  - {kind: skip_diff, symbol: BTCUSDT, at_update: 1}\n",
                    encoding="utf-8")
    async with BinanceSimServer(SimServerConfig(rate=50, faults_file=str(path))) as server:
        yield server


async def test_scenario_file_fires_by_time_and_update_count(scenario_sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.get(scenario_sim.rest_url + "/api/v3/ping") as r:
        assert r.status == 200  # before at_s
    await wait_for(lambda: len(scenario_sim.faults.fired) == 2, timeout=3)
    async with http.get(scenario_sim.rest_url + "/api/v3/ping") as r:
        assert r.status == 500


async def test_control_endpoint_truth_and_errors(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.control_url + "/book", params={"symbol": "BTCUSDT"}) as r:
        now = await r.json()
    async with http.get(sim.control_url + "/book", params={"symbol": "BTCUSDT", "update_id": str(now["lastUpdateId"])}) as r:
        at = await r.json()
    assert at["bids"] == now["bids"] or at["lastUpdateId"] == now["lastUpdateId"]
    async with http.get(sim.control_url + "/book", params={"symbol": "BTCUSDT", "update_id": "1"}) as r:
        assert r.status == 404
    async with http.get(sim.control_url + "/book", params={"symbol": "XX"}) as r:
        assert r.status == 400
    async with http.post(sim.control_url + "/faults", json={"kind": "meteor"}) as r:
        assert r.status == 400 and "unknown fault kind" in (await r.json())["error"]
    async with http.post(sim.control_url + "/step", params={"n": "5"}) as r:
        assert r.status == 200
    async with http.get(sim.control_url + "/faults") as r:
        assert "armed" in await r.json()
    await asyncio.sleep(0)
