"""The in-process bus: bounded subscriptions with an overflow policy per topic class.

* market data — ``publish_nowait`` never blocks; a full subscriber loses its
  oldest message and its ``dropped`` count rises, which tells it to resync;
* commands — a full subscriber makes ``publish_nowait`` raise
  :class:`BackpressureError`; the caller (the OMS) decides, nothing is lost
  silently;
* execution, risk, audit — never dropped: ``publish`` waits until every matching
  subscriber has room; ``publish_nowait`` raises instead of dropping.

The hot path publishes synchronously; only reliable classes may await.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from stanchion.bus.topics import TopicClass, matches, topic_class
from stanchion.core.errors import BackpressureError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Envelope(Generic[T]):
    topic: str
    payload: T


class Subscription(Generic[T]):
    """A bounded queue of envelopes for one pattern."""

    def __init__(self, bus: InProcessBus[T], pattern: str, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.pattern = pattern
        self.capacity = capacity
        self.dropped = 0
        self.delivered = 0
        self._bus = bus
        self._items: collections.deque[Envelope[T]] = collections.deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return len(self._items) >= self.capacity

    def _push(self, envelope: Envelope[T]) -> None:
        self._items.append(envelope)
        self._readable.set()
        if self.full:
            self._writable.clear()

    def _push_dropping_oldest(self, envelope: Envelope[T]) -> None:
        if self.full:
            self._items.popleft()
            self.dropped += 1
        self._push(envelope)

    def get_nowait(self) -> Envelope[T] | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self.delivered += 1
        if not self._items:
            self._readable.clear()
        self._writable.set()
        return item

    async def get(self) -> Envelope[T]:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self._closed:
                raise EOFError("subscription closed")
            await self._readable.wait()

    async def wait_writable(self) -> None:
        while self.full and not self._closed:
            await self._writable.wait()

    def close(self) -> None:
        self._closed = True
        self._readable.set()
        self._writable.set()
        self._bus._unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Envelope[T]]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return


class InProcessBus(Generic[T]):
    """Publish/subscribe inside one process, NATS subject semantics."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription[T]] = []

    def subscribe(self, pattern: str, capacity: int = 1024) -> Subscription[T]:
        subscription = Subscription(self, pattern, capacity)
        self._subscriptions.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription[T]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def _targets(self, topic: str) -> list[Subscription[T]]:
        return [s for s in self._subscriptions if matches(s.pattern, topic)]

    def publish_nowait(self, topic: str, payload: T) -> int:
        """Publish without waiting; returns the number of subscribers reached.

        Market data drops the oldest on overflow; every other class raises
        :class:`BackpressureError` *before* delivering to anyone, so a publish is
        all-or-nothing.
        """
        cls = topic_class(topic)
        targets = self._targets(topic)
        envelope = Envelope(topic, payload)
        if cls is TopicClass.MARKET_DATA:
            for subscription in targets:
                subscription._push_dropping_oldest(envelope)
            return len(targets)
        full = [s.pattern for s in targets if s.full]
        if full:
            raise BackpressureError(
                f"{topic}: subscribers full ({', '.join(full)}); {cls.value} is never dropped"
            )
        for subscription in targets:
            subscription._push(envelope)
        return len(targets)

    async def publish(self, topic: str, payload: T) -> int:
        """Publish, waiting for room in every matching subscriber (reliable classes)."""
        cls = topic_class(topic)
        if cls is TopicClass.MARKET_DATA:
            return self.publish_nowait(topic, payload)
        while True:
            targets = self._targets(topic)
            full = [s for s in targets if s.full]
            if not full:
                envelope = Envelope(topic, payload)
                for subscription in targets:
                    subscription._push(envelope)
                return len(targets)
            await full[0].wait_writable()

    def statistics(self) -> dict[str, int]:
        return {
            "subscriptions": len(self._subscriptions),
            "queued": sum(len(s) for s in self._subscriptions),
            "dropped": sum(s.dropped for s in self._subscriptions),
        }
