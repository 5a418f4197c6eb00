"""Request parameters read the way Binance reads them (errors.md codes and messages)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from stanchion.sim.binance import apierror

SCALE = 8
_ONE = 100_000_000
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_INT = re.compile(r"^-?[0-9]{1,20}$")
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_.]{1,36}$")


def parse_form(raw: str, into: dict[str, str], *, overwrite: bool) -> None:
    """Parse ``a=1&b=2``; a name twice in the same string is -1101."""
    if not raw:
        return
    seen: set[str] = set()
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote_plus(name)
        if name in seen:
            raise apierror.duplicate_param()
        seen.add(name)
        if overwrite or name not in into:
            into[name] = unquote_plus(value)


class Params:
    """Typed access to one request's parameters."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return self.values.get(name, "") != ""

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def req_str(self, name: str) -> str:
        value = self.opt_str(name)
        if value is None:
            raise apierror.mandatory(name)
        return value

    def enum(self, name: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.opt_str(name)
        if value is None:
            if required:
                raise apierror.mandatory(name)
            return None
        if value not in allowed:
            if name == "side":
                raise apierror.BinanceApiError(-1117, "Invalid side.")
            if name == "type":
                raise apierror.BinanceApiError(-1116, "Invalid orderType.")
            if name == "timeInForce":
                raise apierror.BinanceApiError(-1115, "Invalid timeInForce.")
            raise apierror.illegal(name, ", ".join(allowed))
        return value

    def opt_int(self, name: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.opt_str(name)
        if value is None:
            return None
        if not _INT.match(value):
            raise apierror.illegal(name, "^[0-9]{1,20}$")
        number = int(value)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise apierror.invalid_value(name)
        return number

    def opt_decimal(self, name: str) -> int | None:
        """A decimal at scale 8; more decimals than 8 (non-zero) is -1111."""
        value = self.opt_str(name)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise apierror.illegal(name, DECIMAL_RANGE)
        whole, _, frac = value.partition(".")
        if len(frac) > SCALE and frac[SCALE:].strip("0"):
            raise apierror.too_much_precision(name)
        frac = frac[:SCALE].ljust(SCALE, "0")
        return int(whole) * _ONE + int(frac)

    def req_decimal(self, name: str) -> int:
        value = self.opt_decimal(name)
        if value is None:
            raise apierror.mandatory(name)
        return value

    def client_order_id(self, name: str) -> str | None:
        value = self.opt_str(name)
        if value is not None and not _CLIENT_ID.match(value):
            raise apierror.illegal(name, "^[a-zA-Z0-9-_]{1,36}$")
        return value

    def symbol(self, known: Mapping[str, object] | set[str] | frozenset[str]) -> str:
        value = self.req_str("symbol")
        if value.upper() != value or value not in known:
            raise apierror.bad_symbol()
        return value
