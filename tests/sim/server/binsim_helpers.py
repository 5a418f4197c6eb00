"""Helpers shared by the simulator-server tests: an independent HMAC signer and the default key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

import aiohttp

from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

KEY = DEFAULT_API_KEY
SECRET = DEFAULT_API_SECRET


def signed_query(params: dict[str, str], secret: str = SECRET, *, timestamp: int | None = None) -> str:
    items = dict(params)
    items.setdefault("timestamp", str(timestamp if timestamp is not None else int(time.time() * 1000)))
    query = urlencode(items)
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


def ws_signed(params: dict[str, object], secret: str = SECRET, key: str = KEY) -> dict[str, object]:
    out: dict[str, object] = {**params, "apiKey": key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={out[k]}" for k in sorted(out))
    out["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return out


async def receive_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, object]:  # noqa: ASYNC109
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type} {msg.data!r}"
    data = json.loads(msg.data)
    assert isinstance(data, dict)
    return data


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, predicate: Callable[[dict[str, object]], bool], timeout: float = 5.0  # noqa: ASYNC109
) -> dict[str, object]:
    """Read frames until one satisfies ``predicate`` (skipping market data), within ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"connection ended: {msg.type} {msg.data!r}")
            data = json.loads(msg.data)
            if isinstance(data, dict) and predicate(data):
                return data


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 — polling a plain predicate, bounded by the timeout
            await asyncio.sleep(0.01)
