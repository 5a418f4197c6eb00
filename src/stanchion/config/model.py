"""The one frozen, typed root configuration.

Every model is frozen and closed to unknown keys. Amounts are exact decimals
(never floats); limits must be positive. Secrets appear only as references
``{provider, ref}``; an inline value is an error. Cross-field rules (one symbol
in one shard, admin auth off loopback, …) live in :mod:`stanchion.config.rules`
so each problem can name its exact path.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

SECRET_PROVIDERS = ("file", "aws-secretsmanager", "dev-env")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- exact numbers -------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "expected a number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("decimal_finite", "must be a finite number")
        # str() of a float is the shortest repr that round-trips: the literal the
        # user wrote in YAML (0.1 stays 0.1), not its binary approximation.
        result = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
            raise PydanticCustomError(
                "decimal_parsing", "expected a plain decimal number like 0.5 or 25000"
            )
        try:
            result = Decimal(text)
        except InvalidOperation:  # pragma: no cover - regex already guards
            raise PydanticCustomError("decimal_parsing", "not a decimal number") from None
    else:
        raise PydanticCustomError(
            "decimal_type", "expected a number, got {kind}", {"kind": type(value).__name__}
        )
    return result


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError("positive", "must be greater than zero, got {v}", {"v": str(value)})
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_to_decimal)]
PositiveDecimal = Annotated[Decimal, BeforeValidator(_to_decimal), AfterValidator(_positive)]
PositiveInt = Annotated[int, Field(gt=0, strict=True)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


# --- secrets -------------------------------------------------------------------------


def _reject_inline_secret(value: Any) -> Any:
    if isinstance(value, str | bytes | int | float):
        # Never echo the value: it may be a real key.
        raise PydanticCustomError(
            "inline_secret",
            "inline secret values are not allowed; give a reference {shape}",
            {"shape": "{provider: file | aws-secretsmanager | dev-env, ref: ...}"},
        )
    if isinstance(value, dict) and "provider" in value:
        provider = value["provider"]
        if provider not in SECRET_PROVIDERS:
            raise PydanticCustomError(
                "secret_provider",
                "unknown secret provider '{provider}'; expected one of: {known}",
                {"provider": str(provider)[:40], "known": ", ".join(SECRET_PROVIDERS)},
            )
    return value


class SecretRef(_Frozen):
    """Where a secret lives. Resolved at start by :mod:`stanchion.security.secrets`."""

    provider: Literal["file", "aws-secretsmanager", "dev-env"]
    ref: Annotated[str, Field(min_length=1, max_length=512)]
    key: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """For JSON secrets: the field holding the value (e.g. ``api_secret``)."""


SecretReference = Annotated[SecretRef, BeforeValidator(_reject_inline_secret)]


# --- addresses -----------------------------------------------------------------------


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` → ``("127.0.0.1", 9464)``; IPv6 hosts may be bracketed."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback_address(address: str) -> bool:
    host, _ = split_address(address)
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


def _listen_address(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("address", "expected 'host:port' as a string")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise PydanticCustomError("address", "expected 'host:port', got '{v}'", {"v": value[:80]})
    if not 0 <= int(port) <= 65535:
        raise PydanticCustomError("address", "port {p} out of range 0..65535", {"p": port})
    bare = host.strip("[]")
    if bare != "localhost":
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            raise PydanticCustomError(
                "address", "host must be an IP address or localhost, got '{h}'", {"h": host[:80]}
            ) from None
    return value


Address = Annotated[str, BeforeValidator(_listen_address)]

_URL_RE = re.compile(r"^(https?|wss?)://[^\s/:]+(:\d{1,5})?(/[^\s]*)?$")


def _url(value: Any) -> str:
    if not isinstance(value, str) or not _URL_RE.match(value):
        raise PydanticCustomError(
            "url", "expected an http(s):// or ws(s):// URL, got '{v}'", {"v": str(value)[:80]}
        )
    return value


Url = Annotated[str, BeforeValidator(_url)]

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or not _SYMBOL_RE.match(value):
        raise PydanticCustomError(
            "symbol", "expected an upper-case venue symbol like BTCUSDT, got '{v}'", {"v": str(value)[:40]}
        )
    return value


Symbol = Annotated[str, BeforeValidator(_symbol)]
Name = Annotated[str, Field(pattern=_NAME_RE.pattern)]


# --- sections ------------------------------------------------------------------------


class Mode(enum.StrEnum):
    SIM = "sim"  # embedded simulator on loopback
    PAPER = "paper"  # real-protocol connectors against a simulator or testnet
    LIVE = "live"  # real venue endpoints, keys from a secrets manager


class VenueKind(enum.StrEnum):
    BINANCE = "binance"


class KeyType(enum.StrEnum):
    HMAC = "hmac"
    ED25519 = "ed25519"


class Endpoints(_Frozen):
    rest: Url
    ws_stream: Url
    ws_api: Url


class Credentials(_Frozen):
    key_type: KeyType = KeyType.ED25519
    api_key: SecretReference
    api_secret: SecretReference
    """The HMAC secret, or the Ed25519 private key (PEM) for ``ed25519``."""


class StalenessConfig(_Frozen):
    liveness_timeout_s: PositiveFloat = 30.0
    """No frame and no ping at all for this long: the connection is dead."""
    book_stale_after_s: PositiveFloat = 10.0
    """A book with no update for this long while the connection is alive is STALE."""


class VenueConfig(_Frozen):
    kind: VenueKind
    account: Name = "main"
    symbols: Annotated[tuple[Symbol, ...], Field(min_length=1)]
    endpoints: Endpoints | None = None
    """Omitted in ``sim`` mode: the embedded simulator's URLs are used."""
    credentials: Credentials | None = None
    staleness: StalenessConfig = StalenessConfig()
    use_ws_api_for_orders: bool = True

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for symbol in symbols:
            if symbol in seen:
                raise PydanticCustomError("duplicate", "symbol {s} listed twice", {"s": symbol})
            seen.add(symbol)
        return symbols


class ShardConfig(_Frozen):
    id: Annotated[int, Field(ge=0, le=1295, strict=True)]
    symbols: Annotated[tuple[str, ...], Field(min_length=1)]
    """``venue:SYMBOL`` keys, e.g. ``binance:BTCUSDT``."""


class InstrumentLimits(_Frozen):
    max_order_qty: PositiveDecimal
    max_order_notional: PositiveDecimal
    max_position: PositiveDecimal


class ExposureLimits(_Frozen):
    max_gross_exposure: PositiveDecimal
    max_net_exposure: PositiveDecimal


class LossAction(enum.StrEnum):
    HALT = "halt"
    REDUCE_ONLY = "reduce_only"


class RiskConfig(_Frozen):
    enabled: bool = True
    instruments: dict[str, InstrumentLimits]
    """Per ``venue:SYMBOL`` limits; every traded instrument must have an entry."""
    account: ExposureLimits
    portfolio: ExposureLimits
    price_band_bps: PositiveInt = 100
    max_orders_per_second: PositiveInt = 20
    max_cancels_per_second: PositiveInt = 40
    max_open_orders: PositiveInt = 50
    daily_loss_limit: PositiveDecimal
    max_drawdown: PositiveDecimal
    loss_action: LossAction = LossAction.HALT
    max_book_age_s: PositiveFloat = 5.0


class MetricsConfig(_Frozen):
    listen: Address = "127.0.0.1:9464"


class AdminAuth(_Frozen):
    token: SecretReference


class AdminConfig(_Frozen):
    listen: Address = "127.0.0.1:9465"
    auth: AdminAuth | None = None


class JournalConfig(_Frozen):
    path: Annotated[str, Field(min_length=1)] = ".state/journal.sqlite"
    batch_max: PositiveInt = 512
    flush_interval_ms: PositiveInt = 5


class DriftPolicy(enum.StrEnum):
    ALERT = "alert"
    HALT = "halt"
    ADOPT = "adopt"


class ReconciliationConfig(_Frozen):
    interval_s: PositiveFloat = 30.0
    drift_policy: DriftPolicy = DriftPolicy.ALERT
    drift_threshold_pct: PositiveDecimal = Decimal("1")


class CancelOnShutdown(enum.StrEnum):
    CANCEL_ALL = "cancel_all"
    KEEP = "keep"


class ShutdownConfig(_Frozen):
    grace_s: PositiveFloat = 60.0
    cancel_on_shutdown: CancelOnShutdown = CancelOnShutdown.CANCEL_ALL


class MarketMakerParams(_Frozen):
    kind: Literal["market_maker"]
    instruments: Annotated[tuple[str, ...], Field(min_length=1)]
    quote_size: PositiveDecimal
    half_spread_bps: PositiveDecimal
    max_inventory: PositiveDecimal
    skew_bps_per_unit: ExactDecimal = Decimal("0")
    requote_threshold_bps: PositiveDecimal = Decimal("2")


class TwapParams(_Frozen):
    kind: Literal["twap"]
    instruments: Annotated[tuple[str, ...], Field(min_length=1, max_length=1)]
    side: Literal["buy", "sell"]
    total_qty: PositiveDecimal
    duration_s: PositiveFloat
    slices: PositiveInt


class ArmedTakerParams(_Frozen):
    """A taker whose clips wait, armed, for the book to reach their price (see
    ``stanchion.engine.strategies.armed_taker``)."""

    kind: Literal["armed_taker"]
    instruments: Annotated[tuple[str, ...], Field(min_length=1, max_length=1)]
    side: Literal["buy", "sell"]
    total_qty: PositiveDecimal
    clip_qty: PositiveDecimal
    edge_bps: Annotated[int, Field(ge=-1000, le=1000, strict=True)] = 0
    """A buy is armed this far under the mid (a sell over it); negative: sent at once."""
    rearm_bps: Annotated[int, Field(ge=1, le=10_000, strict=True)] = 2
    """Re-armed when the mid has moved its price by more than this."""


class StrategyConfig(_Frozen):
    name: Name
    params: Annotated[MarketMakerParams | TwapParams | ArmedTakerParams, Field(discriminator="kind")]


class LoggingConfig(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class SimConfig(_Frozen):
    """The embedded simulator (``mode: sim``)."""

    seed: Annotated[int, Field(ge=0, strict=True)] = 1
    updates_per_second: PositiveInt = 50
    volatility_ticks: Annotated[float, Field(ge=0, le=10_000)] = 1.0
    """Standard deviation of each step's fair-price move, in ticks."""


class StanchionConfig(_Frozen):
    """The root of a Stanchion configuration file."""

    deployment: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,4}$")] = "S"
    """Namespace of this deployment's client order ids (1–4 letters or digits)."""
    mode: Mode
    venues: Annotated[dict[Name, VenueConfig], Field(min_length=1)]
    shards: Annotated[tuple[ShardConfig, ...], Field(min_length=1)]
    risk: RiskConfig
    strategies: tuple[StrategyConfig, ...] = ()
    metrics: MetricsConfig = MetricsConfig()
    admin: AdminConfig = AdminConfig()
    journal: JournalConfig = JournalConfig()
    reconciliation: ReconciliationConfig = ReconciliationConfig()
    shutdown: ShutdownConfig = ShutdownConfig()
    logging: LoggingConfig = LoggingConfig()
    sim: SimConfig = SimConfig()
