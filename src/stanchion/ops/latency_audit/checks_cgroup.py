"""§5.5 cgroups and Kubernetes (checks 42–44), §5.6 tradeoffs and context (45–46)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from stanchion.ops.latency_audit.hostfs import Unread
from stanchion.ops.latency_audit.model import (
    Result,
    SkipCheck,
    UnknownInput,
    failed,
    info,
    passed,
    warned,
)
from stanchion.ops.latency_audit.parse import (
    Quota,
    format_cpulist,
    parse_cgroup_file,
    parse_cpu_max,
    parse_cpulist,
    parse_int,
    parse_keyvalue_stat,
    parse_status,
)
from stanchion.ops.latency_audit.probe import Probe
from stanchion.ops.latency_audit.registry import check

CGROUP = "/sys/fs/cgroup"
V1_CPU_MOUNTS = (f"{CGROUP}/cpu", f"{CGROUP}/cpu,cpuacct", f"{CGROUP}/cpuacct,cpu")


@dataclass(frozen=True)
class CpuCgroup:
    version: int
    levels: tuple[str, ...]  # leaf first, up to the mount root
    note: str


def cpu_cgroup(p: Probe) -> CpuCgroup:
    """The target process's cpu-controller cgroup and its visible ancestors."""
    if p.present(f"{CGROUP}/cgroup.controllers"):
        controllers = p.required_text(f"{CGROUP}/cgroup.controllers", allow_empty=True).split()
        if "cpu" not in controllers:
            raise SkipCheck("cgroup v2 without the cpu controller")
        version, mount = 2, CGROUP
    else:
        mount = next((m for m in V1_CPU_MOUNTS if p.present(m)), "")
        if not mount:
            raise SkipCheck("no cpu controller hierarchy under /sys/fs/cgroup")
        version = 1
    path = f"/proc/{p.pid}/cgroup"
    lines = p.parse(path, p.required_text(path), parse_cgroup_file)
    if version == 2:
        line = next((ln for ln in lines if ln.hierarchy == "0" and not ln.controllers), None)
    else:
        line = next((ln for ln in lines if "cpu" in ln.controllers), None)
    if line is None:
        raise SkipCheck(f"{path} has no {'v2' if version == 2 else 'cpu'} line")
    leaf = mount + (line.path.rstrip("/") if line.path != "/" else "")
    note = ""
    if leaf != mount and not p.present(leaf):
        leaf, note = mount, f"cgroup {line.path} not visible here (namespace); using {mount}"
    levels = [leaf]
    while levels[-1] != mount:
        levels.append(levels[-1].rsplit("/", 1)[0])
    return CpuCgroup(version, tuple(levels), note)


def _read_optional(p: Probe, path: str) -> str | None:
    """None when absent; unknown when unreadable."""
    raw = p.text(path)
    if isinstance(raw, Unread):
        if raw.kind == "missing":
            return None
        raise UnknownInput(p.unread_problem(path, raw))
    return raw


def level_quota(p: Probe, group: CpuCgroup, level: str) -> Quota | None:
    if group.version == 2:
        raw = _read_optional(p, f"{level}/cpu.max")
        return None if raw is None else p.parse(f"{level}/cpu.max", raw, parse_cpu_max)
    quota_raw = _read_optional(p, f"{level}/cpu.cfs_quota_us")
    if quota_raw is None:
        return None
    quota = p.parse(f"{level}/cpu.cfs_quota_us", quota_raw, parse_int)
    if quota < 0:
        return None
    period = p.required_int(f"{level}/cpu.cfs_period_us")
    if period <= 0:
        raise UnknownInput(f"{level}/cpu.cfs_period_us: {period}")
    return Quota(quota, period)


def tightest_quota(p: Probe, group: CpuCgroup) -> tuple[Quota, str] | None:
    best: tuple[Quota, str] | None = None
    for level in group.levels:
        quota = level_quota(p, group, level)
        if quota is not None and (best is None or quota.cpus < best[0].cpus):
            best = (quota, level)
    return best


def allowed_cpus(p: Probe) -> frozenset[int]:
    path = f"/proc/{p.pid}/status"
    status = p.parse(path, p.required_text(path), parse_status)
    if "Cpus_allowed_list" not in status:
        raise UnknownInput(f"{path}: no Cpus_allowed_list")
    cpus = p.parse(path, status["Cpus_allowed_list"], parse_cpulist)
    if not cpus:
        raise UnknownInput(f"{path}: empty Cpus_allowed_list")
    return cpus


QUOTA_FIX = (
    "systemd: drop CPUQuota=; Kubernetes: Guaranteed pod with integer CPUs + static CPU manager (v1.33+ removes "
    "the quota for exclusive CPUs) or no CPU limit; kubelet --cpu-cfs-quota=false cluster-wide"
)


@check(
    "cgroup-cpu-quota", category="cgroup", max_severity="fail", rank=1, source=("S13", "S22"),
    expected="no CFS quota (cpu.max max / cfs_quota_us -1)", remediation=QUOTA_FIX,
)
def cgroup_cpu_quota(p: Probe) -> Result:
    group = cpu_cgroup(p)
    note = f" ({group.note})" if group.note else ""
    found = tightest_quota(p, group)
    if found is None:
        return passed(f"no CFS bandwidth limit on {group.levels[0]} or its ancestors{note}", "none")
    quota, level = found
    cpus = allowed_cpus(p)
    observed = f"{quota.render()} at {level}"
    if quota.cpus < len(cpus):
        return failed(f"CFS quota {quota.render()} at {level} is below the {len(cpus)} allowed CPUs "
                      f"({format_cpulist(cpus)}): threads are stopped until the next period{note}", observed)
    return warned(f"CFS quota {quota.render()} at {level} with {len(cpus)} allowed CPUs: redundant with the "
                  f"cpuset but can still throttle{note}", observed)


@check(
    "cgroup-throttling", category="cgroup", max_severity="fail", rank=1, source=("S13", "S22"),
    expected="nr_throttled 0", remediation=QUOTA_FIX,
)
def cgroup_throttling(p: Probe) -> Result:
    group = cpu_cgroup(p)
    throttled: list[str] = []
    seen = False
    for level in group.levels:
        raw = _read_optional(p, f"{level}/cpu.stat")
        if raw is None:
            continue
        stats = p.parse(f"{level}/cpu.stat", raw, parse_keyvalue_stat)
        count = stats.get("nr_throttled")
        if count is None:
            continue
        seen = True
        if count > 0:
            periods = stats.get("nr_periods", 0)
            if "throttled_usec" in stats:
                spent = f"{stats['throttled_usec'] / 1e6:.3f} s"
            else:
                spent = f"{stats.get('throttled_time', 0) / 1e9:.3f} s"
            ratio = f"{count}/{periods} periods" if periods else f"{count} times"
            throttled.append(f"{level}: throttled {ratio}, {spent}")
    if throttled:
        return failed("CFS bandwidth control has stopped this process: " + "; ".join(throttled),
                      throttled[0].split(": ", 1)[1])
    if not seen:
        return passed("CFS bandwidth control not enabled (no nr_throttled)", "not enabled")
    return passed("never throttled", "0")


@check(
    "k8s-cpu-manager", category="cgroup", max_severity="warn", rank=None, source=("S22",),
    expected="static CPU manager policy; exclusive cpuset and no CFS quota for the trader",
    remediation="kubelet cpuManagerPolicy: static, reservedSystemCPUs, cpuManagerPolicyOptions: "
                "{full-pcpus-only: \"true\"}; pod requests == limits with integer CPUs",
)
def k8s_cpu_manager(p: Probe) -> Result:
    if not p.env.kubernetes:
        raise SkipCheck("not Kubernetes")
    state_path = "/var/lib/kubelet/cpu_manager_state"
    raw = p.text(state_path)
    if isinstance(raw, str):
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise UnknownInput(f"{state_path}: not JSON ({exc.args[0] if exc.args else exc})") from None
        policy = doc.get("policyName") if isinstance(doc, dict) else None
        if not isinstance(policy, str):
            raise UnknownInput(f"{state_path}: no policyName")
        if policy == "static":
            return passed("node: kubelet CPU manager policy static", policy)
        return warned(f"node: kubelet CPU manager policy {policy}: pods share cores", policy)
    cpus = allowed_cpus(p)
    online = p.online()
    try:
        group: CpuCgroup | None = cpu_cgroup(p)
    except SkipCheck:
        group = None
    quota = tightest_quota(p, group) if group is not None else None
    exclusive = len(cpus) < len(online)
    observed = f"cpus {format_cpulist(cpus)} of {format_cpulist(online)}, quota {quota[0].render() if quota else 'max'}"
    if quota is None and exclusive:
        return passed(f"pod: exclusive cpuset and no CFS quota ({observed})", observed)
    problems = []
    if not exclusive:
        problems.append("shares all online CPUs (no exclusive cpuset)")
    if quota is not None:
        problems.append(f"CFS quota {quota[0].render()}")
    return warned(f"pod: {'; '.join(problems)} — not a static-policy exclusive container", observed)


@check(
    "cpu-mitigations", category="context", max_severity="info", rank=None, source=("S6", "S18"),
    expected="a deliberate choice (mitigations=off only on single-tenant hosts running trusted code)",
    remediation="cmdline mitigations=off is a security tradeoff; inside a VM it does not change the host",
)
def cpu_mitigations(p: Probe) -> Result:
    vulns_dir = "/sys/devices/system/cpu/vulnerabilities"
    cmd_known = p.cmdline_known()
    names = p.listdir(vulns_dir)
    if not cmd_known and isinstance(names, Unread):
        raise UnknownInput("neither /proc/cmdline nor the vulnerabilities directory is readable")
    mode = (p.cmdline().get("mitigations") or "auto (default)") if cmd_known else "unknown"
    entries: list[str] = []
    if not isinstance(names, Unread):
        for name in names:
            text = p.optional_text(f"{vulns_dir}/{name}")
            if text and text.strip().startswith(("Vulnerable", "Mitigation")):
                entries.append(f"{name}: {text.strip()}")
    vm_note = " (VM: the guest setting does not change the host's mitigations)" if p.env.vm else ""
    if isinstance(names, Unread):
        listed = f"{vulns_dir} {names.describe()}"
    else:
        listed = "; ".join(entries) if entries else "no Vulnerable/Mitigation entries"
    return info(f"mitigations={mode}{vm_note}; {listed}", f"mitigations={mode}")


RECOMMENDED_PROFILES = ("network-latency", "latency-performance", "cpu-partitioning", "realtime",
                        "realtime-virtual-guest")


@check(
    "tuned-profile", category="context", max_severity="info", rank=None, source=("S1",),
    expected="network-latency, latency-performance, cpu-partitioning or realtime (realtime-virtual-guest in VMs)",
    remediation="tuned-adm profile network-latency (or cpu-partitioning with isolated_cores=)",
)
def tuned_profile(p: Probe) -> Result:
    raw = p.text("/etc/tuned/active_profile")
    if isinstance(raw, Unread):
        if raw.kind != "missing":
            raise UnknownInput(p.unread_problem("/etc/tuned/active_profile", raw))
        return info("no tuned profile active (none)", "none")
    profiles = raw.split()
    if not profiles:
        return info("no tuned profile active (none)", "none")
    mode = p.optional_text("/etc/tuned/profile_mode")
    variables = p.optional_text("/etc/tuned/cpu-partitioning-variables.conf")
    extra = f" (mode {mode.strip()})" if mode and mode.strip() else ""
    if variables and "cpu-partitioning" in profiles:
        isolated = [ln.strip() for ln in variables.splitlines() if ln.strip().startswith("isolated_cores")]
        if isolated:
            extra += f"; {isolated[-1]}"
    good = [pr for pr in profiles if pr in RECOMMENDED_PROFILES]
    verdict = "a latency profile" if good else "not a latency profile"
    return info(f"tuned profile {' '.join(profiles)}{extra}: {verdict}", " ".join(profiles))

