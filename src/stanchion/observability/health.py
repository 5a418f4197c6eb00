"""The process's HTTP face for Prometheus and Kubernetes: ``/metrics``, ``/healthz``, ``/readyz``.

* ``/metrics`` — the injected registry in the Prometheus text format (OpenMetrics
  when the scraper asks for it).
* ``/healthz`` — liveness: 200 whenever the event loop runs the handler at all;
  the body carries the event-loop lag measured by a small monitor task.
* ``/readyz`` — readiness: 503 until every condition of a :class:`Readiness` is
  met (journal replayed, venues reconciled, every configured book LIVE), with the
  unmet conditions listed as JSON; back to 503 as soon as one is cleared.

Anything else is 404, a wrong method 405, and malformed or hostile requests get
a short 4xx from the HTTP parser — never a traceback: handler errors become a bare
500, and aiohttp's per-request error logging is stripped of tracebacks and demoted
to DEBUG (a hostile client cannot flood the logs).

Use it inside a running loop; it owns its lag-monitor task::

    async with HealthServer(metrics, readiness, host="127.0.0.1", port=9464) as server:
        ...  # server.port is the bound port (useful with port 0)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Final

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stanchion.observability.metrics import StanchionMetrics

__all__ = [
    "BOOK_LIVE_PREFIX",
    "JOURNAL_REPLAYED",
    "VENUES_RECONCILED",
    "HealthServer",
    "Readiness",
    "render_metrics",
]

JOURNAL_REPLAYED: Final = "journal_replayed"
VENUES_RECONCILED: Final = "venues_reconciled"
BOOK_LIVE_PREFIX: Final = "book_live:"

_log = logging.getLogger(__name__)


class _StripTraceback(logging.Filter):
    """aiohttp logs a full traceback for every malformed request ("Error handling
    request"); a hostile client could flood the logs with them. Keep the line, drop
    the traceback, demote it to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_http_log = logging.getLogger(__name__ + ".http")
_http_log.addFilter(_StripTraceback())
_JSON = "application/json"


class Readiness:
    """Named readiness conditions that components set and clear.

    The set of conditions is fixed at construction (a typo in ``set`` is an error,
    not a condition that silently never becomes true). Ready means all are set.
    """

    __slots__ = ("_conditions", "_event")

    def __init__(self, conditions: Iterable[str]) -> None:
        self._conditions: dict[str, bool] = {}
        for name in conditions:
            if not name or not name.isprintable() or len(name) > 200:
                raise ValueError(f"readiness condition names must be 1..200 printable characters, got {name[:40]!r}")
            if name in self._conditions:
                raise ValueError(f"readiness condition {name!r} declared twice")
            self._conditions[name] = False
        self._event: asyncio.Event | None = None

    @classmethod
    def standard(cls, book_keys: Iterable[str]) -> Readiness:
        """The engine's conditions: journal replayed, venues reconciled, and one
        ``book_live:<exchange:SYMBOL>`` per configured book."""
        return cls([JOURNAL_REPLAYED, VENUES_RECONCILED, *(BOOK_LIVE_PREFIX + key for key in book_keys)])

    def _check(self, name: str) -> None:
        if name not in self._conditions:
            raise KeyError(f"unknown readiness condition {name!r}; declared: {sorted(self._conditions)}")

    def set(self, name: str) -> None:
        self._check(name)
        self._conditions[name] = True
        if self._event is not None and self.ready:
            self._event.set()

    def clear(self, name: str) -> None:
        self._check(name)
        self._conditions[name] = False
        if self._event is not None:
            self._event.clear()

    def update(self, name: str, met: bool) -> None:
        if met:
            self.set(name)
        else:
            self.clear(name)

    def is_set(self, name: str) -> bool:
        self._check(name)
        return self._conditions[name]

    @property
    def ready(self) -> bool:
        return all(self._conditions.values())

    def unmet(self) -> list[str]:
        return [name for name, met in self._conditions.items() if not met]

    async def wait_ready(self) -> None:
        """Return once every condition is met (wrap in ``asyncio.timeout`` to bound it)."""
        if self._event is None:
            self._event = asyncio.Event()
        if self.ready:
            self._event.set()
        await self._event.wait()

    def statistics(self) -> dict[str, object]:
        return {"ready": self.ready, "conditions": dict(self._conditions)}


# Rendering a scrape is pure Python (~7 us per sample). On the event loop thread it is
# consistent with the components it reads, but one 1,000-sample scrape would stall the
# hot path for ~7 ms; so it renders in slices of at most _SLICE_SAMPLES samples and
# yields to the loop whenever a slice budget is used up.
_SLICE_SAMPLES = 40
_SLICE_BUDGET_S = 0.0002
_HEADER_PREFIXES = (b"# HELP ", b"# TYPE ", b"# UNIT ")
_EOF = b"# EOF\n"


class _Families(Collector):
    """A collector over already-collected families (what the encoders iterate)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _slices(family: Metric) -> Iterator[Metric]:
    samples = family.samples
    if len(samples) <= _SLICE_SAMPLES:
        yield family
        return
    for start in range(0, len(samples), _SLICE_SAMPLES):
        part = Metric(family.name, family.documentation, family.type, family.unit)
        part.samples = samples[start : start + _SLICE_SAMPLES]
        yield part


async def render_metrics(registry: Collector, accept: str = "") -> tuple[bytes, str]:
    """The registry's exposition for an ``Accept`` header, rendered without stalling the loop.

    Byte-for-byte what ``generate_latest`` returns (families stay contiguous; header lines
    are written once per family), but the loop runs other tasks between slices.
    """
    encoder, content_type = choose_encoder(accept)
    openmetrics = content_type.startswith("application/openmetrics-text")
    parts: list[bytes] = []
    slice_started = time.perf_counter()
    for family in registry.collect():
        # The text format writes a family's `_created` samples as a section of their own
        # after its samples: merge the slices section by section, headers once each.
        sections: dict[bytes, list[bytes]] = {}
        for part in _slices(family):
            text = encoder(_Families((part,)))
            if openmetrics and text.endswith(_EOF):
                text = text[: -len(_EOF)]
            current: list[bytes] | None = None
            for line in text.splitlines(keepends=True):
                if line.startswith(b"# HELP "):
                    key = line.split(b" ", 3)[2]
                    current = sections.get(key)
                    if current is None:
                        current = sections[key] = [line]
                elif line.startswith(_HEADER_PREFIXES):
                    if current is not None and len(current) < 3 and current[-1].startswith(_HEADER_PREFIXES):
                        current.append(line)
                elif current is not None:
                    current.append(line)
            if time.perf_counter() - slice_started > _SLICE_BUDGET_S:
                await asyncio.sleep(0)
                slice_started = time.perf_counter()
        for lines in sections.values():
            parts.extend(lines)
    if openmetrics:
        parts.append(_EOF)
    return b"".join(parts), content_type


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the boundary: log it, answer 500 without details
        _log.exception("health endpoint %s failed", request.path[:100])
        return web.json_response({"error": "internal error"}, status=500)


class HealthServer:
    """aiohttp server for ``/metrics``, ``/healthz`` and ``/readyz`` plus the event-loop lag monitor."""

    def __init__(
        self,
        metrics: StanchionMetrics,
        readiness: Readiness,
        host: str = "127.0.0.1",
        port: int = 9464,
        *,
        lag_interval_s: float = 0.25,
    ) -> None:
        if lag_interval_s <= 0:
            raise ValueError(f"lag_interval_s must be > 0, got {lag_interval_s}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        self.metrics = metrics
        self.readiness = readiness
        self.host = host
        self._requested_port = port
        self._lag_interval_s = lag_interval_s
        self.event_loop_lag_seconds = 0.0
        self._runner: web.AppRunner | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._port: int | None = None
        metrics.register_readiness(readiness)
        self._scrape_lock = asyncio.Lock()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("HealthServer is not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[_no_tracebacks], client_max_size=1024)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("HealthServer already started")
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, logger=_http_log)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                exc.errno, f"health server cannot listen on {self.host}:{self._requested_port}: {exc.strerror}"
            ) from exc
        addresses = runner.addresses
        self._port = int(addresses[0][1]) if addresses else self._requested_port
        self._runner = runner
        self._monitor = asyncio.create_task(self._watch_loop_lag(), name="health.event-loop-lag")

    async def stop(self) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.cancel()
            try:
                await monitor
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # stop() itself is being cancelled: never swallow that
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _watch_loop_lag(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._lag_interval_s
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - started - interval)
            self.event_loop_lag_seconds = lag
            self.metrics.event_loop_lag.set(lag)
            self.metrics.event_loop_delay.observe(lag)

    # --- handlers -------------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        async with self._scrape_lock:  # one scrape at a time: bounded work per scrape interval
            body, content_type = await render_metrics(self.metrics.registry, request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "event_loop_lag_seconds": self.event_loop_lag_seconds})

    async def _readyz(self, _request: web.Request) -> web.Response:
        unmet = self.readiness.unmet()
        body = {"ready": not unmet, "unmet": unmet}
        return web.Response(text=json.dumps(body), status=200 if not unmet else 503, content_type=_JSON)
