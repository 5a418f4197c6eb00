"""A durable, strictly increasing start counter per shard: the epoch of client order ids.

``next_epoch()`` reads the last epoch, writes last+1 to a temporary file,
fsyncs it, renames it over the old one and fsyncs the directory — all before
the first order of the process — so a restarted shard never re-issues an id,
whatever the journal lost.
"""

from __future__ import annotations

import os
from pathlib import Path

from stanchion.core.errors import ConfigError


class EpochStore:
    def __init__(self, directory: Path, shard: int) -> None:
        self._path = directory / f"epoch-shard-{shard}"

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        if not text.isdigit():
            raise ConfigError(f"{self._path}: corrupt epoch file (expected an integer)")
        return int(text)

    def next_epoch(self) -> int:
        epoch = self.current() + 1
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("w", encoding="ascii") as handle:
            handle.write(f"{epoch}\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return epoch
