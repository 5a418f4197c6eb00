"""HealthServer: /metrics, /healthz, /readyz status codes and bodies, 404/405, hostile
requests, the event-loop lag monitor, lifecycle; Readiness semantics."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from stanchion.core.clock import TestClock
from stanchion.observability.health import (
    BOOK_LIVE_PREFIX,
    JOURNAL_REPLAYED,
    VENUES_RECONCILED,
    HealthServer,
    Readiness,
)
from stanchion.observability.metrics import StanchionMetrics
from tests.monitoring.harness import wait_until

BOOK = BOOK_LIVE_PREFIX + "binance:BTCUSDT"


def make() -> tuple[StanchionMetrics, Readiness]:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock())
    metrics.for_symbol("binance", "BTCUSDT").fills.inc()
    return metrics, Readiness.standard(["binance:BTCUSDT"])


async def raw_request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_readyz_follows_the_conditions(http: aiohttp.ClientSession) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0) as server:

        async def readyz() -> tuple[int, dict[str, object]]:
            async with http.get(f"{server.url}/readyz") as resp:
                return resp.status, await resp.json()

        assert await readyz() == (503, {"ready": False, "unmet": [JOURNAL_REPLAYED, VENUES_RECONCILED, BOOK]})
        readiness.set(JOURNAL_REPLAYED)
        readiness.set(VENUES_RECONCILED)
        assert await readyz() == (503, {"ready": False, "unmet": [BOOK]})
        readiness.set(BOOK)
        assert await readyz() == (200, {"ready": True, "unmet": []})
        readiness.clear(BOOK)  # the book went STALE
        assert await readyz() == (503, {"ready": False, "unmet": [BOOK]})


async def test_healthz_answers_with_the_loop_lag(http: aiohttp.ClientSession) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0) as server, http.get(f"{server.url}/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert isinstance(body["event_loop_lag_seconds"], float)


async def test_metrics_serves_the_injected_registry(http: aiohttp.ClientSession) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0) as server:
        async with http.get(f"{server.url}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await resp.text()
        assert 'trading_fills_total{exchange="binance",symbol="BTCUSDT"} 1.0' in text
        assert 'stanchion_readiness_condition{condition="journal_replayed"} 0.0' in text
        assert "python_gc_objects_collected_total" not in text  # not the global registry
        headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with http.get(f"{server.url}/metrics", headers=headers) as resp:
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            assert (await resp.text()).endswith("# EOF\n")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/metrics/extra", 404),
        ("GET", "/../../etc/passwd", 404),
        ("GET", "/%00", 404),
        ("POST", "/metrics", 405),
        ("PUT", "/readyz", 405),
        ("DELETE", "/healthz", 405),
        ("HEAD", "/healthz", 200),
    ],
)
async def test_other_paths_and_methods(http: aiohttp.ClientSession, method: str, path: str, status: int) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0) as server:
        async with http.request(method, f"{server.url}{path}") as resp:
            assert resp.status == status
            body = await resp.text()
            if status == 405:
                assert resp.headers["Allow"] in {"GET,HEAD", "HEAD,GET"}
        assert "Traceback" not in body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /readyz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)) + b"\r\n\r\n",
        b"BREW /coffee HTCPCP/1.0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ],
    ids=["huge-header", "huge-path", "many-headers", "tls-hello", "bad-protocol", "negative-length"],
)
async def test_hostile_requests_get_a_4xx_without_traceback(
    http: aiohttp.ClientSession, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0) as server:
        response = await raw_request(server.port, request_bytes)
        status = int(response.split(b" ", 2)[1])
        assert 400 <= status < 500, response[:200]
        assert b"Traceback" not in response
        async with http.get(f"{server.url}/healthz") as resp:  # still serving
            assert resp.status == 200
    assert "Traceback" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)


async def test_lag_monitor_sees_a_blocked_loop(http: aiohttp.ClientSession) -> None:
    metrics, readiness = make()
    async with HealthServer(metrics, readiness, port=0, lag_interval_s=0.05) as server:
        # Block the loop on purpose, once the monitor is running: the fault under test, not a wait.
        asyncio.get_running_loop().call_later(0.1, time.sleep, 0.3)

        async def lagged() -> bool:
            return server.event_loop_lag_seconds >= 0.2

        await wait_until(lagged, 5, "the lag monitor to report the blocked loop", interval=0.02)
        scraped = [
            s for f in metrics.registry.collect() for s in f.samples if s.name == "stanchion_event_loop_lag_seconds"
        ]
        assert scraped[0].value >= 0.2
        slow = [
            s
            for f in metrics.registry.collect()
            for s in f.samples
            if s.name == "stanchion_event_loop_delay_seconds_bucket" and s.labels["le"] == "0.1"
        ]
        count = [
            s
            for f in metrics.registry.collect()
            for s in f.samples
            if s.name == "stanchion_event_loop_delay_seconds_count"
        ]
        assert count[0].value - slow[0].value >= 1  # the blocked measurement is kept in the histogram

        async def recovered() -> bool:
            return server.event_loop_lag_seconds < 0.1

        await wait_until(recovered, 5, "the lag to fall back", interval=0.02)


async def test_lifecycle_frees_the_port_and_stops_the_monitor() -> None:
    metrics, readiness = make()
    server = HealthServer(metrics, readiness, port=0)
    tasks_before = asyncio.all_tasks()
    await server.start()
    port = server.port
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()
    await server.stop()
    assert asyncio.all_tasks() - tasks_before == set()  # the lag monitor is gone
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


async def test_a_busy_port_is_a_clear_error() -> None:
    metrics, readiness = make()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(OSError, match=f"health server cannot listen on 127.0.0.1:{port}"):
            await HealthServer(metrics, readiness, port=port).start()


def test_bad_arguments_are_refused() -> None:
    metrics, readiness = make()
    with pytest.raises(ValueError, match="port must be"):
        HealthServer(metrics, readiness, port=70000)
    with pytest.raises(ValueError, match="lag_interval_s"):
        HealthServer(metrics, readiness, lag_interval_s=0)


# --- Readiness ---------------------------------------------------------------------------


def test_readiness_conditions_are_declared_up_front() -> None:
    readiness = Readiness(["a", "b"])
    with pytest.raises(KeyError, match="unknown readiness condition 'typo'"):
        readiness.set("typo")
    with pytest.raises(ValueError, match="declared twice"):
        Readiness(["a", "a"])
    with pytest.raises(ValueError, match=r"1\.\.200 printable"):
        Readiness([""])
    assert Readiness([]).ready  # nothing required: ready


def test_readiness_set_clear_update() -> None:
    readiness = Readiness(["a", "b"])
    assert readiness.unmet() == ["a", "b"] and not readiness.ready
    readiness.set("a")
    readiness.update("b", True)
    assert readiness.ready and readiness.is_set("b")
    readiness.update("a", False)
    assert readiness.unmet() == ["a"]
    assert readiness.statistics() == {"ready": False, "conditions": {"a": False, "b": True}}


async def test_wait_ready_returns_when_the_last_condition_is_set() -> None:
    readiness = Readiness(["a", "b"])
    waiter = asyncio.create_task(readiness.wait_ready())
    readiness.set("a")
    await asyncio.sleep(0)
    assert not waiter.done()
    readiness.set("b")
    async with asyncio.timeout(2):
        await waiter


# --- rendering without stalling the loop ---------------------------------------------------


def big_registry() -> StanchionMetrics:
    metrics = StanchionMetrics(CollectorRegistry(), TestClock(), process_metrics=False)  # deterministic bytes
    for i in range(40):
        handle = metrics.for_symbol("binance", f"SYM{i}USDT")
        handle.fill_latency.observe(0.01 * i)
        handle.reject("filter")
        handle.book_state("live")
    metrics.for_connection("binance", "market_data").heartbeat_latency.observe(0.02)
    return metrics


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
async def test_sliced_rendering_equals_generate_latest(accept: str) -> None:
    from prometheus_client.exposition import choose_encoder

    from stanchion.observability.health import render_metrics

    metrics = big_registry()
    encoder, expected_type = choose_encoder(accept)
    body, content_type = await render_metrics(metrics.registry, accept)
    assert content_type == expected_type
    assert body == encoder(metrics.registry)


async def test_sliced_rendering_lets_other_tasks_run() -> None:
    from stanchion.observability.health import render_metrics

    metrics = big_registry()
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await render_metrics(metrics.registry)
    stop.set()
    await task
    assert ticks - before > 3  # the loop ran the ticker between slices


async def test_exposition_through_the_server_passes_promtool(http: aiohttp.ClientSession) -> None:
    import subprocess

    from tests.monitoring.harness import PROMTOOL, require

    metrics = big_registry()
    async with HealthServer(metrics, Readiness([]), port=0) as server, http.get(f"{server.url}/metrics") as resp:
        body = await resp.read()
    result = await asyncio.to_thread(
        subprocess.run,
        [require(PROMTOOL), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


async def test_cancelling_stop_is_not_swallowed() -> None:
    metrics, readiness = make()
    server = HealthServer(metrics, readiness, port=0)
    await server.start()
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0)  # stop() is now awaiting the cancelled monitor
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await server.stop()  # a second stop finishes the cleanup
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
