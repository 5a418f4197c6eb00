"""WebSocket streams and WebSocket API: control messages, stream shapes, connection rules, user data."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from binsim_helpers import receive_json, receive_until, signed_query, wait_for, ws_signed
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stanchion.sim.binance import BinanceSimServer, KeySpec, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

EXECUTION_REPORT_KEYS = set(["e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i", "l", "z", "L", "n", "N", "T", "t", "v", "I", "w", "m", "M", "O", "Z", "Y", "Q", "W", "V"])


async def test_stream_control_messages(sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_stream_url) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": 1}))
        assert await receive_until(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await receive_until(ws, lambda m: m.get("id") == 2) == {"result": ["btcusdt@trade", "ethusdt@depth"], "id": 2}
        await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@depth"], "id": "abc-3"}))
        assert await receive_until(ws, lambda m: m.get("id") == "abc-3") == {"result": None, "id": "abc-3"}
        await ws.send_str(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 4}))
        await receive_until(ws, lambda m: m.get("id") == 4)
        await ws.send_str(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 5}))
        assert await receive_until(ws, lambda m: m.get("id") == 5) == {"result": True, "id": 5}


async def test_stream_control_errors(sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_stream_url) as ws:
        await ws.send_str("{not json")
        reply = await receive_json(ws)
        assert reply["error"]["code"] == 3 and reply["error"]["msg"].startswith("Invalid JSON")  # type: ignore[index]
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["nopeusdt@trade"], "id": 7}))
        assert await receive_json(ws) == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 7}
        await ws.send_str(json.dumps({"method": "FLY", "id": 8}))
        assert (await receive_json(ws))["error"]["code"] == 2  # type: ignore[index]
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [], "id": -1}))
        assert (await receive_json(ws))["error"] == {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        await ws.send_str(json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9}))
        assert (await receive_json(ws))["error"] == {"code": 1, "msg": "Invalid value type: expected Boolean"}


async def test_combined_streams_partial_depth_book_ticker_and_trades(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    url = sim.ws_base_url + "/stream?streams=btcusdt@depth5@100ms/btcusdt@bookTicker/btcusdt@trade/btcusdt@aggTrade"
    async with http.ws_connect(url) as ws:
        partial = await receive_until(ws, lambda m: m.get("stream") == "btcusdt@depth5@100ms")
        assert set(partial["data"]) == {"lastUpdateId", "bids", "asks"} and len(partial["data"]["bids"]) == 5  # type: ignore[index,arg-type]
        ticker = await receive_until(ws, lambda m: m.get("stream") == "btcusdt@bookTicker")
        assert set(ticker["data"]) == {"u", "s", "b", "B", "a", "A"}  # type: ignore[arg-type]
        async with http.post(sim.rest_url + "/api/v3/order?" + signed_query(
                {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.002"})) as r:
            assert r.status == 200
        trade = await receive_until(ws, lambda m: m.get("stream") == "btcusdt@trade")
        assert trade["data"]["e"] == "trade" and trade["data"]["m"] is True  # type: ignore[index]
        agg = await receive_until(ws, lambda m: m.get("stream") == "btcusdt@aggTrade")
        assert agg["data"]["e"] == "aggTrade" and "a" in agg["data"]  # type: ignore[index,operator]


async def test_raw_depth_stream_is_continuous(sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_stream_url + "/ethusdt@depth@100ms") as ws:
        previous = await receive_json(ws)
        assert previous["e"] == "depthUpdate" and previous["s"] == "ETHUSDT"
        for _ in range(5):
            event = await receive_json(ws)
            assert event["U"] == previous["u"] + 1  # type: ignore[operator]
            previous = event


@pytest.fixture
async def strict_sim() -> AsyncIterator[BinanceSimServer]:
    config = SimServerConfig(rate=0, ping_interval_s=0.2, pong_timeout_s=0.8, connection_lifetime_s=1.5,
                             ws_incoming_per_s=5)
    async with BinanceSimServer(config) as server:
        yield server


async def test_server_pings_and_drops_a_client_whose_pongs_stop(strict_sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(strict_sim.ws_stream_url + "/btcusdt@trade", autoping=False) as ws:
            started = time.monotonic()
            ping = await ws.receive(timeout=2)
            assert ping.type == aiohttp.WSMsgType.PING and ping.data.isdigit()
            while True:  # never answer: the server must close within the pong timeout (+ one keeper tick)
                msg = await ws.receive(timeout=3)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
            assert 0.7 < time.monotonic() - started < 1.5
        async with http.ws_connect(strict_sim.ws_stream_url + "/btcusdt@trade", autoping=True) as ws:
            # Answering pings keeps the connection past the pong timeout, until the lifetime ends it with serverShutdown.
            shutdown = await receive_json(ws, timeout=3)
            assert shutdown["e"] == "serverShutdown"
            assert time.monotonic() - started > 1.0
            closing = await ws.receive(timeout=3)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_unsolicited_pongs_do_not_keep_a_connection_alive(strict_sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(strict_sim.ws_stream_url + "/btcusdt@trade", autoping=False) as ws:
        started = time.monotonic()
        while True:  # answer every ping with an empty (wrong-payload) pong: still disconnected
            msg = await ws.receive(timeout=3)
            if msg.type == aiohttp.WSMsgType.PING:
                await ws.pong(b"")
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert time.monotonic() - started < 1.5


async def test_connection_attempts_per_ip_are_limited() -> None:
    async with BinanceSimServer(SimServerConfig(rate=0, ws_connections_per_5min=2)) as sim, \
            aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.ws_connect(sim.ws_stream_url):
                pass
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(sim.ws_stream_url)
        assert refused.value.status == 429


async def test_more_than_five_messages_a_second_disconnects(strict_sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(strict_sim.ws_stream_url) as ws:
        for i in range(8):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        replies = 0
        while True:
            msg = await ws.receive(timeout=3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            replies += 1
        assert replies <= 5 and msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_slow_client_is_disconnected_not_buffered() -> None:
    from stanchion.sim.binance.connection import Connection

    conn = Connection(ws=None, kind="stream", peer="127.0.0.1", path="/ws", queue_limit=3)  # type: ignore[arg-type]
    assert all(conn.send(f"frame{i}") for i in range(3))
    assert conn.send("one too many") is False
    assert conn.closed and "slow client" in conn.close_reason


async def test_ws_api_orders_and_user_data_stream(sim: BinanceSimServer) -> None:
    ed_private = Ed25519PrivateKey.generate()
    del ed_private
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str(json.dumps({"id": "t1", "method": "time", "params": {}}))
        reply = await receive_json(ws)
        assert reply["status"] == 200 and "serverTime" in reply["result"] and reply["rateLimits"]  # type: ignore[operator]
        await ws.send_str(json.dumps({"id": 2, "method": "userDataStream.subscribe.signature", "params": ws_signed({})}))
        sub = await receive_until(ws, lambda m: m.get("id") == 2)
        assert sub["status"] == 200, sub
        sub_id = sub["result"]["subscriptionId"]  # type: ignore[index]
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
                 "price": "40000.00", "newClientOrderId": "wsapi-1"}
        await ws.send_str(json.dumps({"id": 3, "method": "order.place", "params": ws_signed(order)}))
        placed = await receive_until(ws, lambda m: m.get("id") == 3)
        assert placed["status"] == 200 and placed["result"]["status"] == "NEW", placed  # type: ignore[index]
        assert {r["rateLimitType"] for r in placed["rateLimits"]} >= {"REQUEST_WEIGHT", "ORDERS"}  # type: ignore[union-attr]
        report = await receive_until(ws, lambda m: m.get("event", {}).get("e") == "executionReport")  # type: ignore[union-attr]
        assert report["subscriptionId"] == sub_id
        assert set(report["event"]) >= EXECUTION_REPORT_KEYS  # type: ignore[arg-type]
        assert report["event"]["x"] == "NEW" and report["event"]["c"] == "wsapi-1"  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 4, "method": "order.status",
                                      "params": ws_signed({"symbol": "BTCUSDT", "origClientOrderId": "wsapi-1"})}))
        assert (await receive_until(ws, lambda m: m.get("id") == 4))["result"]["status"] == "NEW"  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 5, "method": "openOrders.status", "params": ws_signed({"symbol": "BTCUSDT"})}))
        assert len((await receive_until(ws, lambda m: m.get("id") == 5))["result"]) == 1  # type: ignore[arg-type]
        await ws.send_str(json.dumps({"id": 6, "method": "order.cancel",
                                      "params": ws_signed({"symbol": "BTCUSDT", "origClientOrderId": "wsapi-1"})}))
        assert (await receive_until(ws, lambda m: m.get("id") == 6))["result"]["status"] == "CANCELED"  # type: ignore[index]
        canceled = await receive_until(ws, lambda m: m.get("event", {}).get("x") == "CANCELED")  # type: ignore[union-attr]
        assert canceled["event"]["C"] == "wsapi-1"  # type: ignore[index]
        bad = ws_signed(order)
        bad["signature"] = "0" * 64
        await ws.send_str(json.dumps({"id": 7, "method": "order.place", "params": bad}))
        err = await receive_until(ws, lambda m: m.get("id") == 7)
        assert err["status"] == 400 and err["error"] == {"code": -1022, "msg": "Signature for this request is not valid."}
        await ws.send_str("{{{")
        err = await receive_until(ws, lambda m: m.get("id") is None)
        assert err["status"] == 400 and err["error"]["code"] == -1135  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 8, "method": "order.place", "params": ws_signed({**order, "price": "1.0000000001"})}))
        assert (await receive_until(ws, lambda m: m.get("id") == 8))["error"]["code"] == -1111  # type: ignore[index]


async def test_ws_api_session_logon_with_ed25519() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    keys = (KeySpec(DEFAULT_API_KEY, DEFAULT_API_SECRET), KeySpec("edSession1", pem.decode(), key_type="ed25519"))
    async with BinanceSimServer(SimServerConfig(rate=0, keys=keys)) as sim, aiohttp.ClientSession() as http, \
            http.ws_connect(sim.ws_api_url) as ws:
        params: dict[str, object] = {"apiKey": "edSession1", "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        params["signature"] = base64.b64encode(private.sign(payload.encode())).decode()
        await ws.send_str(json.dumps({"id": 1, "method": "session.logon", "params": params}))
        logon = await receive_json(ws)
        assert logon["status"] == 200 and logon["result"]["apiKey"] == "edSession1", logon  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 2, "method": "userDataStream.subscribe", "params": {}}))
        assert (await receive_json(ws))["status"] == 200
        order = {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                 "price": "4000.00", "timestamp": int(time.time() * 1000)}
        await ws.send_str(json.dumps({"id": 3, "method": "order.place", "params": order}))  # unsigned: the session's key
        placed = await receive_until(ws, lambda m: m.get("id") == 3)
        assert placed["status"] == 200, placed
        report = await receive_until(ws, lambda m: "event" in m)
        assert report["event"]["e"] == "executionReport"  # type: ignore[index]
        hmac_logon = ws_signed({})
        await ws.send_str(json.dumps({"id": 4, "method": "session.logon", "params": hmac_logon}))
        assert (await receive_until(ws, lambda m: m.get("id") == 4))["status"] == 400


async def test_listen_key_stream_delivers_bare_events(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.rest_url + "/api/v3/userDataStream") as r:
        listen_key = (await r.json())["listenKey"]
    async with http.ws_connect(f"{sim.ws_stream_url}/{listen_key}") as ws:
        await wait_for(lambda: any(c["kind"] == "listenKey" for c in (x.info() for x in sim.hub.connections.values())))
        async with http.post(sim.rest_url + "/api/v3/order?" + signed_query(
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"})) as r:
            assert r.status == 200
        kinds = set()
        while not {"executionReport", "outboundAccountPosition"} <= kinds:
            kinds.add((await receive_json(ws))["e"])  # type: ignore[arg-type]
        async with http.post(sim.control_url + "/deposit", params={"asset": "USDT", "amount": "250.5"}) as r:
            assert r.status == 200, await r.text()
        update = await receive_until(ws, lambda m: m["e"] == "balanceUpdate")
        assert update["a"] == "USDT" and update["d"] == "250.50000000"
        async with http.put(sim.rest_url + "/api/v3/userDataStream", params={"listenKey": listen_key}) as r:
            assert await r.json() == {}
        async with http.delete(sim.rest_url + "/api/v3/userDataStream", params={"listenKey": listen_key}) as r:
            assert r.status == 200
        closing = await ws.receive(timeout=3)
        while closing.type == aiohttp.WSMsgType.TEXT:  # events already queued are still delivered
            closing = await ws.receive(timeout=3)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with http.put(sim.rest_url + "/api/v3/userDataStream", params={"listenKey": listen_key}) as r:
        assert (await r.json())["code"] == -1125


async def test_ws_api_market_data_and_cancel_all(sim: BinanceSimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str(json.dumps({"id": 1, "method": "depth", "params": {"symbol": "BTCUSDT", "limit": 5}}))
        depth = await receive_json(ws)
        assert len(depth["result"]["bids"]) == 5 and depth["rateLimits"][0]["count"] >= 5  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 2, "method": "exchangeInfo", "params": {"symbol": "ETHUSDT"}}))
        assert (await receive_json(ws))["result"]["symbols"][0]["symbol"] == "ETHUSDT"  # type: ignore[index]
        await ws.send_str(json.dumps({"id": 3, "method": "ticker.book", "params": {"symbol": "BTCUSDT"}}))
        assert set((await receive_json(ws))["result"]) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}  # type: ignore[arg-type]
        for i in range(2):
            order = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
                     "price": f"9000{i}.00"}
            await ws.send_str(json.dumps({"id": 10 + i, "method": "order.place", "params": ws_signed(order)}))
            assert (await receive_json(ws))["status"] == 200
        await ws.send_str(json.dumps({"id": 20, "method": "openOrders.cancelAll", "params": ws_signed({"symbol": "BTCUSDT"})}))
        canceled = await receive_json(ws)
        assert [o["status"] for o in canceled["result"]] == ["CANCELED", "CANCELED"]  # type: ignore[union-attr]
        await ws.send_str(json.dumps({"id": 21, "method": "order.fly", "params": {}}))
        assert (await receive_json(ws))["error"]["code"] == -1020  # type: ignore[index]
    stats = sim.statistics()
    assert stats["internal_errors"] == 0 and set(stats["update_ids"]) == {"BTCUSDT", "ETHUSDT"}  # type: ignore[call-overload]


async def test_time_unit_microsecond(sim: BinanceSimServer, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.rest_url + "/api/v3/time", headers={"X-MBX-TIME-UNIT": "MICROSECOND"}) as r:
        assert abs((await r.json())["serverTime"] - time.time() * 1_000_000) < 5_000_000
    url = sim.ws_base_url + "/stream?streams=btcusdt@depth@100ms&timeUnit=MICROSECOND"
    async with http.ws_connect(url) as micro, http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as milli:
        event = (await receive_json(micro))["data"]
        assert abs(event["E"] - time.time() * 1_000_000) < 5_000_000  # type: ignore[index,operator]
        assert abs((await receive_json(milli))["E"] - time.time() * 1000) < 5000  # type: ignore[operator]
    with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
        await http.ws_connect(sim.ws_stream_url + "/btcusdt@trade?timeUnit=NANOSECOND")
    assert bad.value.status == 400
    async with http.ws_connect(sim.ws_api_url + "?timeUnit=MICROSECOND") as api:
        await api.send_str(json.dumps({"id": 1, "method": "time", "params": {}}))
        assert (await receive_json(api))["result"]["serverTime"] > 10**15  # type: ignore[index,operator]


async def test_a_connection_that_cannot_drain_is_dropped_not_buffered() -> None:
    from stanchion.sim.binance.faults import Fault

    async with BinanceSimServer(SimServerConfig(rate=200, ws_queue_frames=3)) as sim, aiohttp.ClientSession() as http, \
            http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        await receive_json(ws)
        sim.inject(Fault(kind="stall", duration_s=5.0))  # the writer stops draining: the queue fills
        msg = await ws.receive(timeout=3)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await wait_for(lambda: sim.statistics()["slow_clients_dropped"] == 1)
