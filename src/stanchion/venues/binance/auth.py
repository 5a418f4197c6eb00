"""Binance request signing: HMAC-SHA256 and Ed25519, REST and WebSocket API.

* REST (rest-api.md "SIGNED Endpoint Examples for POST /api/v3/order"): the
  signed payload is the query string concatenated, **without a separator**, to
  the request body, both **percent-encoded** (UTF-8, RFC 3986 unreserved
  characters kept) — enforced by Binance since 2026-01-15, otherwise -1022.
  HMAC gives lowercase hex; Ed25519 gives base64, which is percent-encoded
  again when sent (``/`` → ``%2F``, ``+`` → ``%2B``, ``=`` → ``%3D``).
* WebSocket API (web-socket-api.md): every param except ``signature`` (including
  ``apiKey``), **sorted by name**, joined ``k=v`` with ``&``, UTF-8, **no**
  percent-encoding. Ed25519 keys may instead log the session on once
  (``session.logon``) and send unsigned requests afterwards.

Secrets live only inside :class:`HmacSigner` / :class:`Ed25519Signer`; their
``repr``/``str`` never show them, and neither do errors raised here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import quote

import msgspec
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from stanchion.core.errors import ConfigError

_sign: ModuleType | None
try:  # compiled at install (setup.py); the hmac module is the reference and the fallback
    from stanchion.venues.binance import _sign
except ImportError:  # pragma: no cover - a STANCHION_PURE_PYTHON=1 install
    _sign = None

if TYPE_CHECKING:
    from stanchion.venues.binance._sign import HmacKey

NATIVE_SIGNING: Final = _sign is not None
"""HMAC-SHA256 requests are signed and framed by the compiled ``_sign`` module."""

Params = Mapping[str, str] | Iterable[tuple[str, str]]

DEFAULT_RECV_WINDOW_MS: Final = 5000
MAX_RECV_WINDOW_MS: Final = 60_000


def _items(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def percent_encode(text: str) -> str:
    """UTF-8 percent-encoding keeping only RFC 3986 unreserved characters."""
    return quote(text, safe="")


def encode_params(params: Params) -> str:
    """``k=v&k=v`` in the given order, keys and values percent-encoded."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in _items(params))


class Signer(Protocol):
    """Signs a payload; ``encoded_for_rest`` is the value to send as ``signature``."""

    @property
    def api_key(self) -> str: ...

    def sign(self, payload: str) -> str: ...

    def signature_param(self, payload: str) -> str: ...


def _mask(api_key: str) -> str:
    return api_key[:4] + "…" if len(api_key) > 8 else "…"


class HmacSigner:
    """HMAC-SHA256 with a secret key; hex output (Binance accepts either case)."""

    __slots__ = ("_api_key", "_keyed", "_native")

    def __init__(self, api_key: str, secret_key: str) -> None:
        if not api_key or not secret_key:
            raise ConfigError("binance HMAC credentials need a non-empty API key and secret key")
        self._api_key = api_key
        # Keyed once: each signature copies this state instead of re-keying (and OpenSSL
        # fetching SHA-256 again). Measured per signature, back to back / after 30 ms away:
        # 1.7 / 41 µs, against hmac.digest's 2.0 / 77 µs. The compiled key (its two pad
        # states in C memory) signs and frames a WebSocket API request in one call.
        secret = secret_key.encode("utf-8")
        self._native: HmacKey | None = _sign.HmacKey(secret) if _sign is not None else None
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256) if self._native is None else None

    @property
    def api_key(self) -> str:
        return self._api_key

    def sign(self, payload: str) -> str:
        if self._native is not None:
            return self._native.hexdigest(payload.encode("utf-8"))
        assert self._keyed is not None
        mac = self._keyed.copy()
        mac.update(payload.encode("utf-8"))
        return mac.hexdigest()

    def signature_param(self, payload: str) -> str:
        return self.sign(payload)  # hex needs no encoding

    def __repr__(self) -> str:
        return f"HmacSigner(api_key={_mask(self._api_key)!r}, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers are not picklable: secrets do not leave the process this way")


class Ed25519Signer:
    """Ed25519 with a PKCS#8 PEM private key; base64 output (case-sensitive)."""

    __slots__ = ("_api_key", "_key")

    def __init__(self, api_key: str, private_key_pem: bytes, password: bytes | None = None) -> None:
        if not api_key:
            raise ConfigError("binance Ed25519 credentials need a non-empty API key")
        try:
            key = load_pem_private_key(private_key_pem, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # The library's message may quote key material: do not chain it.
            raise ConfigError("binance Ed25519 private key could not be loaded (expect PKCS#8 PEM)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"binance private key is {type(key).__name__}, expected an Ed25519 key")
        self._api_key = api_key
        self._key = key

    @property
    def api_key(self) -> str:
        return self._api_key

    def sign(self, payload: str) -> str:
        return base64.b64encode(self._key.sign(payload.encode("utf-8"))).decode("ascii")

    def sign_bytes(self, payload: bytes) -> str:
        """Base64 signature of raw bytes (FIX Logon payloads contain SOH)."""
        return base64.b64encode(self._key.sign(payload)).decode("ascii")

    def signature_param(self, payload: str) -> str:
        return self.sign(payload)

    def __repr__(self) -> str:
        return f"Ed25519Signer(api_key={_mask(self._api_key)!r}, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers are not picklable: secrets do not leave the process this way")


# --- REST ------------------------------------------------------------------------------


def rest_signature_payload(query: str, body: str = "") -> str:
    """What REST signs: the encoded query string directly followed by the encoded body."""
    return query + body


def sign_rest(
    signer: Signer,
    query_params: Params = (),
    body_params: Params = (),
    *,
    timestamp_ms: int,
    recv_window_ms: int | None = DEFAULT_RECV_WINDOW_MS,
    in_body: bool = False,
) -> tuple[str, str]:
    """Add ``recvWindow``/``timestamp``, sign, append ``signature`` last.

    Returns ``(query_string, body)``, both percent-encoded, ready to send with
    header ``X-MBX-APIKEY: signer.api_key``. ``in_body`` puts timestamp and
    signature in the body (POST form) instead of the query string.
    """
    if recv_window_ms is not None and not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
        raise ValueError(f"recvWindow must be in 1..{MAX_RECV_WINDOW_MS} ms, got {recv_window_ms}")
    query = _items(query_params)
    body = _items(body_params)
    timing = ([("recvWindow", str(recv_window_ms))] if recv_window_ms is not None else []) + [
        ("timestamp", str(timestamp_ms))
    ]
    (body if in_body else query).extend(timing)
    query_string = encode_params(query)
    body_string = encode_params(body)
    signature = percent_encode(signer.signature_param(rest_signature_payload(query_string, body_string)))
    if in_body:
        body_string = f"{body_string}&signature={signature}" if body_string else f"signature={signature}"
    else:
        query_string = f"{query_string}&signature={signature}" if query_string else f"signature={signature}"
    return query_string, body_string


# --- WebSocket API -----------------------------------------------------------------------


def ws_signature_payload(params: Mapping[str, str]) -> str:
    """Sorted ``k=v`` joined with ``&``, no percent-encoding, ``signature`` excluded."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def sign_ws_params(signer: Signer, params: Mapping[str, str], *, timestamp_ms: int) -> dict[str, str]:
    """WS API params with ``apiKey``, ``timestamp`` and ``signature`` added."""
    signed = dict(params)
    signed["apiKey"] = signer.api_key
    signed["timestamp"] = str(timestamp_ms)
    signed["signature"] = signer.sign(ws_signature_payload(signed))
    return signed


def signed_ws_request(
    signer: Signer, request_id: int, method: str, params: Mapping[str, str], *, timestamp_ms: int
) -> bytes:
    """The whole request frame, ``{"id","method","params"}``, params signed as
    :func:`sign_ws_params` signs them. An HMAC key signs and frames it in one compiled
    call (the order path's: decision 0004); other keys, or an install without the
    compiled module, take the Python path, which gives the same bytes."""
    signed = dict(params)
    signed["apiKey"] = signer.api_key
    signed["timestamp"] = str(timestamp_ms)
    if _sign is not None and isinstance(signer, HmacSigner) and signer._native is not None:
        frame: bytes = _sign.ws_request(signer._native, request_id, method, signed)
        return frame
    signed["signature"] = signer.sign(ws_signature_payload(signed))
    return msgspec.json.encode({"id": request_id, "method": method, "params": signed})


def session_logon_params(signer: Ed25519Signer, *, timestamp_ms: int) -> dict[str, str]:
    """``session.logon`` params: only Ed25519 keys may log a WS API session on."""
    return sign_ws_params(signer, {}, timestamp_ms=timestamp_ms)


def fix_logon_raw_data(
    signer: Ed25519Signer, sender_comp_id: str, target_comp_id: str, msg_seq_num: int, sending_time: str
) -> str:
    """RawData(96) of a FIX Logon: Ed25519 over MsgType, SenderCompID, TargetCompID,
    MsgSeqNum and SendingTime joined by SOH (fix-api.md)."""
    payload = "\x01".join(("A", sender_comp_id, target_comp_id, str(msg_seq_num), sending_time))
    return signer.sign_bytes(payload.encode("ascii"))
