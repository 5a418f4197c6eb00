"""Signature, timestamp and key checks, done the way Binance Spot does them.

REST: the signed payload is the query string concatenated (no separator) with the
body, as received, without the ``signature`` parameter; any byte that arrived
un-encoded is percent-encoded first (the current rule). HMAC-SHA256 hex (case-
insensitive) or Ed25519 base64. WebSocket API: the params except ``signature``,
sorted by name, joined ``k=v`` with ``&``, no percent-encoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from stanchion.sim.binance import apierror
from stanchion.sim.binance.apierror import BinanceApiError
from stanchion.sim.binance.config import KeySpec

_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True, slots=True)
class ApiKey:
    spec: KeySpec
    public_key: Ed25519PublicKey | None

    def verify(self, payload: str, signature: str) -> bool:
        if self.spec.key_type == "hmac":
            expected = hmac.new(self.spec.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        assert self.public_key is not None
        try:
            raw = base64.b64decode(signature, validate=True)
            self.public_key.verify(raw, payload.encode())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


class KeyStore:
    """API keys by key string; ``lookup`` raises Binance's -2014/-2015."""

    def __init__(self, keys: tuple[KeySpec, ...]) -> None:
        self._keys: dict[str, ApiKey] = {}
        for spec in keys:
            public_key = None
            if spec.key_type == "ed25519":
                try:
                    loaded = load_pem_public_key(spec.secret.encode())
                except ValueError as exc:
                    raise ValueError(f"key {spec.api_key[:6]}...: public_key is not a PEM public key") from exc
                if not isinstance(loaded, Ed25519PublicKey):
                    raise ValueError(f"key {spec.api_key[:6]}...: public_key is not an Ed25519 key")
                public_key = loaded
            self._keys[spec.api_key] = ApiKey(spec, public_key)

    def specs(self) -> list[KeySpec]:
        return [k.spec for k in self._keys.values()]

    def lookup(self, api_key: str | None, peer_ip: str | None = None) -> ApiKey:
        if not api_key or not _KEY_FORMAT.match(api_key):
            raise apierror.bad_key_format()
        key = self._keys.get(api_key)
        if key is None:
            raise apierror.rejected_key()
        if key.spec.ip_restrict and key.spec.allowed_ips and peer_ip not in key.spec.allowed_ips:
            raise apierror.rejected_key()
        return key


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split a raw ``a=1&b=2&signature=x`` into the payload without it and the raw signature value."""
    if not raw:
        return "", None
    parts = raw.split("&")
    kept = [p for p in parts if not p.startswith("signature=")]
    sigs = [p[len("signature=") :] for p in parts if p.startswith("signature=")]
    return "&".join(kept), (sigs[-1] if sigs else None)


def encode_payload(raw: str) -> str:
    """Percent-encode whatever arrived un-encoded (non-ASCII, spaces); encoded bytes stay as sent."""
    return quote(raw, safe=_SAFE)


def rest_payload(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    query, sig_q = strip_signature(raw_query)
    body, sig_b = strip_signature(raw_body)
    return encode_payload(query + body), sig_q if sig_q is not None else sig_b


def ws_payload(params: Mapping[str, object]) -> str:
    return "&".join(f"{k}={_ws_value(params[k])}" for k in sorted(params) if k != "signature")


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_timestamp(
    timestamp: str | None, recv_window: str | None, server_ms: int
) -> None:
    """Binance's rule: ``timestamp < server + 1000`` and ``server - timestamp <= recvWindow``."""
    if timestamp is None or timestamp == "":
        raise apierror.mandatory("timestamp")
    if not timestamp.isdigit() or not timestamp.isascii() or len(timestamp) > 20:
        raise apierror.illegal("timestamp", "^[0-9]{1,20}$")
    ts_us = int(timestamp) * (1 if len(timestamp) >= 16 else 1000)
    window_us = 5_000_000
    if recv_window not in (None, ""):
        assert recv_window is not None
        whole, dot, frac = recv_window.partition(".")
        if not whole.isdigit() or not whole.isascii() or (dot and (not frac.isdigit() or len(frac) > 3)):
            raise apierror.illegal("recvWindow", "^[0-9]{1,20}(\\.[0-9]{1,3})?$")
        window_us = int(whole) * 1000 + (int(frac.ljust(3, "0")) if dot else 0)
        if window_us > 60_000_000:
            raise BinanceApiError(-1131, "recvWindow must be less than 60000")
    server_us = server_ms * 1000
    if ts_us >= server_us + 1_000_000:
        raise apierror.ahead_of_server()
    if server_us - ts_us > window_us:
        raise apierror.outside_recv_window()
