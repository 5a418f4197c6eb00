"""``/readyz`` of the real composition root (``stanchion run``'s Application, in process,
against its embedded simulator): 503 until the ordered start completes, 200 after,
503 again while a configured book is STALE, 200 once it is LIVE again.

The start is held (the simulator delays its first REST reply by 1.5 s) so the "before"
answer is observed while the start is provably still running, not by luck of timing.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from stanchion.app.main import EMBEDDED_CONFIG, ENGINE_STARTED, Application, RunOptions
from stanchion.app.runtime import Phase
from stanchion.config.loader import parse_config
from stanchion.sim.binance.faults import Fault
from tests.monitoring.harness import wait_until


async def _readyz(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/readyz") as resp:
        return resp.status, await resp.json()


async def test_readyz_follows_the_ordered_start_and_book_staleness(http: aiohttp.ClientSession) -> None:
    config: dict[str, Any] = copy.deepcopy(EMBEDDED_CONFIG)
    config["venues"]["binance"]["staleness"] = {"liveness_timeout_s": 30, "book_stale_after_s": 1}
    app = Application(parse_config(config, "<readyz test>"),
                      RunOptions(headless=True, metrics_listen="127.0.0.1:0", admin_listen="127.0.0.1:0"))
    started = asyncio.Event()

    def on_ready(application: Application) -> None:
        # Serving, ordered start not yet begun: hold its first REST request for 1.5 s.
        application.sim.inject(Fault(kind="delay", delay_ms=1500))
        started.set()

    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, on_ready=on_ready))
    try:
        await asyncio.wait_for(started.wait(), 30)
        assert app.health is not None and app.runtime is not None
        url = app.health.url

        status, body = await _readyz(http, url)
        assert status == 503, body
        assert body["ready"] is False
        assert {"venues_reconciled", "book_live:binance:BTCUSDT", ENGINE_STARTED} <= set(body["unmet"]), body
        assert not app.runtime.ready

        async def ready() -> bool:
            return (await _readyz(http, url))[0] == 200

        await wait_until(ready, 30, "/readyz 200 after the ordered start")
        assert app.runtime.ready and app.runtime.stats.phase is Phase.READY  # never 200 before
        assert (await _readyz(http, url))[1] == {"ready": True, "unmet": []}

        # Scrape-time values are current: the market-data age is brought up to date before
        # it is computed (BeforeScrape runs first), so a flowing feed reads fresh every time.
        kernel = app.kernel
        assert kernel is not None
        for _ in range(3):
            sent_before = kernel.stats.orders_sent
            async with http.get(f"{url}/metrics") as resp:
                families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
            ages = [s.value for s in families["trading_market_data_age_seconds"].samples]
            assert len(ages) == 2 and max(ages) < 0.5, ages
            submitted = sum(s.value for s in families["trading_orders"].samples
                            if s.name == "trading_orders_total" and s.labels["status"] == "submitted")
            assert sent_before <= submitted <= kernel.stats.orders_sent
            events = kernel.stats.book_events

            async def more_books(seen: int = events) -> bool:
                return kernel.stats.book_events >= seen + 25  # ~0.5 s of updates between scrapes

            await wait_until(more_books, 10, "more book updates", interval=0.05)

        # The BTCUSDT feed stalls (socket open, pings answered) beyond book_stale_after_s.
        app.sim.inject(Fault(kind="stall", duration_s=4, answer_pings=True, symbol="BTCUSDT"))

        async def stale() -> dict[str, Any] | None:
            status, body = await _readyz(http, url)
            return body if status == 503 else None

        body = await wait_until(stale, 10, "/readyz 503 while the BTCUSDT book is STALE", interval=0.1)
        assert "book_live:binance:BTCUSDT" in body["unmet"], body
        assert "venues_reconciled" not in body["unmet"], body
        await wait_until(ready, 30, "/readyz 200 once the book is LIVE again")
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
