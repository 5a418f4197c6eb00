"""``_sign``: HMAC-SHA256 and the signed WebSocket API request in C, against hashlib/hmac and the
Python path. The module must be built (``make test`` builds it): a missing one fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.venues.binance import auth
from stanchion.venues.binance._sign import HmacKey, ws_request
from stanchion.venues.binance.auth import Ed25519Signer, HmacSigner, sign_ws_params, signed_ws_request

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "54000.00",
         "quantity": "0.00100", "newClientOrderId": "S01000001000000000001", "newOrderRespType": "RESULT"}


def _python_frame(signer: HmacSigner, request_id: int, method: str, params: dict[str, str], ts: int) -> bytes:
    return msgspec.json.encode({"id": request_id, "method": method,
                                "params": sign_ws_params(signer, params, timestamp_ms=ts)})


def test_the_compiled_module_signs_this_install() -> None:
    assert auth.NATIVE_SIGNING


@pytest.mark.parametrize("key_len", [1, 31, 63, 64, 65, 128, 300])
def test_hmac_equals_the_standard_library_around_every_block_boundary(key_len: int) -> None:
    secret = bytes((i * 37 + key_len) % 256 for i in range(key_len))
    key = HmacKey(secret)
    for n in [*range(0, 130), 183, 184, 1000, 4096]:
        data = bytes((i * 11) % 256 for i in range(n))
        assert key.hexdigest(data) == hmac.new(secret, data, hashlib.sha256).hexdigest(), n


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(min_size=1, max_size=150), data=st.binary(max_size=600))
def test_hmac_equals_the_standard_library_on_any_input(secret: bytes, data: bytes) -> None:
    assert HmacKey(secret).hexdigest(data) == hmac.new(secret, data, hashlib.sha256).hexdigest()


def test_the_rfc4231_vector() -> None:  # RFC 4231 test case 2
    key = HmacKey(b"Jefe")
    assert key.hexdigest(b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_an_order_frame_is_byte_for_byte_the_python_paths() -> None:
    signer = HmacSigner("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", "a-secret")
    frame = signed_ws_request(signer, 42, "order.place", ORDER, timestamp_ms=1_700_000_000_000)
    assert frame == _python_frame(signer, 42, "order.place", ORDER, 1_700_000_000_000)
    params = json.loads(frame)["params"]
    assert list(params)[-3:] == ["apiKey", "timestamp", "signature"]
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
    assert params["signature"] == hmac.new(b"a-secret", payload.encode(), hashlib.sha256).hexdigest()


@settings(max_examples=150, deadline=None)
@given(params=st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k != "signature"),
                              st.text(max_size=20), max_size=12),
       request_id=st.integers(min_value=0, max_value=2**62))
def test_any_params_frame_and_sign_as_the_python_path(params: dict[str, str], request_id: int) -> None:
    signer = HmacSigner("key", "secret")
    params = {k: v for k, v in params.items() if k not in ("apiKey", "timestamp")}
    frame = signed_ws_request(signer, request_id, "order.cancel", params, timestamp_ms=5)
    assert msgspec.json.decode(frame) == msgspec.json.decode(_python_frame(signer, request_id, "order.cancel",
                                                                            params, 5))


def test_escapes_are_json() -> None:
    signer = HmacSigner("key", "secret")
    odd = {"newClientOrderId": 'a"b\\c\n\t\x01\x1f', "note": "é€"}
    frame = signed_ws_request(signer, 1, "order.place", odd, timestamp_ms=9)
    assert frame == _python_frame(signer, 1, "order.place", odd, 9)
    assert json.loads(frame)["params"]["newClientOrderId"] == odd["newClientOrderId"]


def test_the_key_never_shows_and_never_pickles() -> None:
    key = HmacKey(b"super-secret-value")
    assert "super" not in repr(key) and "super" not in str(key) and repr(key) == "HmacKey(<redacted>)"
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(key)
    signer = HmacSigner("key", "super-secret-value")
    assert "super" not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_bad_arguments_are_refused_clearly() -> None:
    key = HmacKey(b"k")
    with pytest.raises(ValueError, match="non-empty secret"):
        HmacKey(b"")
    with pytest.raises(TypeError):
        ws_request(key, 1, "order.place", {"price": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        ws_request(object(), 1, "order.place", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already carry a signature"):
        ws_request(key, 1, "order.place", {"signature": "x"})
    with pytest.raises(ValueError, match="more than 64"):
        ws_request(key, 1, "m", {f"k{i}": "v" for i in range(65)})


def test_an_ed25519_key_takes_the_python_path_and_verifies() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    frame = signed_ws_request(Ed25519Signer("edkey", pem), 3, "order.place", ORDER, timestamp_ms=11)
    params = json.loads(frame)["params"]
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
    private.public_key().verify(base64.b64decode(params["signature"]), payload.encode())
