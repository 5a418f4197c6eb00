"""``stanchion sim``: prints its URLs (one JSON object with --json), serves, exits 0 on SIGINT/SIGTERM."""

from __future__ import annotations

import json
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
    proc = _start("--json", "--symbols", "BTCUSDT,ETHBTC", "--rate", "5", "--seed", "7")
    try:
        assert proc.stdout is not None
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
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


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
