"""The three fixture hosts, asserted check by check and by exit code (spec §7.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stanchion.ops.latency_audit import CHECK_IDS
from tests.ops.latency_audit.helpers import audit, cli, cli_json, statuses, verdict
from tests.ops.latency_audit.hosts import HOSTS
from tests.ops.latency_audit.hosttree import build


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_fixture_host_check_by_check(tmp_path: Path, name: str) -> None:
    make, expected, exit_code = HOSTS[name]
    report = audit(tmp_path, make())
    assert list(expected) == list(CHECK_IDS)
    got = statuses(report)
    mismatches = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not mismatches, {k: (g, e, verdict(report, k)[1]) for k, (g, e) in mismatches.items()}
    assert report.exit_code == exit_code
    assert not report.internal_errors


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_fixture_host_cli_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    make, expected, exit_code = HOSTS[name]
    build(tmp_path, make())
    code, doc = cli_json(capsys, "--root", str(tmp_path))
    assert code == exit_code == doc["exit_code"]
    assert doc["schema"] == "latency-audit/1"
    assert doc["root"] == str(tmp_path)
    assert doc["target_pid"] == "self"
    assert set(doc) == {"schema", "root", "target_pid", "environment", "kernel", "cpus", "summary", "exit_code",
                        "checks"}
    assert [c["id"] for c in doc["checks"]] == list(CHECK_IDS)
    assert {c["id"]: c["status"] for c in doc["checks"]} == expected
    summary = {s: sum(1 for c in doc["checks"] if c["status"] == s)
               for s in ("pass", "warn", "fail", "info", "skip", "unknown")}
    assert doc["summary"] == summary
    keys = {"id", "category", "status", "max_severity", "observed", "expected", "message", "inputs",
            "remediation", "source", "rank"}
    order = {"info": 0, "warn": 1, "fail": 2}
    for check in doc["checks"]:
        assert set(check) == keys
        assert check["message"]
        assert check["source"] and all(s.startswith("S") for s in check["source"])
        assert all(isinstance(v, str) for v in check["inputs"].values())
        if check["status"] in order:
            assert order[check["status"]] <= order[check["max_severity"]], check["id"]


def test_tuned_bare_metal_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, _, _ = HOSTS["tuned-bare-metal"]
    build(tmp_path, make())
    code, doc = cli_json(capsys, "--root", str(tmp_path))
    assert code == 0
    assert doc["environment"] == {"kinds": ["bare-metal"], "hypervisor_hint": None, "evidence": []}
    assert doc["cpus"] == {"online": "0-7", "isolated": "2-7", "housekeeping": "0-1", "nodes": 2}
    assert doc["kernel"]["release"] == "6.8.0-45-generic"
    checks = {c["id"]: c for c in doc["checks"]}
    assert checks["cstates"]["observed"].startswith("10 us (C1E")
    assert checks["thp-enabled"]["inputs"]["/sys/kernel/mm/transparent_hugepage/enabled"] == "always madvise [never]\n"
    assert checks["cstates"]["inputs"]["/dev/cpu_dma_latency"] == "0x00943577"
    assert checks["nic-rings"]["observed"] == "eno1: RX 1024/4096, TX 1024/4096 (current/max)"
    assert checks["tuned-profile"]["observed"] == "cpu-partitioning"


def test_default_cloud_vm_details(tmp_path: Path) -> None:
    make, _, _ = HOSTS["default-cloud-vm"]
    report = audit(tmp_path, make())
    env = report.facts.env
    assert env.kinds == ("vm",)
    assert {"cpuinfo:hypervisor", "/sys/hypervisor/type", "dmi:sys_vendor=Xen"} <= set(env.evidence)
    assert env.hypervisor_hint == "xen"
    status, message = verdict(report, "clocksource")
    assert status == "fail" and "tsc is available" in message
    status, message = verdict(report, "nic-coalescing")
    assert status == "warn" and "adaptive-rx on, rx-usecs 20" in message
    status, message = verdict(report, "smt")
    assert status == "warn"


def test_restricted_pod_details(tmp_path: Path) -> None:
    make, _, _ = HOSTS["restricted-k8s-pod"]
    report = audit(tmp_path, make())
    assert report.facts.env.kinds == ("bare-metal", "container", "kubernetes")
    by_id = {v.id: v for v in report.verdicts}
    assert "unverifiable" in by_id["cstates"].message and "PM QoS" in by_id["cstates"].message
    assert by_id["cstates"].inputs["/dev/cpu_dma_latency"] == "<denied>"
    assert "denied" in by_id["irq-affinity"].message
    assert by_id["irq-affinity"].inputs["/proc/irq/default_smp_affinity"] == "<denied>"
    assert "PID namespace" in by_id["irqbalance"].message
    assert "network namespace" in by_id["busy-poll"].message
    assert by_id["cgroup-cpu-quota"].observed == "200000/100000 (2.00 CPUs) at /sys/fs/cgroup"
    assert "1234/50000 periods" in by_id["cgroup-throttling"].message
    assert "permission denied" in by_id["thp-khugepaged"].message


def test_fail_on_warn_and_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, _, _ = HOSTS["tuned-bare-metal"]
    host = make()
    host["/proc/sys/kernel/timer_migration"] = "1\n"  # one warn
    build(tmp_path, host)
    assert cli(capsys, "--root", str(tmp_path))[0] == 0
    assert cli(capsys, "--root", str(tmp_path), "--fail-on", "warn")[0] == 1
    assert cli(capsys, "--root", str(tmp_path), "--fail-on", "unknown")[0] == 0
    host["/proc/sys/vm/swappiness"] = b"\x00\xff"  # garbage but no swap → still pass
    host["/proc/sys/kernel/nmi_watchdog"] = "\n"  # empty → unknown
    build(tmp_path, host)
    assert cli(capsys, "--root", str(tmp_path), "--fail-on", "unknown")[0] == 1
    code, doc = cli_json(capsys, "--root", str(tmp_path), "--fail-on", "warn,unknown")
    assert code == doc["exit_code"] == 1
