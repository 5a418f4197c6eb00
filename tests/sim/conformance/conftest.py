"""Conformance: unmodified third-party Binance clients against the simulator (their documented URL settings only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stanchion.sim.binance import BinanceSimServer, SimServerConfig


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimServer]:
    async with BinanceSimServer(SimServerConfig(rate=20, ws_incoming_per_s=20)) as server:
        yield server
