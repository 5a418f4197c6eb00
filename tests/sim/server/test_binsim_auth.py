"""Signature checks against the official worked examples (protocols.md §1c), and the timestamp rule."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stanchion.sim.binance import auth
from stanchion.sim.binance.apierror import BinanceApiError
from stanchion.sim.binance.config import KeySpec

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ORDER = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"


@pytest.fixture
def store() -> auth.KeyStore:
    return auth.KeyStore((KeySpec(DOC_KEY, DOC_SECRET, account="doc"),))


def test_rest_hmac_doc_example_in_query(store: auth.KeyStore) -> None:
    payload, sig = auth.rest_payload(ORDER + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71", "")
    assert payload == ORDER
    assert sig is not None
    assert store.lookup(DOC_KEY).verify(payload, sig)
    assert store.lookup(DOC_KEY).verify(payload, sig.upper())  # hex is case-insensitive
    assert not store.lookup(DOC_KEY).verify(payload + "0", sig)


def test_rest_hmac_doc_example_in_body(store: auth.KeyStore) -> None:
    payload, sig = auth.rest_payload("", ORDER + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
    assert sig is not None and store.lookup(DOC_KEY).verify(payload, sig)


def test_rest_hmac_legacy_query_plus_body_concatenated_without_separator(store: auth.KeyStore) -> None:
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    payload, sig = auth.rest_payload(query, body + "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")
    assert payload == query + body
    assert sig is not None and store.lookup(DOC_KEY).verify(payload, sig)


@pytest.mark.parametrize("raw_symbol", ["１２３４５６", "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"])
def test_rest_hmac_non_ascii_is_percent_encoded_before_signing(store: auth.KeyStore, raw_symbol: str) -> None:
    rest = "&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    payload, got = auth.rest_payload(f"symbol={raw_symbol}{rest}&signature={sig}", "")
    assert payload.startswith("symbol=%EF%BC%91")
    assert got == sig and store.lookup(DOC_KEY).verify(payload, sig)


def test_ws_api_sorted_params_doc_example(store: auth.KeyStore) -> None:
    params = {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
        "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532, "apiKey": DOC_KEY,
        "signature": "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
    }
    payload = auth.ws_payload(params)
    assert payload.startswith("apiKey=vmPUZ") and "signature" not in payload
    assert store.lookup(DOC_KEY).verify(payload, str(params["signature"]))


def test_ed25519_rest_signature_base64_percent_encoded() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    store = auth.KeyStore((KeySpec("edkey1", pem.decode(), key_type="ed25519"),))
    sig = base64.b64encode(private.sign(ORDER.encode())).decode()
    assert store.lookup("edkey1").verify(ORDER, sig)
    assert not store.lookup("edkey1").verify(ORDER, sig[:-4] + "AAA=")
    assert not store.lookup("edkey1").verify(ORDER, "not base64!")


def test_key_errors(store: auth.KeyStore) -> None:
    with pytest.raises(BinanceApiError) as missing:
        store.lookup(None)
    assert missing.value.code == -2014
    with pytest.raises(BinanceApiError) as unknown:
        store.lookup("A" * 64)
    assert unknown.value.code == -2015 and unknown.value.msg == "Invalid API-key, IP, or permissions for action."


def test_timestamp_window_rules() -> None:
    server = 1_700_000_000_000
    auth.check_timestamp(str(server - 5000), None, server)  # exactly recvWindow old: accepted
    auth.check_timestamp(str(server + 999), None, server)  # < server + 1000: accepted
    auth.check_timestamp(str((server - 100) * 1000), "0.5", server - 100)  # microseconds, fractional window
    with pytest.raises(BinanceApiError) as old:
        auth.check_timestamp(str(server - 5001), None, server)
    assert (old.value.code, old.value.msg) == (-1021, "Timestamp for this request is outside of the recvWindow.")
    with pytest.raises(BinanceApiError) as ahead:
        auth.check_timestamp(str(server + 1000), None, server)
    assert ahead.value.msg == "Timestamp for this request was 1000ms ahead of the server's time."
    with pytest.raises(BinanceApiError) as big:
        auth.check_timestamp(str(server), "60001", server)
    assert big.value.code == -1131
    with pytest.raises(BinanceApiError) as bad:
        auth.check_timestamp("12ab", None, server)
    assert bad.value.code == -1100
