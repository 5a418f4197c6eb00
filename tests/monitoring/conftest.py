"""Fixtures that start real Prometheus / Alertmanager processes (see harness.py).

Each factory fixture stops what it started, by pid, when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.monitoring.harness import Alertmanager, Prometheus, WebhookReceiver


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def start_alertmanager(
    tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[Alertmanager]]]:
    started: list[Alertmanager] = []

    async def start(config: dict[str, Any]) -> Alertmanager:
        workdir = tmp_path / f"alertmanager-{len(started)}"
        workdir.mkdir()
        am = Alertmanager(workdir, config)
        started.append(am)
        await am.start(http)
        return am

    yield start
    for am in started:
        am.stop()


@pytest.fixture
async def start_prometheus(
    tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[Callable[..., Awaitable[Prometheus]]]:
    started: list[Prometheus] = []

    async def start(
        targets: Iterable[str], rule_files: Iterable[Path] = (), alertmanager: str | None = None
    ) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        prom = Prometheus(workdir, targets, rule_files, alertmanager)
        started.append(prom)
        await prom.start(http)
        return prom

    yield start
    for prom in started:
        prom.stop()
