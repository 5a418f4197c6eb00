"""The simulated Binance Spot exchange: pure core (no I/O, no asyncio, no wall clock).

Time comes from the injected :class:`~stanchion.core.clock.Clock`, randomness
from a seeded :class:`random.Random`. The server (``sim/binance``) parses the
wire into :class:`OrderRequest` / ints at scale 8, calls these methods and
renders Binance JSON from the returned views and drained events.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial

from stanchion.core.clock import Clock
from stanchion.sim import types as t
from stanchion.sim.accounts import Ledger
from stanchion.sim.filters import SymbolSpec, validate_filters
from stanchion.sim.market import SyntheticMarket, initial_levels
from stanchion.sim.matching import LiveOrder, Match, SymbolBook, TakeResult
from stanchion.sim.types import (
    Accepted,
    AccountSpec,
    AccountTruth,
    AccountUpdate,
    AvgPrice,
    BalanceUpdate,
    BalanceView,
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    ExecutionEvent,
    FillView,
    MarketConfig,
    OrderRequest,
    OrderView,
    PreventedMatchView,
    PublicTrade,
    Rejected,
    SimEvent,
    Trade,
)

__all__ = [
    "Accepted",
    "AccountSpec",
    "AccountTruth",
    "AccountUpdate",
    "AvgPrice",
    "BalanceUpdate",
    "BalanceView",
    "BookTicker",
    "DepthDiff",
    "DepthSnapshot",
    "ExecutionEvent",
    "FillView",
    "MarketConfig",
    "OrderRequest",
    "OrderView",
    "PreventedMatchView",
    "PublicTrade",
    "Rejected",
    "SimEvent",
    "SimExchange",
    "SymbolSpec",
    "Trade",
]


_CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

BAD_KEY = Rejected(-2015, "Invalid API-key, IP, or permissions for action.")
BAD_SYMBOL = Rejected(-1121, "Invalid symbol.")
NO_SUCH_ORDER = Rejected(-2013, "Order does not exist.")
UNKNOWN_ORDER = Rejected(-2011, "Unknown order sent.")
CANCEL_RESTRICTED = Rejected(-2011, "Order was not canceled due to cancel restrictions.")
DUPLICATE_ORDER = Rejected(-2010, "Duplicate order sent.")
INSUFFICIENT_BALANCE = Rejected(-2010, "Account has insufficient balance for requested action.")
WOULD_TAKE = Rejected(-2010, "Order would immediately match and take.")

MAX_DEPTH_LIMIT = 5000
RECENT_TRADES_KEPT = 1000
START_UPDATE_ID = 1000


def _mandatory(name: str) -> Rejected:
    return Rejected(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _not_required(name: str) -> Rejected:
    return Rejected(-1106, f"Parameter '{name}' sent when not required.")


def _no_taker(is_buy: bool, qty: int) -> None:
    del is_buy, qty


class _SymbolState:
    """Everything the exchange keeps per symbol."""

    __slots__ = (
        "book",
        "last_price",
        "market",
        "next_order_id",
        "next_prevented_id",
        "next_trade_id",
        "recent",
        "spec",
        "taker",
        "vwap_notional",
        "vwap_qty",
        "vwap_window",
    )

    def __init__(self, spec: SymbolSpec, book: SymbolBook) -> None:
        self.spec = spec
        self.book = book
        self.market: SyntheticMarket | None = None
        self.taker: Callable[[bool, int], None] = _no_taker
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_prevented_id = 0  # Binance's examples count from 0
        self.recent: deque[Trade] = deque(maxlen=RECENT_TRADES_KEPT)
        self.vwap_window: deque[tuple[int, int, int]] = deque()
        self.vwap_notional = 0
        self.vwap_qty = 0
        self.last_price = spec.initial_price

    def order_id(self) -> int:
        value = self.next_order_id
        self.next_order_id = value + 1
        return value


class SimExchange:
    """All symbols and accounts of one simulated venue.

    ``market=None`` disables the synthetic market: books hold only user orders
    and ``step()`` only flushes pending depth diffs. ``truth_window`` bounds
    :meth:`book_at`; ``history_limit`` bounds the closed orders and the fills
    kept per account and symbol (queries see the newest); past
    ``max_pending_events`` undrained events, ``step()`` drops market data
    (never execution reports). Book changes caused by user
    orders between steps go into the next DepthDiff of their symbol (as Binance
    batches its 100 ms diffs); ``flush_depth()`` emits them at once.
    """

    def __init__(
        self,
        symbols: Sequence[SymbolSpec],
        accounts: Sequence[AccountSpec],
        clock: Clock,
        seed: int = 0,
        market: MarketConfig | None = None,
        truth_window: int = 10_000,
        history_limit: int = 100_000,
        max_pending_events: int = 1_000_000,
    ) -> None:
        if history_limit <= 0:
            raise ValueError("history_limit must be positive")
        self._history_limit = history_limit
        self._max_pending_events = max_pending_events
        self._dropped_market_events = 0
        self._clock = clock
        self._id_rng = random.Random(f"client-ids:{seed}")  # noqa: S311 -- seeded simulation, not secrets
        self._ledger = Ledger(tuple(accounts))
        self._events: list[SimEvent] = []
        self._states: dict[str, _SymbolState] = {}
        self._market_config = market
        # account -> {(symbol, order_id): order}, insertion-ordered by creation.
        self._open: dict[str, dict[tuple[str, int], LiveOrder]] = {a.name: {} for a in accounts}
        self._open_by_client: dict[tuple[str, str, str], LiveOrder] = {}
        self._latest_by_client: dict[tuple[str, str, str], LiveOrder] = {}
        self._orders: dict[tuple[str, str], list[LiveOrder]] = {}
        self._by_id: dict[str, dict[int, LiveOrder]] = {}
        self._fills: dict[tuple[str, str], list[FillView]] = {}
        market_seed = market.seed if market is not None and market.seed is not None else seed
        for spec in symbols:
            if spec.symbol in self._states:
                raise ValueError(f"duplicate symbol {spec.symbol!r}")
            rng = random.Random(f"market:{market_seed}:{spec.symbol}")  # noqa: S311 -- seeded simulation
            bids: dict[int, int] = {}
            asks: dict[int, int] = {}
            if market is not None:
                bids, asks = initial_levels(
                    spec.initial_price,
                    spec.tick,
                    spec.step,
                    market.levels_per_side,
                    market.mean_level_qty_steps,
                    rng,
                )
            book = SymbolBook(spec.symbol, spec.tick, spec.step, START_UPDATE_ID, bids, asks, truth_window)
            state = _SymbolState(spec, book)
            if market is not None:
                state.market = SyntheticMarket(book, market, rng, spec.initial_price)
                state.taker = partial(self._market_maker_take, state)
            self._states[spec.symbol] = state
            self._by_id[spec.symbol] = {}

    # ---- reference data ---------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._states)

    def spec(self, symbol: str) -> SymbolSpec | None:
        """The symbol's spec, or None when unknown."""
        state = self._states.get(symbol)
        return state.spec if state else None

    def exchange_info_symbols(self) -> list[dict[str, object]]:
        """exchangeInfo ``symbols`` array (``SymbolSpec.exchange_info_json`` per symbol)."""
        return [s.spec.exchange_info_json() for s in self._states.values()]

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._open)

    @property
    def ledger(self) -> Ledger:
        """Balances, fee pool and market-maker flows (truth and conservation checks)."""
        return self._ledger

    def _known(self, symbol: str) -> _SymbolState:
        """The symbol's state; a clear ValueError for the truth/driving API."""
        state = self._states.get(symbol)
        if state is None:
            raise ValueError(f"unknown symbol {symbol!r}")
        return state

    def server_time_ms(self) -> int:
        return self._clock.time_ns() // 1_000_000

    # ---- validation -----------------------------------------------------------
    def _check_request(self, account: str, req: OrderRequest) -> Rejected | _SymbolState:
        if account not in self._ledger:
            return BAD_KEY
        state = self._states.get(req.symbol)
        if state is None:
            return BAD_SYMBOL
        if req.side not in (t.BUY, t.SELL):
            return Rejected(-1117, "Invalid side.")
        if req.type not in t.ORDER_TYPES:
            return Rejected(-1116, "Invalid orderType.")
        if req.stp_mode is not None and req.stp_mode not in t.STP_MODES:
            if req.stp_mode in t.UNSUPPORTED_STP_MODES:
                return Rejected(-1013, "This symbol does not allow the specified self-trade prevention mode.")
            return _mandatory("selfTradePreventionMode")
        if req.client_order_id is not None and not _CLIENT_ID_RE.match(req.client_order_id):
            return Rejected(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
            )
        failed = self._check_params(req)
        if failed:
            return failed
        open_count = sum(1 for (symbol, _) in self._open[account] if symbol == req.symbol)
        failed = validate_filters(state.spec, req, self._reference_price(state), open_count)
        return failed if failed else state

    @staticmethod
    def _check_params(req: OrderRequest) -> Rejected | None:
        """Mandatory and forbidden parameters per order type (-1102 / -1106)."""
        if req.type == t.MARKET:
            return SimExchange._check_market_params(req)
        if req.type == t.LIMIT:
            if req.time_in_force is None:
                return _mandatory("timeInForce")
            if req.time_in_force not in t.TIME_IN_FORCES:
                return Rejected(-1115, "Invalid timeInForce.")
        elif req.time_in_force is not None:
            return _not_required("timeInForce")
        if req.quantity is None:
            return _mandatory("quantity")
        if req.price is None:
            return _mandatory("price")
        if req.quote_order_qty is not None:
            return _not_required("quoteOrderQty")
        if req.quantity <= 0:
            return Rejected(-1013, "Invalid quantity.")
        if req.price <= 0:
            return Rejected(-1013, "Invalid price.")
        return None

    @staticmethod
    def _check_market_params(req: OrderRequest) -> Rejected | None:
        if req.time_in_force is not None:
            return _not_required("timeInForce")
        if req.price is not None:
            return _not_required("price")
        if req.quantity is None and req.quote_order_qty is None:
            return Rejected(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if req.quantity is not None and req.quote_order_qty is not None:
            return _not_required("quoteOrderQty")
        amount = req.quantity if req.quantity is not None else req.quote_order_qty
        if amount is not None and amount <= 0:
            return Rejected(-1013, "Invalid quantity.")
        return None

    def _new_client_id(self) -> str:
        choice = self._id_rng.choice
        return "".join(choice(_ID_ALPHABET) for _ in range(22))

    # ---- orders -------------------------------------------------------------
    def place_order(self, account: str, req: OrderRequest) -> Accepted | Rejected:
        """Validate, match, rest. Rejections are ``Rejected(code, msg)`` with Binance's text."""
        checked = self._check_request(account, req)
        if isinstance(checked, Rejected):
            return checked
        state = checked
        book = state.book
        spec = state.spec
        client_id = req.client_order_id or self._new_client_id()
        if (account, req.symbol, client_id) in self._open_by_client:
            return DUPLICATE_ORDER
        is_buy = req.side == t.BUY
        stp_mode = req.stp_mode or t.DEFAULT_STP_MODE
        market = req.type == t.MARKET
        if req.type == t.LIMIT_MAKER and req.price is not None and book.would_take(is_buy, req.price):
            return WOULD_TAKE
        # What to lock: the whole exposure, known before matching.
        if market:
            if is_buy:
                if req.quote_order_qty is not None:
                    lock_asset, lock = spec.quote, req.quote_order_qty
                else:
                    _, lock = book.available(True, None, req.quantity, None, account, stp_mode)
                    lock_asset = spec.quote
            elif req.quantity is not None:
                lock_asset, lock = spec.base, req.quantity
            else:
                lock, _ = book.available(False, None, None, req.quote_order_qty, account, stp_mode)
                lock_asset = spec.base
        else:
            assert req.price is not None and req.quantity is not None
            if is_buy:
                lock_asset, lock = spec.quote, -(-req.price * req.quantity // t.ONE)
            else:
                lock_asset, lock = spec.base, req.quantity
        if not self._ledger.lock(account, lock_asset, lock):
            return INSUFFICIENT_BALANCE

        now = self.server_time_ms()
        order = LiveOrder(
            account,
            req.symbol,
            state.order_id(),
            client_id,
            req.side,
            req.type,
            req.time_in_force or t.GTC,  # Binance reports GTC for MARKET and LIMIT_MAKER
            req.price or 0,
            req.quantity or 0,
            req.quote_order_qty or 0,
            stp_mode,
            now,
        )
        if market and req.quantity is None:
            # Quote-amount orders: origQty is what the budget buys, reported as filled.
            order.orig_qty = 0
        order.locked = lock
        order.is_working = True
        self._register(order)
        self._report(order, t.NEW, now)

        if req.time_in_force == t.FOK:
            assert req.quantity is not None
            got, _ = book.available(is_buy, req.price, req.quantity, None, account, stp_mode)
            result = TakeResult() if got < req.quantity else self._take(state, order, now)
        else:
            result = self._take(state, order, now)
        done = self._taker_done(state, order, result)
        fills, prevented = self._settle_taker(state, order, result, now, done)
        self._finish_taker(state, order, result, now, done)
        self._emit_account_updates(now)
        book.checkpoint_if_due()
        return Accepted(order.view(), tuple(fills), tuple(prevented))

    def _take(self, state: _SymbolState, order: LiveOrder, now: int) -> TakeResult:
        book = state.book
        if order.order_type == t.MARKET:
            if order.orig_quote_qty:
                return book.take(order.is_buy, None, None, order.orig_quote_qty, order.account, order.stp_mode)
            return book.take(order.is_buy, None, order.orig_qty, None, order.account, order.stp_mode)
        if order.order_type == t.LIMIT_MAKER:
            return TakeResult()
        return book.take(order.is_buy, order.price, order.orig_qty, None, order.account, order.stp_mode)

    def _register(self, order: LiveOrder) -> None:
        key = (order.account, order.symbol)
        orders = self._orders.setdefault(key, [])
        orders.append(order)
        if len(orders) > self._history_limit * 5 // 4:
            self._orders[key] = self._trim_orders(orders)
        self._by_id[order.symbol][order.order_id] = order
        self._open[order.account][(order.symbol, order.order_id)] = order
        client_key = (order.account, order.symbol, order.client_order_id)
        self._open_by_client[client_key] = order
        self._latest_by_client[client_key] = order

    def _trim_orders(self, orders: list[LiveOrder]) -> list[LiveOrder]:
        """Forget the oldest closed orders beyond ``history_limit`` (open ones stay)."""
        excess = len(orders) - self._history_limit
        kept: list[LiveOrder] = []
        for order in orders:
            if excess > 0 and order.status not in t.OPEN_STATUSES:
                excess -= 1
                self._by_id[order.symbol].pop(order.order_id, None)
                client_key = (order.account, order.symbol, order.client_order_id)
                if self._latest_by_client.get(client_key) is order:
                    del self._latest_by_client[client_key]
            else:
                kept.append(order)
        return kept

    def _close(self, order: LiveOrder) -> None:
        """Order reached a final status: release what it still locks, forget it as open."""
        self._open[order.account].pop((order.symbol, order.order_id), None)
        client_key = (order.account, order.symbol, order.client_order_id)
        if self._open_by_client.get(client_key) is order:
            del self._open_by_client[client_key]
        if order.locked:
            spec = self._states[order.symbol].spec
            self._ledger.unlock(order.account, spec.quote if order.is_buy else spec.base, order.locked)
            order.locked = 0
        order.leaves_qty = 0

    def _settle_taker(
        self, state: _SymbolState, order: LiveOrder, result: TakeResult, now: int, done: bool
    ) -> tuple[list[FillView], list[PreventedMatchView]]:
        fills: list[FillView] = []
        prevented_views: list[PreventedMatchView] = []
        last = len(result.matches) - 1
        for index, match in enumerate(result.matches):
            fills.append(self._settle_match(state, order, match, now, taker_filled=done and index == last))
        for prevented in result.prevented:
            maker = prevented.maker
            match_id = state.next_prevented_id
            state.next_prevented_id += 1
            if prevented.maker_expired:
                maker.prevented_match_id = match_id
                maker.prevented_qty = prevented.qty
                maker.status = t.EXPIRED_IN_MATCH
                maker.update_time = now
                self._close(maker)
                self._report(
                    maker,
                    t.TRADE_PREVENTION,
                    now,
                    last_prevented=prevented.qty,
                    counter_order_id=order.order_id,
                )
            taker_prevented: int | None = None
            if result.taker_expired_by_stp:
                order.prevented_match_id = match_id
                order.prevented_qty = order.orig_qty - order.executed_qty
                taker_prevented = order.prevented_qty
            prevented_views.append(
                PreventedMatchView(
                    match_id,
                    maker.order_id,
                    prevented.price,
                    prevented.qty if prevented.maker_expired else None,
                    taker_prevented,
                )
            )
        return fills, prevented_views

    def _settle_match(
        self,
        state: _SymbolState,
        taker: LiveOrder | None,
        match: Match,
        now: int,
        *,
        taker_filled: bool = False,
    ) -> FillView:
        """Move balances for one fill, emit the trade and the execution reports.

        ``taker`` None is a market-maker taker; ``match.maker`` None is market-maker
        liquidity. Returns the taker's fill (or the maker's when the taker is the MM).
        """
        spec = state.spec
        ledger = self._ledger
        maker = match.maker
        price, qty, quote = match.price, match.qty, match.quote
        trade_id = state.next_trade_id
        state.next_trade_id += 1
        taker_is_buy = taker.is_buy if taker is not None else not (maker is not None and maker.is_buy)
        taker_oid = taker.order_id if taker is not None else state.order_id()
        maker_oid = maker.order_id if maker is not None else state.order_id()
        out: FillView | None = None
        for party, is_maker in ((maker, True), (taker, False)):
            buys = taker_is_buy != is_maker
            if party is None:
                ledger.market_maker(spec.base, qty if buys else -qty)
                ledger.market_maker(spec.quote, -quote if buys else quote)
                continue
            if buys:
                ledger.spend_locked(party.account, spec.quote, quote)
                party.locked -= quote
                commission = ledger.fee(party.account, qty, maker=is_maker)
                ledger.credit(party.account, spec.base, qty, commission)
                asset = spec.base
            else:
                ledger.spend_locked(party.account, spec.base, qty)
                party.locked -= qty
                commission = ledger.fee(party.account, quote, maker=is_maker)
                ledger.credit(party.account, spec.quote, quote, commission)
                asset = spec.quote
            party.executed_qty += qty
            party.cum_quote += quote
            party.update_time = now
            if party.order_type == t.MARKET and party.orig_quote_qty:
                party.orig_qty = party.executed_qty
            if is_maker:
                party.status = t.FILLED if party.leaves_qty == 0 else t.PARTIALLY_FILLED
            else:
                party.leaves_qty -= qty
                party.status = t.FILLED if taker_filled else t.PARTIALLY_FILLED
            fill = FillView(
                symbol=spec.symbol,
                account=party.account,
                order_id=party.order_id,
                trade_id=trade_id,
                price=price,
                qty=qty,
                quote_qty=quote,
                commission=commission,
                commission_asset=asset,
                time=now,
                is_buyer=buys,
                is_maker=is_maker,
            )
            history = self._fills.setdefault((party.account, spec.symbol), [])
            history.append(fill)
            if len(history) > self._history_limit * 5 // 4:
                del history[: len(history) - self._history_limit]
            if is_maker and party.status == t.FILLED:
                self._close(party)
            self._report(
                party,
                t.TRADE,
                now,
                last_qty=qty,
                last_price=price,
                last_quote=quote,
                commission=commission,
                commission_asset=asset,
                trade_id=trade_id,
                is_maker=is_maker,
            )
            if not is_maker or out is None:
                out = fill
        self._record_trade(
            state,
            Trade(
                symbol=spec.symbol,
                trade_id=trade_id,
                price=price,
                qty=qty,
                buyer_order_id=taker_oid if taker_is_buy else maker_oid,
                seller_order_id=maker_oid if taker_is_buy else taker_oid,
                time=now,
                is_buyer_maker=not taker_is_buy,
                event_time=now,
            ),
        )
        if out is None:
            # Market maker on both sides: a public trade only.
            out = FillView(spec.symbol, "", 0, trade_id, price, qty, quote, 0, spec.quote, now, taker_is_buy, False)
        return out

    def _record_trade(self, state: _SymbolState, trade: Trade) -> None:
        self._events.append(trade)
        state.recent.append(trade)
        price = trade.price
        state.last_price = price
        notional = price * trade.qty
        state.vwap_window.append((trade.time, notional, trade.qty))
        state.vwap_notional += notional
        state.vwap_qty += trade.qty
        if state.vwap_window[0][0] <= trade.time - state.spec.avg_price_mins * 60_000:
            self._expire_vwap(state, trade.time)

    def _expire_vwap(self, state: _SymbolState, now: int) -> None:
        horizon = now - state.spec.avg_price_mins * 60_000
        window = state.vwap_window
        while window and window[0][0] <= horizon:
            _, notional, qty = window.popleft()
            state.vwap_notional -= notional
            state.vwap_qty -= qty

    def _reference_price(self, state: _SymbolState) -> int:
        self._expire_vwap(state, self.server_time_ms())
        if state.spec.avg_price_mins and state.vwap_qty:
            return state.vwap_notional // state.vwap_qty
        return state.last_price

    def _taker_done(self, state: _SymbolState, order: LiveOrder, result: TakeResult) -> bool:
        """Whether the taker is FILLED by ``result`` (decided before reporting its trades)."""
        if order.order_type == t.MARKET and order.orig_quote_qty:
            return result.qty > 0 and not result.taker_expired_by_stp and self._budget_spent(state, order, result.quote)
        return result.qty >= order.orig_qty

    def _finish_taker(self, state: _SymbolState, order: LiveOrder, result: TakeResult, now: int, done: bool) -> None:
        order.update_time = now
        if done:
            order.status = t.FILLED
            self._close(order)
            return
        if result.taker_expired_by_stp:
            order.status = t.EXPIRED_IN_MATCH
            self._close(order)
            self._report(order, t.TRADE_PREVENTION, now, last_prevented=order.prevented_qty)
            return
        if order.order_type == t.MARKET or order.time_in_force in (t.IOC, t.FOK):
            order.status = t.EXPIRED
            self._close(order)
            self._report(order, t.EXPIRED, now)
            return
        state.book.rest(order)

    @staticmethod
    def _budget_spent(state: _SymbolState, order: LiveOrder, spent: int) -> bool:
        """A quote-amount MARKET order is FILLED when the rest cannot buy one step."""
        book = state.book
        price = book.best_ask() if order.is_buy else book.best_bid()
        if price is None:
            return False
        left = order.orig_quote_qty - spent
        return left * t.ONE // price < state.spec.step

    def _report(
        self,
        order: LiveOrder,
        execution_type: str,
        now: int,
        *,
        last_qty: int = 0,
        last_price: int = 0,
        last_quote: int = 0,
        commission: int = 0,
        commission_asset: str | None = None,
        trade_id: int = -1,
        is_maker: bool = False,
        orig_client_order_id: str = "",
        client_order_id: str | None = None,
        last_prevented: int | None = None,
        counter_order_id: int | None = None,
    ) -> None:
        prevented = order.prevented_match_id is not None
        self._events.append(
            ExecutionEvent(
                account=order.account,
                event_time=now,
                symbol=order.symbol,
                client_order_id=client_order_id if client_order_id is not None else order.client_order_id,
                side=order.side,
                order_type=order.order_type,
                time_in_force=order.time_in_force or t.GTC,
                quantity=order.orig_qty,
                price=order.price,
                stop_price=0,
                iceberg_qty=0,
                order_list_id=-1,
                orig_client_order_id=orig_client_order_id,
                execution_type=execution_type,
                status=order.status,
                reject_reason="NONE",
                order_id=order.order_id,
                last_executed_qty=last_qty,
                cumulative_qty=order.executed_qty,
                last_executed_price=last_price,
                commission=commission,
                commission_asset=commission_asset,
                transaction_time=now,
                trade_id=trade_id,
                prevented_match_id_or_none=order.prevented_match_id,
                is_working=order.status in t.OPEN_STATUSES and order.is_working,
                is_maker=is_maker,
                order_creation_time=order.time,
                cumulative_quote_qty=order.cum_quote,
                last_quote_qty=last_quote,
                quote_order_qty=order.orig_quote_qty,
                working_time=order.working_time,
                stp_mode=order.stp_mode,
                prevented_quantity=order.prevented_qty if prevented else None,
                last_prevented_quantity=last_prevented if prevented else None,
                counter_order_id=counter_order_id,
                trade_group_id=-1 if prevented else None,
            )
        )

    def _emit_account_updates(self, now: int) -> None:
        for account, balances in self._ledger.take_dirty().items():
            self._ledger.update_time[account] = now
            self._events.append(AccountUpdate(account, now, now, tuple(balances)))

    def test_order(self, account: str, req: OrderRequest) -> Rejected | None:
        """POST /api/v3/order/test: validate only (None = would be accepted)."""
        checked = self._check_request(account, req)
        return checked if isinstance(checked, Rejected) else None

    def _find_open(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> LiveOrder | None:
        if order_id is not None:
            order = self._open[account].get((symbol, order_id))
            if order is not None and client_order_id is not None and order.client_order_id != client_order_id:
                return None
            return order
        if client_order_id is not None:
            return self._open_by_client.get((account, symbol, client_order_id))
        return None

    def cancel_order(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
        new_client_order_id: str | None = None,
        restriction: str | None = None,
    ) -> Accepted | Rejected:
        """Cancel one open order. The view's ``client_order_id`` is the cancel's id and
        ``orig_client_order_id`` the order's. Unknown → -2011 "Unknown order sent."; a
        ``restriction`` (``cancelRestrictions``: ONLY_NEW, ONLY_PARTIALLY_FILLED) the order's
        status does not meet → -2011 "Order was not canceled due to cancel restrictions."."""
        if account not in self._ledger:
            return BAD_KEY
        if symbol not in self._states:
            return BAD_SYMBOL
        if order_id is None and client_order_id is None:
            return Rejected(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        order = self._find_open(account, symbol, order_id, client_order_id)
        if order is None:
            return UNKNOWN_ORDER
        if restriction is not None and t.CANCEL_RESTRICTIONS.get(restriction) != order.status:
            return CANCEL_RESTRICTED
        now = self.server_time_ms()
        view = self._cancel(order, new_client_order_id or self._new_client_id(), now)
        self._emit_account_updates(now)
        return Accepted(view)

    def _cancel(self, order: LiveOrder, cancel_id: str, now: int) -> OrderView:
        book = self._states[order.symbol].book
        book.remove(order)
        book.checkpoint_if_due()
        order.status = t.CANCELED
        order.update_time = now
        self._close(order)
        self._report(order, t.CANCELED, now, orig_client_order_id=order.client_order_id, client_order_id=cancel_id)
        return order.view(orig_client_order_id=order.client_order_id, client_order_id=cancel_id)

    def cancel_open_orders(self, account: str, symbol: str) -> list[OrderView] | Rejected:
        """DELETE /api/v3/openOrders. No open order → -2011 "Unknown order sent."."""
        if account not in self._ledger:
            return BAD_KEY
        if symbol not in self._states:
            return BAD_SYMBOL
        orders = [o for (s, _), o in self._open[account].items() if s == symbol]
        if not orders:
            return UNKNOWN_ORDER
        now = self.server_time_ms()
        views = [self._cancel(o, self._new_client_id(), now) for o in orders]
        self._emit_account_updates(now)
        return views

    def get_order(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> OrderView | Rejected:
        """Unknown → Rejected(-2013, "Order does not exist.")."""
        if account not in self._ledger:
            return BAD_KEY
        if symbol not in self._states:
            return BAD_SYMBOL
        order: LiveOrder | None = None
        if order_id is not None:
            order = self._by_id[symbol].get(order_id)
            if order is not None and (
                order.account != account or (client_order_id is not None and order.client_order_id != client_order_id)
            ):
                order = None
        elif client_order_id is not None:
            order = self._latest_by_client.get((account, symbol, client_order_id))
        else:
            return Rejected(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return order.view() if order is not None else NO_SUCH_ORDER

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderView] | Rejected:
        if account not in self._ledger:
            return BAD_KEY
        if symbol is not None and symbol not in self._states:
            return BAD_SYMBOL
        return [o.view() for (s, _), o in self._open[account].items() if symbol is None or s == symbol]

    def all_orders(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[OrderView] | Rejected:
        """Orders with orderId >= ``order_id`` (else the newest ``limit``), oldest first."""
        if account not in self._ledger:
            return BAD_KEY
        if symbol not in self._states:
            return BAD_SYMBOL
        limit = max(1, min(limit, 1000))
        orders = [
            o
            for o in self._orders.get((account, symbol), [])
            if (order_id is None or o.order_id >= order_id)
            and (start_time is None or o.time >= start_time)
            and (end_time is None or o.time <= end_time)
        ]
        chosen = orders[:limit] if order_id is not None else orders[-limit:]
        return [o.view() for o in chosen]

    def my_trades(
        self,
        account: str,
        symbol: str,
        order_id: int | None = None,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[FillView] | Rejected:
        """Fills with tradeId >= ``from_id`` (else the newest ``limit``), oldest first."""
        if account not in self._ledger:
            return BAD_KEY
        if symbol not in self._states:
            return BAD_SYMBOL
        limit = max(1, min(limit, 1000))
        fills = [
            f
            for f in self._fills.get((account, symbol), [])
            if (order_id is None or f.order_id == order_id)
            and (from_id is None or f.trade_id >= from_id)
            and (start_time is None or f.time >= start_time)
            and (end_time is None or f.time <= end_time)
        ]
        return fills[:limit] if from_id is not None else fills[-limit:]

    def balances(self, account: str) -> list[BalanceView] | Rejected:
        if account not in self._ledger:
            return BAD_KEY
        return self._ledger.views(account)

    def deposit(self, account: str, asset: str, amount: int) -> BalanceUpdate | Rejected:
        """Credit (or, negative, debit free) balance; emits a BalanceUpdate event."""
        if account not in self._ledger:
            return BAD_KEY
        if not self._ledger.deposit(account, asset, amount):
            return INSUFFICIENT_BALANCE
        now = self.server_time_ms()
        event = BalanceUpdate(account, now, asset, amount, now)
        self._events.append(event)
        self._emit_account_updates(now)
        return event

    def fee_bps(self, account: str) -> tuple[int, int] | Rejected:
        """(maker, taker) commission in basis points."""
        if account not in self._ledger:
            return BAD_KEY
        spec = self._ledger.specs[account]
        return spec.maker_fee_bps, spec.taker_fee_bps

    # ---- market data ---------------------------------------------------------
    def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot | Rejected:
        """Top ``limit`` (clamped to 1..5000) levels per side, best first."""
        state = self._states.get(symbol)
        if state is None:
            return BAD_SYMBOL
        limit = max(1, min(limit, MAX_DEPTH_LIMIT))
        book = state.book
        bids = book.bids
        asks = book.asks
        return DepthSnapshot(
            book.update_id,
            tuple((p, bids[p]) for p in book.bid_prices[: -limit - 1 : -1]),
            tuple((p, asks[p]) for p in book.ask_prices[:limit]),
        )

    def book_ticker(self, symbol: str) -> BookTicker | Rejected:
        state = self._states.get(symbol)
        if state is None:
            return BAD_SYMBOL
        book = state.book
        bid = book.best_bid()
        ask = book.best_ask()
        return BookTicker(
            symbol,
            book.update_id,
            bid or 0,
            book.bids[bid] if bid is not None else 0,
            ask or 0,
            book.asks[ask] if ask is not None else 0,
        )

    def recent_trades(self, symbol: str, limit: int = 500) -> list[PublicTrade] | Rejected:
        """The newest ``limit`` (clamped to 1..1000) public trades, oldest first."""
        state = self._states.get(symbol)
        if state is None:
            return BAD_SYMBOL
        limit = max(1, min(limit, RECENT_TRADES_KEPT))
        trades = list(state.recent)[-limit:]
        return [
            PublicTrade(
                tr.trade_id,
                tr.price,
                tr.qty,
                tr.price * tr.qty // t.ONE,
                tr.time,
                tr.is_buyer_maker,
            )
            for tr in trades
        ]

    def avg_price(self, symbol: str) -> AvgPrice | Rejected:
        """VWAP of the trades of the last ``avg_price_mins`` minutes (last price if none)."""
        state = self._states.get(symbol)
        if state is None:
            return BAD_SYMBOL
        price = self._reference_price(state)
        close_time = state.vwap_window[-1][0] if state.vwap_window else self.server_time_ms()
        return AvgPrice(state.spec.avg_price_mins, price, close_time)

    def current_update_id(self, symbol: str) -> int:
        """Last update id of the symbol's book (ValueError for an unknown symbol)."""
        return self._known(symbol).book.update_id

    # ---- time steps and events ------------------------------------------------
    def step(self) -> None:
        """One market tick for every symbol; each symbol then emits one DepthDiff."""
        for symbol in self._states:
            self.step_symbol(symbol)
        if len(self._events) > self._max_pending_events:
            self._shed_market_data()

    def _shed_market_data(self) -> None:
        """Nobody drains: drop depth diffs and public trades (consumers see a gap and
        resync), never execution reports or balance events."""
        kept: list[SimEvent] = [e for e in self._events if not isinstance(e, DepthDiff | Trade)]
        self._dropped_market_events += len(self._events) - len(kept)
        self._events = kept

    def statistics(self) -> dict[str, int]:
        """Counters for metrics (cheap: read from state, nothing counted per change)."""
        return {
            "symbols": len(self._states),
            "accounts": len(self._open),
            "open_orders": sum(len(o) for o in self._open.values()),
            "orders_total": sum(s.next_order_id - 1 for s in self._states.values()),
            "trades_total": sum(s.next_trade_id - 1 for s in self._states.values()),
            "book_changes_total": sum(s.book.update_id - START_UPDATE_ID for s in self._states.values()),
            "pending_events": len(self._events),
            "dropped_market_events_total": self._dropped_market_events,
        }

    def step_symbol(self, symbol: str) -> None:
        state = self._known(symbol)
        if state.market is not None:
            state.market.step(state.taker)
            if self._ledger.has_dirty():
                self._emit_account_updates(self.server_time_ms())
        self._flush(state)

    def _market_maker_take(self, state: _SymbolState, is_buy: bool, qty: int) -> None:
        if qty <= 0:
            return
        result = state.book.take(is_buy, None, qty, None, None, "NONE")
        if not result.matches:
            return
        now = self.server_time_ms()
        for match in result.matches:
            if match.maker is not None:
                self._settle_match(state, None, match, now)
                continue
            # Market maker on both sides: no balances move, a public trade only.
            trade_id = state.next_trade_id
            state.next_trade_id = trade_id + 1
            taker_oid = state.next_order_id
            state.next_order_id = taker_oid + 2
            self._record_trade(
                state,
                Trade(
                    state.spec.symbol,
                    trade_id,
                    match.price,
                    match.qty,
                    taker_oid if is_buy else taker_oid + 1,
                    taker_oid + 1 if is_buy else taker_oid,
                    now,
                    not is_buy,
                    now,
                ),
            )

    def _flush(self, state: _SymbolState) -> None:
        diff = state.book.flush(self.server_time_ms())
        if diff is not None:
            self._events.append(diff)

    def flush_depth(self, symbol: str | None = None) -> None:
        """Emit pending book changes (e.g. user orders between steps) as DepthDiffs now."""
        states = self._states.values() if symbol is None else [self._known(symbol)]
        for state in states:
            self._flush(state)

    def drain_events(self) -> list[SimEvent]:
        """Every event since the last drain, in order."""
        events = self._events
        self._events = []
        return events

    # ---- truth -------------------------------------------------------------------
    def book_at(self, symbol: str, update_id: int) -> tuple[dict[int, int], dict[int, int]] | None:
        """(bids, asks) {price: qty} exactly as after ``update_id``; None outside the window."""
        book = self._known(symbol).book
        return book.history.book_at(update_id, book.update_id)

    def book_now(self, symbol: str) -> tuple[int, dict[int, int], dict[int, int]]:
        """(update id, bids, asks) of the full current book."""
        book = self._known(symbol).book
        return book.update_id, dict(book.bids), dict(book.asks)

    def account_truth(self, account: str) -> AccountTruth | Rejected:
        """Balances, open orders, kept orders and fills of one account, all symbols."""
        if account not in self._ledger:
            return BAD_KEY
        spec = self._ledger.specs[account]
        orders: list[OrderView] = []
        fills: list[FillView] = []
        for symbol in self._states:
            orders.extend(o.view() for o in self._orders.get((account, symbol), []))
            fills.extend(self._fills.get((account, symbol), []))
        return AccountTruth(
            account,
            spec.maker_fee_bps,
            spec.taker_fee_bps,
            tuple(self._ledger.views(account)),
            tuple(o.view() for o in self._open[account].values()),
            tuple(orders),
            tuple(fills),
        )

    def oldest_truth_update_id(self, symbol: str) -> int:
        """The oldest update id :meth:`book_at` can still rebuild."""
        return self._known(symbol).book.history.oldest_update_id

    def consistency_errors(self) -> list[str]:
        """Invariants of books and balances; an empty list when everything holds.

        Checked: balances conserved (users + fees + market maker == initial +
        deposits), no negative balance, locked == what open orders lock, books
        not crossed, level totals == their queues, every open order in its queue.
        Costs a scan of everything: for tests and the control endpoint, not per step.
        """
        errors = self._ledger_errors()
        for symbol, state in self._states.items():
            errors.extend(self._book_errors(symbol, state.book))
        for open_orders in self._open.values():
            for order in open_orders.values():
                book = self._states[order.symbol].book
                queued = (book.bid_queues if order.is_buy else book.ask_queues).get(order.price)
                if queued is None or order not in queued:
                    errors.append(f"open order {order.order_id} is not in the book")
                if order.leaves_qty != order.orig_qty - order.executed_qty:
                    errors.append(f"order {order.order_id}: leaves != orig - executed")
        return errors

    def _ledger_errors(self) -> list[str]:
        errors: list[str] = []
        ledger = self._ledger
        totals, expected = ledger.totals(), ledger.expected_totals()
        for asset in set(totals) | set(expected):
            if totals.get(asset, 0) != expected.get(asset, 0):
                errors.append(f"{asset}: total {totals.get(asset, 0)} != {expected.get(asset, 0)}")
        for account, open_orders in self._open.items():
            locks: dict[str, int] = {}
            for order in open_orders.values():
                spec = self._states[order.symbol].spec
                asset = spec.quote if order.is_buy else spec.base
                locks[asset] = locks.get(asset, 0) + order.locked
            for view in ledger.views(account):
                if view.free < 0 or view.locked < 0:
                    errors.append(f"{account} {view.asset}: negative balance {view}")
                if view.locked != locks.get(view.asset, 0):
                    errors.append(f"{account} {view.asset}: locked {view.locked} != open orders' lock")
        return errors

    @staticmethod
    def _book_errors(symbol: str, book: SymbolBook) -> list[str]:
        errors: list[str] = []
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            errors.append(f"{symbol}: crossed book {bid} >= {ask}")
        for side, levels, prices, queues in (
            ("bid", book.bids, book.bid_prices, book.bid_queues),
            ("ask", book.asks, book.ask_prices, book.ask_queues),
        ):
            if sorted(levels) != prices:
                errors.append(f"{symbol}: {side} price list out of sync")
            if any(q <= 0 for q in levels.values()):
                errors.append(f"{symbol}: empty {side} level kept")
            for price, queue in queues.items():
                if sum(e.leaves_qty for e in queue) != levels.get(price, 0):
                    errors.append(f"{symbol}: {side} level {price} total != its queue")
                for entry in queue:
                    if isinstance(entry, LiveOrder) and entry.status not in t.OPEN_STATUSES:
                        errors.append(f"{symbol}: closed order {entry.order_id} still queued")
        return errors
