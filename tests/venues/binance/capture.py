"""Reader for the real Binance capture in ../shared/fixtures (see its PROVENANCE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
CAPTURE = REPO_ROOT.parent / "shared" / "fixtures" / "binance-cryptofeed-capture"


def capture_dir() -> Path:
    """The capture folder; fails (never skips) with a clear message when absent."""
    if not (CAPTURE / "BINANCE.ws.1.0").is_file():
        pytest.fail(
            f"Binance capture not found at {CAPTURE} (expected the shared fixtures folder next to the "
            "repository: ../shared/fixtures/binance-cryptofeed-capture)"
        )
    return CAPTURE


@dataclass(frozen=True)
class HttpRecord:
    url: str
    received: float
    body: bytes

    @property
    def symbol(self) -> str:
        return parse_qs(urlparse(self.url).query)["symbol"][0]


def read_http(path: Path) -> list[HttpRecord]:
    """``<url> -> <unix time>: <body>`` per line."""
    records = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        head, _, body = line.partition(b": ")
        url, _, received = head.decode().partition(" -> ")
        records.append(HttpRecord(url, float(received), body))
    return records


def read_ws(path: Path) -> list[tuple[float, bytes]]:
    """First line names the URL; then ``<unix time>: <frame>`` per line."""
    lines = path.read_bytes().split(b"\n")
    frames = []
    for line in lines[1:]:
        if not line.strip():
            continue
        received, _, frame = line.partition(b": ")
        frames.append((float(received), frame))
    return frames
