"""Secrets never reach logs, reprs or error text; logs are one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
from pathlib import Path

import pytest

from stanchion.core.errors import SecretError
from stanchion.core.redaction import forget_secrets, redact_text, register_secret
from stanchion.observability.logging import configure_logging, get_logger
from stanchion.security.secrets import Secret, SecretResolver, SecretSpec

SECRET = "Zq8-very-secret-value-42"


@pytest.fixture(autouse=True)
def _clean_registry() -> None:
    forget_secrets()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_with_level_and_timestamp() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    get_logger("test").info("order_sent", client_order_id="S00000001", qty="0.5")
    [event] = _lines(out)
    assert event["event"] == "order_sent"
    assert event["level"] == "info"
    assert event["client_order_id"] == "S00000001"
    assert "timestamp" in event


def test_secret_keys_are_redacted_at_any_depth() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    get_logger().info(
        "request",
        api_key="AKEY1234567",
        params={"symbol": "BTCUSDT", "signature": "abcdef0123", "nested": {"api_secret": "s3cr3t!!"}},
        headers=[{"X-MBX-APIKEY": "k-123456"}],
    )
    [event] = _lines(out)
    assert event["api_key"] == "***"
    params = event["params"]
    assert isinstance(params, dict)
    assert params["signature"] == "***" and params["symbol"] == "BTCUSDT"
    assert params["nested"] == {"api_secret": "***"}
    assert event["headers"] == [{"X-MBX-APIKEY": "***"}]


def test_registered_values_are_scrubbed_everywhere_including_tracebacks() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    Secret(SECRET, "file:/tmp/x")
    log = get_logger()
    log.info("oops", detail=f"url=https://x/?k={SECRET}&a=1")
    try:
        raise RuntimeError(f"bad key {SECRET}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("aiohttp.client").warning("stdlib says %s", SECRET)
    text = out.getvalue()
    assert SECRET not in text
    assert text.count("***") >= 3
    events = _lines(out)
    assert events[0]["detail"] == "url=https://x/?k=***&a=1"
    assert "RuntimeError: bad key ***" in str(events[1]["exception"])


def test_secret_repr_never_shows_value() -> None:
    secret = Secret(SECRET, "dev-env:X")
    assert SECRET not in repr(secret) and SECRET not in str(secret) and SECRET not in f"{secret}"
    assert secret.reveal() == SECRET
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert redact_text("abc abc") == "abc abc"


def test_file_provider_plain_and_json(tmp_path: Path) -> None:
    plain = tmp_path / "token"
    plain.write_text(SECRET + "\n")
    doc = tmp_path / "keys.json"
    doc.write_text(json.dumps({"api_key": "key-abcdef", "api_secret": SECRET}))
    resolver = SecretResolver()
    assert resolver.resolve(SecretSpec("file", str(plain))).reveal() == SECRET
    assert resolver.resolve(SecretSpec("file", str(doc), "api_secret")).reveal() == SECRET


@pytest.mark.parametrize(
    ("setup", "spec_key", "message"),
    [
        ("missing", None, "file not found"),
        ("world_writable", None, "writable by other users"),
        ("not_json", "api_secret", "not a JSON object"),
        ("json_without_key", "api_secret", "key not present"),
        ("empty", None, "secret is empty"),
    ],
)
def test_file_provider_errors_never_quote_content(
    tmp_path: Path, setup: str, spec_key: str | None, message: str
) -> None:
    path = tmp_path / "s"
    if setup == "world_writable":
        path.write_text(SECRET)
        os.chmod(path, 0o666)
    elif setup == "not_json":
        path.write_text(SECRET)
    elif setup == "json_without_key":
        path.write_text(json.dumps({"other": SECRET}))
    elif setup == "empty":
        path.write_text("\n")
    with pytest.raises(SecretError, match=message) as info:
        SecretResolver().resolve(SecretSpec("file", str(path), spec_key))
    assert SECRET not in str(info.value)


def test_dev_env_and_unknown_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANCHION_TEST_SECRET", SECRET)
    resolver = SecretResolver()
    assert resolver.resolve(SecretSpec("dev-env", "STANCHION_TEST_SECRET")).reveal() == SECRET
    with pytest.raises(SecretError, match="environment variable is not set"):
        resolver.resolve(SecretSpec("dev-env", "STANCHION_TEST_MISSING"))
    with pytest.raises(SecretError, match="not configured in this process"):
        resolver.resolve(SecretSpec("aws-secretsmanager", "trading/keys"))


def test_foreign_provider_errors_are_translated_without_text() -> None:
    def leaky(spec: SecretSpec) -> str:
        raise RuntimeError(f"connection to vault failed, token={SECRET}")

    resolver = SecretResolver({"aws-secretsmanager": leaky})
    with pytest.raises(SecretError) as info:
        resolver.resolve(SecretSpec("aws-secretsmanager", "x"))
    assert SECRET not in str(info.value)
    assert "provider failed (RuntimeError)" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
