"""``GET /api/v3/exchangeInfo`` → :class:`~stanchion.model.instrument.Instrument`.

Binance writes every price and quantity with up to 8 decimals, so both scales
are 8; ``tick``/``step`` come from PRICE_FILTER/LOT_SIZE, min/max quantity from
LOT_SIZE, min/max notional from NOTIONAL (or the older MIN_NOTIONAL).
A filter value of 0 disables the rule (filters.md): a zero tick or step
becomes 1 (one unit at scale 8), a zero max becomes "no limit".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import pow10
from stanchion.model.instrument import Instrument
from stanchion.venues.binance.codec import BINANCE_SCALE, VENUE, BinanceParseError, parse_number
from stanchion.venues.binance.ratelimit import Limit, limits_from_rate_limits
from stanchion.venues.binance.schemas import BinanceExchangeInfo, BinanceSymbolInfo

_exchange_info: Final = msgspec.json.Decoder(BinanceExchangeInfo)

Filter = Mapping[str, str | int | bool | None]


def _filters(info: BinanceSymbolInfo) -> dict[str, Filter]:
    return {str(f.get("filterType")): f for f in info.filters}


def _number(filters: dict[str, Filter], name: str, key: str, symbol: str) -> int | None:
    found = filters.get(name)
    if found is None or found.get(key) is None:
        return None
    value = found[key]
    if not isinstance(value, str):
        raise BinanceParseError(f"binance exchangeInfo {symbol}: {name}.{key} is {value!r}, expected a string")
    try:
        return parse_number(value)
    except ParseError as exc:
        raise BinanceParseError(f"binance exchangeInfo {symbol}: {name}.{key}: {exc}") from exc


def instrument_from_symbol(info: BinanceSymbolInfo) -> Instrument:
    filters = _filters(info)
    symbol = info.symbol
    tick = _number(filters, "PRICE_FILTER", "tickSize", symbol) or 1
    step = _number(filters, "LOT_SIZE", "stepSize", symbol) or 1
    min_qty = _number(filters, "LOT_SIZE", "minQty", symbol) or 0
    max_qty = _number(filters, "LOT_SIZE", "maxQty", symbol) or 0
    notional_name = "NOTIONAL" if "NOTIONAL" in filters else "MIN_NOTIONAL"
    min_notional = _number(filters, notional_name, "minNotional", symbol) or 0
    max_notional = _number(filters, "NOTIONAL", "maxNotional", symbol) or 0
    # Notionals are price × qty, at scale 8 + 8.
    to_notional = pow10(BINANCE_SCALE)
    try:
        return Instrument(
            venue=VENUE,
            symbol=symbol,
            base=info.baseAsset,
            quote=info.quoteAsset,
            price_scale=BINANCE_SCALE,
            qty_scale=BINANCE_SCALE,
            tick=tick,
            step=step,
            min_qty=min_qty,
            max_qty=max_qty,
            min_notional=min_notional * to_notional,
            max_notional=max_notional * to_notional,
            cancel_replace=info.cancelReplaceAllowed,
        )
    except ValueError as exc:
        raise BinanceParseError(f"binance exchangeInfo {symbol}: {exc}") from exc


def parse_exchange_info(body: bytes, *, trading_only: bool = True) -> dict[str, Instrument]:
    """Every symbol of an exchangeInfo body (only ``status == TRADING`` by default)."""
    return parse_exchange_info_and_limits(body, trading_only=trading_only)[0]


def parse_exchange_info_and_limits(
    body: bytes, *, trading_only: bool = True
) -> tuple[dict[str, Instrument], tuple[Limit, ...]]:
    """:func:`parse_exchange_info` and the venue's ``rateLimits`` (one decode of a large body)."""
    try:
        info = _exchange_info.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BinanceParseError(f"binance: malformed exchangeInfo: {exc}") from exc
    instruments = {
        s.symbol: instrument_from_symbol(s)
        for s in info.symbols
        if not trading_only or s.status == "TRADING"
    }
    return instruments, limits_from_rate_limits(info.rateLimits)
