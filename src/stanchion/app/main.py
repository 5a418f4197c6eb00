"""The composition root of ``stanchion run``: config → venues, engine, metrics, admin, view.

The only place that builds concrete objects and wires them together:

* ``mode: sim`` (the embedded default when no ``--config`` is given) starts the
  Binance simulator on an ephemeral loopback port and trades against it with
  the simulator's test key; its journal lives in a fresh temporary directory
  (a new simulator knows nothing of an old journal's orders);
* ``mode: paper`` and ``mode: live`` use the configured endpoints, resolve the
  API keys through the secret providers, and keep the journal at
  ``journal.path`` so a restart resumes exactly where the process stopped.

Then the ordered start of :class:`~stanchion.app.runtime.EngineRuntime` runs,
the metrics/health endpoint and the admin endpoint serve, and until a stop is
asked (SIGINT, SIGTERM, ``--duration``) the live view refreshes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stanchion.app.admin import AdminServer, new_token, write_token_file
from stanchion.app.runtime import EngineRuntime, Phase
from stanchion.app.view import BookRow, OrderRow, PositionRow, VenueRow, ViewModel
from stanchion.app.wiring import risk_limits, shard_from_environment, shard_symbols, strategies
from stanchion.config.loader import LoadedConfig, config_id, load_config, parse_config
from stanchion.config.model import CancelOnShutdown, KeyType, Mode, StanchionConfig, split_address
from stanchion.core.clock import LiveClock
from stanchion.core.errors import ConfigError
from stanchion.core.fixedpoint import Rounding, format_fixed, rescale
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.kernel import Kernel
from stanchion.engine.oms import OrderManager, OrderUpdate
from stanchion.engine.positions import Position
from stanchion.engine.reconcile import DriftPolicy, ReconcileReport
from stanchion.engine.risk.gate import KillSwitchCause, KillSwitchState, OrderIntent, RiskDecision, RiskGate
from stanchion.model.execution import Fill
from stanchion.model.instrument import Instrument
from stanchion.model.orders import OrderStatus
from stanchion.observability.health import (
    BOOK_LIVE_PREFIX,
    JOURNAL_REPLAYED,
    VENUES_RECONCILED,
    HealthServer,
    Readiness,
)
from stanchion.observability.logging import get_logger
from stanchion.observability.metrics import StanchionMetrics, SymbolMetrics
from stanchion.persistence.epoch import EpochStore
from stanchion.persistence.journal import Journal
from stanchion.security.secrets import SecretResolver, SecretSpec
from stanchion.venues.binance.adapter import AdapterEvents, BinanceAdapter, BinanceAdapterConfig
from stanchion.venues.binance.auth import Ed25519Signer, HmacSigner, Signer

_log = get_logger("stanchion.run")

ENGINE_STARTED = "engine_started"
"""Readiness condition: the ordered start completed (phase READY); cleared when stopping."""

EMBEDDED_CONFIG: dict[str, Any] = {
    "deployment": "S",
    "mode": "sim",
    "venues": {
        "binance": {
            "kind": "binance",
            "account": "main",
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "staleness": {"liveness_timeout_s": 30, "book_stale_after_s": 10},
        }
    },
    "shards": [{"id": 0, "symbols": ["binance:BTCUSDT", "binance:ETHUSDT"]}],
    "risk": {
        "instruments": {
            "binance:BTCUSDT": {"max_order_qty": "0.5", "max_order_notional": "50000", "max_position": "2"},
            "binance:ETHUSDT": {"max_order_qty": "10", "max_order_notional": "50000", "max_position": "40"},
        },
        "account": {"max_gross_exposure": "400000", "max_net_exposure": "200000"},
        "portfolio": {"max_gross_exposure": "800000", "max_net_exposure": "400000"},
        "price_band_bps": 200,
        "max_orders_per_second": 20,
        "max_cancels_per_second": 40,
        "max_open_orders": 50,
        "daily_loss_limit": "5000",
        "max_drawdown": "7500",
        "loss_action": "halt",
    },
    "strategies": [
        {
            "name": "mm",
            "params": {
                "kind": "market_maker",
                "instruments": ["binance:BTCUSDT", "binance:ETHUSDT"],
                "quote_size": "0.01",
                "half_spread_bps": "1",
                "max_inventory": "0.5",
                "skew_bps_per_unit": "20",
            },
        }
    ],
    "metrics": {"listen": "127.0.0.1:9464"},
    "admin": {"listen": "127.0.0.1:9465"},
    "journal": {"path": ".state/journal.sqlite"},
    "reconciliation": {"interval_s": 10, "drift_policy": "alert", "drift_threshold_pct": "1"},
    "shutdown": {"grace_s": 60, "cancel_on_shutdown": "cancel_all"},
    "sim": {"seed": 1, "updates_per_second": 50, "volatility_ticks": 30},
}


@dataclass(frozen=True, slots=True)
class RunOptions:
    config_path: Path | None = None
    headless: bool = False
    duration_s: float | None = None
    shard: int | None = None
    metrics_listen: str | None = None
    admin_listen: str | None = None
    state_dir: Path | None = None
    """Overrides where the journal, epoch and admin token live (sim mode: a temp dir)."""


def load_run_config(path: Path | None) -> LoadedConfig:
    if path is None:
        return parse_config(EMBEDDED_CONFIG, "<embedded default>")
    return load_config(path)


# --- latency samples -----------------------------------------------------------------


class LatencySamples:
    """The last N tick-to-order latencies (ns), for p50/p99 in the view and summary."""

    def __init__(self, keep: int = 20_000) -> None:
        self._samples: deque[int] = deque(maxlen=keep)
        self.count = 0

    def add(self, ns: int) -> None:
        self._samples.append(ns)
        self.count += 1

    def percentile_us(self, q: float) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index] / 1000


# --- engine → metrics, runtime, audit ---------------------------------------------------

_ORDER_STATUS_METRIC = {
    OrderStatus.SUBMITTING: "submitted",
    OrderStatus.NEW: "accepted",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.UNKNOWN: "unknown",
}


class EngineEvents:
    """The kernel's listener: metrics, the runtime's shutdown wait, latency samples, the audit log."""

    def __init__(self, metrics: StanchionMetrics, latency: LatencySamples) -> None:
        self._metrics = metrics
        self._symbols: dict[tuple[str, str], SymbolMetrics] = {}
        self.latency = latency
        self.runtime: EngineRuntime | None = None
        self.first_fill_seen: set[str] = set()

    def symbol(self, venue: str, symbol: str) -> SymbolMetrics:
        handle = self._symbols.get((venue, symbol))
        if handle is None:
            handle = self._symbols[(venue, symbol)] = self._metrics.for_symbol(venue, symbol)
        return handle

    def on_risk_denied(self, intent: OrderIntent, decision: RiskDecision) -> None:
        return  # counted by the risk gate itself (scraped from its statistics)

    def on_order_update(self, update: OrderUpdate) -> None:
        order = update.order
        if update.previous is OrderStatus.ARMED:
            # Withdrawn before it fired: it never reached the venue, so it is no cancel (the
            # kernel sends no update when one fires: it is counted as submitted, as any order).
            if update.status is OrderStatus.CANCELED:
                self.symbol(order.venue, order.symbol).order("disarmed")
            if self.runtime is not None:
                self.runtime.notify_order_update()
            return
        status = _ORDER_STATUS_METRIC.get(update.status)
        if status is not None and status != "rejected":
            self.symbol(order.venue, order.symbol).order(status)
        elif status == "rejected":
            self.symbol(order.venue, order.symbol).reject(_reason_class(order.reason))
        if update.status is OrderStatus.CANCELED:
            self.symbol(order.venue, order.symbol).cancels.inc()
        if self.runtime is not None:
            self.runtime.notify_order_update()

    def on_fill(self, fill: Fill, position: Position, latency_ns: int | None) -> None:
        handle = self.symbol(fill.venue if fill.venue else position.venue, fill.symbol)
        handle.fills.inc()
        if latency_ns is not None and fill.client_order_id not in self.first_fill_seen:
            self.first_fill_seen.add(fill.client_order_id)
            if len(self.first_fill_seen) > 100_000:
                self.first_fill_seen.clear()
            handle.fill_latency.observe(latency_ns / 1e9)

    def on_kill_switch(self, state: KillSwitchState, cause: KillSwitchCause | None) -> None:
        _log.warning("kill_switch", state=state.value, cause=cause.value if cause else None)

    def on_tick_to_order(self, venue: str, symbol: str, latency_ns: int) -> None:
        self.latency.add(latency_ns)


class MeteredKernel(Kernel):
    """The kernel plus the one count its listener has no event for: orders sent, per
    instrument, as plain integers (``trading_orders_total{status="submitted"}`` is brought
    up to date at scrape time by :class:`BeforeScrape`; the OMS reports no update on creation)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: dict[str, int] = {}
        self.armed_count: dict[str, int] = {}

    def _order_sent(self, key: str) -> None:
        self.submitted[key] = self.submitted.get(key, 0) + 1

    def _order_armed(self, key: str) -> None:
        self.armed_count[key] = self.armed_count.get(key, 0) + 1


class BeforeScrape(Collector):
    """Registered on the registry *before* :class:`StanchionMetrics`, so it runs first in
    every scrape (a registry collects in registration order) and exports nothing: it brings
    what the engine and the adapters count themselves into the metric handles, so the hot
    path pays nothing for them —

    * the time of each instrument's last book update (the kernel keeps it) → the handle
      from which ``trading_market_data_age_seconds`` is computed;
    * orders sent (armed) per instrument → ``trading_orders_total{status="submitted"}``
      (``{status="armed"}``);
    * per venue: REST rate-limit use per budget, clock offset, WebSocket messages received.
    """

    def __init__(self) -> None:
        self.kernel: MeteredKernel | None = None
        self.events: EngineEvents | None = None
        self.metrics: StanchionMetrics | None = None
        self.adapters: dict[str, BinanceAdapter] = {}
        self._submitted: dict[str, int] = {}
        self._armed: dict[str, int] = {}

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        kernel, events, metrics = self.kernel, self.events, self.metrics
        if kernel is None or events is None or metrics is None:
            return []
        for key, runtime in kernel.instruments.items():
            handle = events.symbol(runtime.instrument.venue, runtime.instrument.symbol)
            if runtime.last_book_mono_ns is not None:
                handle.last_market_data_mono_ns = runtime.last_book_mono_ns
            sent = kernel.submitted.get(key, 0)
            delta = sent - self._submitted.get(key, 0)
            if delta > 0:
                handle.orders["submitted"].inc(delta)
                self._submitted[key] = sent
            armed = kernel.armed_count.get(key, 0)
            if armed > self._armed.get(key, 0):
                handle.orders["armed"].inc(armed - self._armed.get(key, 0))
                self._armed[key] = armed
        for venue, adapter in self.adapters.items():
            try:
                _venue_gauges(metrics, venue, adapter.statistics())
            except Exception as exc:  # noqa: BLE001 - a broken adapter statistic must not blank the scrape
                _log.warning("scrape_venue_gauges_failed", venue=venue, error=f"{type(exc).__name__}: {exc}")
        return []


def _reason_class(reason: str | None) -> str:
    """A bounded label from a reject reason (the venue code when there is one)."""
    if not reason:
        return "unknown"
    for token in reason.replace(":", " ").split():
        if token.lstrip("-").isdigit() and token.startswith("-"):
            return token
    return "other"


class VenueEvents(AdapterEvents):
    """Adapter events → metrics and readiness."""

    def __init__(self, metrics: StanchionMetrics, readiness: Readiness, engine: EngineEvents) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._engine = engine
        self._connections: dict[tuple[str, str], Any] = {}
        self.runtime: EngineRuntime | None = None
        self.reconnects = 0

    def _connection(self, venue: str, connection: str) -> Any:
        handle = self._connections.get((venue, connection))
        if handle is None:
            handle = self._connections[(venue, connection)] = self._metrics.for_connection(venue, connection)
        return handle

    def on_book_state(self, venue: str, symbol: str, state: str) -> None:
        self._engine.symbol(venue, symbol).book_state(state)
        self._readiness.update(BOOK_LIVE_PREFIX + f"{venue}:{symbol}", state == "live")

    def on_resync(self, venue: str, symbol: str, reason: str) -> None:
        handle = self._engine.symbol(venue, symbol)
        handle.book_resyncs.inc()
        if reason in ("gap", "snapshot_gap"):
            handle.book_gaps.inc()
        elif reason == "crossed":
            handle.book_crossed.inc()

    def on_connection_state(self, venue: str, connection: str, state: str) -> None:
        self._connection(venue, connection).set_connected(state in ("live", "stale", "rotating"), time.monotonic_ns())

    def on_reconnect(self, venue: str, connection: str) -> None:
        self.reconnects += 1
        self._connection(venue, connection).reconnects.inc()
        if self.runtime is not None:
            self.runtime.request_reconcile()  # MISSION: reconcile after every reconnect

    def on_heartbeat_rtt(self, venue: str, connection: str, seconds: float) -> None:
        self._connection(venue, connection).heartbeat_latency.observe(seconds)

    def on_user_stream_restored(self, venue: str) -> None:
        if self.runtime is not None:
            self.runtime.request_reconcile()


# --- scrape-time sources -------------------------------------------------------------------


class _Source:
    def __init__(self, read: Any) -> None:
        self._read = read

    def statistics(self) -> dict[str, object]:
        result: dict[str, object] = self._read()
        return result


@dataclass
class Application:
    """Everything ``stanchion run`` built; :meth:`run` drives it until ``stop`` is set."""

    loaded: LoadedConfig
    options: RunOptions
    clock: LiveClock = field(default_factory=LiveClock)
    started_mono: float = field(default_factory=time.monotonic)
    latency: LatencySamples = field(default_factory=LatencySamples)
    kernel: Kernel | None = None
    runtime: EngineRuntime | None = None
    adapters: dict[str, BinanceAdapter] = field(default_factory=dict)
    oms: dict[str, OrderManager] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    readiness: Readiness | None = None
    health: HealthServer | None = None
    admin: AdminServer | None = None
    venue_events: VenueEvents | None = None
    sim: Any = None
    state_dir: Path | None = None
    at_stop: ViewModel | None = None
    before_scrape: BeforeScrape = field(default_factory=BeforeScrape)
    _temp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def config(self) -> StanchionConfig:
        return self.loaded.config

    # --- building ----------------------------------------------------------------------

    async def _start_sim(self) -> None:
        from stanchion.sim.binance import BinanceSimServer, SimServerConfig
        from stanchion.sim.types import MarketConfig

        symbols = sorted({s for v in self.config.venues.values() for s in v.symbols})
        sim_config = self.config.sim
        self.sim = BinanceSimServer(
            SimServerConfig(
                port=0, symbols=tuple(symbols), seed=sim_config.seed, rate=float(sim_config.updates_per_second)
            ),
            market=MarketConfig(volatility_ticks=sim_config.volatility_ticks),
        )
        await self.sim.start()

    def _signer(self, venue: str) -> Signer:
        venue_config = self.config.venues[venue]
        if self.config.mode is Mode.SIM:
            from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

            return HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET)
        credentials = venue_config.credentials
        if credentials is None:
            raise ConfigError(f"venues.{venue}.credentials: required in {self.config.mode.value} mode")
        resolver = SecretResolver()
        key = resolver.resolve(SecretSpec(credentials.api_key.provider, credentials.api_key.ref,
                                          credentials.api_key.key))
        secret = resolver.resolve(SecretSpec(credentials.api_secret.provider, credentials.api_secret.ref,
                                             credentials.api_secret.key))
        if credentials.key_type is KeyType.ED25519:
            return Ed25519Signer(key.reveal(), secret.reveal().encode())
        return HmacSigner(key.reveal(), secret.reveal())

    def _state_directory(self) -> Path:
        if self.options.state_dir is not None:
            return self.options.state_dir
        if self.config.mode is Mode.SIM:
            self._temp = tempfile.TemporaryDirectory(prefix="stanchion-sim-")
            return Path(self._temp.name)
        return Path(self.config.journal.path).parent

    async def build(self, metrics: StanchionMetrics) -> None:  # noqa: C901 - the wiring, once, in start order
        config = self.config
        shard = shard_from_environment(self.options.shard)
        keys = shard_symbols(config, shard)
        by_venue: dict[str, list[str]] = {}
        for key in keys:
            venue, _, symbol = key.partition(":")
            if venue not in config.venues:
                raise ConfigError(f"shards[{shard}]: {key} names an unknown venue {venue!r}")
            by_venue.setdefault(venue, []).append(symbol)
        if config.mode is Mode.SIM:
            await self._start_sim()
        self.state_dir = self._state_directory()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # The standard conditions plus the ordered start's last step (strategies started):
        # all books LIVE happens an event-loop turn before the engine starts trading.
        self.readiness = Readiness([*Readiness.standard(keys).unmet(), ENGINE_STARTED])
        engine_events = EngineEvents(metrics, self.latency)
        self.venue_events = VenueEvents(metrics, self.readiness, engine_events)
        journal = Journal(
            self.state_dir / f"journal-shard-{shard}",
            batch_max=config.journal.batch_max,
            flush_interval_s=config.journal.flush_interval_ms / 1000,
        )
        metrics.register_journal(_Source(lambda: _journal_stats(journal)))
        epoch = EpochStore(self.state_dir, shard).next_epoch()
        ids = ClientOrderIdFactory(config.deployment, shard, epoch)
        for venue, symbols in by_venue.items():
            venue_config = config.venues[venue]
            if self.sim is not None:
                rest, ws_stream, ws_api = self.sim.rest_url, self.sim.ws_stream_url, self.sim.ws_api_url
            else:
                endpoints = venue_config.endpoints
                if endpoints is None:
                    raise ConfigError(f"venues.{venue}.endpoints: required in {config.mode.value} mode")
                rest, ws_stream, ws_api = str(endpoints.rest), str(endpoints.ws_stream), str(endpoints.ws_api)
            oms = OrderManager(venue, venue_config.account, ids, journal.append)
            self.oms[venue] = oms
            self.adapters[venue] = BinanceAdapter(
                BinanceAdapterConfig(
                    name=venue, account=venue_config.account, rest_url=rest, ws_stream_url=ws_stream,
                    ws_api_url=ws_api, symbols=tuple(symbols),
                    book_stale_after_s=float(venue_config.staleness.book_stale_after_s),
                    liveness_timeout_s=float(venue_config.staleness.liveness_timeout_s),
                    use_ws_api_for_orders=venue_config.use_ws_api_for_orders,
                ),
                self._signer(venue),
                clock=self.clock,
                events=self.venue_events,
                open_orders=lambda oms=oms: [(o.symbol, o.client_order_id) for o in oms.venue_orders()],  # type: ignore[misc]
            )
        # 1. risk limits loaded: instruments from the venues, limits from the config.
        for venue, adapter in self.adapters.items():
            for symbol, instrument in (await adapter.load_instruments(by_venue[venue])).items():
                self.instruments[f"{venue}:{symbol}"] = instrument
        risk = RiskGate(risk_limits(config, self.instruments))
        kernel = MeteredKernel(self.clock, risk, listener=engine_events)
        for venue, adapter in self.adapters.items():
            kernel.add_venue(venue, self.oms[venue], adapter)
        for instrument in self.instruments.values():
            kernel.add_instrument(instrument, config.venues[instrument.venue].account)
            engine_events.symbol(instrument.venue, instrument.symbol).book_state("syncing")
        for strategy in strategies(config, self.instruments):
            kernel.add_strategy(strategy)
            for key in strategy.instruments:
                venue, _, symbol = key.partition(":")
                metrics.set_strategy_active(strategy.name, venue, symbol, False)
        self.kernel = kernel
        self.before_scrape.kernel, self.before_scrape.events = kernel, engine_events
        self.before_scrape.metrics, self.before_scrape.adapters = metrics, self.adapters
        metrics.register_risk(_Source(lambda: _risk_stats(risk)))
        metrics.register_positions(_Source(lambda: _position_stats(kernel)))
        readiness = self.readiness

        def on_phase(phase: Phase) -> None:
            if phase is Phase.JOURNAL_REPLAYED:
                readiness.set(JOURNAL_REPLAYED)
            elif phase is Phase.RECONCILED:
                readiness.set(VENUES_RECONCILED)
            elif phase in (Phase.READY, Phase.STOPPING):
                active = phase is Phase.READY
                if active:
                    readiness.set(ENGINE_STARTED)
                for strategy in kernel.strategies:
                    for key in strategy.instruments:
                        venue, _, symbol = key.partition(":")
                        metrics.set_strategy_active(strategy.name, venue, symbol, active)
                if phase is Phase.STOPPING:
                    self.at_stop = self.view_model()  # books and readiness as they were when asked to stop
                    readiness.clear(VENUES_RECONCILED)
                    readiness.clear(ENGINE_STARTED)

        def on_reconcile(report: ReconcileReport) -> None:
            for drift in report.drifts:
                engine_events.symbol(report.venue, drift.symbol).position_drift.set(float(drift.drift_percent))

        self.runtime = EngineRuntime(
            clock=self.clock, kernel=kernel, journal=journal, adapters=self.adapters, oms=self.oms,
            instruments=self.instruments,
            reconcile_interval_s=float(config.reconciliation.interval_s),
            drift_policy=DriftPolicy(config.reconciliation.drift_policy.value),
            drift_threshold_percent=float(config.reconciliation.drift_threshold_pct),
            grace_s=float(config.shutdown.grace_s),
            cancel_on_shutdown=config.shutdown.cancel_on_shutdown is CancelOnShutdown.CANCEL_ALL,
            on_phase=on_phase, on_reconcile=on_reconcile,
        )
        engine_events.runtime = self.runtime
        self.venue_events.runtime = self.runtime

    # --- admin --------------------------------------------------------------------------

    def kill(self, mode: str, reason: str) -> dict[str, Any]:
        assert self.kernel is not None
        state = KillSwitchState.REDUCE_ONLY if mode == "reduce_only" else KillSwitchState.HALTED
        changed = self.kernel.kill(state, KillSwitchCause.MANUAL)
        return {"changed": changed, "kill_switch": self.kernel.risk.kill_switch.value, "reason": reason}

    def resume(self, reason: str) -> dict[str, Any]:
        assert self.kernel is not None
        changed = self.kernel.resume()
        return {"changed": changed, "kill_switch": self.kernel.risk.kill_switch.value, "reason": reason}

    def status(self) -> dict[str, Any]:
        model = self.view_model()
        return {
            "ready": model.ready, "kill_switch": model.kill_switch, "kill_cause": model.kill_cause,
            "orders_sent": model.orders_sent, "fills": model.fills, "pnl": model.total_pnl,
            "positions": {row.key: row.qty for row in model.positions},
            # At the venue (or on their way): what reconciliation compares with the venue's list.
            "open_orders": sorted(row.client_order_id for row in model.orders if row.status != "ARMED"),
            "armed_orders": sorted(row.client_order_id for row in model.orders if row.status == "ARMED"),
            "config_id": config_id(self.config),
            "metrics_url": self.health.url if self.health is not None else None,
            "sim": self.sim.urls() if self.sim is not None else None,
        }

    async def _start_admin(self) -> None:
        admin = self.config.admin
        listen = self.options.admin_listen or admin.listen
        host, port = split_address(listen)
        assert self.state_dir is not None
        token_file = self.state_dir / "admin.token"
        if admin.auth is not None:
            token = SecretResolver().resolve(
                SecretSpec(admin.auth.token.provider, admin.auth.token.ref, admin.auth.token.key)
            ).reveal()
        else:
            token = new_token()
            write_token_file(token_file, token)
        self.admin = AdminServer(host, port, token, self)
        await self.admin.start()

    # --- view -------------------------------------------------------------------------------

    def view_model(self) -> ViewModel:
        kernel = self.kernel
        runtime = self.runtime
        if kernel is None or runtime is None:
            return ViewModel(self.config.mode.value, False, "active", None, time.monotonic() - self.started_mono)
        venues = []
        books = []
        reconnects = 0
        for venue, adapter in self.adapters.items():
            stats = adapter.statistics()
            md = stats.get("market_data")
            md_stats = md if isinstance(md, dict) else {}
            count = int(md_stats.get("reconnects", 0) or 0)
            reconnects += count
            states = adapter.connection_states()
            venues.append(VenueRow(venue, f"md {states['market_data']} / api {states['ws_api']}", count,
                                   int(md_stats.get("messages", 0) or 0), adapter.rate_limit_usage()))
            for symbol, state in adapter.book_states().items():
                book = adapter.live_book(symbol)
                instrument = self.instruments.get(f"{venue}:{symbol}")
                bid = book.best_bid_price() if book is not None else None
                ask = book.best_ask_price() if book is not None else None
                scale = instrument.price_scale if instrument is not None else 8
                books.append(BookRow(f"{venue}:{symbol}", state.upper(),
                                     "-" if bid is None else format_fixed(bid, scale),
                                     "-" if ask is None else format_fixed(ask, scale), None))
        orders = []
        for oms in self.oms.values():
            for order in oms.open_orders():
                instrument = self.instruments.get(f"{order.venue}:{order.symbol}")
                ps = instrument.price_scale if instrument else 8
                qs = instrument.qty_scale if instrument else 8
                orders.append(OrderRow(order.client_order_id, f"{order.venue}:{order.symbol}", order.side.value,
                                       "-" if order.price is None else format_fixed(order.price, ps),
                                       format_fixed(order.qty, qs), format_fixed(order.filled_qty, qs),
                                       order.status.value))
        positions = []
        marks = kernel.marks()
        for view in kernel.positions.views(marks):
            instrument = self.instruments.get(f"{view.venue}:{view.symbol}")
            ps = instrument.price_scale if instrument else 8
            qs = instrument.qty_scale if instrument else 8
            ns = ps + qs
            positions.append(PositionRow(
                f"{view.venue}:{view.symbol}", format_fixed(view.qty, qs),
                "-" if view.average_price is None else _shown(view.average_price, ps, 2),
                _shown(view.realised, ns, 4), _shown(view.unrealised, ns, 4),
                _shown(view.fees_quote, ns, 4),
            ))
        scale = max((i.price_scale + i.qty_scale for i in self.instruments.values()), default=16)
        risk = kernel.risk
        return ViewModel(
            mode=self.config.mode.value, ready=runtime.ready or (self.readiness is not None and self.readiness.ready),
            kill_switch=risk.kill_switch.value,
            kill_cause=risk.kill_cause.value if risk.kill_cause else None,
            uptime_s=time.monotonic() - self.started_mono, venues=venues, books=books, orders=orders,
            positions=positions, total_pnl=_shown(kernel.total_pnl(), scale, 4),
            orders_sent=kernel.stats.orders_sent, fills=kernel.stats.fills, risk_denials=kernel.stats.risk_denials,
            reconnects=reconnects,
            tick_to_order_p50_us=self.latency.percentile_us(0.5), tick_to_order_p99_us=self.latency.percentile_us(0.99),
        )

    # --- the whole life -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, on_ready: Any = None) -> ViewModel:
        registry = CollectorRegistry()
        registry.register(self.before_scrape)  # first: see BeforeScrape
        metrics = StanchionMetrics(registry, self.clock)
        try:
            await self.build(metrics)
            assert self.readiness is not None and self.runtime is not None
            host, port = split_address(self.options.metrics_listen or self.config.metrics.listen)
            self.health = HealthServer(metrics, self.readiness, host, port)
            await self.health.start()
            await self._start_admin()
            _log.info("started", mode=self.config.mode.value, config_id=config_id(self.config),
                      metrics=self.health.url, admin_port=self.admin.bound_port if self.admin else None,
                      sim_control=self.sim.control_url if self.sim is not None else None)
            if on_ready is not None:
                on_ready(self)
            await self.runtime.run(stop)
        finally:
            await self.close()
        final = self.view_model()
        if self.at_stop is not None:
            final = replace(final, ready=self.at_stop.ready, books=self.at_stop.books, venues=self.at_stop.venues)
        return final

    async def close(self) -> None:
        if self.admin is not None:
            with contextlib.suppress(Exception):
                await self.admin.stop()
        if self.health is not None:
            with contextlib.suppress(Exception):
                await self.health.stop()
        for adapter in self.adapters.values():
            with contextlib.suppress(Exception):
                await adapter.stop()
        if self.sim is not None:
            with contextlib.suppress(Exception):
                await self.sim.stop()
            self.sim = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None


def _shown(value: int, scale: int, decimals: int) -> str:
    """For display only: ``value`` rounded (toward zero) to ``decimals``."""
    if decimals >= scale:
        return format_fixed(value, scale)
    return format_fixed(rescale(value, scale, decimals, Rounding.TOWARD_ZERO), decimals)


_INTERVALS = {1: "1s", 10: "10s", 60: "1m", 3600: "1h", 86400: "1d"}


def _venue_gauges(metrics: StanchionMetrics, venue: str, stats: dict[str, object]) -> None:
    exchange = metrics.for_exchange(venue)
    offset_ms = stats.get("clock_offset_ms")
    if isinstance(offset_ms, int | float):
        exchange.clock_offset.set(offset_ms / 1000)
    rest = stats.get("rest")
    limiter = rest.get("rate_limit") if isinstance(rest, dict) else None
    usage = limiter.get("usage_ratio") if isinstance(limiter, dict) else None
    if isinstance(usage, dict):
        for key, ratio in usage.items():  # "REQUEST_WEIGHT:60" -> request_weight_1m
            kind, _, seconds = str(key).partition(":")
            label = kind.lower()
            if seconds.isdigit():
                label += "_" + _INTERVALS.get(int(seconds), seconds + "s")
            exchange.rate_limit_usage(label, float(ratio), 1.0)
    for connection in ("market_data", "ws_api"):
        link = stats.get(connection)
        messages = link.get("messages") if isinstance(link, dict) else None
        if isinstance(messages, int):
            metrics.for_connection(venue, connection).messages_received = messages


def _journal_stats(journal: Journal) -> dict[str, object]:
    stats = journal.statistics()
    return {"lag_records": stats.get("lag_records", stats.get("pending", 0)), "errors": stats.get("errors", 0)}


def _risk_stats(risk: RiskGate) -> dict[str, object]:
    stats = risk.statistics()
    stats["daily_loss_limit"] = risk.limits.daily_loss_limit
    stats["max_drawdown"] = risk.limits.max_drawdown
    return stats


def _position_stats(kernel: Kernel) -> dict[str, object]:
    marks = kernel.marks()
    rows: dict[str, object] = {}
    for view in kernel.positions.views(marks):
        runtime = kernel.instruments.get(f"{view.venue}:{view.symbol}")
        if runtime is None:
            continue
        qs = runtime.instrument.qty_scale
        ns = runtime.instrument.price_scale + qs
        rows[f"{view.venue}:{view.symbol}"] = {
            "quantity": view.qty / 10**qs,
            "realised_pnl": view.realised / 10**ns,
            "unrealised_pnl": view.unrealised / 10**ns,
            "fees": view.fees_quote / 10**ns,
        }
    return {"positions": rows}


def install_signal_handlers(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    yield
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


def is_interactive() -> bool:
    return os.isatty(1)
