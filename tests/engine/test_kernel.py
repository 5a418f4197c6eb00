"""The kernel end to end without I/O: books in, risk-checked orders out, reports back,
positions and the kill switch; the sample market maker and TWAP on top."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from stanchion.book.l2 import L2Book
from stanchion.core.clock import TestClock
from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.kernel import Kernel, Strategy, StrategyContext
from stanchion.engine.oms import OrderManager, QueryOrder
from stanchion.engine.risk.gate import KillSwitchCause, KillSwitchState, RiskDecision, RiskGate, RiskReason
from stanchion.engine.risk.limits import ExposureRiskLimits, InstrumentRiskLimits, LossAction, RiskLimits
from stanchion.engine.strategies.market_maker import MarketMaker, MarketMakerParams
from stanchion.engine.strategies.twap import Twap, TwapParams
from stanchion.model.commands import CancelOrder, ReplaceOrder, SubmitOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.instrument import Instrument
from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce

S8 = 10**8
KEY = "binance:BTCUSDT"
INSTRUMENT = Instrument("binance", "BTCUSDT", "BTC", "USDT", 8, 8, tick=S8 // 100, step=1_000,
                        min_qty=1_000, max_qty=9_000 * S8, min_notional=5 * S8 * S8)


@dataclass
class RecordingGateway:
    submitted: list[SubmitOrder] = field(default_factory=list)
    cancelled: list[CancelOrder] = field(default_factory=list)
    replaced: list[ReplaceOrder] = field(default_factory=list)
    queried: list[QueryOrder] = field(default_factory=list)

    def submit(self, command: SubmitOrder) -> None:
        self.submitted.append(command)

    def cancel(self, command: CancelOrder) -> None:
        self.cancelled.append(command)

    def replace(self, command: ReplaceOrder) -> None:
        self.replaced.append(command)

    def query(self, query: QueryOrder) -> None:
        self.queried.append(query)


def _limits() -> RiskLimits:
    return RiskLimits(
        notional_scale=16,
        instruments={KEY: InstrumentRiskLimits(max_order_qty=S8, max_order_notional=100_000 * S8 * S8,
                                               max_position=2 * S8)},
        account=ExposureRiskLimits(1_000_000 * S8 * S8, 1_000_000 * S8 * S8),
        portfolio=ExposureRiskLimits(1_000_000 * S8 * S8, 1_000_000 * S8 * S8),
        price_band_bps=100, max_orders_per_second=100, max_cancels_per_second=100, max_open_orders=10,
        daily_loss_limit=100 * S8 * S8, max_drawdown=200 * S8 * S8, loss_action=LossAction.HALT,
        max_book_age_ns=5_000_000_000,
    )


def _kernel(instrument: Instrument = INSTRUMENT) -> tuple[Kernel, RecordingGateway, TestClock]:
    clock = TestClock()
    kernel = Kernel(clock, RiskGate(_limits()))
    gateway = RecordingGateway()
    oms = OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), lambda k, key, b: 0)
    kernel.add_venue("binance", oms, gateway)
    kernel.add_instrument(instrument, "main")
    return kernel, gateway, clock


def _book(bid: int = 60_000 * S8, ask: int = 60_001 * S8) -> L2Book:
    book = L2Book("BTCUSDT")
    book.load([(bid, S8)], [(ask, S8)])
    return book


def _report(command: SubmitOrder, status: OrderStatus, cum: int, fill_qty: int = 0, trade_id: int = 0,
            price: int | None = None) -> ExecutionReport:
    px = price if price is not None else (command.price or 0)
    fill = Fill("binance", "BTCUSDT", trade_id, 1, command.client_order_id, command.side, px, fill_qty, 0, "USDT", 8,
                True, 0) if fill_qty else None
    exec_type = ExecutionType.TRADE if fill_qty else ExecutionType.NEW
    return ExecutionReport("binance", "BTCUSDT", command.client_order_id, None, 1, command.side, command.order_type,
                           command.time_in_force, exec_type, status, command.qty, px, cum, 0, None, 0, 0, fill)


class OneShot(Strategy):
    name = "oneshot"
    instruments = (KEY,)

    def __init__(self, qty: int, price_offset: int = 0) -> None:
        self.qty = qty
        self.price_offset = price_offset
        self.results: list[object] = []
        self.fills: list[Fill] = []

    def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
        if not self.results:
            bid = book.best_bid_price()
            assert bid is not None
            self.results.append(ctx.submit(key, Side.BUY, self.qty, bid + self.price_offset))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)


def test_no_order_before_readiness() -> None:
    kernel, gateway, _ = _kernel()
    strategy = OneShot(S8 // 10)
    kernel.add_strategy(strategy)
    kernel.on_book(KEY, _book())
    assert gateway.submitted == [] and strategy.results == []


def test_order_flows_to_gateway_and_fills_update_position() -> None:
    kernel, gateway, _ = _kernel()
    strategy = OneShot(S8 // 10)
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book(), received_ns=0)
    [command] = gateway.submitted
    assert strategy.results == [command.client_order_id]
    kernel.on_execution_report("binance", _report(command, OrderStatus.NEW, 0))
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, 1))
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, 1))
    assert len(strategy.fills) == 1  # exactly once
    assert kernel.positions.get("binance", "BTCUSDT").qty == S8 // 10  # type: ignore[union-attr]


def test_risk_denial_reaches_the_strategy_not_the_gateway() -> None:
    kernel, gateway, _ = _kernel()
    strategy = OneShot(2 * S8)  # over max_order_qty
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    assert gateway.submitted == []
    [decision] = strategy.results
    assert getattr(decision, "reason", None) is RiskReason.MAX_ORDER_QTY


def test_unknown_outcome_sends_a_query_never_a_resend() -> None:
    kernel, gateway, clock = _kernel()
    kernel.add_strategy(OneShot(S8 // 10))
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    [command] = gateway.submitted
    kernel.on_request_unknown("binance", command.client_order_id, "timeout")
    assert [q.client_order_id for q in gateway.queried] == [command.client_order_id]
    clock.advance(3_000_000_000)
    kernel.on_tick()
    assert len(gateway.queried) == 2 and len(gateway.submitted) == 1


def test_halt_cancels_everything_and_blocks_orders() -> None:
    kernel, gateway, _ = _kernel()
    kernel.add_strategy(OneShot(S8 // 10))
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    [command] = gateway.submitted
    kernel.on_execution_report("binance", _report(command, OrderStatus.NEW, 0))
    assert kernel.kill(KillSwitchState.HALTED, KillSwitchCause.MANUAL)
    assert [c.client_order_id for c in gateway.cancelled] == [command.client_order_id]
    denial = kernel.submit(kernel.strategies[0], KEY, Side.BUY, S8 // 10, 60_000 * S8, OrderType.LIMIT,
                           TimeInForce.GTC)
    assert getattr(denial, "reason", None) is RiskReason.KILL_SWITCH_HALTED


def test_loss_limit_trips_the_kill_switch_through_pnl() -> None:
    kernel, gateway, _ = _kernel()
    kernel.add_strategy(OneShot(S8))
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    [command] = gateway.submitted
    kernel.on_execution_report("binance", _report(command, OrderStatus.FILLED, S8, S8, 1))
    assert kernel.risk.kill_switch is KillSwitchState.ACTIVE
    kernel.on_book(KEY, _book(59_800 * S8, 59_801 * S8))  # long 1 BTC, mid down ~200 USDT
    kernel.on_tick()
    assert kernel.risk.kill_switch is KillSwitchState.HALTED
    assert kernel.risk.kill_cause is KillSwitchCause.DAILY_LOSS


def test_book_lost_blocks_orders_and_withdraws_quotes() -> None:
    kernel, gateway, _ = _kernel()
    params = MarketMakerParams(KEY, quote_size=S8 // 100, half_spread_bps=5, max_inventory=S8 // 10,
                               skew_bps_per_unit=10, inventory_unit=S8, requote_threshold_bps=2)
    mm = MarketMaker("mm", params)
    kernel.add_strategy(mm)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    assert sorted(c.side.value for c in gateway.submitted) == ["BUY", "SELL"]
    bid = next(c for c in gateway.submitted if c.side is Side.BUY)
    ask = next(c for c in gateway.submitted if c.side is Side.SELL)
    assert bid.price is not None and ask.price is not None and bid.price < 60_000 * S8 < ask.price
    for c in gateway.submitted:
        kernel.on_execution_report("binance", _report(c, OrderStatus.NEW, 0))
    kernel.on_book_lost(KEY)
    assert sorted(c.client_order_id for c in gateway.cancelled) == sorted(c.client_order_id for c in gateway.submitted)
    denial = kernel.submit(mm, KEY, Side.BUY, S8 // 100, 60_000 * S8, OrderType.LIMIT, TimeInForce.GTC)
    assert getattr(denial, "reason", None) is RiskReason.BOOK_NOT_LIVE


def test_market_maker_skews_against_inventory_and_limits_size() -> None:
    params = MarketMakerParams(KEY, quote_size=S8 // 10, half_spread_bps=10, max_inventory=S8 // 5,
                               skew_bps_per_unit=50, inventory_unit=S8 // 10, requote_threshold_bps=2)
    mm = MarketMaker("mm", params)
    mid = 60_000 * S8
    flat_bid, flat_ask = mm.targets(mid, 0, S8 // 100)
    long_bid, long_ask = mm.targets(mid, S8 // 10, S8 // 100)
    assert flat_bid < mid < flat_ask
    assert long_bid < flat_bid and long_ask < flat_ask  # long: lean lower to sell
    assert mm.sizes(0, 1_000) == (S8 // 10, S8 // 10)
    assert mm.sizes(S8 // 5, 1_000) == (0, S8 // 10)  # at max long: no more bids
    assert mm.sizes(-S8 // 10, 1_000) == (S8 // 10, S8 // 10)


_QUOTING = MarketMakerParams(KEY, quote_size=S8 // 100, half_spread_bps=5, max_inventory=S8 // 10,
                             skew_bps_per_unit=0, inventory_unit=S8, requote_threshold_bps=5)


def _quoting(instrument: Instrument = INSTRUMENT) -> tuple[Kernel, RecordingGateway]:
    """A kernel whose market maker quotes both sides, both quotes acknowledged (NEW)."""
    kernel, gateway, _ = _kernel(instrument)
    kernel.add_strategy(MarketMaker("mm", _QUOTING))
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    for c in gateway.submitted:
        kernel.on_execution_report("binance", _report(c, OrderStatus.NEW, 0))
    return kernel, gateway


def test_market_maker_requotes_only_when_the_price_moves() -> None:
    kernel, gateway = _quoting()
    kernel.on_book(KEY, _book(60_000 * S8 + S8 // 100, 60_001 * S8 + S8 // 100))  # 1 cent: keep quotes
    assert len(gateway.submitted) == 2 and gateway.cancelled == []
    kernel.on_book(KEY, _book(60_100 * S8, 60_101 * S8))  # big move: cancel both
    assert len(gateway.cancelled) == 2 and len(gateway.submitted) == 2  # successors wait for the cancels


REPLACEABLE = dataclasses.replace(INSTRUMENT, cancel_replace=True)


def test_market_maker_requotes_with_one_replace_where_the_venue_allows_it() -> None:
    kernel, gateway = _quoting(REPLACEABLE)
    quotes = {c.client_order_id: c for c in gateway.submitted}
    kernel.on_book(KEY, _book(60_100 * S8, 60_101 * S8))  # big move: both sides replaced at once
    assert gateway.cancelled == [] and len(gateway.submitted) == 2
    assert {r.original_client_order_id for r in gateway.replaced} == set(quotes)
    for command in gateway.replaced:
        before = quotes[command.original_client_order_id]
        assert command.side is before.side and command.qty == before.qty and command.price != before.price
        assert kernel.oms["binance"].get(before.client_order_id).status is OrderStatus.CANCEL_PENDING  # type: ignore[union-attr]
    mm = kernel.strategies[0]
    assert isinstance(mm, MarketMaker)
    assert {mm._bid, mm._ask} == {r.client_order_id for r in gateway.replaced}  # the successors are live
    assert kernel.stats.orders_sent == 4 and kernel.stats.cancels_sent == 2


def _one_order(instrument: Instrument) -> tuple[Kernel, RecordingGateway, StrategyContext, str]:
    """A kernel on ``instrument`` whose strategy placed one bid at the touch."""
    kernel, gateway, _ = _kernel(instrument)
    strategy = OneShot(S8 // 100)
    kernel.add_strategy(strategy)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    cid = strategy.results[0]
    assert isinstance(cid, str)
    return kernel, gateway, kernel.context(strategy), cid


def test_a_replace_denied_by_risk_sends_nothing_and_keeps_the_order() -> None:
    kernel, gateway, ctx, cid = _one_order(REPLACEABLE)
    kernel.on_execution_report("binance", _report(gateway.submitted[0], OrderStatus.NEW, 0))
    denied = ctx.replace(cid, S8 // 100, 70_000 * S8)  # outside the 100 bps price band
    assert isinstance(denied, RiskDecision) and denied.reason is RiskReason.PRICE_BAND
    assert gateway.replaced == [] and gateway.cancelled == []
    assert kernel.oms["binance"].get(cid).status is OrderStatus.NEW  # type: ignore[union-attr]
    successor = ctx.replace(cid, S8 // 100, 59_999 * S8)
    assert isinstance(successor, str) and [r.client_order_id for r in gateway.replaced] == [successor]


def test_replace_is_a_cancel_and_an_order_where_the_venue_has_no_replace() -> None:
    _, gateway, ctx, cid = _one_order(INSTRUMENT)
    successor = ctx.replace(cid, S8 // 100, 59_999 * S8)
    assert gateway.replaced == [] and [c.client_order_id for c in gateway.cancelled] == [cid]
    assert isinstance(successor, str) and gateway.submitted[-1].client_order_id == successor


def test_market_maker_adopts_its_quotes_open_across_a_restart() -> None:
    kernel, gateway = _quoting()
    quotes = list(gateway.submitted)
    # A stray second bid of ours (e.g. a successor whose predecessor's cancel was lost in the crash).
    stray = kernel.submit(kernel.strategies[0], KEY, Side.BUY, S8 // 100, 59_990 * S8, OrderType.LIMIT,
                          TimeInForce.GTC)
    assert isinstance(stray, str)
    kernel.on_execution_report("binance", _report(gateway.submitted[-1], OrderStatus.NEW, 0))

    # The restart: a new kernel and a fresh strategy over the OMS the journal and reconciliation rebuilt.
    restarted = Kernel(kernel.clock, RiskGate(_limits()))
    gateway2 = RecordingGateway()
    restarted.add_venue("binance", kernel.oms["binance"], gateway2)
    restarted.add_instrument(INSTRUMENT, "main")
    mm = MarketMaker("mm", _QUOTING)
    restarted.add_strategy(mm)
    restarted.start_trading()
    assert [c.client_order_id for c in gateway2.cancelled] == [stray]  # never two quotes on one side
    assert {mm._bid, mm._ask} == {c.client_order_id for c in quotes}
    restarted.on_book(KEY, _book())  # same prices: the adopted quotes stand, nothing new is sent
    assert gateway2.submitted == [] and len(gateway2.cancelled) == 1
    restarted.on_book(KEY, _book(60_100 * S8, 60_101 * S8))  # they are requoted like any other
    assert sorted(c.client_order_id for c in gateway2.cancelled[1:]) == sorted(c.client_order_id for c in quotes)


def test_twap_slices_over_time() -> None:
    kernel, gateway, clock = _kernel()
    twap = Twap("twap", TwapParams(KEY, Side.BUY, total_qty=S8 // 10, duration_ns=10_000_000_000, slices=5))
    kernel.add_strategy(twap)
    kernel.on_book(KEY, _book())
    kernel.start_trading()
    for _ in range(5):
        clock.advance(2_000_000_000)
        kernel.on_book(KEY, _book())
        kernel.on_tick()
        command = gateway.submitted[-1]
        assert command.time_in_force is TimeInForce.IOC and command.price == 60_001 * S8
        kernel.on_execution_report(
            "binance", _report(command, OrderStatus.FILLED, command.qty, command.qty, len(gateway.submitted))
        )
    assert twap.done and twap.filled == S8 // 10 and len(gateway.submitted) == 5


def test_a_failing_strategy_does_not_break_dispatch() -> None:
    class Broken(Strategy):
        name = "broken"
        instruments = (KEY,)

        def on_book(self, ctx: StrategyContext, key: str, book: L2Book) -> None:
            raise RuntimeError("bug")

    kernel, _, _ = _kernel()
    good = OneShot(S8 // 10)
    kernel.add_strategy(Broken())
    kernel.add_strategy(good)
    kernel.start_trading()
    kernel.on_book(KEY, _book())
    assert kernel.stats.dispatch_errors == 1 and "RuntimeError: bug" in (kernel.stats.last_error or "")
    assert len(good.results) == 1
