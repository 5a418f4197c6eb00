"""Suite-wide settings: `long` tests run only when asked for (make chaos)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    if "long" in markexpr:
        return
    skip_long = pytest.mark.skip(reason="long run: `make chaos` (pytest -m long)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip_long)
