"""Default instruments and accounts of the simulated venue (realistic Binance filters)."""

from __future__ import annotations

from stanchion.core.fixedpoint import parse_fixed
from stanchion.sim.filters import SymbolSpec

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


def _fx(text: str) -> int:
    return parse_fixed(text, 8)


_KNOWN: dict[str, dict[str, str]] = {
    # tickSize, stepSize, minQty, maxQty, minNotional, initial price: as Binance lists BTCUSDT/ETHUSDT.
    "BTCUSDT": {"tick": "0.01", "step": "0.00001", "min_qty": "0.00001", "max_qty": "9000",
                "min_notional": "5", "price": "60000.00", "min_price": "0.01", "max_price": "1000000"},
    "ETHUSDT": {"tick": "0.01", "step": "0.0001", "min_qty": "0.0001", "max_qty": "9000",
                "min_notional": "5", "price": "3000.00", "min_price": "0.01", "max_price": "1000000"},
    "ETHBTC": {"tick": "0.00001", "step": "0.0001", "min_qty": "0.0001", "max_qty": "100000",
               "min_notional": "0.0001", "price": "0.05000", "min_price": "0.00001", "max_price": "922327"},
}
_GENERIC = {"tick": "0.01", "step": "0.001", "min_qty": "0.001", "max_qty": "900000",
            "min_notional": "5", "price": "100.00", "min_price": "0.01", "max_price": "1000000"}


def split_symbol(symbol: str) -> tuple[str, str]:
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"cannot tell base and quote of {symbol!r}; end it with one of {', '.join(_QUOTES)}")


def default_spec(symbol: str) -> SymbolSpec:
    base, quote = split_symbol(symbol)
    v = _KNOWN.get(symbol, _GENERIC)
    return SymbolSpec(
        symbol=symbol, base=base, quote=quote, tick=_fx(v["tick"]), step=_fx(v["step"]),
        initial_price=_fx(v["price"]), min_price=_fx(v["min_price"]), max_price=_fx(v["max_price"]),
        min_qty=_fx(v["min_qty"]), max_qty=_fx(v["max_qty"]), market_min_qty=0, market_max_qty=_fx(v["max_qty"]),
        market_step=0, min_notional=_fx(v["min_notional"]),
    )
