"""Signing reproduces the official worked examples exactly (protocols.md §1c)."""

from __future__ import annotations

import base64
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from stanchion.core.errors import ConfigError
from stanchion.venues.binance.auth import (
    Ed25519Signer,
    HmacSigner,
    fix_logon_raw_data,
    percent_encode,
    session_logon_params,
    sign_rest,
    sign_ws_params,
    ws_signature_payload,
)

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ORDER = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1")]
# The Ed25519 example key published in Binance's fix-api.md ("for illustrative purposes").
FIX_DOC_KEY = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def hmac_signer() -> HmacSigner:
    return HmacSigner(API_KEY, SECRET)


def test_rest_hmac_example_query_string(hmac_signer: HmacSigner) -> None:
    query, body = sign_rest(hmac_signer, ORDER, timestamp_ms=1499827319559)
    assert body == ""
    assert query == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_rest_hmac_example_body_only(hmac_signer: HmacSigner) -> None:
    query, body = sign_rest(hmac_signer, (), ORDER, timestamp_ms=1499827319559, in_body=True)
    assert query == ""
    assert body.endswith("&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")


def test_rest_hmac_non_ascii_is_percent_encoded_before_signing(hmac_signer: HmacSigner) -> None:
    order = [("symbol", "１２３４５６"), *ORDER[1:]]
    query, _ = sign_rest(hmac_signer, order, timestamp_ms=1499827319559)
    assert query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert query.endswith("signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")


def test_rest_hmac_legacy_mixed_query_and_body_concatenates_without_separator(hmac_signer: HmacSigner) -> None:
    query, body = sign_rest(hmac_signer, ORDER[:4], ORDER[4:], timestamp_ms=1499827319559, in_body=True)
    assert query == "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    assert body.endswith("signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")


def test_ws_api_hmac_examples(hmac_signer: HmacSigner) -> None:
    ascii_params = {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01000000", "price": "52000.00", "recvWindow": "100",
    }
    signed = sign_ws_params(hmac_signer, ascii_params, timestamp_ms=1645423376532)
    assert ws_signature_payload(signed) == (
        f"apiKey={API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert signed["signature"] == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    # Non-ASCII: UTF-8, no percent-encoding. (The doc's JSON shows quantity 0.01000000
    # but its signed payload uses 1.00000000; only the latter verifies.)
    non_ascii = {
        "symbol": "１２３４５６", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "1.00000000", "price": "0.10000000", "recvWindow": "5000",
    }
    signed = sign_ws_params(hmac_signer, non_ascii, timestamp_ms=1645423376532)
    assert signed["signature"] == "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_ed25519_reproduces_the_fix_logon_example() -> None:
    signer = Ed25519Signer("EXAMPLE-KEY", FIX_DOC_KEY)
    raw = fix_logon_raw_data(signer, "EXAMPLE", "SPOT", 1, "20240627-11:17:25.223")
    assert raw == "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA=="
    assert len(raw) == 88  # RawDataLength(95)


def test_ed25519_rest_signature_is_base64_then_percent_encoded() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    signer = Ed25519Signer("my-key", pem)
    query, _ = sign_rest(signer, ORDER, timestamp_ms=1499827319559)
    payload, _, encoded = query.rpartition("&signature=")
    assert "+" not in encoded and "/" not in encoded and "=" not in encoded
    signature = base64.b64decode(unquote(encoded))
    public: Ed25519PublicKey = key.public_key()
    public.verify(signature, payload.encode())  # raises if wrong


def test_session_logon_signs_sorted_params_with_ed25519() -> None:
    key = Ed25519PrivateKey.generate()
    signer = Ed25519Signer("my-key", key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    params = session_logon_params(signer, timestamp_ms=1649729878532)
    assert params["apiKey"] == "my-key" and params["timestamp"] == "1649729878532"
    key.public_key().verify(base64.b64decode(params["signature"]), b"apiKey=my-key&timestamp=1649729878532")


def test_secrets_never_show_in_repr_str_or_errors() -> None:
    signer = HmacSigner(API_KEY, SECRET)
    for text in (repr(signer), str(signer), f"{signer}"):
        assert SECRET not in text and API_KEY not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(signer)
    ed = Ed25519Signer("k" * 20, FIX_DOC_KEY)
    assert "MC4CAQ" not in repr(ed)
    with pytest.raises(ConfigError) as info:
        Ed25519Signer("k", b"-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n")
    assert "not-a-key" not in str(info.value) and info.value.__cause__ is None
    with pytest.raises(ConfigError):
        HmacSigner("", SECRET)


def test_percent_encoding_keeps_only_unreserved_characters() -> None:
    assert percent_encode("a-b_c.d~e") == "a-b_c.d~e"
    assert percent_encode("a b+c/d=e&") == "a%20b%2Bc%2Fd%3De%26"


def test_recv_window_bounds_are_enforced(hmac_signer: HmacSigner) -> None:
    with pytest.raises(ValueError, match="recvWindow"):
        sign_rest(hmac_signer, ORDER, timestamp_ms=1, recv_window_ms=60_001)
