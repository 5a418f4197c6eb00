"""``stanchion run``: the embedded default starts, trades, shows its view and stops cleanly."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from stanchion.cli.main import main; main()", "run"]
EPHEMERAL = ["--metrics-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]


def _read_until(stream: int, pattern: re.Pattern[bytes], timeout_s: float, seen: bytearray) -> bool:
    """Read ``stream`` (a raw fd) into ``seen`` until ``pattern`` matches or the time is up."""
    deadline = time.monotonic() + timeout_s
    while not pattern.search(seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([stream], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(stream, 65536)
        except OSError:  # pty closed
            return False
        if not chunk:
            return False
        seen.extend(chunk)
    return True


def test_headless_duration_exits_zero_and_prints_a_summary(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "--headless", "--duration", "6", *EPHEMERAL], capture_output=True, text=True, timeout=120,
        check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "stanchion run: sim" in out
    orders = int(re.search(r"orders sent: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert orders > 0, out
    for field in ("fills:", "PnL:", "tick-to-order latency: p50", "reconnects:", "position binance:BTCUSDT",
                  "book binance:ETHUSDT: LIVE"):
        assert field in out, out
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_exit_zero(sig: signal.Signals, tmp_path: Path) -> None:
    with subprocess.Popen(
        [*CLI, "--headless", *EPHEMERAL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    ) as proc:
        try:
            assert proc.stderr is not None
            seen = bytearray()
            assert _read_until(proc.stderr.fileno(), re.compile(rb"phase\W+ready|ready\W+phase"), 60, seen), seen[-2000:]
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert proc.returncode == 0, (seen + stderr)[-3000:]
    text = stdout.decode()
    assert "orders sent:" in text and "ready=True" in text
    assert re.search(rb"phase\W+stopped", stderr), stderr[-2000:]


def test_live_view_on_a_terminal_then_ctrl_c(tmp_path: Path) -> None:
    """What ``make run`` shows: the live view (connections, books, orders, positions), then Ctrl-C → exit 0."""
    main_fd, child_fd = pty.openpty()
    with subprocess.Popen(
        [*CLI, *EPHEMERAL, "--state-dir", str(tmp_path / "state")], stdin=child_fd, stdout=child_fd,
        stderr=child_fd, cwd=tmp_path, close_fds=True,
    ) as proc:
        os.close(child_fd)
        seen = bytearray()
        try:
            assert _read_until(main_fd, re.compile(rb"READY.*Books|Books.*READY", re.S), 60, seen), seen[-3000:]
            assert _read_until(main_fd, re.compile(rb"Positions"), 20, seen), seen[-3000:]
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
            _read_until(main_fd, re.compile(rb"orders sent: \d+"), 5, seen)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            os.close(main_fd)
    assert proc.returncode == 0, seen[-3000:].decode(errors="replace")
    assert b"tick\xe2\x86\x92order" in seen  # the header's latency figures
    assert b"Traceback" not in seen
    assert (tmp_path / "state" / "stanchion.log").stat().st_size > 0  # logs went to the file, not the screen


def test_missing_config_is_one_clear_line_and_exit_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "--config", "nope.yaml", "--headless"], capture_output=True, text=True, timeout=60, check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_is_rejected_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: sim\nvenues: {}\n")
    result = subprocess.run(
        [*CLI, "--config", str(bad), "--headless"], capture_output=True, text=True, timeout=60, check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--duration", "-1"], ["--shard", "-2"], ["--bogus"]])
def test_bad_arguments_exit_two(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_shard_is_a_config_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "--headless", "--shard", "7", *EPHEMERAL], capture_output=True, text=True, timeout=60, check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "shard 7 is not in the config" in result.stderr
    assert "Traceback" not in result.stderr
