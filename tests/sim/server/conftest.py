"""Fixtures for the simulator-server tests: a server on an ephemeral loopback port, signing helpers."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest

from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET


def signed_query(params: dict[str, str], secret: str = DEFAULT_API_SECRET, *, timestamp: int | None = None) -> str:
    """An independent HMAC signer for the tests (query-string form)."""
    items = dict(params)
    items.setdefault("timestamp", str(timestamp if timestamp is not None else int(time.time() * 1000)))
    query = urlencode(items)
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=50, ping_interval_s=5, pong_timeout_s=30)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": DEFAULT_API_KEY}) as session:
        yield session


KEY = DEFAULT_API_KEY
SECRET = DEFAULT_API_SECRET
