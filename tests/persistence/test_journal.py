"""Journal: nothing appended is lost across kill -9; torn tails are dropped; corruption is loud."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stanchion.persistence.journal import Journal, JournalError, JournalRecord, decode_frames, encode_frame


def test_append_close_reopen(tmp_path: Path) -> None:
    journal = Journal(tmp_path, batch_max=3)
    assert journal.open() == []
    seqs = [journal.append("order.intent", f"S{i}", f"body-{i}".encode()) for i in range(10)]
    assert seqs == list(range(1, 11))
    assert journal.wait_ingested(10)
    journal.close()
    assert [r.seq for r in journal.read_all()] == seqs
    again = Journal(tmp_path)
    history = again.open()
    assert [(r.seq, r.key, r.body) for r in history] == [(i + 1, f"S{i}", f"body-{i}".encode()) for i in range(10)]
    assert again.append("x", "y", b"") == 11
    again.close()


def test_frames_round_trip_and_torn_tail_detected() -> None:
    records = [JournalRecord(i, 1000 + i, "fill", f"k{i}", os.urandom(i * 7)) for i in range(1, 6)]
    data = b"".join(encode_frame(r) for r in records)
    decoded, good = decode_frames(data)
    assert decoded == records and good == len(data)
    for cut in range(1, 30):
        partial, good = decode_frames(data[:-cut])
        assert partial == records[:-1] and good < len(data) - cut + 1
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    decoded, _ = decode_frames(bytes(flipped))
    assert decoded == records[:-1]  # CRC catches the corruption


def test_recovery_ingests_segment_records_missing_from_sqlite(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    journal.append("k", "0", b"v")
    journal.close()
    # Records appended to the segment by a process that died before its writer
    # ingested them: written straight to the newest segment file.
    [segment] = sorted((tmp_path / "segments").glob("*.log"))
    with segment.open("ab") as handle:
        for seq in range(2, 6):
            handle.write(encode_frame(JournalRecord(seq, 0, "k", str(seq), b"v")))
        handle.write(encode_frame(JournalRecord(6, 0, "k", "6", b"torn"))[:-5])  # died inside write()
    recovered = Journal(tmp_path)
    assert [r.seq for r in recovered.open()] == [1, 2, 3, 4, 5]
    assert recovered.append("k", "next", b"") == 6  # the torn record's seq is reused: it was never acked
    recovered.close()
    assert [r.seq for r in Journal(tmp_path).read_all()] == [1, 2, 3, 4, 5, 6]


def test_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=100)  # a new segment every few records
    journal.open()
    for i in range(20):
        journal.append("k", str(i), b"x" * 40)
    journal.close()
    # Reopen with segments restored: write a garbage segment before the last one.
    segments = sorted((tmp_path / "segments").glob("*.log"))
    assert segments, "the newest segment is always kept"
    bad = tmp_path / "segments" / f"{1:020d}.log"
    bad.write_bytes(b"\x00\x00\x00\x10garbage-garbage-garbage")
    (tmp_path / "journal.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "journal.sqlite") + suffix).unlink(missing_ok=True)
    with pytest.raises(JournalError, match=r"corrupt record in the middle|journal gap"):
        Journal(tmp_path).open()


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from stanchion.persistence.journal import Journal
    journal = Journal(Path(sys.argv[1]), flush_interval_s=0.05)
    journal.open()
    seq = 0
    while True:
        seq = journal.append("order.intent", f"S{seq}", b"x" * 300)
        sys.stdout.write(f"{seq}\\n")
        sys.stdout.flush()
    """
)


@pytest.mark.parametrize("kill_after", [1, 50, 2_000])
def test_kill_minus_nine_loses_nothing_acknowledged(tmp_path: Path, kill_after: int) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, bufsize=1
    ) as child:
        assert child.stdout is not None
        acknowledged = 0
        for line in child.stdout:
            acknowledged = int(line)
            if acknowledged >= kill_after:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    journal = Journal(tmp_path)
    history = journal.open()
    seqs = [r.seq for r in history]
    assert seqs == list(range(1, len(seqs) + 1)), "contiguous, no duplicates"
    assert len(seqs) >= acknowledged  # every acknowledged append survived
    assert journal.append("after", "restart", b"") == len(seqs) + 1
    journal.close()


def test_statistics(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    journal.append("a", "b", b"c")
    assert journal.wait_ingested(1)
    stats = journal.statistics()
    assert stats["last_seq"] == 1 and stats["lag_records"] == 0 and stats["errors"] == 0
    journal.close()
    with pytest.raises(JournalError, match="not open"):
        journal.append("a", "b", b"c")
