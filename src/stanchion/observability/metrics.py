"""Every Stanchion metric, defined once, on an injected registry.

Two ways a number reaches ``/metrics``:

* **Pushed on the event** through *bound handles*: :meth:`StanchionMetrics.for_symbol`,
  :meth:`~StanchionMetrics.for_connection` and :meth:`~StanchionMetrics.for_exchange`
  return objects whose attributes are label-bound children, created once. The hot
  path calls ``handle.fills.inc()`` or ``handle.fill_latency.observe(s)`` and never
  ``.labels()`` (a dict lookup, a lock and a tuple build per call).
* **Computed at scrape time** by one custom collector: ages (market data, time a
  WebSocket has been down, API-key age) from timestamps the handles keep as plain
  integers, and everything that components already count themselves, read from
  their ``statistics()`` mapping (:class:`StatisticsSource`). Registered sources are
  the journal, the risk gate, the positions and the readiness conditions; the keys
  each one must provide are documented on the ``register_*`` methods and in
  ``docs/metrics.md``.

Scrapes run on the event loop thread (the health server renders them in slices that
yield to the loop), so sources are read from the thread that mutates them and need no
locks. A source that raises is
skipped for that scrape and counted in ``stanchion_metrics_source_errors_total``;
one broken component never blanks the whole exposition.

Names: counters end in ``_total``; units are base units (seconds, ratios 0..1,
percent where the seed says percent); money is in the instrument's quote currency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stanchion.core.clock import Clock, LiveClock

__all__ = [
    "BOOK_STATES",
    "EVENT_LOOP_DELAY_BUCKETS",
    "FILL_LATENCY_BUCKETS",
    "HEARTBEAT_LATENCY_BUCKETS",
    "KILL_SWITCH_STATES",
    "ORDER_STATUSES",
    "ConnectionMetrics",
    "ExchangeMetrics",
    "StanchionMetrics",
    "StatisticsSource",
    "SymbolMetrics",
]

# The seed's buckets, extended below 1 ms (MISSION "Decisions").
FILL_LATENCY_BUCKETS: tuple[float, ...] = (0.0001, 0.0005, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5)
HEARTBEAT_LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
EVENT_LOOP_DELAY_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)

ORDER_STATUSES: tuple[str, ...] = (
    "submitted",  # sent to the venue
    "accepted",  # acknowledged by the venue (NEW)
    "filled",  # fully filled
    "canceled",
    "rejected",  # refused by the venue (not by our risk gate: see trading_risk_denials_total)
    "expired",
    "unknown",  # outcome unknown after a timeout or 5xx; resolved by query
    "armed",  # armed: checked, journaled and signed, waiting for its market condition (not sent)
    "disarmed",  # armed, then withdrawn before it fired (it never reached the venue)
)
BOOK_STATES: tuple[str, ...] = ("syncing", "live", "stale")
KILL_SWITCH_STATES: tuple[str, ...] = ("active", "reduce_only", "halted")

_NS = 1_000_000_000


@runtime_checkable
class StatisticsSource(Protocol):
    """A component that counts for itself; read once per scrape."""

    def statistics(self) -> Mapping[str, object]: ...


class SymbolMetrics:
    """Bound children for one (exchange, symbol). Create once; use on the hot path."""

    __slots__ = (
        "_book_state",
        "_created_mono_ns",
        "_rejects",
        "_rejects_family",
        "book_checksum_failures",
        "book_crossed",
        "book_gaps",
        "book_resyncs",
        "cancels",
        "exchange",
        "fill_latency",
        "fills",
        "last_market_data_mono_ns",
        "orders",
        "position_drift",
        "symbol",
    )

    def __init__(self, metrics: StanchionMetrics, exchange: str, symbol: str, now_mono_ns: int) -> None:
        self.exchange = exchange
        self.symbol = symbol
        labels = (exchange, symbol)
        self.fill_latency = metrics._fill_latency.labels(*labels)
        self.position_drift = metrics._position_drift.labels(*labels)
        self.fills = metrics._fills.labels(*labels)
        self.cancels = metrics._cancels.labels(*labels)
        self.orders = {status: metrics._orders.labels(exchange, symbol, status) for status in ORDER_STATUSES}
        self._rejects_family = metrics._rejects
        self._rejects: dict[str, Counter] = {}
        self.book_gaps = metrics._book_gaps.labels(*labels)
        self.book_resyncs = metrics._book_resyncs.labels(*labels)
        self.book_checksum_failures = metrics._book_checksum_failures.labels(*labels)
        self.book_crossed = metrics._book_crossed.labels(*labels)
        self._book_state = {state: metrics._book_state.labels(exchange, symbol, state) for state in BOOK_STATES}
        self._created_mono_ns = now_mono_ns
        self.last_market_data_mono_ns: int | None = None
        """Monotonic time of the latest book update; the age is computed at scrape."""

    def market_data(self, now_mono_ns: int) -> None:
        """A book update arrived (hot path: one attribute store)."""
        self.last_market_data_mono_ns = now_mono_ns

    def order(self, status: str) -> None:
        """Count an order reaching ``status`` (one of :data:`ORDER_STATUSES`)."""
        child = self.orders.get(status)
        if child is None:
            raise ValueError(f"unknown order status {status!r}; expected one of {ORDER_STATUSES}")
        child.inc()

    def reject(self, reason: str) -> None:
        """A venue rejected an order: counts ``rejected`` and the reason.

        ``reason`` must come from a bounded set (the venue error class, not free text).
        """
        child = self._rejects.get(reason)
        if child is None:
            child = self._rejects[reason] = self._rejects_family.labels(self.exchange, self.symbol, reason)
        child.inc()
        self.orders["rejected"].inc()

    def book_state(self, state: str) -> None:
        """The book moved to ``state`` (one of :data:`BOOK_STATES`); rare, not per message."""
        if state not in self._book_state:
            raise ValueError(f"unknown book state {state!r}; expected one of {BOOK_STATES}")
        for name, child in self._book_state.items():
            child.set(1 if name == state else 0)

    def market_data_age_seconds(self, now_mono_ns: int) -> float:
        last = self.last_market_data_mono_ns
        since = self._created_mono_ns if last is None else last
        return max(0, now_mono_ns - since) / _NS


class ConnectionMetrics:
    """Bound children for one WebSocket connection of an exchange."""

    __slots__ = (
        "_changed_mono_ns",
        "_connected",
        "_connected_gauge",
        "connection",
        "exchange",
        "heartbeat_latency",
        "messages_received",
        "reconnects",
    )

    def __init__(self, metrics: StanchionMetrics, exchange: str, connection: str, now_mono_ns: int) -> None:
        self.exchange = exchange
        self.connection = connection
        labels = (exchange, connection)
        self.messages_received = 0
        """Messages received: a plain integer (the per-message counter is the hottest of all),
        exported at scrape as ``trading_ws_messages_total``. Increment it directly."""
        self.reconnects = metrics._ws_reconnects.labels(*labels)
        self.heartbeat_latency = metrics._ws_heartbeat_latency.labels(*labels)
        self._connected_gauge = metrics._ws_connected.labels(*labels)
        self._connected = False
        # A connection that never came up has been down since the handle was made.
        self._changed_mono_ns = now_mono_ns

    def message(self) -> None:
        """One message received (same as ``handle.messages_received += 1``)."""
        self.messages_received += 1

    @property
    def connected(self) -> bool:
        return self._connected

    def set_connected(self, connected: bool, now_mono_ns: int) -> None:
        """The connection went up or down (state changes only, not per message)."""
        if connected != self._connected:
            self._connected = connected
            self._changed_mono_ns = now_mono_ns
        self._connected_gauge.set(1 if connected else 0)

    def down_seconds(self, now_mono_ns: int) -> float:
        if self._connected:
            return 0.0
        return max(0, now_mono_ns - self._changed_mono_ns) / _NS


class ExchangeMetrics:
    """Per-exchange gauges: rate-limit use, clock offset, API-key age, hot-wallet share."""

    __slots__ = ("_api_key_created", "_rate_limit_family", "_rate_limits", "clock_offset", "exchange", "hot_wallet")

    def __init__(self, metrics: StanchionMetrics, exchange: str) -> None:
        self.exchange = exchange
        self.clock_offset = metrics._clock_offset.labels(exchange)
        self.hot_wallet = metrics._hot_wallet.labels(exchange)
        self._rate_limit_family = metrics._rate_limit_usage
        self._rate_limits: dict[str, Gauge] = {}
        self._api_key_created: dict[str, int] = {}

    def rate_limit_usage(self, limit: str, used: float, capacity: float) -> None:
        """The venue reported ``used`` of ``capacity`` for ``limit`` (e.g. ``request_weight_1m``)."""
        if capacity <= 0:
            raise ValueError(f"rate limit {limit!r}: capacity must be > 0, got {capacity}")
        child = self._rate_limits.get(limit)
        if child is None:
            child = self._rate_limits[limit] = self._rate_limit_family.labels(self.exchange, limit)
        child.set(used / capacity)

    def api_key_created(self, account: str, created_wall_ns: int) -> None:
        """Record when the active key of ``account`` was created (its age is computed at scrape)."""
        self._api_key_created[account] = created_wall_ns

    def api_key_ages(self, now_wall_ns: int) -> Iterator[tuple[str, float]]:
        for account, created in self._api_key_created.items():
            yield account, max(0, now_wall_ns - created) / _NS


class StanchionMetrics:
    """All metrics of one process on one injected registry.

    >>> metrics = StanchionMetrics(CollectorRegistry())
    >>> btc = metrics.for_symbol("binance", "BTCUSDT")   # once, at wiring time
    >>> btc.fill_latency.observe(0.012)                    # hot path
    """

    def __init__(
        self, registry: CollectorRegistry, clock: Clock | None = None, *, process_metrics: bool = True
    ) -> None:
        """``process_metrics`` adds the standard ``process_*`` families (CPU, memory, fds,
        start time; Linux /proc, read at scrape) to the injected registry."""
        self.registry = registry
        self.clock: Clock = clock if clock is not None else LiveClock()
        reg = registry
        es = ("exchange", "symbol")
        ec = ("exchange", "connection")
        # --- the seed's three ---------------------------------------------------------
        self._fill_latency = Histogram(
            "trading_fill_latency_seconds",
            "Order submission to fill confirmation (first fill), seconds",
            es,
            buckets=FILL_LATENCY_BUCKETS,
            registry=reg,
        )
        self._position_drift = Gauge(
            "trading_position_drift_percent",
            "Difference between calculated and exchange position, percent of the exchange position (signed)",
            es,
            registry=reg,
        )
        # trading_market_data_age_seconds: computed at scrape (collector below).
        # --- execution ----------------------------------------------------------------
        self._orders = Counter(
            "trading_orders_total", "Orders reaching each status, by status", (*es, "status"), registry=reg
        )
        self._rejects = Counter(
            "trading_order_rejects_total",
            "Orders rejected by the venue, by reason class",
            (*es, "reason"),
            registry=reg,
        )
        self._cancels = Counter("trading_cancels_total", "Cancel requests sent to the venue", es, registry=reg)
        self._fills = Counter("trading_fills_total", "Fills received (each fill once)", es, registry=reg)
        # --- book integrity -----------------------------------------------------------
        self._book_state = Gauge(
            "trading_book_state",
            "1 for the book's current state (syncing, live, stale), else 0",
            (*es, "state"),
            registry=reg,
        )
        self._book_gaps = Counter(
            "trading_book_gaps_total", "Sequence gaps detected in the diff stream", es, registry=reg
        )
        self._book_resyncs = Counter("trading_book_resyncs_total", "Book resynchronisations started", es, registry=reg)
        self._book_checksum_failures = Counter(
            "trading_book_checksum_failures_total", "Book checksum mismatches against the venue's", es, registry=reg
        )
        self._book_crossed = Counter(
            "trading_book_crossed_total", "Crossed books detected (best bid >= best ask)", es, registry=reg
        )
        # --- connectivity -------------------------------------------------------------
        self._ws_connected = Gauge("trading_ws_connected", "1 while the WebSocket connection is up", ec, registry=reg)
        self._ws_reconnects = Counter(
            "trading_ws_reconnects_total", "WebSocket reconnection attempts", ec, registry=reg
        )
        # trading_ws_messages_total: counted as a plain int per connection, exported at scrape.
        self._ws_heartbeat_latency = Histogram(
            "trading_ws_heartbeat_latency_seconds",
            "Application-level ping to pong round trip, seconds",
            ec,
            buckets=HEARTBEAT_LATENCY_BUCKETS,
            registry=reg,
        )
        # --- per exchange -------------------------------------------------------------
        self._rate_limit_usage = Gauge(
            "trading_rate_limit_usage_ratio",
            "Share of a venue rate limit in use (0..1), from the venue's own usage headers",
            ("exchange", "limit"),
            registry=reg,
        )
        self._clock_offset = Gauge(
            "trading_clock_offset_seconds",
            "Venue server time minus local wall time, seconds",
            ("exchange",),
            registry=reg,
        )
        self._hot_wallet = Gauge(
            "trading_hot_wallet_exposure_ratio",
            "Balances held on the exchange as a share of the treasury total (0..1)",
            ("exchange",),
            registry=reg,
        )
        # --- engine -------------------------------------------------------------------
        self._strategy_active = Gauge(
            "trading_strategy_active",
            "1 while the strategy is running and quoting/trading the instrument",
            ("strategy", *es),
            registry=reg,
        )
        self.event_loop_lag = Gauge(
            "stanchion_event_loop_lag_seconds",
            "How late the event loop ran a timer at the last check, seconds",
            registry=reg,
        )
        self.event_loop_delay = Histogram(
            "stanchion_event_loop_delay_seconds",
            "Every event-loop lag measurement: how late a timer fired, seconds (nothing lost between scrapes)",
            buckets=EVENT_LOOP_DELAY_BUCKETS,
            registry=reg,
        )
        self._source_errors: dict[str, int] = {}
        self._symbols: dict[tuple[str, str], SymbolMetrics] = {}
        self._connections: dict[tuple[str, str], ConnectionMetrics] = {}
        self._exchanges: dict[str, ExchangeMetrics] = {}
        self._journal: StatisticsSource | None = None
        self._risk: StatisticsSource | None = None
        self._positions: StatisticsSource | None = None
        self._readiness: StatisticsSource | None = None
        reg.register(_ScrapeCollector(self))
        if process_metrics:
            ProcessCollector(registry=reg)

    # --- handles --------------------------------------------------------------------------

    def for_symbol(self, exchange: str, symbol: str) -> SymbolMetrics:
        """The bound handle of (exchange, symbol); the same object on every call."""
        key = (exchange, symbol)
        handle = self._symbols.get(key)
        if handle is None:
            _check_label("exchange", exchange)
            _check_label("symbol", symbol)
            handle = self._symbols[key] = SymbolMetrics(self, exchange, symbol, self.clock.monotonic_ns())
        return handle

    def for_connection(self, exchange: str, connection: str) -> ConnectionMetrics:
        """The bound handle of one connection (e.g. ``market_data``, ``user_data``, ``ws_api``)."""
        key = (exchange, connection)
        handle = self._connections.get(key)
        if handle is None:
            _check_label("exchange", exchange)
            _check_label("connection", connection)
            handle = self._connections[key] = ConnectionMetrics(self, exchange, connection, self.clock.monotonic_ns())
        return handle

    def for_exchange(self, exchange: str) -> ExchangeMetrics:
        handle = self._exchanges.get(exchange)
        if handle is None:
            _check_label("exchange", exchange)
            handle = self._exchanges[exchange] = ExchangeMetrics(self, exchange)
        return handle

    def set_strategy_active(self, strategy: str, exchange: str, symbol: str, active: bool) -> None:
        """Mark a strategy running (1) or stopped (0) on an instrument (start/stop only)."""
        self._strategy_active.labels(strategy, exchange, symbol).set(1 if active else 0)

    # --- scrape-time sources ------------------------------------------------------------

    def register_journal(self, source: StatisticsSource) -> None:
        """The journal: ``lag_records`` (int, appended but not yet durable), ``errors`` (int, cumulative)."""
        self._journal = source

    def register_risk(self, source: StatisticsSource) -> None:
        """The risk gate.

        Keys: ``kill_switch`` (``active``/``reduce_only``/``halted``), ``denials``
        (mapping reason → cumulative count), and for the loss-limit ratios
        ``daily_loss`` with ``daily_loss_limit`` and ``drawdown`` with ``max_drawdown``
        (same unit each pair; a pair with a missing or non-positive limit is omitted).
        """
        self._risk = source

    def register_positions(self, source: StatisticsSource) -> None:
        """Positions and PnL: key ``positions``, a mapping ``"exchange:SYMBOL"`` → mapping with
        ``quantity`` (base units, signed), ``realised_pnl``, ``unrealised_pnl``, ``fees`` (quote currency)."""
        self._positions = source

    def register_readiness(self, source: StatisticsSource) -> None:
        """Readiness: key ``conditions``, a mapping condition name → bool (see ``health.Readiness``)."""
        self._readiness = source

    # --- scrape ---------------------------------------------------------------------------

    def _read(self, name: str, source: StatisticsSource | None) -> Mapping[str, object] | None:
        if source is None:
            return None
        try:
            return source.statistics()
        except Exception:  # noqa: BLE001 - one broken component must not blank the scrape; counted
            self._source_errors[name] = self._source_errors.get(name, 0) + 1
            return None

    def _collect(self) -> Iterator[Metric]:
        now_mono = self.clock.monotonic_ns()
        now_wall = self.clock.time_ns()
        age = GaugeMetricFamily(
            "trading_market_data_age_seconds",
            "Time since the last order-book update, seconds",
            labels=["exchange", "symbol"],
        )
        for (exchange, symbol), handle in self._symbols.items():
            age.add_metric([exchange, symbol], handle.market_data_age_seconds(now_mono))
        yield age
        down = GaugeMetricFamily(
            "trading_ws_down_seconds",
            "How long the WebSocket connection has been down (0 while up), seconds",
            labels=["exchange", "connection"],
        )
        messages = CounterMetricFamily(
            "trading_ws_messages", "WebSocket messages received", labels=["exchange", "connection"]
        )
        for (exchange, connection), conn in self._connections.items():
            down.add_metric([exchange, connection], conn.down_seconds(now_mono))
            messages.add_metric([exchange, connection], conn.messages_received)
        yield down
        yield messages
        key_age = GaugeMetricFamily(
            "trading_api_key_age_seconds", "Age of the active API key, seconds", labels=["exchange", "account"]
        )
        for exchange, ex in self._exchanges.items():
            for account, seconds in ex.api_key_ages(now_wall):
                key_age.add_metric([exchange, account], seconds)
        yield key_age
        yield from self._collect_journal()
        yield from self._collect_risk()
        yield from self._collect_positions()
        yield from self._collect_readiness()
        errors = CounterMetricFamily(
            "stanchion_metrics_source_errors",
            "statistics() calls that raised during a scrape, by source",
            labels=["source"],
        )
        for name, count in self._source_errors.items():
            errors.add_metric([name], count)
        yield errors

    def _collect_journal(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily("stanchion_journal_lag_records", "Journal records appended but not yet durable")
        errors = CounterMetricFamily("stanchion_journal_errors", "Journal write errors")
        stats = self._read("journal", self._journal)
        if stats is not None:
            _add(lag, (), stats.get("lag_records"))
            _add(errors, (), stats.get("errors"))
        yield lag
        yield errors

    def _collect_risk(self) -> Iterator[Metric]:
        kill = GaugeMetricFamily(
            "trading_kill_switch_state",
            "1 for the kill switch's current state (active, reduce_only, halted)",
            labels=["state"],
        )
        denials = CounterMetricFamily(
            "trading_risk_denials", "Orders refused by the pre-trade risk gate, by reason", labels=["reason"]
        )
        loss = GaugeMetricFamily(
            "trading_loss_limit_ratio",
            "Loss against its configured limit (daily_loss, drawdown); 1 means the limit is reached",
            labels=["limit"],
        )
        stats = self._read("risk", self._risk)
        if stats is not None:
            current = stats.get("kill_switch")
            if isinstance(current, str):
                for state in KILL_SWITCH_STATES:
                    kill.add_metric([state], 1 if state == current else 0)
            counts = stats.get("denials")
            if isinstance(counts, Mapping):
                for reason, count in counts.items():
                    _add(denials, (str(reason),), count)
            for limit, value_key, limit_key in (
                ("daily_loss", "daily_loss", "daily_loss_limit"),
                ("drawdown", "drawdown", "max_drawdown"),
            ):
                value, cap = _number(stats.get(value_key)), _number(stats.get(limit_key))
                if value is not None and cap is not None and cap > 0:
                    loss.add_metric([limit], value / cap)
        yield kill
        yield denials
        yield loss

    def _collect_positions(self) -> Iterator[Metric]:
        es = ["exchange", "symbol"]
        families = {
            "quantity": GaugeMetricFamily("trading_position_quantity", "Net position, base units (signed)", labels=es),
            "realised_pnl": GaugeMetricFamily("trading_pnl_realised", "Realised PnL, quote currency", labels=es),
            "unrealised_pnl": GaugeMetricFamily(
                "trading_pnl_unrealised", "Unrealised PnL at the reference price, quote currency", labels=es
            ),
            "fees": GaugeMetricFamily("trading_fees_paid", "Fees paid, quote currency", labels=es),
        }
        stats = self._read("positions", self._positions)
        positions = stats.get("positions") if stats is not None else None
        if isinstance(positions, Mapping):
            for key, row in positions.items():
                exchange, sep, symbol = str(key).partition(":")
                if not sep or not isinstance(row, Mapping):
                    continue
                for field, family in families.items():
                    _add(family, (exchange, symbol), row.get(field))
        yield from families.values()

    def _collect_readiness(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "stanchion_readiness_condition", "1 when the readiness condition is met", labels=["condition"]
        )
        stats = self._read("readiness", self._readiness)
        conditions = stats.get("conditions") if stats is not None else None
        if isinstance(conditions, Mapping):
            for name, met in conditions.items():
                ready.add_metric([str(name)], 1 if met else 0)
        yield ready

    def _describe(self) -> Iterator[Metric]:
        # Same names and types as _collect, without samples: lets the registry detect
        # duplicates at registration without calling statistics().
        for name, kind in _SCRAPE_FAMILIES:
            yield (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, "")


_SCRAPE_FAMILIES: tuple[tuple[str, str], ...] = (
    ("trading_market_data_age_seconds", "gauge"),
    ("trading_ws_down_seconds", "gauge"),
    ("trading_ws_messages", "counter"),
    ("trading_api_key_age_seconds", "gauge"),
    ("stanchion_journal_lag_records", "gauge"),
    ("stanchion_journal_errors", "counter"),
    ("trading_kill_switch_state", "gauge"),
    ("trading_risk_denials", "counter"),
    ("trading_loss_limit_ratio", "gauge"),
    ("trading_position_quantity", "gauge"),
    ("trading_pnl_realised", "gauge"),
    ("trading_pnl_unrealised", "gauge"),
    ("trading_fees_paid", "gauge"),
    ("stanchion_readiness_condition", "gauge"),
    ("stanchion_metrics_source_errors", "counter"),
)


class _ScrapeCollector(Collector):
    def __init__(self, metrics: StanchionMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return list(self._metrics._collect())

    def describe(self) -> Iterable[Metric]:
        return list(self._metrics._describe())


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _add(family: GaugeMetricFamily | CounterMetricFamily, labels: tuple[str, ...], value: object) -> None:
    number = _number(value)
    if number is not None:
        family.add_metric(list(labels), number)


def _check_label(name: str, value: str) -> None:
    if not value or len(value) > 128 or not value.isprintable():
        raise ValueError(f"metric label {name} must be 1..128 printable characters, got {value[:40]!r}")
