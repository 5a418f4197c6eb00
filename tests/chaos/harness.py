"""The chaos harness: the Binance adapter and the real engine (Kernel, OrderManager, RiskGate)
against the simulator, with hundreds of injected faults and the invariants checked as it runs.

Invariants (each breach is recorded as a violation, the run asserts there are none):

* every LIVE book the engine receives equals the simulator's truth at the book's update id —
  checked on every ``on_book`` call (every applied diff), exactly, level by level;
* no client order id is sent twice — counted where orders enter the simulator (its
  ``place_order``, shared by REST and the WebSocket API), among the simulator's kept orders,
  and at the adapter's entry (one ``submit`` per id, one send per ``submit``);
* every order's final state in the OMS equals the simulator's (status and executed quantity),
  and an order the OMS gave up on as not found is unknown to the simulator;
* every fill is delivered to the engine exactly once — the engine's fills (after the OMS'
  dedup) equal the simulator's fills of the account, trade id by trade id, qty and price;
* the connector recovers after every round of faults: books LIVE again, both connections
  LIVE, the armed faults consumed, and a fresh order placed and cancelled cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from stanchion.book.l2 import L2Book
from stanchion.core.clock import LiveClock
from stanchion.core.errors import StanchionError
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.kernel import Kernel, Strategy
from stanchion.engine.oms import OrderManager, OrderUpdate
from stanchion.engine.positions import Position
from stanchion.engine.risk.gate import KillSwitchCause, KillSwitchState, OrderIntent, RiskDecision, RiskGate
from stanchion.engine.risk.limits import ExposureRiskLimits, InstrumentRiskLimits, LossAction, RiskLimits
from stanchion.model.commands import ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.orders import OrderStatus, OrderType, Side, TimeInForce
from stanchion.sim.binance import BinanceSimServer, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.binance.faults import KINDS, Fault
from stanchion.sim.binance.params import Params
from stanchion.sim.types import MarketConfig
from stanchion.venues.binance.adapter import AdapterEvents, BinanceAdapter, BinanceAdapterConfig
from stanchion.venues.binance.auth import HmacSigner

_log = logging.getLogger("tests.chaos")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
VENUE = "binance"
SIM_ACCOUNT = "default"  # the simulator's account behind its default key
ORDER_FAULTS = frozenset({"unknown_after_accept", "timeout_after_accept", "force_reject"})
REST_FAULTS = frozenset({"delay", "rest_5xx", "rate_limit_storm"})
# Hundreds of faults mean hundreds of reconnects within minutes: more than Binance's 300 connection
# attempts per 5 minutes. The simulator is told to allow them, and the adapter to budget as many.
CONNECTION_ATTEMPTS = 1_000_000


@dataclass(frozen=True)
class Profile:
    name: str
    faults: int
    per_round: int
    spacing_s: float
    """Between two injections of a round (orders flow meanwhile)."""
    settle_s: float
    """Orders keep flowing this long after a round's last fault, before the recovery check."""
    max_stall_s: float
    seed: int
    recovery_timeout_s: float = 20.0


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll a plain predicate until it holds (True) or the timeout passes (False)."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():  # noqa: ASYNC110 - polling a plain predicate, bounded by the timeout
                await asyncio.sleep(0.01)
    except TimeoutError:
        return False
    return True


def make_fault(kind: str, rng: random.Random, profile: Profile) -> Fault:
    symbol = rng.choice(SYMBOLS)
    if kind == "close":
        return Fault(kind, with_close_frame=rng.random() < 0.5)
    if kind == "stall":
        return Fault(kind, duration_s=rng.uniform(0.2, profile.max_stall_s), answer_pings=rng.random() < 0.5)
    if kind in ("skip_diff", "duplicate_diff"):
        return Fault(kind, symbol=symbol, count=rng.randint(1, 3))
    if kind == "reorder_diff":
        return Fault(kind, symbol=symbol)
    if kind == "delay":
        return Fault(kind, delay_ms=rng.randint(50, 600), count=rng.randint(1, 3))
    if kind == "rest_5xx":
        return Fault(kind, status=rng.choice((500, 502, 503)), count=rng.randint(1, 2))
    if kind == "timeout_after_accept":
        return Fault(kind, hold_s=rng.uniform(0.1, 0.6))
    if kind == "rate_limit_storm":
        return Fault(kind, count=rng.randint(1, 3))
    if kind == "ws_api_rate_limit_storm":
        return Fault(kind, count=rng.randint(1, 2), duration_s=rng.uniform(0.2, 1.0))
    if kind == "ip_ban":
        return Fault(kind, duration_s=rng.uniform(0.2, 1.0))
    if kind == "clock_skew":
        # Within tolerance, ahead past the 1 s allowance, behind past recvWindow (5 s): -1021.
        return Fault(kind, offset_ms=rng.choice((0, 400, -2500, 1500, 3000, -6500, 9000)))
    if kind == "force_reject":
        return Fault(kind, count=rng.randint(1, 2), symbol=symbol)
    if kind == "symbol_outage":
        return Fault(kind, symbol=symbol, duration_s=rng.uniform(0.3, 1.6))
    if kind == "user_stream_drop":
        return Fault(kind)
    return Fault(kind)  # unknown_after_accept, malformed_frame


def fault_plan(profile: Profile) -> list[Fault]:
    """``profile.faults`` faults, every kind in each pass over the kinds, in a seeded order."""
    rng = random.Random(profile.seed)
    kinds = sorted(KINDS)
    plan: list[Fault] = []
    while len(plan) < profile.faults:
        batch = list(kinds)
        rng.shuffle(batch)
        plan.extend(make_fault(kind, rng, profile) for kind in batch)
    return plan[: profile.faults]


@dataclass(frozen=True)
class _Probe:
    symbol: str
    client_order_id: str


class Driver(Strategy):
    """Owns the chaos orders (the kernel routes their updates and fills here)."""

    name = "chaos"

    def __init__(self) -> None:
        self.instruments = tuple(f"{VENUE}:{s}" for s in SYMBOLS)


@dataclass
class Counts:
    book_checks: Counter[str] = field(default_factory=Counter)
    orders_submitted: int = 0
    risk_denied: int = 0
    cancels: int = 0
    replaces: int = 0
    armed: int = 0
    armed_refused: int = 0
    disarms: int = 0
    probes: int = 0
    probe_retries: int = 0
    rounds: int = 0
    recovery_s: list[float] = field(default_factory=list)
    snapshot_polls: int = 0
    snapshot_poll_failures: int = 0
    adapter_fill_reports: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)


class Listener:
    """The kernel's EngineListener: records the fills the engine applied (after the OMS' dedup)."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.updates = 0

    def on_risk_denied(self, intent: OrderIntent, decision: RiskDecision) -> None:
        pass

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates += 1

    def on_fill(self, fill: Fill, position: Position, latency_ns: int | None) -> None:
        self.fills.append(fill)

    def on_kill_switch(self, state: KillSwitchState, cause: KillSwitchCause | None) -> None:
        pass

    def on_tick_to_order(self, venue: str, symbol: str, latency_ns: int) -> None:
        pass


class CheckedSink:
    """The engine sink the adapter talks to: checks every LIVE book against the truth, then
    forwards everything to the kernel."""

    def __init__(self, harness: ChaosHarness) -> None:
        self._h = harness

    def on_book(self, key: str, book: L2Book, received_ns: int | None = None) -> None:
        h = self._h
        symbol = key.partition(":")[2]
        syncer = h.adapter._session.syncer(symbol)
        if syncer is None:
            h.violation(f"book {key}: delivered without a syncer")
        else:
            update_id = syncer.last_update_id
            truth = h.sim.exchange.book_at(symbol, update_id)
            if truth is None:
                h.violation(f"book {key}: update id {update_id} outside the truth window")
            else:
                bids = {p: q for p, q in truth[0].items() if q}
                asks = {p: q for p, q in truth[1].items() if q}
                if book.bid_levels() != bids or book.ask_levels() != asks:
                    h.violation(f"book {key}: differs from the truth at update id {update_id}")
            h.counts.book_checks[symbol] += 1
        h.kernel.on_book(key, book, received_ns)

    def on_book_lost(self, key: str) -> None:
        self._h.kernel.on_book_lost(key)

    def on_execution_report(self, venue: str, report: ExecutionReport) -> None:
        if report.fill is not None:
            self._h.counts.adapter_fill_reports += 1
        self._h.kernel.on_execution_report(venue, report)

    def on_request_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        self._h.kernel.on_request_rejected(venue, client_order_id, reason)

    def on_request_unknown(self, venue: str, client_order_id: str, reason: str) -> None:
        self._h.kernel.on_request_unknown(venue, client_order_id, reason)

    def on_cancel_rejected(self, venue: str, client_order_id: str, reason: str) -> None:
        self._h.kernel.on_cancel_rejected(venue, client_order_id, reason)

    def on_query_not_found(self, venue: str, client_order_id: str) -> None:
        self._h.kernel.on_query_not_found(venue, client_order_id)

    def on_armed_fired(self, venue: str, client_order_id: str, latency_ns: int | None) -> None:
        self._h.submits[client_order_id] += 1  # its order.place frame was written
        self._h.kernel.on_armed_fired(venue, client_order_id, latency_ns)

    def on_armed_failed(self, venue: str, client_order_id: str, reason: str) -> None:
        self._h.kernel.on_armed_failed(venue, client_order_id, reason)


class Events(AdapterEvents):
    def __init__(self) -> None:
        self.resyncs: Counter[str] = Counter()
        self.reconnects: Counter[str] = Counter()
        self.user_stream_restored = 0

    def on_resync(self, venue: str, symbol: str, reason: str) -> None:
        self.resyncs[reason] += 1

    def on_reconnect(self, venue: str, connection: str) -> None:
        self.reconnects[connection] += 1

    def on_user_stream_restored(self, venue: str) -> None:
        self.user_stream_restored += 1


def _risk_limits(adapter: BinanceAdapter) -> RiskLimits:
    big = 10**40
    instruments = {
        f"{VENUE}:{s}": InstrumentRiskLimits(max_order_qty=big, max_order_notional=big, max_position=big)
        for s in SYMBOLS
    }
    scale = max(i.price_scale + i.qty_scale for i in adapter._instruments.values())
    return RiskLimits(
        notional_scale=scale, instruments=instruments, account=ExposureRiskLimits(big, big),
        portfolio=ExposureRiskLimits(big, big), price_band_bps=5_000, max_orders_per_second=10_000,
        max_cancels_per_second=10_000, max_open_orders=10_000, daily_loss_limit=big, max_drawdown=big,
        loss_action=LossAction.HALT, max_book_age_ns=60 * 10**9,
    )


class ChaosHarness:
    def __init__(self, sim: BinanceSimServer, profile: Profile) -> None:
        self.sim = sim
        self.profile = profile
        self.rng = random.Random(profile.seed + 1)
        self.counts = Counts()
        self.violations: list[str] = []
        self.events = Events()
        self.listener = Listener()
        self.clock = LiveClock()
        self.oms = OrderManager(
            VENUE, "main", ClientOrderIdFactory("C", 0, 1), lambda kind, key, body: 0,
            not_found_grace_ns=6 * 10**9,  # > the adapter's recvWindow (5 s)
        )
        self.adapter = BinanceAdapter(
            BinanceAdapterConfig(
                name=VENUE, rest_url=sim.rest_url, ws_stream_url=sim.ws_stream_url, ws_api_url=sim.ws_api_url,
                symbols=SYMBOLS, subscribe_interval_s=0.0, request_timeout_s=1.0, book_stale_after_s=1.0,
                liveness_timeout_s=1.5, snapshot_limit=500,
                connection_attempts_per_5min=CONNECTION_ATTEMPTS,  # as the simulator below allows
            ),
            HmacSigner(DEFAULT_API_KEY, DEFAULT_API_SECRET),
            clock=self.clock,
            events=self.events,
            open_orders=lambda: [(o.symbol, o.client_order_id) for o in self.oms.open_orders()],
        )
        self.kernel: Kernel  # built in run() once the instruments are known
        self.driver = Driver()
        self.sink = CheckedSink(self)
        self.placed_at_sim: Counter[str] = Counter()
        self.submits: Counter[str] = Counter()
        self._traffic_on = asyncio.Event()
        self._stop = asyncio.Event()
        self._count_at_sim()
        self._count_at_adapter()

    # --- instrumentation ----------------------------------------------------------------

    def violation(self, text: str) -> None:
        if len(self.violations) < 1000:
            self.violations.append(text)

    def _count_at_sim(self) -> None:
        original = self.sim.place_order
        placed = self.placed_at_sim

        async def counting(account: str, params: Params, request: object = None) -> object:
            placed[params.opt_str("newClientOrderId") or "?"] += 1
            return await original(account, params, request)  # type: ignore[arg-type]

        self.sim.place_order = counting  # type: ignore[method-assign]
        original_replace = self.sim.cancel_replace

        async def counting_replace(account: str, params: Params) -> object:
            placed[params.opt_str("newClientOrderId") or "?"] += 1  # its new order, at most once
            return await original_replace(account, params)

        self.sim.cancel_replace = counting_replace  # type: ignore[method-assign]

    def _count_at_adapter(self) -> None:
        original = self.adapter.submit
        submits = self.submits

        def counting(command: SubmitOrder) -> None:
            submits[command.client_order_id] += 1
            original(command)

        self.adapter.submit = counting  # type: ignore[method-assign]
        original_replace = self.adapter.replace
        stats = self.adapter.stats

        def counting_replace(command: ReplaceOrder) -> None:
            # One order.cancelReplace request carries the successor; without it the adapter
            # falls back to cancel + submit, and the submit above counts it.
            before = stats.replaces_sent
            original_replace(command)
            if stats.replaces_sent > before:
                submits[command.client_order_id] += 1

        self.adapter.replace = counting_replace  # type: ignore[method-assign]

    # --- engine ----------------------------------------------------------------------------

    def _build_engine(self) -> None:
        kernel = Kernel(self.clock, RiskGate(_risk_limits(self.adapter)), listener=self.listener)
        kernel.add_venue(VENUE, self.oms, self.adapter)
        for instrument in self.adapter._instruments.values():
            kernel.add_instrument(instrument, "main")
        kernel.add_strategy(self.driver)
        self.kernel = kernel

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.kernel.context(self.driver)

    def _min_qty(self, symbol: str, price: int) -> int:
        instrument = self.adapter._instruments[symbol]
        return (instrument.min_notional // price // instrument.step + 2) * instrument.step

    def _touch(self, symbol: str) -> tuple[str, int, int, int] | None:
        """(instrument key, tick, best bid, best ask) of a LIVE two-sided book, else None."""
        key = f"{VENUE}:{symbol}"
        book = self.ctx.book(key)
        if book is None:
            return None
        bid, ask = book.best_bid_price(), book.best_ask_price()
        if bid is None or ask is None:
            return None
        return key, self.adapter._instruments[symbol].tick, bid, ask

    def _far(self, side: Side, tick: int, bid: int, ask: int) -> int:
        """A price 3 % behind the touch of ``side``: it rests (or waits) and does not trade."""
        return (bid * 97 // 100) // tick * tick if side is Side.BUY else (ask * 103 // 100) // tick * tick

    def _passive(self, symbol: str, side: Side) -> str | None:
        touch = self._touch(symbol)
        if touch is None:
            return None
        key, tick, bid, ask = touch
        price = self._far(side, tick, bid, ask)
        return self._submitted(self.ctx.submit(key, side, self._min_qty(symbol, price), price))

    def _aggressive(self, symbol: str) -> str | None:
        touch = self._touch(symbol)
        if touch is None:
            return None
        key, tick, bid, ask = touch
        side = Side.SELL if self.ctx.position(key) > 0 else Side.BUY
        price = ask + 2 * tick if side is Side.BUY else bid - 2 * tick
        tif = TimeInForce.IOC if self.rng.random() < 0.5 else TimeInForce.GTC
        qty = self._min_qty(symbol, price) * self.rng.randint(1, 4)
        return self._submitted(self.ctx.submit(key, side, qty, price, OrderType.LIMIT, tif))

    def _armed(self, symbol: str) -> str | None:
        """An armed IOC: mostly one tick inside the opposite touch (it fires when that touch
        improves), sometimes 3 % away (it waits, and is canceled — disarmed — later)."""
        touch = self._touch(symbol)
        if touch is None:
            return None
        key, tick, bid, ask = touch
        side = Side.SELL if self.ctx.position(key) > 0 else Side.BUY
        if self.rng.random() < 0.7:
            price = ask - tick if side is Side.BUY else bid + tick
        else:
            price = self._far(side, tick, bid, ask)
        result = self.ctx.arm(key, side, self._min_qty(symbol, price), price)
        if isinstance(result, str):
            self.counts.armed += 1
            return result
        self.counts.armed_refused += 1  # the gate, or no live WebSocket API to arm on
        return None

    def _submitted(self, result: object) -> str | None:
        if isinstance(result, str):
            self.counts.orders_submitted += 1
            return result
        self.counts.risk_denied += 1
        return None

    # --- background tasks --------------------------------------------------------------------

    async def _ticker(self) -> None:
        while not self._stop.is_set():
            self.kernel.on_tick()
            await asyncio.sleep(0.1)

    async def _traffic(self) -> None:
        """Orders while the faults fire: resting orders far from the touch, marketable ones that
        fill (IOC or GTC), armed ones (sent by a depth frame), and cancels or replaces
        (``order.cancelReplace``) of whatever has been open or armed for a while."""
        born: dict[str, float] = {}
        while not self._stop.is_set():
            await self._traffic_on.wait()
            now = time.monotonic()
            for symbol in SYMBOLS:
                roll = self.rng.random()
                if roll >= 0.34:
                    continue  # ~7 orders/s in all: under the venue's 100 orders / 10 s
                if roll >= 0.3:
                    cid = self._armed(symbol)
                else:
                    cid = self._aggressive(symbol) if roll < 0.12 else self._passive(
                        symbol, Side.BUY if roll < 0.21 else Side.SELL)
                if cid is not None:
                    born[cid] = now
            for cid, t in list(born.items()):
                order = self.oms.get(cid)
                if order is None or not order.is_open:
                    born.pop(cid)
                elif now - t > 1.0 and order.status is OrderStatus.ARMED:
                    born.pop(cid)
                    self.ctx.cancel(cid)  # withdrawn (disarmed) unless it fired meanwhile
                    self.counts.disarms += 1
                elif now - t > 0.3 and order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                    born.pop(cid)
                    if order.price is not None and self.rng.random() < 0.5:
                        # A requote in one request (order.cancelReplace): one tick further away.
                        tick = self.adapter._instruments[order.symbol].tick
                        price = order.price - tick if order.side is Side.BUY else order.price + tick
                        result = self.ctx.replace(cid, order.qty, price)
                        self.counts.replaces += 1
                        if result is not None:  # None: the order closed meanwhile, nothing was asked
                            successor = self._submitted(result)
                            if successor is not None:
                                born[successor] = now
                    else:
                        self.ctx.cancel(cid)
                        self.counts.cancels += 1
            await asyncio.sleep(0.1)

    async def _poll_account(self, interval_s: float) -> None:
        """Reconciliation-style REST reads (they also consume the armed REST faults)."""
        while not self._stop.is_set():
            try:
                await self.adapter.account_snapshot()
            except StanchionError:
                self.counts.snapshot_poll_failures += 1
            self.counts.snapshot_polls += 1
            await asyncio.sleep(interval_s)

    async def _poke_rest(self) -> None:
        """Queries of an id nobody uses (weight 4; the engine ignores the answer)."""
        while any(a.fault.kind in REST_FAULTS for a in self.sim.faults.armed):
            self.adapter.query(_Probe(SYMBOLS[0], "chaospoke000000000001"))
            await asyncio.sleep(0.1)

    # --- recovery ---------------------------------------------------------------------------

    def _connected(self) -> bool:
        return (
            all(s == "live" for s in self.adapter.book_states().values())
            and self.adapter.connection_states() == {"market_data": "live", "ws_api": "live"}
            and self.adapter._api_live()
        )

    async def _probe(self, symbol: str, timeout_s: float) -> bool:
        """One clean place + cancel round trip through the engine."""
        cid = self._passive(symbol, Side.BUY)
        if cid is None:
            return False
        self.counts.probes += 1
        order = self.oms.get(cid)
        assert order is not None
        if not await until(lambda: order.status is not OrderStatus.SUBMITTING, timeout_s):
            return False
        if order.status is not OrderStatus.NEW:
            return False
        self.ctx.cancel(cid)
        return await until(lambda: order.status is OrderStatus.CANCELED, timeout_s) and not order.is_open

    async def recover(self, label: str) -> bool:
        """Books LIVE, connections LIVE, faults consumed, one clean round trip per symbol."""
        started = time.monotonic()
        deadline = started + self.profile.recovery_timeout_s

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        def faults_pending() -> bool:
            return any(a.fault.kind in ORDER_FAULTS | REST_FAULTS for a in self.sim.faults.armed)

        # Order faults still armed are consumed by the order flow, REST ones by cheap queries.
        self._traffic_on.set()
        poke = asyncio.create_task(self._poke_rest())
        ok = await until(lambda: not faults_pending(), left())
        poke.cancel()
        self._traffic_on.clear()
        if not ok:
            self.violation(f"{label}: faults never consumed: {self.sim.faults.pending_kinds()}")
        for symbol in SYMBOLS:
            while True:
                if not await until(self._connected, left()):
                    self.violation(f"{label}: not recovered (books {self.adapter.book_states()}, "
                                   f"connections {self.adapter.connection_states()}, "
                                   f"user stream {self.adapter._user_subscribed.is_set()})")
                    return False
                if await self._probe(symbol, min(left(), 5.0)):
                    break
                self.counts.probe_retries += 1
                await asyncio.sleep(0.2)  # pacing: a failed probe is not retried in a tight loop
                if left() <= 0:
                    self.violation(f"{label}: no clean order round trip on {symbol}")
                    return False
        self.counts.recovery_s.append(time.monotonic() - started)
        _log.info("%s recovered in %.2f s", label, time.monotonic() - started)
        return True

    # --- the run ----------------------------------------------------------------------------

    async def run(self) -> None:
        await self.adapter.start(self.sink)
        tasks: list[asyncio.Task[None]] = []
        try:
            self._build_engine()
            if not await self.adapter.wait_books_live(15.0):
                raise AssertionError("books never went LIVE before the first fault")
            self.kernel.start_trading()
            tasks = [
                asyncio.create_task(self._ticker()),
                asyncio.create_task(self._traffic()),
                asyncio.create_task(self._poll_account(1.5)),
            ]
            if not await self.recover("start"):
                raise AssertionError(f"no clean start: {self.violations}")
            plan = fault_plan(self.profile)
            for start in range(0, len(plan), self.profile.per_round):
                batch = plan[start : start + self.profile.per_round]
                self.counts.rounds += 1
                self._traffic_on.set()
                for fault in batch:
                    self.sim.inject(fault)
                    self.counts.faults_by_kind[fault.kind] += 1
                    await asyncio.sleep(self.profile.spacing_s)
                await asyncio.sleep(self.profile.settle_s)
                self._traffic_on.clear()
                kinds = ",".join(sorted({f.kind for f in batch}))
                if not await self.recover(f"round {self.counts.rounds} ({kinds})"):
                    break  # recorded; the final checks still run on what happened so far
            self.sim.inject(Fault("clock_skew", offset_ms=0))
            await self.quiesce()
        finally:
            self._stop.set()
            self._traffic_on.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.adapter.stop()
        self.check_final()

    async def quiesce(self) -> None:
        """Cancel everything and wait until every order is final in the OMS."""
        async def settle() -> None:
            while self.oms.open_count():
                self.kernel.cancel_all()
                await asyncio.sleep(0.2)

        try:
            async with asyncio.timeout(30.0):
                await settle()
        except TimeoutError:
            self.violation(f"orders never settled: {[(o.client_order_id, o.status) for o in self.oms.open_orders()]}")
        # Late user-stream events of final orders: wait until the engine agrees with the venue.
        await until(lambda: not self._order_mismatches() and not self._fill_mismatches(), 10.0)

    # --- final checks ---------------------------------------------------------------------------

    def _truth(self):  # type: ignore[no-untyped-def]
        truth = self.sim.exchange.account_truth(SIM_ACCOUNT)
        assert not hasattr(truth, "code"), truth
        return truth

    def _order_mismatches(self) -> list[str]:
        truth = self._truth()
        at_sim = {o.client_order_id: o for o in truth.orders}
        out: list[str] = []
        for order in self.oms:
            venue = at_sim.get(order.client_order_id)
            if order.status is OrderStatus.REJECTED:
                if venue is not None and venue.status not in ("REJECTED", "EXPIRED"):
                    out.append(f"{order.client_order_id}: OMS REJECTED, venue {venue.status}")
                continue
            if venue is None and order.status is OrderStatus.CANCELED and order.sent_ns is None:
                continue  # armed, then withdrawn before it fired: it never left
            if venue is None:
                out.append(f"{order.client_order_id}: OMS {order.status.value}, unknown to the venue")
            elif venue.status != order.status.value or venue.executed_qty != order.filled_qty:
                out.append(f"{order.client_order_id}: OMS {order.status.value}/{order.filled_qty}, "
                           f"venue {venue.status}/{venue.executed_qty}")
        ours = {o.client_order_id for o in self.oms}
        out.extend(f"{cid}: at the venue, unknown to the OMS" for cid in at_sim if cid not in ours)
        return out

    def _fill_mismatches(self) -> list[str]:
        truth = self._truth()
        cid_of = {(o.symbol, o.order_id): o.client_order_id for o in truth.orders}
        venue = {(f.symbol, f.trade_id): (cid_of.get((f.symbol, f.order_id)), f.qty, f.price) for f in truth.fills}
        seen = Counter((f.symbol, f.trade_id) for f in self.listener.fills)
        engine = {(f.symbol, f.trade_id): (f.client_order_id, f.qty, f.price) for f in self.listener.fills}
        out = [f"fill {k} delivered {n} times" for k, n in seen.items() if n > 1]
        out.extend(f"fill {k} at the venue never reached the engine" for k in venue if k not in engine)
        out.extend(f"fill {k} reached the engine but is not at the venue" for k in engine if k not in venue)
        out.extend(f"fill {k}: engine {engine[k]} != venue {venue[k]}" for k in engine
                   if k in venue and engine[k] != venue[k])
        return out

    def check_final(self) -> None:
        truth = self._truth()
        for cid, n in self.placed_at_sim.items():
            if n > 1:
                self.violation(f"client order id {cid} reached the venue {n} times")
        for cid, n in Counter(o.client_order_id for o in truth.orders).items():
            if n > 1:
                self.violation(f"client order id {cid} appears {n} times among the venue's orders")
        for cid, n in self.submits.items():
            if n > 1:
                self.violation(f"client order id {cid} submitted to the adapter {n} times")
        sent = self.adapter.stats.orders_sent_ws + self.adapter.stats.orders_sent_rest
        if sent > len(self.submits):
            self.violation(f"adapter sent {sent} orders for {len(self.submits)} submits")
        for text in self._order_mismatches():
            self.violation(f"final state: {text}")
        for text in self._fill_mismatches():
            self.violation(text)
        for text in self.sim.exchange.consistency_errors():
            self.violation(f"simulator: {text}")
        if self.kernel.stats.dispatch_errors:
            self.violation(f"kernel dispatch errors: {self.kernel.stats.last_error}")
        for symbol in SYMBOLS:
            if self.counts.book_checks[symbol] == 0:
                self.violation(f"no book of {symbol} was checked")
        missing = set(KINDS) - set(self.counts.faults_by_kind)
        if missing:
            self.violation(f"fault kinds never injected: {sorted(missing)}")
        if not truth.fills:
            self.violation("no fill at all: the fill invariant was not exercised")

    # --- report -----------------------------------------------------------------------------------

    def summary(self, elapsed_s: float) -> dict[str, object]:
        md = self.adapter._md.statistics() if self.adapter._md is not None else {}
        api = self.adapter._api.statistics() if self.adapter._api is not None else {}
        stats = self.adapter.stats
        truth = self._truth()
        recovery = sorted(self.counts.recovery_s)
        return {
            "profile": self.profile.name,
            "elapsed_s": round(elapsed_s, 1),
            "faults": sum(self.counts.faults_by_kind.values()),
            "faults_by_kind": dict(sorted(self.counts.faults_by_kind.items())),
            "faults_fired_at_sim": len(self.sim.faults.fired),
            "rounds": self.counts.rounds,
            "reconnects": {"market_data": md.get("reconnects"), "ws_api": api.get("reconnects")},
            "resyncs": stats.resyncs,
            "resync_reasons": dict(self.events.resyncs),
            "snapshots": stats.snapshots_fetched,
            "stale_marks": stats.stale_marks,
            "malformed_frames": stats.malformed_frames,
            "book_checks": dict(self.counts.book_checks),
            "orders_submitted": self.counts.orders_submitted,
            "replaces": {"requested": self.counts.replaces, "one_request": stats.replaces_sent},
            "armed": {"armed": self.counts.armed, "refused": self.counts.armed_refused, "fired": stats.armed_fired,
                      "fire_failed": stats.armed_failed, "disarm_requests": self.counts.disarms},
            "orders_at_venue": len(truth.orders),
            "risk_denied": self.counts.risk_denied,
            "outcome_unknown": stats.outcome_unknown,
            "queries": stats.queries,
            "fills_at_venue": len(truth.fills),
            "fills_engine": len(self.listener.fills),
            "fill_reports_from_adapter": self.counts.adapter_fill_reports,
            "duplicate_fills_dropped_by_oms": self.oms.stats.duplicate_fills,
            "fills_recovered_by_query": stats.fills_recovered,
            "user_stream_restored": self.events.user_stream_restored,
            "clock_resyncs": stats.clock_resyncs,
            "order_rejects": dict(stats.rejects_by_reason),
            "oms_anomalies": self.oms.stats.anomalies,
            "probes": self.counts.probes,
            "probe_retries": self.counts.probe_retries,
            "recovery_s_median_max": (recovery[len(recovery) // 2], recovery[-1]) if recovery else None,
            "sim_rate_limit": self._sim_limits(),
            "violations": len(self.violations),
        }

    def _sim_limits(self) -> dict[str, int]:
        state = self.sim.limiter._ips.get("127.0.0.1")
        if state is None:
            return {}
        return {"bans": state.bans, "limited_until_s": state.limited_until_s, "strikes": state.strikes}


@asynccontextmanager
async def chaos_sim(seed: int) -> AsyncIterator[BinanceSimServer]:
    config = SimServerConfig(
        rate=30, seed=seed, ping_interval_s=0.5, pong_timeout_s=10, ws_connections_per_5min=CONNECTION_ATTEMPTS,
    )
    async with BinanceSimServer(config, market=MarketConfig(levels_per_side=300)) as sim:
        yield sim


async def run_chaos(profile: Profile) -> tuple[ChaosHarness, dict[str, object]]:
    started = time.monotonic()
    async with chaos_sim(profile.seed) as sim:
        harness = ChaosHarness(sim, profile)
        await harness.run()
        summary = harness.summary(time.monotonic() - started)
    return harness, summary

