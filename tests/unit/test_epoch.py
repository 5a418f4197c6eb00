"""The epoch store survives restarts and never goes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from stanchion.core.errors import ConfigError
from stanchion.persistence.epoch import EpochStore


def test_epochs_increase_across_instances(tmp_path: Path) -> None:
    assert EpochStore(tmp_path, 0).current() == 0
    assert EpochStore(tmp_path, 0).next_epoch() == 1
    assert EpochStore(tmp_path, 0).next_epoch() == 2
    assert EpochStore(tmp_path, 1).next_epoch() == 1  # shards are independent
    assert EpochStore(tmp_path, 0).current() == 2


def test_corrupt_epoch_file_is_a_clear_error(tmp_path: Path) -> None:
    store = EpochStore(tmp_path, 0)
    store.path.write_text("garbage")
    with pytest.raises(ConfigError, match="corrupt epoch file"):
        store.next_epoch()
