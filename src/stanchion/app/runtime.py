"""The engine runtime: ordered start, the tick loop, reconciliation, graceful shutdown.

Ordered start (this is readiness, and no order can leave before it):

1. risk limits loaded (instruments from the venue, limits from the config);
2. the journal replayed: orders, fills, positions and the reconciliation
   reference are rebuilt exactly as they were;
3. every venue connected and reconciled: orders left open by the previous
   process are queried and resolved, balances compared with positions;
4. the kernel starts trading.

Shutdown on SIGTERM (or Ctrl-C) within the grace period: strategies stop
quoting, the cancel-on-shutdown policy is applied and its answers awaited,
the journal is flushed, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from stanchion.core import failpoints
from stanchion.core.clock import Clock
from stanchion.engine.kernel import Kernel
from stanchion.engine.oms import OrderManager, QueryOrder
from stanchion.engine.reconcile import DriftPolicy, ReconcileAction, ReconcileReport, reconcile
from stanchion.engine.risk.gate import KillSwitchCause, KillSwitchState
from stanchion.model.execution import ExecutionReport
from stanchion.model.instrument import Instrument
from stanchion.observability.logging import get_logger
from stanchion.persistence.journal import Journal
from stanchion.venues.ports import AccountSnapshot

_log = get_logger("stanchion.runtime")


class Phase(enum.Enum):
    STARTING = "starting"
    RISK_LOADED = "risk_loaded"
    JOURNAL_REPLAYED = "journal_replayed"
    RECONCILED = "reconciled"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"


class VenueAdapter(Protocol):
    """A connected venue, as the runtime drives it (one per venue, supervised on its own)."""

    name: str
    account: str

    async def load_instruments(self, symbols: list[str]) -> dict[str, Instrument]: ...

    async def start(self, kernel: Kernel) -> None:
        """Connect market data and user data; feed the kernel. Returns once connected."""

    async def wait_books_live(self, timeout_s: float) -> bool: ...

    async def account_snapshot(self) -> AccountSnapshot: ...

    async def resolve(self, query: QueryOrder) -> ExecutionReport | None:
        """Query one order by client order id; None when the venue does not know it."""

    def statistics(self) -> dict[str, object]: ...

    async def stop(self) -> None: ...


class ReconcileReference(msgspec.Struct, frozen=True):
    venue: str
    balances: dict[str, int]


_reference_encoder = msgspec.msgpack.Encoder()
_reference_decoder = msgspec.msgpack.Decoder(ReconcileReference)
REFERENCE_KIND = "reconcile.reference"


@dataclass(slots=True)
class RuntimeStatistics:
    phase: Phase = Phase.STARTING
    started_mono: float = field(default_factory=time.monotonic)
    ready_mono: float | None = None
    reconciliations: int = 0
    last_reconcile: dict[str, ReconcileReport] = field(default_factory=dict)
    replayed_records: int = 0
    resolved_at_start: int = 0


class EngineRuntime:
    def __init__(
        self,
        *,
        clock: Clock,
        kernel: Kernel,
        journal: Journal,
        adapters: Mapping[str, VenueAdapter],
        oms: Mapping[str, OrderManager],
        instruments: Mapping[str, Instrument],
        reconcile_interval_s: float,
        drift_policy: DriftPolicy,
        drift_threshold_percent: float,
        grace_s: float,
        cancel_on_shutdown: bool,
        tick_interval_s: float = 0.1,
        on_phase: Callable[[Phase], None] | None = None,
        on_reconcile: Callable[[ReconcileReport], None] | None = None,
    ) -> None:
        self.clock = clock
        self.kernel = kernel
        self.journal = journal
        self.adapters = dict(adapters)
        self.oms = dict(oms)
        self.instruments = dict(instruments)
        self.reconcile_interval_s = reconcile_interval_s
        self.drift_policy = drift_policy
        self.drift_threshold_percent = drift_threshold_percent
        self.grace_s = grace_s
        self.cancel_on_shutdown = cancel_on_shutdown
        self.tick_interval_s = tick_interval_s
        self._on_phase = on_phase
        self._on_reconcile = on_reconcile
        self._references: dict[str, dict[str, int]] = {}
        self.stats = RuntimeStatistics()
        self._reconcile_now = asyncio.Event()
        self._order_closed = asyncio.Event()

    def notify_order_update(self) -> None:
        """Called by the engine listener on every order update (wakes the shutdown wait)."""
        self._order_closed.set()

    # --- phases ------------------------------------------------------------------------

    def _phase(self, phase: Phase) -> None:
        self.stats.phase = phase
        if phase is Phase.READY:
            self.stats.ready_mono = time.monotonic()
        _log.info("phase", phase=phase.value)
        if self._on_phase is not None:
            self._on_phase(phase)

    @property
    def ready(self) -> bool:
        return self.stats.phase is Phase.READY

    def replay_journal(self) -> None:
        """Step 2: rebuild orders, fills, positions and references from the journal."""
        history = self.journal.open()
        for record in history:
            if record.kind == REFERENCE_KIND:
                reference = _reference_decoder.decode(record.body)
                self._references[reference.venue] = dict(reference.balances)
                continue
            venue = self._venue_of(record.key)
            oms = self.oms.get(venue) if venue else None
            if oms is None:
                continue
            fill = oms.replay(record.kind, record.key, record.body)
            if fill is not None:
                self.kernel.replay_fill(venue, fill)  # type: ignore[arg-type]
        self.stats.replayed_records = len(history)
        self._phase(Phase.JOURNAL_REPLAYED)

    def _venue_of(self, client_order_id: str) -> str | None:
        # One OMS per venue; journal keys are client order ids, unique across venues.
        if len(self.oms) == 1:
            return next(iter(self.oms))
        for venue, oms in self.oms.items():
            if oms.get(client_order_id) is not None:
                return venue
        return next(iter(self.oms), None)

    async def reconcile_venue(self, venue: str, *, at_start: bool) -> ReconcileReport:
        """Resolve orders of unknown state, then compare balances with positions."""
        adapter = self.adapters[venue]
        oms = self.oms[venue]
        snapshot = await adapter.account_snapshot()
        if venue not in self._references:
            # First start on this journal: the venue's balances are where our accounting begins.
            self._references[venue] = dict(snapshot.balances)
            self.journal.append(
                REFERENCE_KIND, venue, _reference_encoder.encode(ReconcileReference(venue, dict(snapshot.balances)))
            )
        queries = oms.after_replay(self.clock.time_ns()) if at_start else oms.queries_due(self.clock.time_ns(), 0)
        ids_to_check = {q.client_order_id for q in queries}
        # Orders we believe open but the venue does not list must be queried too.
        ids_to_check |= {o.client_order_id for o in oms.venue_orders() if o.client_order_id not in snapshot.open_orders}
        for cid in sorted(ids_to_check):
            order = oms.get(cid)
            if order is None:
                continue
            found = snapshot.open_orders.get(cid) or await adapter.resolve(QueryOrder(venue, order.symbol, cid))
            if found is None:
                update = oms.on_query_not_found(cid, self.clock.time_ns() + (10**12 if at_start else 0))
                if update is not None:
                    self.stats.resolved_at_start += 1
            else:
                self.kernel.on_execution_report(venue, found)
                self.stats.resolved_at_start += 1
        if failpoints.ARMED:
            failpoints.hit("runtime.reconcile_queried")  # the venue was asked, nothing compared yet
        symbols = {i.symbol: i.base for i in self.instruments.values() if i.venue == venue}
        internal = {}
        for symbol in symbols:
            position = self.kernel.positions.get(venue, symbol)
            internal[symbol] = position.qty if position is not None else 0
        report = reconcile(
            venue=venue,
            symbols=symbols,
            internal_positions=internal,
            venue_balances=snapshot.balances,
            reference_balances=self._references[venue],
            internal_open_orders={o.client_order_id for o in oms.venue_orders()},
            venue_open_orders=set(snapshot.open_orders),
            is_ours=lambda cid: oms.get(cid) is not None or oms.owns_id(cid),
            threshold_percent=self.drift_threshold_percent,
            policy=self.drift_policy,
        )
        self.stats.reconciliations += 1
        self.stats.last_reconcile[venue] = report
        if report.action is ReconcileAction.HALT:
            self.kernel.kill(KillSwitchState.HALTED, KillSwitchCause.DRIFT)
        elif report.action is ReconcileAction.ADOPT:
            self._adopt(venue, report)
        if report.action is not ReconcileAction.NONE:
            _log.warning(
                "position_drift", venue=venue, action=report.action.value,
                max_drift_percent=report.max_drift_percent,
                unknown_locally=list(report.unknown_locally), unknown_at_venue=list(report.unknown_at_venue),
            )
        if self._on_reconcile is not None:
            self._on_reconcile(report)
        return report

    def _adopt(self, venue: str, report: ReconcileReport) -> None:
        """Take the venue's balances as the truth: move the reference so drift is zero."""
        reference = self._references[venue]
        for drift in report.breached:
            reference[drift.base_asset] = reference.get(drift.base_asset, 0) + drift.difference
        self.journal.append(REFERENCE_KIND, venue, _reference_encoder.encode(ReconcileReference(venue, reference)))

    def request_reconcile(self) -> None:
        """Reconcile soon (after a reconnect)."""
        self._reconcile_now.set()

    # --- the whole life ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event, connected: Callable[[], Awaitable[None]] | None = None) -> None:
        self._phase(Phase.RISK_LOADED)
        self.replay_journal()
        try:
            for adapter in self.adapters.values():
                await adapter.start(self.kernel)
            if connected is not None:
                await connected()
            for venue in self.adapters:
                await self.reconcile_venue(venue, at_start=True)
            self._phase(Phase.RECONCILED)
            for adapter in self.adapters.values():
                if not await adapter.wait_books_live(timeout_s=30.0):
                    # Trading starts anyway: the risk gate's data-health check refuses orders on
                    # any book that is not LIVE, and /readyz stays 503 until it is.
                    _log.warning("books_not_live_at_start", venue=adapter.name, statistics=adapter.statistics())
            self.kernel.start_trading()
            self._phase(Phase.READY)
            await self._loop(stop)
        finally:
            await self._shutdown()

    async def _loop(self, stop: asyncio.Event) -> None:
        next_reconcile = time.monotonic() + self.reconcile_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_interval_s)
            self.kernel.on_tick()
            now = time.monotonic()
            if now >= next_reconcile or self._reconcile_now.is_set():
                self._reconcile_now.clear()
                next_reconcile = now + self.reconcile_interval_s
                for venue in self.adapters:
                    try:
                        await self.reconcile_venue(venue, at_start=False)
                    except Exception as exc:  # noqa: BLE001 - a failed reconcile is retried next period
                        _log.warning("reconcile_failed", venue=venue, error=f"{type(exc).__name__}: {exc}")

    async def _shutdown(self) -> None:
        self._phase(Phase.STOPPING)
        deadline = time.monotonic() + self.grace_s
        if self.kernel.trading_enabled:
            self.kernel.stop_trading()
        if self.cancel_on_shutdown:
            self.kernel.cancel_all()
            # Wait for the venue's cancel acks, bounded by the grace period.
            while any(oms.open_count() for oms in self.oms.values()):
                remaining = deadline - 1.0 - time.monotonic()
                if remaining <= 0:
                    _log.warning("shutdown_orders_still_open", count=sum(o.open_count() for o in self.oms.values()))
                    break
                self._order_closed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._order_closed.wait(), timeout=min(remaining, 0.5))
        for adapter in self.adapters.values():
            try:
                await asyncio.wait_for(adapter.stop(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                _log.warning("adapter_stop_timeout", venue=adapter.name)
        self.journal.close()
        self._phase(Phase.STOPPED)
