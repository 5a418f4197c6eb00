"""Symbol specifications and Binance Spot filters (codes and messages as Binance sends them).

A failed filter is ``-1013`` with ``"Filter failure: <FILTER NAME>"``. Each rule
of PRICE_FILTER / LOT_SIZE / MARKET_LOT_SIZE is off when its value is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.core.fixedpoint import format_fixed
from stanchion.sim.types import (
    DEFAULT_STP_MODE,
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    ONE,
    SCALE,
    STP_MODES,
    OrderRequest,
    Rejected,
)

FILTER_FAILURE_CODE = -1013


def _fx(value: int) -> str:
    return format_fixed(value, SCALE)


def filter_failure(name: str) -> Rejected:
    return Rejected(FILTER_FAILURE_CODE, f"Filter failure: {name}")


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One trading pair. Every price/quantity/notional is an int at scale 8.

    ``tick`` and ``step`` are PRICE_FILTER.tickSize and LOT_SIZE.stepSize and
    must be positive (the synthetic market moves in ticks and steps); the other
    limits are off when 0. ``market_*`` are MARKET_LOT_SIZE.
    """

    symbol: str
    base: str
    quote: str
    tick: int
    step: int
    initial_price: int
    min_price: int = 0
    max_price: int = 0
    min_qty: int = 0
    max_qty: int = 0
    market_min_qty: int = 0
    market_max_qty: int = 0
    market_step: int = 0
    min_notional: int = 0
    max_notional: int = 0
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    avg_price_mins: int = 5
    notional_filter: str = "NOTIONAL"
    """"NOTIONAL" (current Binance) or "MIN_NOTIONAL" (older symbols)."""
    max_num_orders: int = 200
    base_precision: int = 8
    quote_precision: int = 8
    status: str = "TRADING"

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.step <= 0:
            raise ValueError(f"{self.symbol}: tick and step must be positive")
        if self.initial_price <= 0 or self.initial_price % self.tick:
            raise ValueError(f"{self.symbol}: initial_price must be a positive multiple of tick")
        if self.notional_filter not in ("NOTIONAL", "MIN_NOTIONAL"):
            raise ValueError(f"{self.symbol}: notional_filter must be NOTIONAL or MIN_NOTIONAL")
        if not self.symbol or not self.symbol.isalnum() or not self.symbol.isupper():
            raise ValueError(f"symbol must be upper-case alphanumeric, got {self.symbol!r}")

    def filters_json(self) -> list[dict[str, object]]:
        """``filters`` of the exchangeInfo symbol object (8-decimal strings)."""
        out: list[dict[str, object]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _fx(self.min_price),
                "maxPrice": _fx(self.max_price),
                "tickSize": _fx(self.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _fx(self.min_qty),
                "maxQty": _fx(self.max_qty),
                "stepSize": _fx(self.step),
            },
        ]
        if self.notional_filter == "NOTIONAL":
            out.append(
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _fx(self.min_notional),
                    "applyMinToMarket": self.apply_min_to_market,
                    "maxNotional": _fx(self.max_notional),
                    "applyMaxToMarket": self.apply_max_to_market,
                    "avgPriceMins": self.avg_price_mins,
                }
            )
        else:
            out.append(
                {
                    "filterType": "MIN_NOTIONAL",
                    "minNotional": _fx(self.min_notional),
                    "applyToMarket": self.apply_min_to_market,
                    "avgPriceMins": self.avg_price_mins,
                }
            )
        out.append(
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _fx(self.market_min_qty),
                "maxQty": _fx(self.market_max_qty),
                "stepSize": _fx(self.market_step),
            }
        )
        out.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders})
        return out

    def exchange_info_json(self) -> dict[str, object]:
        """The exchangeInfo ``symbols[]`` object, ready to serialize."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_precision,
            "quoteCommissionPrecision": self.quote_precision,
            "orderTypes": [LIMIT, LIMIT_MAKER, MARKET],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "opoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": True,
            "amendAllowed": False,
            "pegInstructionsAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": self.filters_json(),
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": DEFAULT_STP_MODE,
            "allowedSelfTradePreventionModes": list(STP_MODES),
        }


def _range_step_ok(value: int, low: int, high: int, step: int) -> bool:
    if low and value < low:
        return False
    if high and value > high:
        return False
    return not (step and value % step)


def check_price(spec: SymbolSpec, price: int) -> Rejected | None:
    """PRICE_FILTER: min, max, tick (each off when 0)."""
    if _range_step_ok(price, spec.min_price, spec.max_price, spec.tick):
        return None
    return filter_failure("PRICE_FILTER")


def check_lot(spec: SymbolSpec, qty: int, *, market: bool) -> Rejected | None:
    """LOT_SIZE always; MARKET_LOT_SIZE as well for MARKET orders by quantity."""
    if not _range_step_ok(qty, spec.min_qty, spec.max_qty, spec.step):
        return filter_failure("LOT_SIZE")
    if market and not _range_step_ok(qty, spec.market_min_qty, spec.market_max_qty, spec.market_step):
        return filter_failure("MARKET_LOT_SIZE")
    return None


def check_notional(spec: SymbolSpec, value: int, *, market: bool) -> Rejected | None:
    """NOTIONAL / MIN_NOTIONAL on ``value`` (quote amount at scale 8)."""
    name = spec.notional_filter
    if spec.min_notional and (not market or spec.apply_min_to_market) and value < spec.min_notional:
        return filter_failure(name)
    if (
        name == "NOTIONAL"
        and spec.max_notional
        and (not market or spec.apply_max_to_market)
        and value > spec.max_notional
    ):
        return filter_failure(name)
    return None


def validate_filters(spec: SymbolSpec, req: OrderRequest, avg_price: int, open_orders: int) -> Rejected | None:
    """Run the symbol's filters on a well-formed request, in Binance's order.

    ``avg_price`` is the reference price for MARKET notional checks;
    ``open_orders`` is the account's open order count on the symbol.
    """
    market = req.type == MARKET
    if not market and req.price is not None:
        failed = check_price(spec, req.price)
        if failed:
            return failed
    if req.quantity is not None:
        failed = check_lot(spec, req.quantity, market=market)
        if failed:
            return failed
    if market:
        value = req.quote_order_qty if req.quote_order_qty is not None else (avg_price * (req.quantity or 0)) // ONE
    else:
        value = ((req.price or 0) * (req.quantity or 0)) // ONE
    failed = check_notional(spec, value, market=market)
    if failed:
        return failed
    if spec.max_num_orders and open_orders >= spec.max_num_orders:
        return filter_failure("MAX_NUM_ORDERS")
    return None
