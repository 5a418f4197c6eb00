"""The append-only journal: every state change, the intent before the side effect.

Two tiers, so the hot path pays about a microsecond and a ``kill -9`` at any
point loses nothing that was appended:

1. **Segment files** (``<dir>/segments/<first-seq>.log``): :meth:`Journal.append`
   writes one framed record with a single ``os.write`` on an ``O_APPEND`` file
   descriptor before returning. Once ``write`` returns, the bytes are in the
   kernel and survive the death of the process (not of the machine: set
   ``fsync_interval_s`` to bound that window too).
2. **SQLite in WAL mode** (``<dir>/journal.sqlite``): a writer thread takes the
   same records from an in-memory queue and inserts them in batches, one
   transaction per batch, off the event loop. This is the queryable history.
   The writer wakes on its own clock (every ``flush_interval_s``), not on each
   append: a thread woken by the append would contend for the GIL with the
   rest of the tick that appended (the order's signing and send), which
   measured ~25 % of the engine's tick-to-order latency.

On open, :meth:`Journal.recover` reads SQLite, then every segment record with
a higher sequence number (those appended but not yet batched when the process
died), inserts them, and returns the whole history in order. A torn frame at
the end of the last segment (the process died inside ``write``) is detected by
length and CRC and dropped — it was never acknowledged to the caller.

Frame: ``>I`` length of the payload, ``>I`` CRC32 of the payload, payload =
``>Q`` seq, ``>Q`` wall ns, ``>H`` kind length, kind (UTF-8), ``>H`` key length,
key (UTF-8), body (the rest).
"""

from __future__ import annotations

import itertools
import os
import queue
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stanchion.core.errors import LocalFatalError

_HEADER = struct.Struct(">II")
_FIXED = struct.Struct(">QQH")
_LEN16 = struct.Struct(">H")
MAX_RECORD_BYTES = 4 * 1024 * 1024


class JournalError(LocalFatalError):
    """The journal cannot guarantee durability; the engine must stop trading."""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    ts_ns: int
    kind: str
    key: str
    body: bytes


def encode_frame(record: JournalRecord) -> bytes:
    kind = record.kind.encode()
    key = record.key.encode()
    payload = b"".join(
        (_FIXED.pack(record.seq, record.ts_ns, len(kind)), kind, _LEN16.pack(len(key)), key, record.body)
    )
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_frames(data: bytes) -> tuple[list[JournalRecord], int]:
    """Decode consecutive frames; returns the records and the offset of the first
    byte that is not a whole, valid frame (== len(data) when all is well)."""
    records: list[JournalRecord] = []
    offset = 0
    end = len(data)
    while offset + _HEADER.size <= end:
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if length > MAX_RECORD_BYTES or start + length > end:
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc or length < _FIXED.size + _LEN16.size:
            break
        seq, ts_ns, kind_len = _FIXED.unpack_from(payload, 0)
        pos = _FIXED.size
        kind = payload[pos : pos + kind_len].decode()
        pos += kind_len
        (key_len,) = _LEN16.unpack_from(payload, pos)
        pos += _LEN16.size
        key = payload[pos : pos + key_len].decode()
        pos += key_len
        records.append(JournalRecord(seq, ts_ns, kind, key, payload[pos:]))
        offset = start + length
    return records, offset


_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq   INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind  TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    body  BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_kind_key ON journal(kind, key);
"""


class Journal:
    """Append-only journal. One instance per engine shard; one writer thread."""

    def __init__(
        self,
        directory: Path,
        *,
        batch_max: int = 512,
        flush_interval_s: float = 0.005,
        segment_bytes: int = 64 * 1024 * 1024,
        fsync_interval_s: float | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.directory = directory
        self._segments = directory / "segments"
        self._db_path = directory / "journal.sqlite"
        self._batch_max = batch_max
        self._flush_interval_s = flush_interval_s
        self._segment_bytes = segment_bytes
        self._fsync_interval_s = fsync_interval_s
        self._clock_ns = clock_ns
        self._queue: queue.SimpleQueue[JournalRecord | None] = queue.SimpleQueue()
        self._seq = 0
        self._ingested = 0
        self._errors = 0
        self._last_error: str | None = None
        self._fd: int | None = None
        self._segment_size = 0
        self._thread: threading.Thread | None = None
        self._ingested_cond = threading.Condition()
        self._stop = threading.Event()
        self._opened = False

    # --- lifecycle ---------------------------------------------------------------------

    def open(self) -> list[JournalRecord]:
        """Recover the history (see the module doc), start the writer; returns all records."""
        if self._opened:
            raise JournalError("journal already open")
        self._segments.mkdir(parents=True, exist_ok=True)
        history = self._recover()
        self._seq = history[-1].seq if history else 0
        self._ingested = self._seq
        self._open_segment(self._seq + 1)
        self._stop.clear()
        self._thread = threading.Thread(target=self._writer, name="journal-writer", daemon=True)
        self._thread.start()
        self._opened = True
        return history

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush everything to SQLite and stop the writer."""
        if not self._opened:
            return
        self._queue.put(None)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise JournalError("journal writer did not stop in time")
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        self._opened = False

    # --- hot path ----------------------------------------------------------------------

    def append(self, kind: str, key: str, body: bytes) -> int:
        """Append a record; when this returns the record survives ``kill -9``."""
        fd = self._fd
        if fd is None:
            raise JournalError("journal is not open")
        self._seq += 1
        record = JournalRecord(self._seq, self._clock_ns(), kind, key, body)
        frame = encode_frame(record)
        try:
            written = os.write(fd, frame)
        except OSError as exc:
            self._errors += 1
            self._last_error = f"segment write failed: {exc.strerror}"
            self._seq -= 1
            raise JournalError(self._last_error) from exc
        if written != len(frame):  # a short write on a regular file means the disk is full
            self._errors += 1
            self._last_error = "short write to segment (disk full?)"
            raise JournalError(self._last_error)
        self._segment_size += written
        self._queue.put(record)
        if self._segment_size >= self._segment_bytes:
            self._open_segment(self._seq + 1)
        return self._seq

    # --- waiting and stats --------------------------------------------------------------

    def wait_ingested(self, seq: int, timeout_s: float = 5.0) -> bool:
        """Block (a thread, not the loop) until ``seq`` is in SQLite."""
        deadline = time.monotonic() + timeout_s
        with self._ingested_cond:
            while self._ingested < seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ingested_cond.wait(remaining)
        return True

    @property
    def last_seq(self) -> int:
        return self._seq

    def statistics(self) -> dict[str, object]:
        return {
            "last_seq": self._seq,
            "ingested_seq": self._ingested,
            "lag_records": self._seq - self._ingested,
            "errors": self._errors,
            "last_error": self._last_error,
        }

    def read_all(self) -> Iterator[JournalRecord]:
        """Read the SQLite history (what the writer has ingested), in order."""
        with sqlite3.connect(self._db_path) as conn:
            for row in conn.execute("SELECT seq, ts_ns, kind, key, body FROM journal ORDER BY seq"):
                yield JournalRecord(*row)

    # --- internals ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    def _segment_files(self) -> list[Path]:
        files = [p for p in self._segments.glob("*.log") if p.stem.isdigit()]
        return sorted(files, key=lambda p: int(p.stem))

    def _open_segment(self, first_seq: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
        path = self._segments / f"{first_seq:020d}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_size = os.fstat(self._fd).st_size
        dir_fd = os.open(self._segments, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _recover(self) -> list[JournalRecord]:
        conn = self._connect()
        try:
            rows = conn.execute("SELECT seq, ts_ns, kind, key, body FROM journal ORDER BY seq").fetchall()
            history = [JournalRecord(*row) for row in rows]
            last = history[-1].seq if history else 0
            missing: list[JournalRecord] = []
            files = self._segment_files()
            for index, path in enumerate(files):
                data = path.read_bytes()
                records, good = decode_frames(data)
                if good != len(data):
                    if index != len(files) - 1:
                        raise JournalError(f"{path.name}: corrupt record in the middle of the journal")
                    # torn tail of the last segment: the append never returned; drop it
                    with path.open("r+b") as handle:
                        handle.truncate(good)
                missing.extend(r for r in records if r.seq > last)
            expected = last + 1
            for record in missing:
                if record.seq != expected:
                    raise JournalError(f"journal gap: expected seq {expected}, found {record.seq}")
                expected += 1
            if missing:
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT OR IGNORE INTO journal(seq, ts_ns, kind, key, body) VALUES (?, ?, ?, ?, ?)",
                    [(r.seq, r.ts_ns, r.kind, r.key, r.body) for r in missing],
                )
                conn.execute("COMMIT")
            history.extend(missing)
            self._prune_segments(history[-1].seq if history else 0)
            return history
        finally:
            conn.close()

    def _prune_segments(self, ingested: int) -> None:
        """Delete segments whose every record is in SQLite (all but the newest)."""
        files = self._segment_files()
        for current, following in itertools.pairwise(files):
            if int(following.stem) - 1 <= ingested:
                current.unlink(missing_ok=True)

    def _writer(self) -> None:
        conn = self._connect()
        last_fsync = time.monotonic()
        pending: list[JournalRecord] = []  # kept across failures: order is preserved
        stopping = False
        try:
            while not stopping or pending:
                if not stopping:
                    stopping = self._collect(pending)
                if pending and self._ingest(conn, pending):
                    pending = []
                elif pending and stopping:
                    break  # SQLite keeps failing; the segments hold the records for recovery
                if self._fsync_interval_s is not None and time.monotonic() - last_fsync >= self._fsync_interval_s:
                    fd = self._fd
                    if fd is not None:
                        os.fsync(fd)
                    last_fsync = time.monotonic()
            self._prune_segments(self._ingested)
        finally:
            conn.close()

    def _collect(self, pending: list[JournalRecord]) -> bool:
        """Move up to a batch of queued records; True when told to stop.

        With nothing queued it sleeps until the next flush tick (or a stop): the
        writer is not woken by :meth:`append`, so it does not take the GIL in
        the middle of the tick that appended.
        """
        if self._queue.empty():
            self._stop.wait(self._flush_interval_s)
        while len(pending) < self._batch_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            pending.append(item)
        return False

    def _ingest(self, conn: sqlite3.Connection, batch: list[JournalRecord]) -> bool:
        try:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR IGNORE INTO journal(seq, ts_ns, kind, key, body) VALUES (?, ?, ?, ?, ?)",
                [(r.seq, r.ts_ns, r.kind, r.key, r.body) for r in batch],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The records are safe in the segment; they are retried in order.
            self._errors += 1
            self._last_error = f"sqlite batch failed: {exc}"
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                self._last_error += " (rollback failed)"
            time.sleep(self._flush_interval_s)  # writer thread only: back off before retrying
            return False
        with self._ingested_cond:
            self._ingested = batch[-1].seq
            self._ingested_cond.notify_all()
        return True
