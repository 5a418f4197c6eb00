"""The CLI: options, exit codes (§3.2), plain human output, the wrapper script,
and one live run on this machine (§7.8: exit 0 or 1, valid JSON, every id)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stanchion.ops.latency_audit import CHECK_IDS
from stanchion.ops.latency_audit.hostfs import HostFS
from tests.conftest import REPO_ROOT
from tests.ops.latency_audit.helpers import cli, cli_json
from tests.ops.latency_audit.hosts import ETHTOOL_C_LOW, HOSTS
from tests.ops.latency_audit.hosttree import build

SCRIPT = REPO_ROOT / "scripts" / "latency-audit.sh"


@pytest.fixture
def tuned_root(tmp_path: Path) -> Path:
    return build(tmp_path / "host", HOSTS["tuned-bare-metal"][0]())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--root", "/definitely/not/here"], "no such directory"),
        (["--pid", "abc"], "--pid"),
        (["--pid", "999999"], "no such process"),
        (["--only", "cstates,nope"], "unknown check id(s) nope"),
        (["--skip", "bogus"], "unknown check id(s) bogus"),
        (["--fail-on", "sometimes"], "--fail-on"),
        (["--isolated-cpus", "2-x"], "--isolated-cpus"),
    ],
)
def test_usage_errors_exit_2(tuned_root: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             needle: str) -> None:
    full = args if args[0] == "--root" else ["--root", str(tuned_root), *args]
    code, out, err = cli(capsys, *full)
    assert code == 2
    assert needle in err
    assert "Traceback" not in out + err


def test_root_that_is_not_linux_or_not_a_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "--root", str(tmp_path / "empty"))
    assert code == 2 and "not a Linux root" in err
    (tmp_path / "file").write_text("x")
    code, _, err = cli(capsys, "--root", str(tmp_path / "file"))
    assert code == 2 and "not a directory" in err


def test_only_and_skip_keep_every_id(tuned_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = cli_json(capsys, "--root", str(tuned_root), "--only", "cstates,smt", "--only", "swap")
    assert code == 0
    assert [c["id"] for c in doc["checks"]] == list(CHECK_IDS)
    ran = {c["id"] for c in doc["checks"] if c["message"] != "not selected (--only/--skip)"}
    assert ran == {"cstates", "smt", "swap"}
    code, doc = cli_json(capsys, "--root", str(cloud_root(tuned_root)), "--skip", "clocksource,thp-enabled")
    assert code == 0  # the cloud VM's two fails were skipped
    skipped = {c["id"]: c["status"] for c in doc["checks"]}
    assert skipped["clocksource"] == skipped["thp-enabled"] == "skip"


def cloud_root(sibling: Path) -> Path:
    return build(sibling.parent / "cloud", HOSTS["default-cloud-vm"][0]())


def test_human_output_is_plain_and_grouped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = build(tmp_path, HOSTS["restricted-k8s-pod"][0]())
    code, out, _ = cli(capsys, "--root", str(root))
    assert code == 1
    assert "\x1b[" not in out
    lines = out.splitlines()
    headers = [ln for ln in lines if ln.split(" (")[0] in ("FAIL", "WARN", "UNKNOWN", "INFO")]
    assert [h.split(" (")[0] for h in headers] == ["FAIL", "WARN", "UNKNOWN", "INFO"]
    assert "found:    200000/100000 (2.00 CPUs) at /sys/fs/cgroup" in out
    assert "fix:      systemd: drop CPUQuota=" in out
    assert lines[-1] == "latency-audit: FAIL — 2 fail, 14 warn, 4 unknown, 7 info, 12 pass, 7 skip (exit 1)"
    assert any(ln.startswith("pass: 12 (") for ln in lines)


def test_json_exit_code_matches_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, (make, _, expected) in HOSTS.items():
        root = build(tmp_path / name, make())
        code, doc = cli_json(capsys, "--root", str(root))
        assert code == doc["exit_code"] == expected, name


def test_pid_and_isolated_override_via_cli(tuned_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = cli_json(capsys, "--root", str(tuned_root), "--isolated-cpus", "1-7", "--pid", "self")
    assert doc["cpus"]["isolated"] == "1-7"
    checks = {c["id"]: c for c in doc["checks"]}
    assert checks["irq-affinity"]["status"] == "fail"  # IRQs 24/25 are on CPU 1
    assert code == 1


def test_no_exec_and_live_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = HostFS("/", allow_exec=False).run_command("ethtool-c-eth0", ["ethtool", "-c", "eth0"])
    assert not isinstance(ran, str) and "--no-exec" in ran.detail
    fake = tmp_path / "bin" / "ethtool"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n[ \"$LC_ALL\" = C ] || exit 3\nprintf '%s' \"$FAKE_OUT\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_OUT", "")
    assert HostFS("/").run_command("x", ["ethtool", "-c", "eth0"]) == ""
    fake.write_text("#!/bin/sh\necho 'Cannot get device coalesce settings: Operation not supported' >&2\nexit 94\n")
    failed = HostFS("/").run_command("x", ["ethtool", "-c", "eth0"])
    assert not isinstance(failed, str) and "Operation not supported" in failed.detail
    fake.write_text(f"#!/bin/sh\ncat <<'X'\n{ETHTOOL_C_LOW.format(name='eth0')}X\n")
    assert "Adaptive RX: off" in str(HostFS("/").run_command("x", ["ethtool", "-c", "eth0"]))


def test_live_run_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--root", "/", "--json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert [c["id"] for c in doc["checks"]] == list(CHECK_IDS)
    assert doc["exit_code"] == code
    assert doc["root"] == "/"


def test_wrapper_script(tuned_root: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(tuned_root), "--json"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 0
    cloud = build(tuned_root.parent / "cloud", HOSTS["default-cloud-vm"][0]())
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(cloud)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].startswith("latency-audit: FAIL")


def test_wrapper_script_without_venv_falls_back_to_module(tmp_path: Path, tuned_root: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / "scripts" / "latency-audit.sh").write_bytes(SCRIPT.read_bytes())
    (clone / "src").symlink_to(REPO_ROOT / "src")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(clone / "scripts" / "latency-audit.sh"), "--root", str(tuned_root),
                           "--only", "smt"], capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "pass: 1 (smt)" in done.stdout


def test_internal_error_in_one_check_exits_2_and_keeps_the_rest(
    tuned_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from stanchion.ops.latency_audit import registry
    from stanchion.ops.latency_audit.model import Result
    from stanchion.ops.latency_audit.probe import Probe

    def broken(_: Probe) -> Result:
        raise ZeroDivisionError("bug")

    registry.all_checks()
    monkeypatch.setitem(registry._REGISTRY, "smt", dataclasses.replace(registry._REGISTRY["smt"], run=broken))
    code, doc = cli_json(capsys, "--root", str(tuned_root))
    assert code == doc["exit_code"] == 2
    checks = {c["id"]: c for c in doc["checks"]}
    assert checks["smt"]["status"] == "unknown"
    assert checks["smt"]["message"] == "internal error: ZeroDivisionError: bug"
    assert checks["cstates"]["status"] == "pass"
    code, out, _ = cli(capsys, "--root", str(tuned_root))
    assert code == 2
    assert "internal errors (please report): smt" in out


def test_ethtool_ioctl_fallback_on_this_machine() -> None:
    from stanchion.ops.latency_audit.parse import parse_ethtool_coalesce, parse_ethtool_rings

    missing = HostFS._ethtool_ioctl(["ethtool", "-c", "nope0"])
    assert not isinstance(missing, str) and "SIOCETHTOOL -c nope0" in missing.detail
    bad = HostFS._ethtool_ioctl(["ethtool", "-c", "x" * 20])
    assert not isinstance(bad, str) and "bad interface name" in bad.detail
    assert not isinstance(HostFS._ethtool_ioctl(["ethtool", "-k", "lo"]), str)
    net = Path("/sys/class/net")
    physical = sorted(p.name for p in net.iterdir() if (p / "device").exists()) if net.is_dir() else []
    for name in physical:  # whatever this machine has: the output must parse, or be a clear error
        for flag, parser in (("-c", parse_ethtool_coalesce), ("-g", parse_ethtool_rings)):
            out = HostFS._ethtool_ioctl(["ethtool", flag, name])
            if isinstance(out, str):
                parser(out)
            else:
                assert "SIOCETHTOOL" in out.detail
