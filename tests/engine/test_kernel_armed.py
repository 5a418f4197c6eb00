"""Armed orders in the kernel and the OMS: checked by the gate and journaled before the venue
adapter signs them, counted as open while armed, sent by the gateway's frame check, withdrawn
by the price band, the kill switch, a cancel and a stop; replayed after a crash as orders whose
frame may have left (asked about, never resent)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from stanchion.app.main import BeforeScrape, EngineEvents, LatencySamples, MeteredKernel
from stanchion.core.clock import TestClock
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.kernel import Kernel, Strategy, StrategyContext
from stanchion.engine.oms import JournalKind, OrderManager, OrderUpdate
from stanchion.engine.risk.gate import KillSwitchCause, KillSwitchState, RiskDecision, RiskGate, RiskReason
from stanchion.engine.strategies.armed_taker import ArmedTaker, ArmedTakerParams
from stanchion.model.commands import SubmitOrder
from stanchion.model.orders import OrderStatus, Side, TimeInForce
from stanchion.observability.metrics import StanchionMetrics
from tests.engine.test_kernel import INSTRUMENT, KEY, S8, RecordingGateway, _book, _limits, _report


@dataclass
class ArmingGateway(RecordingGateway):
    armed: dict[str, tuple[SubmitOrder, int]] = field(default_factory=dict)
    refuse: str | None = None
    held: bool = False
    fired_late: list[str] = field(default_factory=list)

    def arm(self, command: SubmitOrder, trigger_price: int) -> str | None:
        if self.refuse is not None:
            return self.refuse
        self.armed[command.client_order_id] = (command, trigger_price)
        return None

    def disarm(self, client_order_id: str) -> bool:
        return self.armed.pop(client_order_id, None) is not None

    def fire_armed(self, client_order_id: str) -> bool:
        if self.held or self.armed.pop(client_order_id, None) is None:
            return False
        self.fired_late.append(client_order_id)
        return True


class Listener:
    def __init__(self) -> None:
        self.denials: list[RiskDecision] = []
        self.updates: list[OrderUpdate] = []
        self.tick_to_order: list[int] = []

    def on_risk_denied(self, intent: object, decision: RiskDecision) -> None:
        self.denials.append(decision)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_fill(self, *a: object) -> None: ...

    def on_kill_switch(self, *a: object) -> None: ...

    def on_tick_to_order(self, venue: str, symbol: str, latency_ns: int) -> None:
        self.tick_to_order.append(latency_ns)


class Quiet(Strategy):
    name = "armer"
    instruments = (KEY,)

    def __init__(self) -> None:
        self.updates: list[tuple[str, OrderStatus]] = []

    def on_order(self, ctx: StrategyContext, update: OrderUpdate) -> None:
        self.updates.append((update.order.client_order_id, update.status))


def _armed_kernel() -> tuple[Kernel, ArmingGateway, StrategyContext, Listener, list[tuple[str, str, bytes]]]:
    journal: list[tuple[str, str, bytes]] = []
    listener = Listener()
    kernel = Kernel(TestClock(), RiskGate(_limits()), listener=listener)  # type: ignore[arg-type]
    gateway = ArmingGateway()
    oms = OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1),
                       lambda kind, key, body: journal.append((kind, key, body)) or len(journal))
    kernel.add_venue("binance", oms, gateway)
    kernel.add_instrument(INSTRUMENT, "main")
    strategy = Quiet()
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book())  # bid 60 000, ask 60 001
    return kernel, gateway, kernel.context(strategy), listener, journal


def test_arming_checks_journals_and_hands_the_gateway_the_order_and_its_trigger() -> None:
    kernel, gateway, ctx, _listener, journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(cid, str)
    assert [(kind, key) for kind, key, _ in journal] == [(JournalKind.ARMED_INTENT, cid)]  # before the gateway
    command, trigger = gateway.armed[cid]
    assert (command.side, command.price, command.time_in_force, trigger) == (
        Side.BUY, 59_990 * S8, TimeInForce.IOC, 59_990 * S8)
    assert gateway.submitted == []
    order = kernel.oms["binance"].get(cid)
    assert order is not None and order.status is OrderStatus.ARMED
    assert kernel.oms["binance"].venue_orders() == []  # the venue does not know it
    assert ctx.open_orders(KEY) == [cid]  # the strategy does


def test_an_armed_order_counts_as_open_for_the_gate() -> None:
    _kernel, _gateway, ctx, _listener, _journal = _armed_kernel()
    assert isinstance(ctx.arm(KEY, Side.BUY, S8, 59_990 * S8), str)  # max_position is 2 BTC
    assert isinstance(ctx.arm(KEY, Side.BUY, S8, 59_990 * S8), str)
    denial = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(denial, RiskDecision) and denial.reason is RiskReason.MAX_POSITION


def test_a_denied_order_is_neither_journaled_nor_armed() -> None:
    _kernel, gateway, ctx, listener, journal = _armed_kernel()
    denial = ctx.arm(KEY, Side.BUY, 2 * S8, 59_990 * S8)  # over max_order_qty
    assert isinstance(denial, RiskDecision) and denial.reason is RiskReason.MAX_ORDER_QTY
    assert journal == [] and gateway.armed == {} and listener.denials == [denial]
    band = ctx.arm(KEY, Side.BUY, S8 // 10, 50_000 * S8)  # 100 bps band around 60 000.5
    assert isinstance(band, RiskDecision) and band.reason is RiskReason.PRICE_BAND


def test_an_order_whose_condition_already_shows_is_sent_at_once() -> None:
    kernel, gateway, ctx, _listener, journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 60_002 * S8, trigger_price=60_001 * S8)  # the ask is 60 001
    assert isinstance(cid, str) and gateway.armed == {}
    [command] = gateway.submitted
    assert command.client_order_id == cid and command.time_in_force is TimeInForce.IOC
    assert [kind for kind, _, _ in journal] == [JournalKind.INTENT]
    sell = ctx.arm(KEY, Side.SELL, S8 // 10, 60_000 * S8)  # the bid is 60 000
    assert isinstance(sell, str) and len(gateway.submitted) == 2 and gateway.armed == {}
    assert kernel.oms["binance"].get(sell).status is OrderStatus.SUBMITTING  # type: ignore[union-attr]


def test_a_gateway_that_cannot_arm_leaves_the_order_withdrawn() -> None:
    kernel, gateway, ctx, _listener, journal = _armed_kernel()
    gateway.refuse = "the WebSocket API is not live (armed orders go out on it only)"
    denial = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(denial, RiskDecision) and "WebSocket API is not live" in denial.detail
    [(kind0, cid, _), (kind1, _, _)] = journal
    assert (kind0, kind1) == (JournalKind.ARMED_INTENT, JournalKind.STATE)
    order = kernel.oms["binance"].get(cid)
    assert order is not None and order.status is OrderStatus.CANCELED and not order.is_open


def test_a_fired_order_is_an_order_in_flight_and_its_latency_is_the_tick_to_order() -> None:
    kernel, gateway, ctx, listener, _journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(cid, str)
    command, _ = gateway.armed.pop(cid)  # the gateway's frame check fired it
    kernel.on_armed_fired("binance", cid, 12_345)
    order = kernel.oms["binance"].get(cid)
    assert order is not None and order.status is OrderStatus.SUBMITTING
    assert listener.tick_to_order == [12_345] and kernel.stats.armed_fired == 1
    assert (cid, OrderStatus.SUBMITTING) in kernel.strategies[0].updates  # type: ignore[attr-defined]
    assert ctx.disarm(cid) is False  # gone
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, 7))
    assert order.status is OrderStatus.FILLED
    assert kernel.positions.get("binance", "BTCUSDT").qty == S8 // 10  # type: ignore[union-attr]


def test_a_fire_whose_frame_was_not_written_withdraws_the_order() -> None:
    kernel, gateway, ctx, _listener, _journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(cid, str)
    gateway.armed.pop(cid)
    kernel.on_armed_failed("binance", cid, "connection lost: the frame was not written")
    order = kernel.oms["binance"].get(cid)
    assert order is not None and order.status is OrderStatus.CANCELED
    assert order.reason == "connection lost: the frame was not written"


def test_disarm_and_cancel_withdraw_without_a_request() -> None:
    kernel, gateway, ctx, _listener, journal = _armed_kernel()
    first = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    second = ctx.arm(KEY, Side.SELL, S8 // 10, 60_010 * S8)
    assert isinstance(first, str) and isinstance(second, str)
    assert ctx.disarm(first) is True and ctx.disarm(first) is False
    assert ctx.cancel(second) is None
    assert gateway.armed == {} and gateway.cancelled == [] and gateway.submitted == []
    assert [kernel.oms["binance"].get(c).status for c in (first, second)] == [  # type: ignore[union-attr]
        OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert [kind for kind, _, _ in journal].count(JournalKind.STATE) == 2


def test_an_armed_order_is_not_replaced() -> None:
    _kernel, gateway, ctx, _listener, _journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(cid, str)
    denial = ctx.replace(cid, S8 // 10, 59_980 * S8)
    assert isinstance(denial, RiskDecision) and "armed" in denial.detail
    assert cid in gateway.armed and gateway.submitted == gateway.cancelled == []


def test_an_armed_order_left_behind_by_the_price_band_is_withdrawn() -> None:
    kernel, gateway, ctx, listener, _journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_500 * S8)  # 83 bps under mid: inside the 100 bps band
    assert isinstance(cid, str)
    kernel.on_book(KEY, _book(60_200 * S8, 60_201 * S8))  # mid up: 116 bps away now
    assert gateway.armed == {}
    assert kernel.oms["binance"].get(cid).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert listener.denials[-1].reason is RiskReason.PRICE_BAND
    assert kernel.risk.denials[RiskReason.PRICE_BAND] == 1


def test_the_kill_switch_and_a_stop_withdraw_armed_orders() -> None:
    kernel, gateway, ctx, _listener, _journal = _armed_kernel()
    ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert kernel.kill(KillSwitchState.REDUCE_ONLY, KillSwitchCause.MANUAL)
    assert gateway.armed == {}
    kernel.resume()
    ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert kernel.kill(KillSwitchState.HALTED, KillSwitchCause.MANUAL)
    assert gateway.armed == {} and gateway.cancelled == []  # halting withdrew it: no cancel request
    kernel.resume()
    ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    kernel.stop_trading()
    assert gateway.armed == {}
    assert kernel.oms["binance"].armed_orders() == []


def test_replay_after_a_crash_asks_the_venue_and_believes_not_found_only_a_grace_after_restart() -> None:
    _kernel, _gateway, ctx, _listener, journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    kept = ctx.arm(KEY, Side.SELL, S8 // 10, 60_010 * S8)
    assert isinstance(cid, str) and isinstance(kept, str)
    assert ctx.disarm(kept)
    restarted = OrderManager("binance", "main", ClientOrderIdFactory("S", 1, 1), lambda *a: 0,
                             not_found_grace_ns=10 * 10**9)
    for kind, key, body in journal:
        restarted.replay(kind, key, body)
    order = restarted.get(cid)
    assert order is not None and order.status is OrderStatus.ARMED
    assert restarted.get(kept).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    restart_ns = order.created_ns + 3_600 * 10**9  # an hour after it was armed
    [query] = restarted.after_replay(restart_ns)
    assert query.client_order_id == cid and order.status is OrderStatus.UNKNOWN
    # Its frame may have left just before the crash: "not found" waits a grace from the restart.
    assert restarted.on_query_not_found(cid, restart_ns + 1) is None
    update = restarted.on_query_not_found(cid, restart_ns + 11 * 10**9)
    assert update is not None and update.status is OrderStatus.REJECTED


def test_a_strategy_without_an_arming_gateway_is_told_so() -> None:
    kernel = Kernel(TestClock(), RiskGate(_limits()))
    kernel.add_venue("binance", OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), lambda *a: 0),
                     RecordingGateway())
    kernel.add_instrument(INSTRUMENT, "main")
    strategy = Quiet()
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    denial = kernel.context(strategy).arm(KEY, Side.BUY, S8 // 10, 59_990 * S8)
    assert isinstance(denial, RiskDecision) and "cannot arm" in denial.detail


def _taker_kernel(params: ArmedTakerParams) -> tuple[Kernel, ArmingGateway, ArmedTaker]:
    kernel = Kernel(TestClock(), RiskGate(_limits()))
    gateway = ArmingGateway()
    kernel.add_venue("binance", OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), lambda *a: 0),
                     gateway)
    kernel.add_instrument(INSTRUMENT, "main")
    taker = ArmedTaker("taker", params)
    kernel.add_strategy(taker)
    kernel.start_trading()
    return kernel, gateway, taker


def test_the_armed_taker_arms_a_clip_under_the_mid_and_the_next_after_its_fill() -> None:
    kernel, gateway, taker = _taker_kernel(ArmedTakerParams(KEY, Side.BUY, 3 * S8 // 100, S8 // 50, edge_bps=10))
    kernel.on_book(KEY, _book(60_000 * S8, 60_002 * S8))  # mid 60 001: armed 10 bps under, floored to the tick
    [(cid, (command, trigger))] = gateway.armed.items()
    assert trigger == command.price == 59_940_99 * S8 // 100 and command.qty == S8 // 50
    kernel.on_book(KEY, _book(60_000 * S8, 60_003 * S8))  # a small move: the clip stays
    assert list(gateway.armed) == [cid]
    gateway.armed.pop(cid)
    kernel.on_armed_fired("binance", cid, 1_000)
    kernel.on_book(KEY, _book(60_000 * S8, 60_001 * S8))
    assert gateway.armed == {}  # in flight: no second clip until it is done
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, 1))
    kernel.on_book(KEY, _book(60_000 * S8, 60_001 * S8))
    [(_, (last, _))] = gateway.armed.items()
    assert last.qty == S8 // 100  # what is left of the total
    assert taker.filled == S8 // 50 and taker.armed == 2


def test_the_armed_taker_follows_the_mid_and_stops_when_done() -> None:
    kernel, gateway, taker = _taker_kernel(ArmedTakerParams(KEY, Side.SELL, S8 // 100, S8 // 100, rearm_bps=2))
    kernel.on_book(KEY, _book())
    [first] = gateway.armed
    kernel.on_book(KEY, _book(59_970 * S8, 59_971 * S8))  # mid down 5 bps: disarmed, armed again
    [second] = gateway.armed
    assert second != first and taker.rearmed == 1
    assert kernel.oms["binance"].get(first).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    command, trigger = gateway.armed.pop(second)
    assert command.side is Side.SELL and trigger == 59_970_50 * S8 // 100
    kernel.on_armed_fired("binance", second, 1_000)
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, 2))
    kernel.on_book(KEY, _book())
    assert taker.done and gateway.armed == {}


def test_metrics_count_a_fired_order_once_as_submitted_and_a_disarm_as_no_cancel() -> None:
    registry = CollectorRegistry()
    events = EngineEvents(StanchionMetrics(registry, TestClock(), process_metrics=False), LatencySamples())
    kernel = MeteredKernel(TestClock(), RiskGate(_limits()), listener=events)
    gateway = ArmingGateway()
    kernel.add_venue("binance", OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), lambda *a: 0),
                     gateway)
    kernel.add_instrument(INSTRUMENT, "main")
    strategy = Quiet()
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    ctx = kernel.context(strategy)
    fired, withdrawn = ctx.arm(KEY, Side.BUY, S8 // 10, 59_990 * S8), ctx.arm(KEY, Side.SELL, S8 // 10, 60_010 * S8)
    assert isinstance(fired, str) and isinstance(withdrawn, str)
    gateway.armed.pop(fired)
    kernel.on_armed_fired("binance", fired, 5_000)
    assert ctx.disarm(withdrawn)
    labels = {"exchange": "binance", "symbol": "BTCUSDT"}
    assert kernel.submitted == {KEY: 1}  # brought into trading_orders_total{status="submitted"} at scrape
    assert registry.get_sample_value("trading_orders_total", {**labels, "status": "submitted"}) in (None, 0.0)
    assert registry.get_sample_value("trading_orders_total", {**labels, "status": "canceled"}) in (None, 0.0)
    assert registry.get_sample_value("trading_orders_total", {**labels, "status": "disarmed"}) == 1.0
    assert kernel.armed_count == {KEY: 2}
    scrape = BeforeScrape()
    scrape.kernel, scrape.events, scrape.metrics = kernel, events, events._metrics
    scrape.collect()  # what runs first in every scrape
    assert registry.get_sample_value("trading_orders_total", {**labels, "status": "armed"}) == 2.0
    assert registry.get_sample_value("trading_orders_total", {**labels, "status": "submitted"}) == 1.0
    assert registry.get_sample_value("trading_cancels_total", labels) in (None, 0.0)
    assert events.latency.count == 1 and (fired, OrderStatus.SUBMITTING) in strategy.updates


def test_a_condition_the_book_shows_without_a_frame_firing_it_sends_the_order_once_it_can() -> None:
    kernel, gateway, ctx, listener, _journal = _armed_kernel()
    cid = ctx.arm(KEY, Side.BUY, S8 // 10, 59_995 * S8)
    assert isinstance(cid, str)
    gateway.held = True  # orders are held (the link is down): the frame that brought the ask fired nothing
    kernel.on_book(KEY, _book(59_990 * S8, 59_994 * S8))
    assert gateway.fired_late == [] and cid in gateway.armed
    gateway.held = False
    kernel.on_book(KEY, _book(59_990 * S8, 59_994 * S8))  # the next book: it goes now
    assert gateway.fired_late == [cid]
    kernel.on_armed_fired("binance", cid, None)
    assert kernel.oms["binance"].get(cid).status is OrderStatus.SUBMITTING  # type: ignore[union-attr]
    assert listener.tick_to_order == []  # no frame fired it: no tick-to-order sample
