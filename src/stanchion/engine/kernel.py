"""The kernel: one dispatcher for live, paper and backtest.

Everything that happens to the engine arrives here as a synchronous call —
a LIVE book changed, a trade printed, an execution report, a request's
outcome, a timer tick — and is dispatched to the strategies, the risk gate,
the OMS and the positions, in that order of causality. The kernel does no I/O:
commands leave through an :class:`ExecutionGateway` whose methods must not
block (the live adapter writes to a socket or queues; the backtest records).
The same kernel therefore runs against the simulator, a venue or a replay.

Strategies only ever see LIVE books: a book that is SYNCING or STALE is
withdrawn (``book(symbol)`` returns None) and the risk gate's data-health
check refuses orders on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from stanchion.book.l2 import L2Book
from stanchion.core import failpoints
from stanchion.core.clock import Clock
from stanchion.core.fixedpoint import pow10
from stanchion.engine.oms import OrderManager, OrderUpdate, QueryOrder
from stanchion.engine.positions import Position, PositionBook
from stanchion.engine.risk.gate import (
    InstrumentState,
    KillSwitchCause,
    KillSwitchState,
    OrderIntent,
    RiskDecision,
    RiskGate,
)
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.instrument import Instrument
from stanchion.model.market import TradeTick
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce


class ExecutionGateway(Protocol):
    """Where commands go. Non-blocking: outcomes come back through the kernel's ``on_*``."""

    def submit(self, command: SubmitOrder) -> None: ...

    def cancel(self, command: CancelOrder) -> None: ...

    def replace(self, command: ReplaceOrder) -> None:
        """Cancel and place in one request; used only for instruments with ``cancel_replace``."""

    def query(self, query: QueryOrder) -> None: ...


class ArmingGateway(ExecutionGateway, Protocol):
    """A gateway that can hold a signed order and send it the moment a market-data frame shows
    its condition (Binance: :meth:`BinanceAdapter.arm`). It reports back through the kernel's
    :meth:`Kernel.on_armed_fired` / :meth:`Kernel.on_armed_failed`."""

    def arm(self, command: SubmitOrder, trigger_price: int) -> str | None:
        """None when armed, else why not (the kernel then withdraws the order)."""

    def disarm(self, client_order_id: str) -> bool:
        """True when withdrawn before it fired."""

    def fire_armed(self, client_order_id: str) -> bool:
        """Send it now (the book shows its condition although no frame fired it); True if sent."""


class EngineListener(Protocol):
    """Observers of engine events (metrics, audit, the terminal view). All optional."""

    def on_risk_denied(self, intent: OrderIntent, decision: RiskDecision) -> None: ...

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_fill(self, fill: Fill, position: Position, latency_ns: int | None) -> None: ...

    def on_kill_switch(self, state: KillSwitchState, cause: KillSwitchCause | None) -> None: ...

    def on_tick_to_order(self, venue: str, symbol: str, latency_ns: int) -> None: ...


class Strategy:
    """Base class of strategies: override the callbacks you need."""

    name: str = "strategy"
    instruments: tuple[str, ...] = ()
    """``venue:SYMBOL`` keys this strategy trades."""

    def on_start(self, ctx: StrategyContext) -> None:
        """Called once the engine is ready (journal replayed, venues reconciled)."""

    def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
        """A LIVE book changed."""

    def on_trade(self, ctx: StrategyContext, key: str, trade: TradeTick) -> None:
        """A public trade printed."""

    def on_order(self, ctx: StrategyContext, update: OrderUpdate) -> None:
        """One of this strategy's orders changed state."""

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """One of this strategy's orders filled (each fill exactly once)."""

    def on_timer(self, ctx: StrategyContext, name: str, now_ns: int) -> None:
        """A timer set with ``ctx.set_timer`` fired."""

    def on_book_lost(self, ctx: StrategyContext, key: str) -> None:
        """The book stopped being LIVE (gap, stale feed, disconnect)."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """Shutdown: stop quoting (the engine applies the cancel-on-shutdown policy after)."""


@dataclass(slots=True)
class InstrumentRuntime:
    instrument: Instrument
    account: str
    book: L2Book | None = None
    live: bool = False
    last_book_mono_ns: int | None = None
    mid: int | None = None


@dataclass(slots=True)
class _Timer:
    strategy: Strategy
    name: str
    interval_ns: int
    due_ns: int


@dataclass(slots=True)
class KernelStatistics:
    book_events: int = 0
    dispatch_errors: int = 0
    orders_sent: int = 0
    cancels_sent: int = 0
    risk_denials: int = 0
    fills: int = 0
    armed: int = 0
    armed_fired: int = 0
    disarmed: int = 0
    last_error: str | None = None
    tick_to_order_ns: list[int] = field(default_factory=list)


class StrategyContext:
    """What a strategy may do. One context per strategy."""

    __slots__ = ("_kernel", "_strategy")

    def __init__(self, kernel: Kernel, strategy: Strategy) -> None:
        self._kernel = kernel
        self._strategy = strategy

    def now_ns(self) -> int:
        return self._kernel.clock.time_ns()

    def instrument(self, key: str) -> Instrument:
        return self._kernel.instruments[key].instrument

    def book(self, key: str) -> L2Book | None:
        """The LIVE book of ``key``, or None when it is not LIVE."""
        runtime = self._kernel.instruments.get(key)
        return runtime.book if runtime is not None and runtime.live else None

    def position(self, key: str) -> int:
        runtime = self._kernel.instruments[key]
        p = self._kernel.positions.get(runtime.instrument.venue, runtime.instrument.symbol)
        return p.qty if p is not None else 0

    def open_orders(self, key: str) -> list[str]:
        runtime = self._kernel.instruments[key]
        oms = self._kernel.oms[runtime.instrument.venue]
        return [
            o.client_order_id
            for o in oms.open_orders(runtime.instrument.symbol)
            if o.strategy == self._strategy.name
        ]

    def order(self, client_order_id: str) -> object | None:
        for oms in self._kernel.oms.values():
            order = oms.get(client_order_id)
            if order is not None:
                return order
        return None

    def submit(
        self,
        key: str,
        side: Side,
        qty: int,
        price: int | None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce | None = TimeInForce.GTC,
    ) -> str | RiskDecision:
        """Send an order through the risk gate. Returns its client order id, or the denial."""
        return self._kernel.submit(self._strategy, key, side, qty, price, order_type, time_in_force)

    def cancel(self, client_order_id: str) -> RiskDecision | None:
        return self._kernel.cancel(client_order_id)

    def replace(self, client_order_id: str, qty: int, price: int) -> str | RiskDecision | None:
        """Cancel an order and place its successor (a new client order id, same side, type and
        time in force): one venue request where the instrument allows it (Binance
        ``order.cancelReplace``), else a cancel and an order. Returns the successor's id, the
        denial, or None when there is no such order."""
        return self._kernel.replace(self._strategy, client_order_id, qty, price)

    def cancel_then_submit(self, client_order_id: str, qty: int, price: int) -> str | RiskDecision | None:
        """:meth:`replace` as two requests, whatever the venue offers."""
        return self._kernel.cancel_then_submit(self._strategy, client_order_id, qty, price)

    def arm(
        self,
        key: str,
        side: Side,
        qty: int,
        price: int,
        *,
        trigger_price: int | None = None,
        time_in_force: TimeInForce = TimeInForce.IOC,
    ) -> str | RiskDecision:
        """A limit order at ``price`` sent the moment a depth frame shows the opposite side at
        or through ``trigger_price`` (default: ``price``) — a BUY when an ask at or below it
        appears, a SELL when a bid at or above it does. Everything but the write happens now:
        the risk gate's checks, the journal's intent, the signed frame; the venue adapter writes
        the frame before it even applies that depth frame to the book. If the book already
        shows the condition, the order is sent at once. One-shot; returns the client order id
        (the order is ``ARMED`` until it fires, then an order like any other) or the denial.

        While armed it counts as open for the risk gate (open orders, worst-case position,
        exposure); it is withdrawn when its price leaves the price band around mid, when the
        kill switch engages, at :meth:`cancel`/:meth:`disarm`, and when trading stops."""
        return self._kernel.arm(self._strategy, key, side, qty, price, trigger_price, time_in_force)

    def disarm(self, client_order_id: str) -> bool:
        """Withdraw an armed order; False when it is not armed (it fired, or never was)."""
        return self._kernel.disarm(client_order_id, "disarmed by the strategy")

    def set_timer(self, name: str, interval_ns: int) -> None:
        self._kernel.set_timer(self._strategy, name, interval_ns)


class Kernel:
    """See the module docstring."""

    def __init__(
        self,
        clock: Clock,
        risk: RiskGate,
        *,
        listener: EngineListener | None = None,
        unknown_query_interval_ns: int = 2_000_000_000,
    ) -> None:
        self.clock = clock
        self.risk = risk
        self.positions = PositionBook()
        self.instruments: dict[str, InstrumentRuntime] = {}
        self.oms: dict[str, OrderManager] = {}
        self.gateways: dict[str, ExecutionGateway] = {}
        self.strategies: list[Strategy] = []
        self._contexts: dict[str, StrategyContext] = {}
        self._by_instrument: dict[str, list[Strategy]] = {}
        self._timers: list[_Timer] = []
        self._listener = listener
        self._unknown_query_interval_ns = unknown_query_interval_ns
        self._order_strategy: dict[str, Strategy] = {}
        self._sent_mono: dict[str, int] = {}
        # Armed orders: client id → (what the gate checked, the trigger price).
        self._armed: dict[str, tuple[OrderIntent, int]] = {}
        self._tick_received_ns: int | None = None
        self.trading_enabled = False
        self.stats = KernelStatistics()

    # --- wiring ------------------------------------------------------------------------

    def add_venue(self, venue: str, oms: OrderManager, gateway: ExecutionGateway) -> None:
        self.oms[venue] = oms
        self.gateways[venue] = gateway

    def add_instrument(self, instrument: Instrument, account: str) -> None:
        self.instruments[instrument.key] = InstrumentRuntime(instrument, account)
        self.positions.open(
            instrument.venue, instrument.symbol, instrument.base, instrument.quote,
            instrument.price_scale, instrument.qty_scale,
        )

    def add_strategy(self, strategy: Strategy) -> None:
        for key in strategy.instruments:
            if key not in self.instruments:
                raise ValueError(f"strategy {strategy.name}: unknown instrument {key}")
            self._by_instrument.setdefault(key, []).append(strategy)
        self.strategies.append(strategy)
        self._contexts[strategy.name] = StrategyContext(self, strategy)

    def context(self, strategy: Strategy) -> StrategyContext:
        return self._contexts[strategy.name]

    # --- lifecycle ---------------------------------------------------------------------

    def start_trading(self) -> None:
        """Readiness reached: let strategies act."""
        self.trading_enabled = True
        for strategy in self.strategies:
            self._guard(strategy, lambda s: s.on_start(self._contexts[s.name]))

    def stop_trading(self) -> None:
        """Stop quoting: strategies get on_stop, then no new order is accepted."""
        for strategy in self.strategies:
            self._guard(strategy, lambda s: s.on_stop(self._contexts[s.name]))
        self.trading_enabled = False
        self.disarm_all("trading stopped")

    def cancel_all(self) -> int:
        """Cancel every open order (cancel-on-shutdown, kill switch)."""
        count = self.disarm_all("all orders canceled")
        for venue, oms in self.oms.items():
            for order in oms.venue_orders():
                command = oms.request_cancel(order.client_order_id)
                if command is not None:
                    self.gateways[venue].cancel(command)
                    self.stats.cancels_sent += 1
                    count += 1
        return count

    # --- market data (hot path) ---------------------------------------------------------

    def on_book(self, key: str, book: L2Book, received_ns: int | None = None) -> None:
        """A LIVE book changed. ``received_ns``: monotonic time the frame arrived."""
        runtime = self.instruments.get(key)
        if runtime is None:
            return
        self.stats.book_events += 1
        runtime.book = book
        runtime.live = True
        runtime.last_book_mono_ns = self.clock.monotonic_ns()
        bid = book.best_bid_price()
        ask = book.best_ask_price()
        runtime.mid = (bid + ask) // 2 if bid is not None and ask is not None else None
        if self._armed:
            self._recheck_armed(runtime)
        if not self.trading_enabled:
            return
        self._tick_received_ns = received_ns
        for strategy in self._by_instrument.get(key, ()):
            context = self._contexts[strategy.name]
            try:
                strategy.on_book(context, key, book)
            except Exception as exc:  # noqa: BLE001 - a strategy bug must not kill the feed
                self._strategy_error(strategy, exc)
        self._tick_received_ns = None

    def on_book_lost(self, key: str) -> None:
        runtime = self.instruments.get(key)
        if runtime is None or not runtime.live:
            return
        runtime.live = False
        for strategy in self._by_instrument.get(key, ()):
            self._guard(strategy, lambda s: s.on_book_lost(self._contexts[s.name], key))

    def on_trade(self, key: str, trade: TradeTick) -> None:
        if not self.trading_enabled:
            return
        for strategy in self._by_instrument.get(key, ()):
            self._guard(strategy, lambda s: s.on_trade(self._contexts[s.name], key, trade))

    # --- orders ------------------------------------------------------------------------

    def submit(
        self,
        strategy: Strategy,
        key: str,
        side: Side,
        qty: int,
        price: int | None,
        order_type: OrderType,
        time_in_force: TimeInForce | None,
    ) -> str | RiskDecision:
        runtime = self.instruments[key]
        if not self.trading_enabled:
            return RiskDecision(False, None, "engine not ready or shutting down")
        _intent, decision = self._check_new(runtime, side, qty, price)
        if not decision.accepted:
            return decision
        return self._place(strategy, runtime, side, qty, price, order_type, time_in_force)

    def _check_new(
        self, runtime: InstrumentRuntime, side: Side, qty: int, price: int | None
    ) -> tuple[OrderIntent, RiskDecision]:
        """A new order through the gate; a denial is counted and reported."""
        instrument = runtime.instrument
        intent = OrderIntent(
            instrument.venue, instrument.symbol, runtime.account, side is Side.BUY, qty, price,
            instrument.qty_scale, instrument.price_scale,
        )
        decision = self.risk.check_order(intent, self._risk_view, self.clock.monotonic_ns())
        if not decision.accepted:
            self.stats.risk_denials += 1
            if self._listener is not None:
                self._listener.on_risk_denied(intent, decision)
        return intent, decision

    def _place(
        self,
        strategy: Strategy,
        runtime: InstrumentRuntime,
        side: Side,
        qty: int,
        price: int | None,
        order_type: OrderType,
        time_in_force: TimeInForce | None,
    ) -> str:
        """An order the gate accepted: journal its intent, then send it."""
        instrument = runtime.instrument
        oms = self.oms[instrument.venue]
        order, command = oms.create(
            strategy=strategy.name, symbol=instrument.symbol, side=side, order_type=order_type, qty=qty,
            price=price, time_in_force=time_in_force, now_ns=self.clock.time_ns(),
        )
        self._order_strategy[order.client_order_id] = strategy
        now_mono = self.clock.monotonic_ns()
        self._sent_mono[order.client_order_id] = now_mono
        if failpoints.ARMED:
            failpoints.hit("oms.intent_journaled")
        self.gateways[instrument.venue].submit(command)
        self.stats.orders_sent += 1
        self._tick_to_order(instrument.venue, instrument.symbol)
        self._order_sent(instrument.key)
        return order.client_order_id

    # --- armed orders --------------------------------------------------------------------

    def arm(
        self,
        strategy: Strategy,
        key: str,
        side: Side,
        qty: int,
        price: int,
        trigger_price: int | None,
        time_in_force: TimeInForce | None,
    ) -> str | RiskDecision:
        """See :meth:`StrategyContext.arm`."""
        runtime = self.instruments[key]
        instrument = runtime.instrument
        if not self.trading_enabled:
            return RiskDecision(False, None, "engine not ready or shutting down")
        gateway = self.gateways[instrument.venue]
        arm = getattr(gateway, "arm", None)
        if arm is None:
            return RiskDecision(False, None, f"venue {instrument.venue} cannot arm orders")
        intent, decision = self._check_new(runtime, side, qty, price)
        if not decision.accepted:
            return decision
        trigger = price if trigger_price is None else trigger_price
        book = runtime.book
        if book is not None:
            touch = book.best_ask_price() if side is Side.BUY else book.best_bid_price()
            if touch is not None and (touch <= trigger if side is Side.BUY else touch >= trigger):
                # The condition already shows: the order goes now, like any order.
                return self._place(strategy, runtime, side, qty, price, OrderType.LIMIT, time_in_force)
        oms = self.oms[instrument.venue]
        order, command = oms.arm(
            strategy=strategy.name, symbol=instrument.symbol, side=side, order_type=OrderType.LIMIT, qty=qty,
            price=price, time_in_force=time_in_force, now_ns=self.clock.time_ns(),
        )
        cid = order.client_order_id
        if failpoints.ARMED:
            failpoints.hit("oms.armed_journaled")
        refused = arm(command, trigger)
        if refused is not None:
            oms.disarmed(cid, f"not armed: {refused}")
            return RiskDecision(False, None, f"not armed: {refused}")
        self._order_strategy[cid] = strategy
        self._armed[cid] = (intent, trigger)
        self.stats.armed += 1
        self._order_armed(key)
        return cid

    def disarm(self, client_order_id: str, reason: str) -> bool:
        """Withdraw an armed order (see :meth:`StrategyContext.disarm`)."""
        if client_order_id not in self._armed:
            return False
        for venue, oms in self.oms.items():
            order = oms.get(client_order_id)
            if order is None or not order.is_armed:
                continue
            gateway = self.gateways[venue]
            if not gateway.disarm(client_order_id):  # type: ignore[attr-defined]
                return False  # it fired (its report is on the way)
            del self._armed[client_order_id]
            self.stats.disarmed += 1
            update = oms.disarmed(client_order_id, reason)
            if update is not None:
                self._order_update(update)
            return True
        return False

    def disarm_all(self, reason: str) -> int:
        return sum(self.disarm(cid, reason) for cid in list(self._armed))

    def on_armed_fired(self, venue: str, client_order_id: str, latency_ns: int | None) -> None:
        """The gateway wrote an armed order's frame, ``latency_ns`` after the depth frame that
        fired it came (None: sent by :meth:`_recheck_armed`, no frame fired it)."""
        self._armed.pop(client_order_id, None)
        oms = self.oms.get(venue)
        order = oms.fired(client_order_id, self.clock.time_ns()) if oms is not None else None
        if order is None:
            return
        self._sent_mono[client_order_id] = self.clock.monotonic_ns()
        self.stats.orders_sent += 1
        self.stats.armed_fired += 1
        if self._listener is not None and latency_ns is not None:
            self._listener.on_tick_to_order(venue, order.symbol, latency_ns)
        self._order_sent(f"{venue}:{order.symbol}")
        # Like any order sent, no update for the observers (the submit is counted above); the
        # strategy learns that its armed order left.
        strategy = self._order_strategy.get(client_order_id)
        if strategy is not None:
            update = OrderUpdate(order, OrderStatus.ARMED, order.status)
            self._guard(strategy, lambda s: s.on_order(self._contexts[s.name], update))

    def on_armed_failed(self, venue: str, client_order_id: str, reason: str) -> None:
        """An armed order's condition showed but its frame was not written: it never left."""
        self._armed.pop(client_order_id, None)
        oms = self.oms.get(venue)
        update = oms.disarmed(client_order_id, reason) if oms is not None else None
        if update is not None:
            self.stats.disarmed += 1
            self._order_update(update)

    def _recheck_armed(self, runtime: InstrumentRuntime) -> None:
        """After a book update, each armed order of this instrument:

        * whose price has left the price band around the new mid is withdrawn (the gate's own
          band check, counted as its denial);
        * whose condition the book shows although no frame fired it — the diff that brought it
          came while orders could not be sent (the link down, a 429), or a snapshot did after a
          resync — is sent now by the gateway (``fire_armed``), if it can send now.
        """
        mid = runtime.mid
        instrument = runtime.instrument
        book = runtime.book
        for cid, (intent, trigger) in list(self._armed.items()):
            if intent.venue != instrument.venue or intent.symbol != instrument.symbol:
                continue
            decision = self.risk.check_band(intent, mid)
            if not decision.accepted:
                self.stats.risk_denials += 1
                if self._listener is not None:
                    self._listener.on_risk_denied(intent, decision)
                self.disarm(cid, f"{decision.reason.value if decision.reason else 'risk'}: {decision.detail}")
                continue
            if book is None:
                continue
            touch = book.best_ask_price() if intent.is_buy else book.best_bid_price()
            if touch is not None and (touch <= trigger if intent.is_buy else touch >= trigger):
                fire = getattr(self.gateways[intent.venue], "fire_armed", None)
                if fire is not None:
                    fire(cid)  # reports back through on_armed_fired, or keeps it armed

    def _order_sent(self, key: str) -> None:
        """An order of ``key`` was sent (placed alone or as a replace's successor): a hook for
        counting, after the frame is written."""

    def _order_armed(self, key: str) -> None:
        """An order of ``key`` was armed (not sent): a hook for counting."""

    def replace(self, strategy: Strategy, client_order_id: str, qty: int, price: int) -> str | RiskDecision | None:
        """See :meth:`StrategyContext.replace`. Both halves pass the gate (the cancel throttle and
        every order check of the successor) before anything is journaled or sent."""
        for venue, oms in self.oms.items():
            original = oms.get(client_order_id)
            if original is None:
                continue
            if original.is_armed:
                return RiskDecision(False, None, "an armed order is not replaced: disarm it and arm another")
            runtime = self.instruments.get(f"{venue}:{original.symbol}")
            if runtime is None or not runtime.instrument.cancel_replace or not original.is_open:
                return self.cancel_then_submit(strategy, client_order_id, qty, price)
            if not self.trading_enabled:
                return RiskDecision(False, None, "engine not ready or shutting down")
            instrument = runtime.instrument
            now = self.clock.monotonic_ns()
            decision = self.risk.check_cancel(now)
            if decision.accepted:
                intent = OrderIntent(
                    venue, instrument.symbol, runtime.account, original.side is Side.BUY, qty, price,
                    instrument.qty_scale, instrument.price_scale,
                )
                decision = self.risk.check_order(intent, self._risk_view, now)
                if not decision.accepted and self._listener is not None:
                    self._listener.on_risk_denied(intent, decision)
            if not decision.accepted:
                self.stats.risk_denials += 1
                return decision
            replaced = oms.request_replace(client_order_id, qty=qty, price=price, now_ns=self.clock.time_ns())
            if replaced is None:  # a cancel is already in flight: the successor goes alone
                return self.cancel_then_submit(strategy, client_order_id, qty, price)
            order, command = replaced
            self._order_strategy[order.client_order_id] = strategy
            self._sent_mono[order.client_order_id] = self.clock.monotonic_ns()
            if failpoints.ARMED:
                failpoints.hit("oms.intent_journaled")
                failpoints.hit("oms.replace_journaled")
            self.gateways[venue].replace(command)
            self.stats.orders_sent += 1
            self.stats.cancels_sent += 1
            self._tick_to_order(venue, instrument.symbol)
            self._order_sent(runtime.instrument.key)
            return order.client_order_id
        return None

    def cancel_then_submit(
        self, strategy: Strategy, client_order_id: str, qty: int, price: int
    ) -> str | RiskDecision | None:
        """A replace as a cancel and an order (same side, type and time in force)."""
        order = next((o for o in (oms.get(client_order_id) for oms in self.oms.values()) if o is not None), None)
        denial = self.cancel(client_order_id)
        if denial is not None and not denial.accepted:
            return denial
        if order is None:
            return None
        return self.submit(
            strategy, f"{order.venue}:{order.symbol}", order.side, qty, price, order.order_type, order.time_in_force
        )

    def _tick_to_order(self, venue: str, symbol: str) -> None:
        """The first order frame of a tick is written: its latency from the depth frame."""
        received = self._tick_received_ns
        if received is not None:
            latency = self.clock.monotonic_ns() - received
            if self._listener is not None:
                self._listener.on_tick_to_order(venue, symbol, latency)
            self._tick_received_ns = None  # measure the first order of a tick only

    def cancel(self, client_order_id: str) -> RiskDecision | None:
        if client_order_id in self._armed and self.disarm(client_order_id, "canceled before it fired"):
            return None  # never sent: withdrawn, no request (one that fired is canceled below)
        for venue, oms in self.oms.items():
            if oms.get(client_order_id) is None:
                continue
            decision = self.risk.check_cancel(self.clock.monotonic_ns())
            if not decision.accepted:
                self.stats.risk_denials += 1
                return decision
            command = oms.request_cancel(client_order_id)
            if command is not None:
                if failpoints.ARMED:
                    failpoints.hit("oms.cancel_journaled")
                self.gateways[venue].cancel(command)
                self.stats.cancels_sent += 1
            return None
        return None

    # --- execution (from the venue adapters) -----------------------------------------------

    def on_execution_report(self, venue: str, report: ExecutionReport) -> None:
        oms = self.oms.get(venue)
        if oms is None:
            return
        update, fill = oms.on_report(report)
        if fill is not None:
            if failpoints.ARMED:
                failpoints.hit("kernel.fill_journaled")
            self._apply_fill(venue, fill)
        if update is not None:
            self._order_update(update)

    def on_request_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        update = self.oms[venue].on_rejected_before_send(client_order_id, reason)
        if update is not None:
            self._order_update(update)

    def on_request_unknown(self, venue: str, client_order_id: str, reason: str) -> None:
        query = self.oms[venue].on_outcome_unknown(client_order_id, self.clock.time_ns(), reason)
        if query is not None:
            self.gateways[venue].query(query)

    def on_cancel_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        query = self.oms[venue].on_cancel_rejected(client_order_id, self.clock.time_ns(), reason)
        if query is not None:
            self.gateways[venue].query(query)

    def on_query_not_found(self, venue: str, client_order_id: str) -> None:
        update = self.oms[venue].on_query_not_found(client_order_id, self.clock.time_ns())
        if update is not None:
            self._order_update(update)

    def _apply_fill(self, venue: str, fill: Fill) -> None:
        self.stats.fills += 1
        position = self.positions.get(venue, fill.symbol)
        if position is None:
            return
        commission = fill.commission
        if fill.commission_scale != position.qty_scale:
            # Commissions arrive at the venue's decimals; positions use the quantity scale.
            diff = fill.commission_scale - position.qty_scale
            commission = commission // pow10(diff) if diff > 0 else commission * pow10(-diff)
        position.apply_fill(
            is_buy=fill.side is Side.BUY, price=fill.price, qty=fill.qty, commission=commission,
            commission_asset=fill.commission_asset or position.quote,
        )
        sent = self._sent_mono.get(fill.client_order_id)
        latency = self.clock.monotonic_ns() - sent if sent is not None else None
        if self._listener is not None:
            self._listener.on_fill(fill, position, latency)
        strategy = self._order_strategy.get(fill.client_order_id)
        if strategy is not None:
            self._guard(strategy, lambda s: s.on_fill(self._contexts[s.name], fill))
        self._check_pnl()

    def replay_fill(self, venue: str, fill: Fill) -> None:
        """Apply a fill from the journal during recovery (no callbacks, no latency)."""
        position = self.positions.get(venue, fill.symbol)
        if position is None:
            return
        commission = fill.commission
        if fill.commission_scale != position.qty_scale:
            diff = fill.commission_scale - position.qty_scale
            commission = commission // pow10(diff) if diff > 0 else commission * pow10(-diff)
        position.apply_fill(
            is_buy=fill.side is Side.BUY, price=fill.price, qty=fill.qty, commission=commission,
            commission_asset=fill.commission_asset or position.quote,
        )

    def _order_update(self, update: OrderUpdate) -> None:
        cid = update.order.client_order_id
        if not update.order.is_open:
            self._sent_mono.pop(cid, None)
        if self._listener is not None:
            self._listener.on_order_update(update)
        strategy = self._order_strategy.get(cid)
        if strategy is not None:
            self._guard(strategy, lambda s: s.on_order(self._contexts[s.name], update))
            if not update.order.is_open:
                self._order_strategy.pop(cid, None)

    # --- timers, PnL, kill switch -------------------------------------------------------------

    def set_timer(self, strategy: Strategy, name: str, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError("timer interval must be positive")
        self._timers = [t for t in self._timers if not (t.strategy is strategy and t.name == name)]
        self._timers.append(_Timer(strategy, name, interval_ns, self.clock.monotonic_ns() + interval_ns))

    def on_tick(self) -> None:
        """Called by the runtime a few times per second: timers, unknown-order queries, PnL."""
        now = self.clock.monotonic_ns()
        if self.trading_enabled:
            for timer in self._timers:
                if now >= timer.due_ns:
                    timer.due_ns = now + timer.interval_ns
                    self._fire_timer(timer, now)
        wall = self.clock.time_ns()
        for venue, oms in self.oms.items():
            for query in oms.queries_due(wall, self._unknown_query_interval_ns):
                self.gateways[venue].query(query)
        self._check_pnl()

    def _fire_timer(self, timer: _Timer, now: int) -> None:
        context = self._contexts[timer.strategy.name]
        self._guard(timer.strategy, lambda s: s.on_timer(context, timer.name, now))

    def marks(self) -> dict[tuple[str, str], int]:
        return {
            (r.instrument.venue, r.instrument.symbol): r.mid
            for r in self.instruments.values()
            if r.mid is not None
        }

    def total_pnl(self) -> int:
        return self.positions.total_pnl(self.marks())

    def _check_pnl(self) -> None:
        before = self.risk.kill_switch
        cause = self.risk.on_pnl(self.total_pnl())
        if cause is not None:
            self._kill_switch_changed(before)

    def kill(self, state: KillSwitchState, cause: KillSwitchCause) -> bool:
        before = self.risk.kill_switch
        changed = self.risk.engage(state, cause)
        if changed:
            self._kill_switch_changed(before)
        return changed

    def resume(self) -> bool:
        changed = self.risk.resume()
        if changed and self._listener is not None:
            self._listener.on_kill_switch(self.risk.kill_switch, None)
        return changed

    def _kill_switch_changed(self, before: KillSwitchState) -> None:
        state = self.risk.kill_switch
        if state is KillSwitchState.HALTED and before is not KillSwitchState.HALTED:
            self.cancel_all()  # halting withdraws every resting order
        elif state is KillSwitchState.REDUCE_ONLY:
            # Armed orders were checked before: none goes out under reduce-only unchecked.
            self.disarm_all("kill switch: reduce-only")
        if self._listener is not None:
            self._listener.on_kill_switch(state, self.risk.kill_cause)

    # --- risk view ---------------------------------------------------------------------

    @property
    def _risk_view(self) -> _KernelRiskView:
        return _KernelRiskView(self)

    # --- strategy isolation ---------------------------------------------------------------

    def _guard(self, strategy: Strategy, call: Callable[[Strategy], None]) -> None:
        try:
            call(strategy)
        except Exception as exc:  # noqa: BLE001 - one strategy's bug is reported, not fatal
            self._strategy_error(strategy, exc)

    def _strategy_error(self, strategy: Strategy, exc: Exception) -> None:
        self.stats.dispatch_errors += 1
        self.stats.last_error = f"{strategy.name}: {type(exc).__name__}: {exc}"


class _KernelRiskView:
    __slots__ = ("_kernel",)

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def instrument(self, key: str) -> InstrumentState | None:
        runtime = self._kernel.instruments.get(key)
        if runtime is None:
            return None
        return self._state(runtime)

    def _state(self, runtime: InstrumentRuntime) -> InstrumentState:
        instrument = runtime.instrument
        position = self._kernel.positions.get(instrument.venue, instrument.symbol)
        oms = self._kernel.oms.get(instrument.venue)
        buy, sell = oms.open_qty(instrument.symbol) if oms is not None else (0, 0)
        last = runtime.last_book_mono_ns
        age = self._kernel.clock.monotonic_ns() - last if last is not None else None
        return InstrumentState(
            position=position.qty if position is not None else 0, open_buy_qty=buy, open_sell_qty=sell,
            reference_price=runtime.mid, book_live=runtime.live, book_age_ns=age, account=runtime.account,
        )

    def instruments(self) -> Mapping[str, InstrumentState]:
        return {key: self._state(r) for key, r in self._kernel.instruments.items()}

    def open_order_count(self) -> int:
        return sum(oms.open_count() for oms in self._kernel.oms.values())

    def scales(self, key: str) -> tuple[int, int]:
        instrument = self._kernel.instruments[key].instrument
        return instrument.price_scale, instrument.qty_scale
