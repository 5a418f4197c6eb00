"""Garbage in, a spec status out (never a traceback), and the invariants of §7.7:
denying an input never turns a non-fail into a fail; every id exactly once;
``exit_code`` agrees with the summary; reads never leave the root."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stanchion.ops.latency_audit import CHECK_IDS, AuditOptions, AuditReport, run_audit
from tests.ops.latency_audit.hosts import HOSTS, tuned_bare_metal
from tests.ops.latency_audit.hosttree import COMMANDS, DENIED, ENV, Link, build, expand

GARBAGE: dict[str, str | bytes] = {
    "empty": "",
    "binary": b"\x00\xff\xfe\x80garbage\x00\x01",
    "text": "this is not what you expected {]\n",
    "negative": "-17\n",
}
VALID = {"pass", "warn", "fail", "info", "skip", "unknown"}


def file_paths(host: dict[str, Any]) -> list[str]:
    paths: list[str] = []
    for key, value in host.items():
        if key in (ENV, COMMANDS) or value is DENIED or isinstance(value, Link):
            continue
        paths.extend(expand(key))
    return sorted(paths)


def check_report(report: AuditReport) -> dict[str, str]:
    assert not report.internal_errors, report.internal_errors
    ids = [v.id for v in report.verdicts]
    assert ids == list(CHECK_IDS)
    doc = report.to_json()
    summary = doc["summary"]
    assert isinstance(summary, dict)
    assert sum(summary.values()) == len(CHECK_IDS)
    assert doc["exit_code"] == (1 if summary["fail"] else 0)
    for verdict in report.verdicts:
        assert verdict.status.value in VALID
        assert verdict.message, verdict.id
    return {v.id: v.status.value for v in report.verdicts}


@pytest.fixture(scope="module")
def small_host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    host = tuned_bare_metal(4)
    root = build(tmp_path_factory.mktemp("garbage"), host)
    return root, host


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_in_every_file_never_raises(small_host: tuple[Path, dict[str, Any]], kind: str) -> None:
    root, host = small_host
    baseline = check_report(run_audit(AuditOptions(root=str(root))))
    changed = 0
    for path in file_paths(host):
        target = root / path.lstrip("/")
        original = target.read_bytes()
        content = GARBAGE[kind]
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        try:
            got = check_report(run_audit(AuditOptions(root=str(root))))
        finally:
            target.write_bytes(original)
        changed += got != baseline
    assert changed > 20  # garbage is noticed, not silently ignored


def test_missing_or_denied_file_never_makes_a_fail(small_host: tuple[Path, dict[str, Any]]) -> None:
    root, host = small_host
    baseline = check_report(run_audit(AuditOptions(root=str(root))))
    manifest = root / ".latency-audit" / "unreadable"
    for path in file_paths(host):
        manifest.write_text(path + "\n")
        try:
            got = check_report(run_audit(AuditOptions(root=str(root))))
        finally:
            manifest.write_text("")
        for check_id, status in got.items():
            if baseline[check_id] != "fail":
                assert status != "fail", (path, check_id)
        target = root / path.lstrip("/")
        moved = target.with_name(target.name + ".away")
        target.rename(moved)
        try:
            check_report(run_audit(AuditOptions(root=str(root))))
        finally:
            moved.rename(target)


@pytest.fixture(scope="module")
def pod_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, str]]:
    make = HOSTS["restricted-k8s-pod"][0]
    host = make()
    root = build(tmp_path_factory.mktemp("pod"), host)
    base = check_report(run_audit(AuditOptions(root=str(root))))
    denied = (root / ".latency-audit" / "unreadable").read_text()
    paths = file_paths(host)
    (root / ".latency-audit" / "base-unreadable").write_text(denied)
    return root, paths, base


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_denying_random_inputs_never_creates_a_fail(pod_root: tuple[Path, list[str], dict[str, str]],
                                                     data: st.DataObject) -> None:
    root, paths, base = pod_root
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=6, unique=True))
    manifest = root / ".latency-audit" / "unreadable"
    original = (root / ".latency-audit" / "base-unreadable").read_text()
    manifest.write_text(original + "".join(p + "\n" for p in chosen))
    try:
        got = check_report(run_audit(AuditOptions(root=str(root))))
    finally:
        manifest.write_text(original)
    new_fails = [c for c, s in got.items() if s == "fail" and base[c] != "fail"]
    assert not new_fails, chosen


_EVENTS: list[tuple[str, str]] = []
_RECORDING: list[bool] = [False]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _RECORDING[0]:
        return
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], str | bytes | os.PathLike):
        _EVENTS.append((event, os.fsdecode(args[0])))
    elif event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.system"):
        _EVENTS.append((event, str(args[:2])))


sys.addaudithook(_hook)


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_fixture_mode_never_reads_outside_the_root(tmp_path: Path, name: str) -> None:
    build(tmp_path, HOSTS[name][0]())
    # a link pointing at the live /etc and one climbing out with ../ must stay inside the root
    os.symlink("/etc", tmp_path / "etc-link")
    os.symlink("../../../../../../../../etc", tmp_path / "climb")
    (tmp_path / "sys/class/net/eth9").mkdir(parents=True)
    os.symlink("/proc/self", tmp_path / "sys/class/net/eth9/device")
    options = AuditOptions(root=str(tmp_path))
    run_audit(options)  # warm-up: lazy imports happen outside the recording
    _EVENTS.clear()
    _RECORDING[0] = True
    try:
        from stanchion.ops.latency_audit.hostfs import HostFS

        fs = HostFS(tmp_path)
        assert fs.read_text("/etc-link/hostname") == fs.read_text("/etc/hostname")
        assert fs.listdir("/climb") == fs.listdir("/etc")
        report = run_audit(options)
    finally:
        _RECORDING[0] = False
    assert report.verdicts
    prefix = str(tmp_path)
    outside = [e for e in _EVENTS if e[0].startswith(("subprocess", "os.exec", "os.posix", "os.system"))
               or not (e[1] == prefix or e[1].startswith(prefix + os.sep))]
    assert not outside, outside[:5]
    assert len(_EVENTS) > 50


def test_hostfs_outcomes(tmp_path: Path) -> None:
    from stanchion.ops.latency_audit.hostfs import DENIED as DENIED_OUTCOME
    from stanchion.ops.latency_audit.hostfs import MISSING, HostFS

    build(tmp_path, {"/a/b": "x\n", "/a/c/d": "y", "/big": "z" * 100, "/den/**": DENIED, "/one": DENIED,
                     "/den/f": "secret"})
    os.mkfifo(tmp_path / "fifo")
    fs = HostFS(tmp_path)
    assert fs.read_text("/a/b") == "x\n"
    assert fs.read_text("/a/nope") is MISSING
    assert fs.read_text("/a/b/under-a-file") is MISSING
    assert fs.read_text("/den/f") is DENIED_OUTCOME
    assert fs.listdir("/den") is DENIED_OUTCOME
    assert fs.exists("/den/f") is DENIED_OUTCOME
    assert fs.read_text("/one") is DENIED_OUTCOME
    assert fs.exists("/one") is True  # listed itself: exists, unreadable (mode 000)
    assert fs.exists("/nothing-here") is False
    assert fs.read_bytes("/big", 4) == b"zzzz"
    directory = fs.read_text("/a")
    assert not isinstance(directory, str) and directory.kind == "error"
    fifo = fs.read_text("/fifo")  # must not hang
    assert not isinstance(fifo, str) and fifo.kind == "error"
    assert fs.listdir("/a") == ["b", "c"]
    assert fs.glob("/a/*") == ["/a/b", "/a/c"]
    assert fs.glob("/a/c/d") == ["/a/c/d"]
    assert ".latency-audit" not in (fs.listdir("/") or [])
    ran = fs.run_command("ethtool-c-eth0", ["ethtool", "-c", "eth0"])
    assert not isinstance(ran, str) and "no captured output" in ran.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes; the manifest simulates EACCES instead")
def test_real_permission_denied(tmp_path: Path) -> None:
    from stanchion.ops.latency_audit.hostfs import DENIED as DENIED_OUTCOME
    from stanchion.ops.latency_audit.hostfs import HostFS

    build(tmp_path, {"/proc/sys/vm/swappiness": "60\n"})
    target = tmp_path / "proc/sys/vm/swappiness"
    target.chmod(0)
    try:
        assert HostFS(tmp_path).read_text("/proc/sys/vm/swappiness") is DENIED_OUTCOME
    finally:
        target.chmod(0o644)


def test_copy_of_tree_is_independent(tmp_path: Path) -> None:
    """A fixture tree can be copied elsewhere (relative links only) and audits the same."""
    make = HOSTS["default-cloud-vm"][0]
    first = build(tmp_path / "one", make())
    second = tmp_path / "two"
    shutil.copytree(first, second, symlinks=True)
    a = check_report(run_audit(AuditOptions(root=str(first))))
    b = check_report(run_audit(AuditOptions(root=str(second))))
    assert a == b
