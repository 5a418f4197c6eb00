"""The WebSocket client against a loopback server: liveness, staleness, reconnect, rotation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from stanchion.core.errors import ConfigError, ConnectionLostError
from stanchion.transport.backoff import BackoffPolicy
from stanchion.transport.liveness import ClientPing, LivenessPolicy, PingKind
from stanchion.transport.staleness import ConnectionHealth, StalenessTransition, StreamHealth, StreamPolicy
from stanchion.transport.state import ConnectionState
from stanchion.transport.websocket import WebSocketClient, WebSocketConfig

from .conftest import FakeSession, wait_until
from .loopback import LoopbackMarketServer

FAST_BACKOFF = BackoffPolicy(base_s=0.01, cap_s=0.05, reset_after_s=10.0)


def _config(url: str, **overrides: object) -> WebSocketConfig:
    fields: dict[str, object] = {
        "url": url,
        "name": "test",
        "liveness": LivenessPolicy(idle_timeout_s=2.0),
        "default_stream": StreamPolicy(stale_after_s=1.0),
        "backoff": FAST_BACKOFF,
        "rotation_overlap_s": 0.2,
    }
    fields.update(overrides)
    return WebSocketConfig(**fields)  # type: ignore[arg-type]


def _client(session: FakeSession, config: WebSocketConfig, **kwargs: object) -> WebSocketClient:
    client = WebSocketClient(
        config, on_message=session.on_message, on_connected=session.on_connected, **kwargs  # type: ignore[arg-type]
    )
    session.client = client
    return client


async def test_pong_echoes_each_ping_payload() -> None:
    async with LoopbackMarketServer(ping_interval_s=0.02) as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url)) as client:
            conn = await server.wait_connections(1)
            await wait_until(lambda: len(conn.pongs) >= 3, what="three pongs")
            n = len(conn.pongs)
            assert conn.pongs == conn.pings_sent[:n]
            assert len({bytes(p) for p in conn.pongs}) == n  # distinct payloads, each copied back
            stats = client.statistics()
            assert stats["pings_received"] >= 3
            assert stats["messages"] >= 1 and stats["bytes"] > 0  # the subscribe ack at least
            assert abs(stats["last_message_timestamp_s"] - time.time()) < 5  # type: ignore[operator]
            assert stats["state"] == "live" and stats["generation"] == 1
            assert stats["pongs_sent"] >= 3


@pytest.mark.parametrize("pings_continue", [False, True], ids=["silent-socket", "pings-answered-no-data"])
async def test_silent_stall_is_detected_within_threshold_plus_one_second(pings_continue: bool) -> None:
    threshold_s = 1.0
    lost_at: list[float] = []

    def on_state(state: ConnectionState) -> None:
        if state is ConnectionState.DISCONNECTED:
            lost_at.append(time.monotonic())

    # Silent socket: the connection-level window decides. Pings but no data: the stream threshold does.
    liveness = LivenessPolicy(idle_timeout_s=threshold_s if not pings_continue else 30.0)
    async with LoopbackMarketServer(ping_interval_s=0.1) as server:
        session = FakeSession(["btcusdt@depth", "ethusdt@depth"])
        config = _config(server.url, liveness=liveness, default_stream=StreamPolicy(stale_after_s=threshold_s))
        async with _client(session, config, on_state=on_state) as client:
            conn = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 10, what="data")
            conn.ping_while_stalled = pings_continue
            conn.stalled = True
            stalled_at = time.monotonic()
            await wait_until(lambda: bool(lost_at), timeout_s=threshold_s + 3, what="stall detection")
            detection_s = lost_at[0] - stalled_at
            assert detection_s <= threshold_s + 1.0
            assert detection_s >= threshold_s * 0.5  # it waited for the threshold, not a spurious drop
            cause = "dead" if not pings_continue else "stalled"
            assert client.statistics()["reconnect_causes"] == {cause: 1}
            if pings_continue:
                assert conn.pongs, "pings were answered during the stall"
            # and it recovers: a new link, resubscribed, data again
            await server.wait_connections(2)
            await client.wait_state(ConnectionState.LIVE, 5.0)
            assert client.statistics()["reconnects"] == 1


async def test_quiet_symbol_is_not_dead_while_another_is_stale() -> None:
    transitions: list[StalenessTransition] = []
    async with LoopbackMarketServer(ping_interval_s=0.05) as server:
        session = FakeSession(["aaa@depth", "bbb@depth", "ccc@trade"])
        config = _config(server.url, default_stream=StreamPolicy(stale_after_s=0.3))
        async with _client(session, config, on_staleness=transitions.append) as client:
            client.staleness.add_stream("ccc@trade", 0, StreamPolicy(stale_after_s=0.3, quiet_allowed=True))
            conn = await server.wait_connections(1)
            await wait_until(lambda: {s for s, _ in session.delivered} == set(session.streams), what="all streams")
            conn.paused = {"bbb@depth", "ccc@trade"}
            await client.wait_state(ConnectionState.STALE, 3.0)
            await wait_until(lambda: client.staleness.stream_health("ccc@trade") is StreamHealth.QUIET, what="quiet")
            assert client.staleness.stream_health("bbb@depth") is StreamHealth.STALE
            assert client.staleness.stream_health("aaa@depth") is StreamHealth.LIVE
            assert client.staleness.connection_health is ConnectionHealth.ALIVE
            assert len(server.connections) == 1  # one stale symbol does not cost the connection
            assert not any(t.current is StreamHealth.DEAD for t in transitions)
            # the stale symbol recovers when its updates resume
            conn.paused = set()
            await client.wait_state(ConnectionState.LIVE, 3.0)
            assert client.staleness.stream_health("bbb@depth") is StreamHealth.LIVE
            assert client.statistics()["stale_transitions"] >= 3


@pytest.mark.parametrize("close_frame", [True, False], ids=["close-frame", "tcp-drop"])
async def test_resubscribes_after_reconnect(close_frame: bool) -> None:
    async with LoopbackMarketServer() as server:
        session = FakeSession(["btcusdt@depth", "btcusdt@trade"])
        async with _client(session, _config(server.url)) as client:
            first = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 5, what="data")
            if close_frame:
                await first.close()
            else:
                first.abort()
            second = await server.wait_connections(2)
            await asyncio.wait_for(second.subscribed_event.wait(), 5)
            subscribe = json.loads(second.received[0])
            assert subscribe["method"] == "SUBSCRIBE"
            assert subscribe["params"] == ["btcusdt@depth", "btcusdt@trade"]
            assert session.connected_generations == [1, 2]
            before = len(session.delivered)
            await wait_until(lambda: len(session.delivered) > before + 5, what="data after reconnect")
            assert client.statistics()["reconnects"] == 1
            assert client.generation == 2


async def _assert_make_before_break(server: LoopbackMarketServer, session: FakeSession, client: WebSocketClient) -> None:
    old = server.connections[0]
    new_sent_when_old_closed: list[int] = []

    async def watch_old() -> None:
        await old.closed.wait()
        new_sent_when_old_closed.append(server.connections[1].data_sent if len(server.connections) > 1 else -1)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(watch_old())
        new = await server.wait_connections(2)
    await wait_until(lambda: client.statistics()["rotations"] == 1, what="rotation")
    assert new_sent_when_old_closed and new_sent_when_old_closed[0] > 0, "old link closed before the new delivered"
    seen_after = len(session.delivered)
    await wait_until(lambda: len(session.delivered) > seen_after + 10, what="data on the new link")
    assert session.gaps == []  # continuous feed across the switch
    assert client.statistics()["reconnects"] == 0
    assert client.generation == 2
    assert len(server.connections) == 2
    assert client.state is ConnectionState.LIVE
    assert not new.closed.is_set()


async def test_rotation_before_max_lifetime_is_make_before_break() -> None:
    async with LoopbackMarketServer(tick_s=0.002) as server:
        session = FakeSession(["btcusdt@depth", "ethusdt@depth"])
        config = _config(server.url, max_lifetime_s=1.0, rotation_margin_s=0.5)
        async with _client(session, config) as client:
            await server.wait_connections(1)
            await _assert_make_before_break(server, session, client)


async def test_server_shutdown_triggers_make_before_break() -> None:
    async with LoopbackMarketServer(tick_s=0.002) as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url)) as client:
            old = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 10, what="data")
            await old.send_text(json.dumps({"e": "serverShutdown", "E": 1}))
            await _assert_make_before_break(server, session, client)


async def test_client_ping_measures_round_trip_and_drops_on_missing_pong() -> None:
    liveness = LivenessPolicy(idle_timeout_s=30.0, client_ping=ClientPing(interval_s=0.05, timeout_s=0.3))
    rtts: list[float] = []
    reconnects: list[int] = []
    async with LoopbackMarketServer() as server:
        session = FakeSession(["btcusdt@depth"])
        hooks = {"on_heartbeat_rtt": rtts.append, "on_reconnect": lambda: reconnects.append(1)}
        async with _client(session, _config(server.url, liveness=liveness), **hooks) as client:
            conn = await server.wait_connections(1)
            await wait_until(lambda: client.statistics()["heartbeat_latency_ms"] is not None, what="rtt")
            assert 0 <= client.statistics()["heartbeat_latency_ms"] < 1000  # type: ignore[operator]
            conn.answer_pings = False
            conn.paused = {"btcusdt@depth"}
            await server.wait_connections(2, timeout_s=3)
            assert client.statistics()["reconnect_causes"].get("heartbeat_timeout") == 1  # type: ignore[attr-defined]
            await client.wait_state(ConnectionState.LIVE, 3.0)
            assert reconnects == [1]  # the metric hook fires once per reconnect
            assert rtts and all(0 <= r < 1 for r in rtts)


async def test_text_heartbeat_reply_is_recognised_and_not_delivered() -> None:
    def frame(seq: int) -> bytes:
        return json.dumps({"method": "SUBSCRIBE", "params": [], "id": f"hb{seq}"}).encode()

    def is_reply(payload: bytes) -> bool:
        return payload.startswith(b'{"result": null, "id": "hb')

    liveness = LivenessPolicy(
        idle_timeout_s=30.0,
        client_ping=ClientPing(interval_s=0.05, timeout_s=0.5, kind=PingKind.TEXT, text_frame=frame, is_reply=is_reply),
    )
    async with LoopbackMarketServer() as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url, liveness=liveness)) as client:
            await wait_until(lambda: client.statistics()["heartbeat_latency_ms"] is not None, what="rtt")
            assert not any(str(c.get("id", "")).startswith("hb") for c in session.control)


async def test_queue_overflow_disconnects_and_resyncs() -> None:
    async with LoopbackMarketServer(tick_s=10.0) as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url, queue_capacity=4)) as client:
            conn = await server.wait_connections(1)
            await asyncio.wait_for(conn.subscribed_event.wait(), 5)
            burst = "".join(json.dumps({"stream": "x", "data": {"u": i}}) for i in range(1))
            for i in range(200):
                await conn.send_text(burst.replace('"u": 0', f'"u": {i}'))
            await server.wait_connections(2)
            stats = client.statistics()
            assert stats["queue_overflows"] >= 1
            assert stats["reconnect_causes"].get("queue_overflow") == 1  # type: ignore[attr-defined]
            assert len(session.delivered) < 200  # the rest was dropped, not buffered


async def test_consumer_exception_is_raised_not_swallowed() -> None:
    def broken(_payload: bytes) -> str | None:
        raise ValueError("codec bug")

    async with LoopbackMarketServer() as server:
        session = FakeSession(["btcusdt@depth"])
        client = WebSocketClient(_config(server.url), on_message=broken, on_connected=session.on_connected)
        with pytest.raises(ValueError, match="codec bug"):
            async with client:
                await client.wait_state(ConnectionState.CLOSED, 5.0)
        assert client.state is ConnectionState.CLOSED


async def test_connect_failure_backs_off_and_close_is_clean() -> None:
    session = FakeSession([])
    # A port nobody listens on: bind one, close it, use its number.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with _client(session, _config(f"ws://127.0.0.1:{port}/ws")) as client:
        await wait_until(lambda: client.statistics()["connect_failures"] >= 3, what="retries")  # type: ignore[operator]
        with pytest.raises(ConnectionLostError):
            client.send("{}")
    assert client.state is ConnectionState.CLOSED


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="ws://"):
        WebSocketConfig(url="http://x", liveness=LivenessPolicy.binance())
    with pytest.raises(ConfigError, match="rotation_margin_s"):
        WebSocketConfig(url="wss://x", liveness=LivenessPolicy.binance(), max_lifetime_s=10, rotation_margin_s=20)
    with pytest.raises(ConfigError, match="idle_timeout_s"):
        LivenessPolicy(idle_timeout_s=0)


async def test_old_link_dying_mid_rotation_promotes_the_subscribed_replacement() -> None:
    states: list[ConnectionState] = []
    async with LoopbackMarketServer(tick_s=0.002) as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url), on_state=states.append) as client:
            old = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 5, what="data")

            def hold_data(conn: object) -> None:  # the replacement is subscribed but silent for now
                conn.paused = {"btcusdt@depth"}  # type: ignore[attr-defined]

            server.on_connection = hold_data
            await old.send_text(json.dumps({"e": "serverShutdown", "E": 1}))
            new = await server.wait_connections(2)
            await asyncio.wait_for(new.subscribed_event.wait(), 5)
            old.abort()  # the venue shuts the old link before the new one carried data
            await wait_until(lambda: client.generation == 2, what="promotion")
            new.paused = set()
            before = len(session.delivered)
            await wait_until(lambda: len(session.delivered) > before + 5, what="data on the promoted link")
            stats = client.statistics()
            assert stats["reconnects"] == 0 and stats["rotations"] == 1
            assert ConnectionState.DISCONNECTED not in states
            assert len(server.connections) == 2


async def test_subscribe_frames_are_paced() -> None:
    class ManyFrames(FakeSession):
        def on_connected(self, generation: int) -> list[str]:
            return [json.dumps({"method": "SUBSCRIBE", "params": [s], "id": i}) for i, s in enumerate(self.streams)]

    async with LoopbackMarketServer() as server:
        session = ManyFrames(["a@depth", "b@depth", "c@depth"])
        async with _client(session, _config(server.url, subscribe_interval_s=0.05)):
            conn = await server.wait_connections(1)
            await wait_until(lambda: len(conn.received) == 3, what="three subscribe frames")
            assert [json.loads(r)["params"][0] for r in conn.received] == ["a@depth", "b@depth", "c@depth"]
            gaps = [b - a for a, b in zip(conn.received_at, conn.received_at[1:], strict=False)]
            assert min(gaps) >= 0.04


def test_client_runs_on_uvloop() -> None:
    from stanchion.transport.loop import loop_name, run

    async def scenario() -> str:
        async with LoopbackMarketServer() as server:
            session = FakeSession(["btcusdt@depth"])
            async with _client(session, _config(server.url)):
                await wait_until(lambda: len(session.delivered) >= 5, what="data on uvloop")
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert loop_name() == "uvloop"  # a dependency on Linux: its absence is a broken install
    assert run(scenario()) == "uvloop"


async def test_handshake_that_never_completes_times_out_and_close_does_not_wait_for_it() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept TCP, never answer the HTTP upgrade

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        session = FakeSession([])
        config = _config(f"ws://127.0.0.1:{port}/ws", connect_timeout_s=0.2)
        async with _client(session, config) as client:
            await wait_until(lambda: client.statistics()["connect_failures"] >= 2, what="handshake timeouts")  # type: ignore[operator]
            await client.wait_state(ConnectionState.CONNECTING, 2.0)
            started = time.monotonic()
        assert time.monotonic() - started < 0.15  # closing abandons the pending handshake
        assert client.state is ConnectionState.CLOSED
        assert client.statistics()["connects"] == 0
    finally:
        server.close()
        for writer in accepted:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


async def test_send_control_reaches_the_replacement_during_rotation() -> None:
    async with LoopbackMarketServer(tick_s=0.002) as server:
        session = FakeSession(["btcusdt@depth"])
        async with _client(session, _config(server.url)) as client:
            old = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 3, what="data")
            server.on_connection = lambda conn: setattr(conn, "paused", {"btcusdt@depth", "ethusdt@depth"})
            client.request_rotation("test")
            new = await server.wait_connections(2)
            await asyncio.wait_for(new.subscribed_event.wait(), 5)
            assert client.state is ConnectionState.ROTATING
            subscribe = json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@depth"], "id": 99})
            client.send_control(subscribe)
            await wait_until(lambda: subscribe in old.received and subscribe in new.received, what="both links")
            new.paused = set()
            await wait_until(lambda: client.statistics()["rotations"] == 1, what="switch")


async def test_frames_sent_with_the_handshake_reach_the_consumer_after_on_connected() -> None:
    order: list[str] = []
    async with LoopbackMarketServer() as server:

        async def greet(conn: object) -> None:
            await conn.send_text(json.dumps({"stream": "btcusdt@depth", "data": {"u": 1}}))  # type: ignore[attr-defined]

        tasks: list[asyncio.Task[None]] = []
        server.on_connection = lambda conn: tasks.append(asyncio.ensure_future(greet(conn)))
        session = FakeSession(["btcusdt@depth"])

        def on_connected(generation: int) -> list[str]:
            order.append("connected")
            return session.on_connected(generation)

        def on_message(payload: bytes) -> str | None:
            order.append("message")
            client.send("{}")  # the link is usable from the first message on
            return session.on_message(payload)

        client = WebSocketClient(_config(server.url), on_message=on_message, on_connected=on_connected)
        async with client:
            await wait_until(lambda: ("btcusdt@depth", 1) in session.delivered, what="greeting")
            await asyncio.gather(*tasks)
        assert order[:2] == ["connected", "message"]


async def test_rotation_has_no_gap_when_the_old_link_lags_the_new_one() -> None:
    async with LoopbackMarketServer(tick_s=0.002) as server:
        session = FakeSession(["btcusdt@depth", "ethusdt@depth"])
        async with _client(session, _config(server.url, rotation_overlap_s=0.5)) as client:
            old = await server.wait_connections(1)
            await wait_until(lambda: len(session.delivered) >= 10, what="data")
            old.lagging = True  # the old link falls behind: the new one will start ahead of it
            client.request_rotation("test")
            new = await server.wait_connections(2)
            await wait_until(lambda: new.data_sent >= 20, what="the new link ahead")
            assert client.statistics()["rotations"] == 0  # overlap: still on the old link
            old.lagging = False  # it catches up within the overlap
            await wait_until(lambda: client.statistics()["rotations"] == 1, what="switch")
            seen = len(session.delivered)
            await wait_until(lambda: len(session.delivered) > seen + 10, what="data after the switch")
            assert session.gaps == []
            assert session.duplicates > 0  # both links carried the overlap; the consumer dropped it


async def test_the_connect_gate_holds_every_attempt_and_a_refusal_counts_as_a_failed_one() -> None:
    async with LoopbackMarketServer() as server:
        session = FakeSession(["btcusdt@depth"])
        gate_open = asyncio.Event()
        calls: list[str] = []

        async def gate() -> None:
            calls.append("gate")
            if len(calls) == 2:
                raise ConnectionLostError("held: no budget")  # a refused attempt: backoff, then again
            await gate_open.wait()

        async with _client(session, _config(server.url), connect_gate=gate) as client:
            await wait_until(lambda: calls == ["gate"], what="the first attempt at the gate")
            # The supervisor is parked in the gate: nothing has connected.
            assert server.connections == [] and client.state is ConnectionState.CONNECTING
            gate_open.set()
            first = await server.wait_connections(1)
            first.abort()
            await server.wait_connections(2)  # the reconnect went through the gate twice
            assert calls == ["gate", "gate", "gate"]
            assert client.statistics()["connect_failures"] == 1
