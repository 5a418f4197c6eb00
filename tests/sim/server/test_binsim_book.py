"""A book kept from the diff stream by Binance's documented procedure equals the truth API's book.

The reference implementation below follows web-socket-streams.md "How to manage a
local order book correctly" step by step; it shares no code with the simulator or
with Stanchion's own book. Checked at every applied event over 100,000 updates, with
and without injected gaps, duplicates and reordering (resyncing where the procedure says).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import pytest

from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.faults import Fault
from stanchion.sim.types import MarketConfig

UPDATES = 100_000


@dataclass
class ReferenceBook:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    last_update_id: int = 0

    def load(self, snapshot: dict[str, object]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}  # type: ignore[attr-defined]
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}  # type: ignore[attr-defined]
        self.last_update_id = int(snapshot["lastUpdateId"])  # type: ignore[call-overload]

    def apply(self, event: dict[str, object]) -> None:
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in levels:  # type: ignore[attr-defined]
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)
        self.last_update_id = int(event["u"])  # type: ignore[call-overload]


def as_book(doc: dict[str, object]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return ({Decimal(p): Decimal(q) for p, q in doc["bids"]}, {Decimal(p): Decimal(q) for p, q in doc["asks"]})  # type: ignore[attr-defined]


@pytest.fixture
async def fast_sim() -> AsyncIterator[BinanceSimServer]:
    config = SimServerConfig(symbols=("BTCUSDT",), rate=2500, truth_window=400_000, ws_incoming_per_s=50)
    async with BinanceSimServer(config, market=MarketConfig(levels_per_side=1000)) as server:
        yield server


async def run_reference(sim: BinanceSimServer, *, inject: bool) -> dict[str, int]:
    stats = {"checked": 0, "resyncs": 0, "ignored": 0, "snapshot_retries": 0, "duplicates": 0}
    events: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:

        async def reader() -> None:
            async for msg in ws:
                events.put_nowait(json.loads(msg.data))

        async def truth(update_id: int) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
            async with http.get(f"{sim.control_url}/book", params={"symbol": "BTCUSDT", "update_id": str(update_id)}) as r:
                assert r.status == 200, await r.text()
                return as_book(await r.json())

        async def synchronise() -> tuple[ReferenceBook, list[dict[str, object]]]:
            # Steps 1-4: buffer, note the first U, fetch a snapshot not older than it, drop what it covers.
            buffered = [await events.get()]
            first_u = int(buffered[0]["U"])  # type: ignore[call-overload]
            while True:
                async with http.get(f"{sim.rest_url}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "5000"}) as r:
                    snapshot = await r.json()
                if snapshot["lastUpdateId"] >= first_u:
                    break
                stats["snapshot_retries"] += 1
            assert len(snapshot["bids"]) < 5000 and len(snapshot["asks"]) < 5000  # the whole book fits a snapshot
            book = ReferenceBook()
            book.load(snapshot)
            assert (book.bids, book.asks) == await truth(book.last_update_id)
            while not events.empty():
                buffered.append(events.get_nowait())
            return book, [e for e in buffered if int(e["u"]) > book.last_update_id]  # type: ignore[call-overload]

        task = asyncio.create_task(reader())
        try:
            book, pending = await synchronise()
            start_id = book.last_update_id
            injected = 0
            plan = ["skip_diff", "duplicate_diff", "reorder_diff"] * 3 if inject else []
            expect: tuple[str, int] | None = None  # (stat that must move, its value when the fault was injected)
            while book.last_update_id - start_id < UPDATES or plan or expect:
                event = pending.pop(0) if pending else await asyncio.wait_for(events.get(), 10)
                u, big_u = int(event["u"]), int(event["U"])  # type: ignore[call-overload]
                if u < book.last_update_id:  # step 5: old event
                    stats["ignored"] += 1
                    continue
                if big_u > book.last_update_id + 1:  # step 5: gap → discard the book, restart from step 1
                    stats["resyncs"] += 1
                    book, pending = await synchronise()
                    continue
                if u == book.last_update_id:
                    stats["duplicates"] += 1  # already applied: absolute quantities make it harmless
                book.apply(event)  # step 6
                assert (book.bids, book.asks) == await truth(u), f"book differs from truth at update {u}"
                stats["checked"] += 1
                if expect is not None and stats[expect[0]] > expect[1]:
                    expect = None  # the previous fault was seen; inject the next one while live
                if expect is None and plan:
                    kind = plan.pop(0)
                    sim.inject(Fault(kind=kind, symbol="BTCUSDT"))
                    injected += 1
                    stat = "duplicates" if kind == "duplicate_diff" else "resyncs"
                    expect = (stat, stats[stat])
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    return stats


async def test_book_from_diffs_equals_truth(fast_sim: BinanceSimServer) -> None:
    stats = await asyncio.wait_for(run_reference(fast_sim, inject=False), 60)
    assert stats["resyncs"] == 0 and stats["checked"] >= 10


async def test_book_from_diffs_with_gaps_duplicates_and_reordering(fast_sim: BinanceSimServer) -> None:
    stats = await asyncio.wait_for(run_reference(fast_sim, inject=True), 60)
    # Each skip and each reorder forced a resync; each duplicate was seen and re-applied harmlessly.
    assert stats["resyncs"] == 6 and stats["duplicates"] == 3 and stats["checked"] >= 10, stats
