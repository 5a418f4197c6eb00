"""Configuration of one simulated Binance Spot venue (frozen; validated on construction)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

DEFAULT_API_KEY = "stanchionSimDefaultKey0000000000000000000000000000000000000000000"[:64]
DEFAULT_API_SECRET = "stanchionSimDefaultSecret000000000000000000000000000000000000000"[:64]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One API key of a test account. ``secret`` is the HMAC secret or the Ed25519 public key (PEM)."""

    api_key: str
    secret: str = field(repr=False)
    account: str = "default"
    key_type: Literal["hmac", "ed25519"] = "hmac"
    enable_reading: bool = True
    enable_spot_and_margin_trading: bool = True
    enable_withdrawals: bool = False
    ip_restrict: bool = False
    allowed_ips: tuple[str, ...] = ()
    create_time: int = 1_700_000_000_000

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("key: api_key must not be empty")
        if not self.secret:
            raise ValueError(f"key {self.api_key[:6]}...: secret/public_key must not be empty")
        if self.key_type not in ("hmac", "ed25519"):
            raise ValueError(f"key {self.api_key[:6]}...: type must be hmac or ed25519, got {self.key_type!r}")

    def __repr__(self) -> str:
        return f"KeySpec(api_key={self.api_key[:6]}..., account={self.account!r}, key_type={self.key_type!r})"


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """One entry of exchangeInfo ``rateLimits``."""

    rate_limit_type: Literal["REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS"]
    interval: Literal["SECOND", "MINUTE", "HOUR", "DAY"]
    interval_num: int
    limit: int

    @property
    def seconds(self) -> int:
        return {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}[self.interval] * self.interval_num

    @property
    def header_suffix(self) -> str:
        return f"{self.interval_num}{self.interval[0]}"

    def as_json(self) -> dict[str, object]:
        return {
            "rateLimitType": self.rate_limit_type,
            "interval": self.interval,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }


# Binance Spot production values as published in /api/v3/exchangeInfo.
DEFAULT_RATE_LIMITS: tuple[RateLimitSpec, ...] = (
    RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 6000),
    RateLimitSpec("ORDERS", "SECOND", 10, 100),
    RateLimitSpec("ORDERS", "DAY", 1, 200000),
    RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 61000),
)


@dataclass(frozen=True, slots=True)
class SimServerConfig:
    """Everything the server needs; times in seconds."""

    host: str = "127.0.0.1"
    port: int = 0
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    seed: int = 1
    rate: float = 10.0  # synthetic market updates per second per symbol; 0 = market only moves on step()
    keys: tuple[KeySpec, ...] = ()
    rate_limits: tuple[RateLimitSpec, ...] = DEFAULT_RATE_LIMITS
    ban_after_429: int = 3  # requests sent while limited before the 418 ban
    ban_first_s: int = 120
    ban_max_s: int = 3 * 86400
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    connection_lifetime_s: float = 24 * 3600.0
    ws_incoming_per_s: int = 5
    ws_max_streams: int = 1024
    ws_connections_per_5min: int = 300  # per IP
    ws_queue_frames: int = 10_000  # per connection; a slower client is disconnected
    max_body_bytes: int = 64 * 1024
    truth_window: int = 200_000  # update ids kept for book_at
    listen_key_ttl_s: float = 3600.0
    faults_file: str | None = None
    default_balances: tuple[tuple[str, str], ...] = (
        ("BTC", "10"), ("ETH", "100"), ("USDT", "1000000"), ("BNB", "100"),
    )

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("at least one symbol is required")
        for s in self.symbols:
            if not s.isalnum() or s.upper() != s:
                raise ValueError(f"symbol must be upper-case alphanumeric, got {s!r}")
        if self.rate < 0:
            raise ValueError(f"rate must be >= 0, got {self.rate}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.ws_queue_frames < 1 or self.ws_incoming_per_s < 1:
            raise ValueError("ws_queue_frames and ws_incoming_per_s must be >= 1")

    def effective_keys(self) -> tuple[KeySpec, ...]:
        if self.keys:
            return self.keys
        return (KeySpec(DEFAULT_API_KEY, DEFAULT_API_SECRET),)


_KEY_FIELDS = {
    "api_key", "type", "secret", "public_key", "account", "enableReading", "enableSpotAndMarginTrading",
    "enableWithdrawals", "ipRestrict", "allowedIps", "createTime",
}


def load_keys_file(path: str | Path) -> tuple[KeySpec, ...]:
    """Read keys from YAML or JSON: ``{"keys": [{api_key, type, secret|public_key, account, ...}]}``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read keys file {p}: {exc.strerror}") from exc
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"keys file {p} is not valid {'JSON' if p.suffix == '.json' else 'YAML'}") from exc
    items = doc.get("keys") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise ValueError(f"keys file {p}: expected a non-empty list under 'keys'")
    out: list[KeySpec] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"keys file {p}: entry {i} is not a mapping")
        unknown = set(item) - _KEY_FIELDS
        if unknown:
            raise ValueError(f"keys file {p}: entry {i} has unknown fields {sorted(unknown)}")
        key_type = str(item.get("type", "hmac"))
        secret = item.get("public_key") if key_type == "ed25519" else item.get("secret")
        if not isinstance(item.get("api_key"), str) or not isinstance(secret, str):
            wanted = "public_key" if key_type == "ed25519" else "secret"
            raise ValueError(f"keys file {p}: entry {i} needs api_key and {wanted}")
        out.append(
            KeySpec(
                api_key=item["api_key"],
                secret=secret,
                account=str(item.get("account", "default")),
                key_type=key_type,  # type: ignore[arg-type]  # validated in __post_init__
                enable_reading=bool(item.get("enableReading", True)),
                enable_spot_and_margin_trading=bool(item.get("enableSpotAndMarginTrading", True)),
                enable_withdrawals=bool(item.get("enableWithdrawals", False)),
                ip_restrict=bool(item.get("ipRestrict", False)),
                allowed_ips=tuple(str(x) for x in item.get("allowedIps", ())),
                create_time=int(item.get("createTime", 1_700_000_000_000)),
            )
        )
    return tuple(out)
