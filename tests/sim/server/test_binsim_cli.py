"""``stanchion sim``: prints its URLs (one JSON object with --json), serves, exits 0 on SIGINT/SIGTERM."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stanchion.sim.binance.config import DEFAULT_API_KEY


def _start(*args: str) -> subprocess.Popen[str]:
    code = "from stanchion.cli.main import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "sim", "--venue", "binance", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_urls_serves_and_exits_zero(sig: signal.Signals) -> None:
    # The context manager closes both pipes whatever happens (no unclosed-file ResourceWarning under -W error).
    with _start("--json", "--symbols", "BTCUSDT,ETHBTC", "--rate", "5", "--seed", "7") as proc:
        try:
            _check_serves_and_exits(proc, sig)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def _check_serves_and_exits(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    assert proc.stdout is not None
    # Bounded wait for the first line: a child that never prints fails the test instead of hanging it.
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "stanchion sim printed nothing within 60 s"
    line = proc.stdout.readline()
    info = json.loads(line)
    assert set(info) >= {"rest", "ws_streams", "ws_api", "control", "api_key"}
    assert info["rest"].startswith("http://127.0.0.1:") and info["ws_api"].endswith("/ws-api/v3")
    assert info["api_key"] == DEFAULT_API_KEY
    with urllib.request.urlopen(info["rest"] + "/api/v3/exchangeInfo", timeout=5) as r:
        symbols = [s["symbol"] for s in json.loads(r.read())["symbols"]]
    assert symbols == ["BTCUSDT", "ETHBTC"]
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-c", "from stanchion.cli.main import main; main()", "sim", "--symbols", "btc-usdt"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert bad.returncode == 2 and "symbol" in bad.stderr and "Traceback" not in bad.stderr
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: [{api_key: k1, type: hmac}]\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-c", "from stanchion.cli.main import main; main()", "sim", "--keys", str(keys)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert bad.returncode == 2 and "needs api_key and secret" in bad.stderr and "Traceback" not in bad.stderr
