"""In-process bus: topic builders, NATS matching, overflow policy per topic class."""

from __future__ import annotations

import asyncio

import pytest

from stanchion.bus.inprocess import InProcessBus
from stanchion.bus.topics import (
    MarketDataKind,
    TopicClass,
    cmd_topic,
    exec_topic,
    matches,
    md_topic,
    topic_class,
)
from stanchion.core.errors import BackpressureError


def test_topic_builders_and_validation() -> None:
    assert md_topic("binance", "BTCUSDT", MarketDataKind.BOOK) == "md.binance.BTCUSDT.book"
    assert cmd_topic("binance", "main") == "cmd.binance.main"
    assert exec_topic("binance", "main") == "exec.binance.main"
    for bad in ["", "a.b", "a*", ">", "has space", "x" * 65]:
        with pytest.raises(ValueError, match="invalid topic token"):
            md_topic("binance", bad, MarketDataKind.BOOK)
    assert topic_class("exec.binance.main") is TopicClass.EXECUTION
    with pytest.raises(ValueError, match="no known class"):
        topic_class("other.x")


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("md.binance.*.book", "md.binance.BTCUSDT.book", True),
        ("md.binance.*.book", "md.binance.BTCUSDT.trade", False),
        ("md.>", "md.binance.BTCUSDT.book", True),
        ("md.>", "md", False),
        ("exec.binance.main", "exec.binance.main", True),
        ("exec.binance", "exec.binance.main", False),
        ("exec.*", "exec.binance.main", False),
    ],
)
def test_nats_matching(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


async def test_market_data_drops_oldest_and_counts() -> None:
    bus: InProcessBus[int] = InProcessBus()
    sub = bus.subscribe("md.>", capacity=3)
    for i in range(5):
        assert bus.publish_nowait("md.binance.BTCUSDT.book", i) == 1
    assert sub.dropped == 2
    got = [sub.get_nowait() for _ in range(3)]
    assert [e.payload for e in got if e] == [2, 3, 4]


async def test_commands_refuse_when_full_and_deliver_nothing() -> None:
    bus: InProcessBus[str] = InProcessBus()
    small = bus.subscribe("cmd.binance.main", capacity=1)
    big = bus.subscribe("cmd.>", capacity=10)
    bus.publish_nowait("cmd.binance.main", "a")
    with pytest.raises(BackpressureError, match="never dropped"):
        bus.publish_nowait("cmd.binance.main", "b")
    assert len(small) == 1 and len(big) == 1  # all-or-nothing


async def test_execution_never_drops_publisher_waits() -> None:
    bus: InProcessBus[int] = InProcessBus()
    sub = bus.subscribe("exec.>", capacity=2)
    await bus.publish("exec.binance.main", 1)
    await bus.publish("exec.binance.main", 2)
    blocked = asyncio.create_task(bus.publish("exec.binance.main", 3))
    await asyncio.sleep(0)  # let it reach the wait
    assert not blocked.done()
    first = await sub.get()
    assert first.payload == 1
    await asyncio.wait_for(blocked, timeout=2)
    assert [ (await sub.get()).payload for _ in range(2)] == [2, 3]
    assert sub.dropped == 0


async def test_subscription_iteration_ends_on_close() -> None:
    bus: InProcessBus[int] = InProcessBus()
    sub = bus.subscribe("risk.>", capacity=4)
    await bus.publish("risk.0.denial", 7)
    received: list[int] = []

    async def consume() -> None:
        async for envelope in sub:
            received.append(envelope.payload)

    task = asyncio.create_task(consume())
    for _ in range(100):  # bounded: a few loop turns deliver it
        if received == [7]:
            break
        await asyncio.sleep(0)
    assert received == [7]
    sub.close()
    await asyncio.wait_for(task, timeout=2)
    assert bus.statistics()["subscriptions"] == 0
