"""§5.3 Memory: checks 21–32."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stanchion.ops.latency_audit.hostfs import Unread
from stanchion.ops.latency_audit.model import (
    Result,
    UnknownInput,
    failed,
    info,
    passed,
    warned,
)
from stanchion.ops.latency_audit.parse import (
    bracketed_choice,
    parse_int,
    parse_limits_memlock,
    parse_status,
    parse_swaps,
)
from stanchion.ops.latency_audit.probe import Probe
from stanchion.ops.latency_audit.registry import check

THP = "/sys/kernel/mm/transparent_hugepage"


@dataclass(frozen=True)
class ThpState:
    built: bool
    top: str = "never"
    pmd: str = "never"
    pmd_size_kb: int | None = None
    # effective mode of the other per-size (mTHP) settings: size_kb -> mode
    others: tuple[tuple[int, str], ...] = ()

    @property
    def effectively_never(self) -> bool:
        return not self.built or (self.pmd == "never" and all(m not in ("always", "madvise") for _, m in self.others))

    def describe(self) -> str:
        if not self.built:
            return "THP not built"
        size = f"{self.pmd_size_kb}kB" if self.pmd_size_kb else "PMD"
        active = [f"{kb}kB={m}" for kb, m in self.others if m != "never"]
        extra = f"; other sizes: {', '.join(active)}" if active else ""
        return f"{size} THP {self.pmd} (top-level {self.top}){extra}"


def thp_state(p: Probe) -> ThpState:
    """The effective THP mode (spec check 21); raises UnknownInput when unreadable."""
    if not p.present(THP):
        return ThpState(built=False)
    top = p.parse(f"{THP}/enabled", p.required_text(f"{THP}/enabled"), bracketed_choice)
    pmd_kb: int | None = None
    size_raw = p.text(f"{THP}/hpage_pmd_size")
    if isinstance(size_raw, Unread):
        if size_raw.kind != "missing":
            raise UnknownInput(p.unread_problem(f"{THP}/hpage_pmd_size", size_raw))
    else:
        pmd_kb = p.parse(f"{THP}/hpage_pmd_size", size_raw, parse_int) // 1024
    pmd = top
    others: list[tuple[int, str]] = []
    for name in p.required_listdir(THP):
        match = re.fullmatch(r"hugepages-(\d+)kB", name)
        if match is None:
            continue
        path = f"{THP}/{name}/enabled"
        raw = p.text(path)
        if isinstance(raw, Unread):
            if raw.kind == "missing":
                continue
            raise UnknownInput(p.unread_problem(path, raw))
        mode = p.parse(path, raw, bracketed_choice)
        effective = top if mode == "inherit" else mode
        if int(match.group(1)) == pmd_kb:
            pmd = effective
        else:
            others.append((int(match.group(1)), effective))
    return ThpState(True, top, pmd, pmd_kb, tuple(sorted(others)))


@check(
    "thp-enabled", category="memory", max_severity="fail", rank=2, source=("S4", "S1", "S18", "S24", "S27"),
    expected="never",
    remediation="transparent_hugepage=never (cmdline) or echo never > /sys/kernel/mm/transparent_hugepage/enabled; "
                "tuned [vm] transparent_hugepages=never",
)
def thp_enabled(p: Probe) -> Result:
    state = thp_state(p)
    cmd = p.cmdline().render("transparent_hugepage")
    note = f"; cmdline {cmd}" if cmd != "(none)" else ""
    shmem = p.optional_text(f"{THP}/shmem_enabled")
    if shmem and "[" in shmem:
        note += f"; shmem {bracketed_choice(shmem)}"
    if not state.built:
        return passed("THP not built into this kernel", "not built")
    if state.pmd == "always":
        return failed(f"THP is enabled for all anonymous memory ({state.describe()}){note}", state.pmd)
    if state.pmd == "madvise":
        return warned(f"THP is enabled for madvise() regions ({state.describe()}){note}", state.pmd)
    always = [f"{kb}kB" for kb, mode in state.others if mode == "always"]
    if always:
        return warned(f"PMD THP never, but mTHP sizes {', '.join(always)} are always{note}", "never (mTHP always)")
    return passed(f"THP never ({state.describe()}){note}", "never")


@check(
    "thp-defrag", category="memory", max_severity="fail", rank=2, source=("S4", "S1"),
    expected="never or defer (or THP never)",
    remediation="echo never > /sys/kernel/mm/transparent_hugepage/defrag (or defer); "
                "tuned [vm] transparent_hugepage.defrag=never",
)
def thp_defrag(p: Probe) -> Result:
    try:
        state: ThpState | None = thp_state(p)
        state_problem = ""
    except UnknownInput as exc:
        state, state_problem = None, exc.reason
    if state is not None and state.effectively_never:
        return passed(f"THP effectively off ({state.describe()}): defrag irrelevant", "THP never")
    path = f"{THP}/defrag"
    mode = p.parse(path, p.required_text(path), bracketed_choice)
    if mode in ("defer", "never"):
        return passed(f"defrag {mode}: no direct compaction in the fault path", mode)
    if state is None:
        raise UnknownInput(f"defrag {mode}, but the THP mode is unknown ({state_problem})")
    if mode == "always":
        return failed("defrag always: faulting threads stall in direct reclaim + compaction", mode)
    if mode in ("madvise", "defer+madvise"):
        return warned(f"defrag {mode}: MADV_HUGEPAGE regions stall in direct compaction", mode)
    raise UnknownInput(f"{path}: unrecognised mode {mode!r}")


@check(
    "thp-khugepaged", category="memory", max_severity="warn", rank=6, source=("S4", "S18"),
    expected="0 (or THP never)",
    remediation="echo 0 > /sys/kernel/mm/transparent_hugepage/khugepaged/defrag or THP never",
)
def thp_khugepaged(p: Probe) -> Result:
    try:
        state: ThpState | None = thp_state(p)
        state_problem = ""
    except UnknownInput as exc:
        state, state_problem = None, exc.reason
    if state is not None and state.effectively_never:
        return passed(f"THP effectively off ({state.describe()}): khugepaged idle", "THP never")
    value = p.required_int(f"{THP}/khugepaged/defrag")
    if value == 0:
        return passed("khugepaged does not collapse pages", "0")
    if state is None:
        raise UnknownInput(f"khugepaged/defrag {value}, but the THP mode is unknown ({state_problem})")
    scan = p.optional_text(f"{THP}/khugepaged/pages_to_scan")
    sleep = p.optional_text(f"{THP}/khugepaged/scan_sleep_millisecs")
    detail = ""
    if scan and sleep:
        detail = f" (pages_to_scan {scan.strip()}, every {sleep.strip()} ms)"
    return warned(f"khugepaged collapses pages in the background{detail}: copies and TLB shootdowns", str(value))


@check(
    "compaction-proactiveness", category="memory", max_severity="warn", rank=6, source=("S7", "S18"),
    expected="0", remediation="vm.compaction_proactiveness=0",
)
def compaction_proactiveness(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/vm/compaction_proactiveness")
    if value == 0:
        return passed("proactive compaction off", "0")
    return warned(f"proactive compaction {value}: background page moves can cause latency spikes", str(value))


@check(
    "compact-unevictable", category="memory", max_severity="warn", rank=6, source=("S7",),
    expected="0", remediation="vm.compact_unevictable_allowed=0",
)
def compact_unevictable(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/vm/compact_unevictable_allowed")
    if value == 0:
        return passed("compaction leaves mlocked pages alone", "0")
    return warned("compaction may migrate mlocked pages (minor-fault stalls)", str(value))


def _swaps(p: Probe) -> list[str] | None:
    """Active swap areas; None when CONFIG_SWAP is off (no /proc/swaps)."""
    raw = p.text("/proc/swaps")
    if isinstance(raw, Unread):
        if raw.kind == "missing":
            return None
        raise UnknownInput(p.unread_problem("/proc/swaps", raw))
    if not raw.strip():
        raise UnknownInput("/proc/swaps: empty")
    entries = p.parse("/proc/swaps", raw, parse_swaps)
    return [f"{e.name} ({e.kind}, {e.size_kb} kB, {e.used_kb} kB used)" for e in entries]


@check(
    "swap", category="memory", max_severity="warn", rank=3, source=("S18", "S2"),
    expected="no active swap",
    remediation="swapoff -a and remove swap from /etc/fstab, and/or mlockall(MCL_CURRENT|MCL_FUTURE) in the trader",
)
def swap(p: Probe) -> Result:
    active = _swaps(p)
    if active is None:
        return passed("kernel without swap support", "none")
    if not active:
        return passed("no swap active", "none")
    return warned(f"swap active: {'; '.join(active)}", f"{len(active)} swap area(s)")


@check(
    "swappiness", category="memory", max_severity="warn", rank=3, source=("S1", "S7", "S24"),
    expected="<= 10 (or no swap)", remediation="vm.swappiness=10",
)
def swappiness(p: Probe) -> Result:
    try:
        active: list[str] | None = _swaps(p)
        swaps_problem = ""
    except UnknownInput as exc:
        active, swaps_problem = [], exc.reason
        swaps_known = False
    else:
        swaps_known = True
    if swaps_known and not active:
        return passed("no swap active: swappiness has no effect", "n/a (no swap)")
    value = p.required_int("/proc/sys/vm/swappiness")
    if value <= 10:
        return passed(f"swappiness {value}", str(value))
    if not swaps_known:
        raise UnknownInput(f"swappiness {value}, but whether swap is active is unknown ({swaps_problem})")
    return warned(f"swappiness {value} with swap active: anonymous pages get swapped out", str(value))


@check(
    "numa-balancing", category="memory", max_severity="fail", rank=6, source=("S8", "S1", "S18", "S6"),
    expected="0",
    remediation="kernel.numa_balancing=0 (tuned network-latency) or cmdline numa_balancing=disable; stop numad; "
                "bind with numactl/cpusets",
)
def numa_balancing(p: Probe) -> Result:
    path = "/proc/sys/kernel/numa_balancing"
    raw = p.text(path)
    if isinstance(raw, Unread) and raw.kind == "missing":
        return passed("automatic NUMA balancing not built", "not built")
    value = p.required_int(path)
    if value == 0:
        return passed("automatic NUMA balancing off", "0")
    nodes = p.nodes()
    if nodes > 1:
        return failed(f"automatic NUMA balancing on with {nodes} nodes: hinting faults and page migration",
                      str(value))
    return info("NUMA balancing on but only one node: no effect", str(value))


@check(
    "zone-reclaim", category="memory", max_severity="warn", rank=6, source=("S7",),
    expected="0", remediation="vm.zone_reclaim_mode=0",
)
def zone_reclaim(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/vm/zone_reclaim_mode")
    if value == 0:
        return passed("zone reclaim off", "0")
    return warned(f"zone_reclaim_mode {value}: local-node reclaim in the allocation path", str(value))


@check(
    "ksm", category="memory", max_severity="warn", rank=6, source=("S18", "S1"),
    expected="0 (or 2)", remediation="echo 0 > /sys/kernel/mm/ksm/run; disable ksm/ksmtuned services",
)
def ksm(p: Probe) -> Result:
    value = p.required_int("/sys/kernel/mm/ksm/run", absent="KSM not built")
    if value in (0, 2):
        return passed(f"KSM run={value} (not merging)", str(value))
    sharing = p.optional_text("/sys/kernel/mm/ksm/pages_sharing")
    extra = f" (pages_sharing {sharing.strip()})" if sharing else ""
    return warned(f"KSM is merging pages{extra}: page-table locks and TLB shootdowns", str(value))


@check(
    "vm-stat-interval", category="memory", max_severity="warn", rank=15, source=("S1", "S3", "S18"),
    expected=">= 10", remediation="vm.stat_interval=10 (tuned network-latency; Rigtorp uses 120)",
)
def vm_stat_interval(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/vm/stat_interval")
    if value >= 10:
        return passed(f"vmstat interval {value} s", str(value))
    return warned(f"vmstat per-CPU update every {value} s", str(value))


CAP_IPC_LOCK = 14


@check(
    "memlock", category="memory", max_severity="warn", rank=3, source=("S2", "S18", "S23", "S27"),
    expected="unlimited or CAP_IPC_LOCK",
    remediation="systemd LimitMEMLOCK=infinity (or AmbientCapabilities=CAP_IPC_LOCK), /etc/security/limits.d "
                "'<user> - memlock unlimited'; Kubernetes securityContext.capabilities.add: [\"IPC_LOCK\"]",
)
def memlock(p: Probe) -> Result:
    limits_path = f"/proc/{p.pid}/limits"
    status_path = f"/proc/{p.pid}/status"
    limit = p.parse(limits_path, p.required_text(limits_path), parse_limits_memlock)
    if limit is None:
        return passed("memlock limit unlimited", "unlimited")
    status = p.parse(status_path, p.required_text(status_path), parse_status)
    cap_eff = status.get("CapEff")
    if cap_eff is None or not re.fullmatch(r"[0-9a-fA-F]+", cap_eff):
        raise UnknownInput(f"{status_path}: no CapEff")
    locked = status.get("VmLck", "?")
    if int(cap_eff, 16) >> CAP_IPC_LOCK & 1:
        return passed(f"CAP_IPC_LOCK held (memlock limit {limit} bytes does not apply; VmLck {locked})",
                      f"{limit} bytes + CAP_IPC_LOCK")
    return warned(f"memlock limit {limit} bytes and no CAP_IPC_LOCK: mlockall() of the working set will fail "
                  f"(VmLck {locked})", f"{limit} bytes")
