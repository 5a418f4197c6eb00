"""§5.2 Isolation and kernel noise: checks 10–20."""

from __future__ import annotations

import re

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
    ParseError,
    format_cpulist,
    parenthesised_choice,
    parse_cpulist,
    parse_hexmask,
    parse_interrupts,
)
from stanchion.ops.latency_audit.probe import Probe, cpus_text
from stanchion.ops.latency_audit.registry import check


def _require_isolated(p: Probe) -> frozenset[int]:
    """Applicability for checks that only matter with isolated CPUs."""
    isolated = p.isolated()
    if not isolated:
        raise SkipCheck("no isolated CPUs")
    return isolated


@check(
    "cpu-isolation", category="isolation", max_severity="warn", rank=8, source=("S2", "S1", "S6", "S18", "S24"),
    expected="trading CPUs isolated, >= 1 housekeeping CPU per NUMA node",
    remediation=(
        "tuned cpu-partitioning with isolated_cores= in /etc/tuned/cpu-partitioning-variables.conf; or cmdline "
        "isolcpus=managed_irq,domain,<list> nohz_full=<list> rcu_nocbs=<list> irqaffinity=<housekeeping>; "
        "or cgroup v2 cpuset.cpus.partition=isolated"
    ),
)
def cpu_isolation(p: Probe) -> Result:
    isolated = p.isolated()
    online = p.online()
    housekeeping = online - isolated
    sources = ", ".join(p.facts.cpus.isolated_from) or "none"
    observed = f"isolated {cpus_text(isolated)}, housekeeping {cpus_text(housekeeping)}"
    if not isolated:
        return warned(f"no CPU is isolated (online {format_cpulist(online)}): kthreads, timers and other tasks "
                      "share the trading cores", observed)
    if not housekeeping:
        return warned(f"every online CPU is isolated ({sources}): no housekeeping CPU left", observed)
    return passed(f"isolated {format_cpulist(isolated)} via {sources}; housekeeping {format_cpulist(housekeeping)}",
                  observed)


@check(
    "nohz-full", category="isolation", max_severity="fail", rank=8, source=("S2", "S6", "S16", "S20", "S24"),
    expected="nohz_full= equal to the isolated set",
    remediation="kernel with CONFIG_NO_HZ_FULL=y and cmdline nohz_full=<isolated CPUs> (tuned cpu-partitioning)",
)
def nohz_full(p: Probe) -> Result:
    cmd = p.cmdline()
    on_cmdline = cmd.has("nohz_full")
    if not on_cmdline:
        isolated = p.isolated()
        if not isolated:
            if not p.cmdline_known():
                raise UnknownInput(p.facts.cmdline_problem or "/proc/cmdline unreadable")
            raise SkipCheck("no isolated CPUs and no nohz_full= on the command line")
    nohz = p.nohz_set()
    if on_cmdline and not nohz:
        why = "the kernel has no /sys/devices/system/cpu/nohz_full (CONFIG_NO_HZ_FULL off)" if nohz is None \
            else "the kernel reports an empty nohz_full set"
        return failed(f"nohz_full={cmd.get('nohz_full')} is on the command line but {why}: silently ignored",
                      "ignored", )
    isolated = p.isolated()
    active = nohz or frozenset()
    if isolated <= active:
        return passed(f"adaptive ticks on {format_cpulist(active)} cover the isolated CPUs", format_cpulist(active))
    return warned(f"isolated CPUs {format_cpulist(isolated - active)} still take the periodic tick",
                  cpus_text(active))


@check(
    "rcu-nocbs", category="isolation", max_severity="warn", rank=8, source=("S6", "S3", "S2", "S24"),
    expected="RCU callbacks offloaded from every isolated CPU (rcu_nocbs= or nohz_full=)",
    remediation="cmdline rcu_nocbs=<isolated CPUs> (tuned cpu-partitioning adds it alongside nohz_full)",
)
def rcu_nocbs(p: Probe) -> Result:
    isolated = _require_isolated(p)
    nohz = p.nohz_set() or frozenset()
    if isolated <= nohz:
        return passed("nohz_full offloads RCU callbacks on every isolated CPU", format_cpulist(nohz))
    cmd = p.cmdline(required=True)
    offloaded: frozenset[int] = frozenset()
    if cmd.has("rcu_nocbs"):
        value = cmd.get("rcu_nocbs")
        if value is None or value == "all":
            offloaded = p.online()
        else:
            try:
                offloaded = parse_cpulist(value)
            except ParseError as exc:
                raise UnknownInput(f"rcu_nocbs={value}: {exc}") from None
    covered = offloaded | nohz
    if isolated <= covered:
        return passed(f"RCU callbacks offloaded on {format_cpulist(covered)}", format_cpulist(covered))
    return warned(f"RCU callbacks still run on isolated CPUs {format_cpulist(isolated - covered)}",
                  cpus_text(covered))


@check(
    "irq-affinity", category="isolation", max_severity="fail", rank=7, source=("S2", "S3", "S1", "S18"),
    expected="all device IRQs and default_smp_affinity on housekeeping CPUs",
    remediation=(
        "cmdline irqaffinity=<housekeeping> and isolcpus=managed_irq,<isolated>; runtime echo <housekeeping> > "
        "/proc/irq/<n>/smp_affinity_list; tuned scheduler plugin / [irqbalance] banned_cpus"
    ),
)
def irq_affinity(p: Probe) -> Result:
    isolated = _require_isolated(p)
    table = p.parse("/proc/interrupts", p.required_text("/proc/interrupts"), parse_interrupts)
    default_raw = p.required_text("/proc/irq/default_smp_affinity")
    default = p.parse("/proc/irq/default_smp_affinity", default_raw, parse_hexmask)
    on_isolated: list[str] = []
    for irq in sorted(table.numeric, key=int):
        path = f"/proc/irq/{irq}/effective_affinity_list"
        raw = p.text(path)
        if isinstance(raw, Unread) and raw.kind == "missing":
            path = f"/proc/irq/{irq}/smp_affinity_list"
            raw = p.text(path)
        if isinstance(raw, Unread):
            raise UnknownInput(p.unread_problem(path, raw))
        affinity = p.parse(path, raw, parse_cpulist)
        if affinity & isolated:
            on_isolated.append(f"{irq}->{format_cpulist(affinity & isolated)}")
    counts = []
    for cpu in sorted(isolated):
        if cpu in table.cpus:
            col = table.cpus.index(cpu)
            total = sum(row[col] for row in table.numeric.values() if len(row) > col)
            # local timer / IPI rows are reported, not judged
            system = ", ".join(f"{name} {table.named[name][col]}" for name in ("LOC", "RES", "CAL", "TLB")
                               if len(table.named.get(name, ())) > col)
            counts.append(f"cpu{cpu}: {total}" + (f" ({system})" if system else ""))
    evidence = f" (device IRQ counts on isolated CPUs: {'; '.join(counts)})" if counts else ""
    if on_isolated:
        shown = ", ".join(on_isolated[:12]) + (" …" if len(on_isolated) > 12 else "")
        return failed(f"{len(on_isolated)} IRQ(s) can fire on isolated CPUs: {shown}{evidence}",
                      f"{len(on_isolated)} IRQs on isolated CPUs")
    if default & isolated:
        return warned(f"default_smp_affinity includes isolated CPUs {format_cpulist(default & isolated)}: new IRQs "
                      f"will land there{evidence}", f"default_smp_affinity {default_raw.strip()}")
    return passed(f"no device IRQ targets isolated CPUs{evidence}", "all IRQs on housekeeping CPUs")


IRQBALANCE_CONFIGS = ("/etc/sysconfig/irqbalance", "/etc/default/irqbalance")


def _shell_assignments(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip().removeprefix("export ").strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if match:
            value = match.group(2).split("#", 1)[0].strip() if not match.group(2).startswith(("'", '"')) \
                else match.group(2)
            values[match.group(1)] = value.strip().strip("'\"")
    return values


def _irqbalance_running(p: Probe) -> bool:
    names = p.required_listdir("/proc")
    for name in names:
        if not name.isdigit():
            continue
        comm = p.snap.read_text(f"/proc/{name}/comm")  # not recorded: one entry per process is noise
        if isinstance(comm, Unread):
            if comm.kind == "missing":
                continue  # the process exited
            p.inputs[f"/proc/{name}/comm"] = comm.render()
            raise UnknownInput(p.unread_problem(f"/proc/{name}/comm", comm))
        if comm.strip() == "irqbalance":
            p.inputs[f"/proc/{name}/comm"] = comm
            return True
    return False


@check(
    "irqbalance", category="isolation", max_severity="fail", rank=7, source=("S21", "S1", "S18"),
    expected="irqbalance stopped, or IRQBALANCE_BANNED_CPULIST covering the isolated CPUs",
    remediation="IRQBALANCE_BANNED_CPULIST=<isolated> (tuned [irqbalance] banned_cpus), or stop irqbalance and "
                "set affinities once",
)
def irqbalance(p: Probe) -> Result:
    isolated = _require_isolated(p)
    if p.env.container:
        init = p.text("/proc/1/comm")
        if isinstance(init, Unread) or init.strip() not in ("systemd", "init"):
            raise UnknownInput("container without the host PID namespace: cannot see whether irqbalance runs")
    if not _irqbalance_running(p):
        return passed("irqbalance is not running", "not running")
    config: dict[str, str] | None = None
    for path in IRQBALANCE_CONFIGS:
        raw = p.text(path)
        if isinstance(raw, Unread):
            if raw.kind == "missing":
                continue
            raise UnknownInput(p.unread_problem(path, raw))
        config = _shell_assignments(raw)
        break
    banned: frozenset[int] | None = None
    if config is not None and "IRQBALANCE_BANNED_CPULIST" in config:
        value = config["IRQBALANCE_BANNED_CPULIST"]
        try:
            banned = parse_cpulist(value)
        except ParseError as exc:
            raise UnknownInput(f"IRQBALANCE_BANNED_CPULIST={value}: {exc}") from None
    elif config is not None and "IRQBALANCE_BANNED_CPUS" in config:
        value = config["IRQBALANCE_BANNED_CPUS"]
        try:
            banned = parse_hexmask(value) if value else frozenset()
        except ParseError as exc:
            raise UnknownInput(f"IRQBALANCE_BANNED_CPUS={value}: {exc}") from None
    if banned is None:
        return passed("irqbalance runs without an explicit banned list; current versions ban isolated and "
                      "nohz_full CPUs by default (older ones may not)", "running, default banned list")
    if isolated <= banned:
        return passed(f"irqbalance bans {format_cpulist(banned)} (covers the isolated CPUs)",
                      f"running, banned {format_cpulist(banned)}")
    return failed(f"irqbalance may move IRQs onto isolated CPUs {format_cpulist(isolated - banned)} "
                  f"(banned list: {format_cpulist(banned) or 'empty'})", f"banned {cpus_text(banned)}")


@check(
    "workqueue-cpumask", category="isolation", max_severity="warn", rank=8, source=("S1", "S3", "S18"),
    expected="unbound workqueue cpumask within the housekeeping CPUs",
    remediation="tuned cpu-partitioning [sysfs] /sys/devices/virtual/workqueue/cpumask = <housekeeping mask> "
                "(also /sys/bus/workqueue/devices/writeback/cpumask)",
)
def workqueue_cpumask(p: Probe) -> Result:
    path = "/sys/devices/virtual/workqueue/cpumask"
    if not p.present(path):
        raise SkipCheck(f"{path} absent")
    isolated = _require_isolated(p)
    mask = p.parse(path, p.required_text(path), parse_hexmask)
    writeback = p.optional_text("/sys/bus/workqueue/devices/writeback/cpumask")
    if writeback and writeback.strip():
        try:
            note = f"; writeback cpumask {format_cpulist(parse_hexmask(writeback))}"
        except ParseError:
            note = ""
    else:
        note = ""
    if mask & isolated:
        return warned(f"unbound kworkers may run on isolated CPUs {format_cpulist(mask & isolated)}{note}",
                      format_cpulist(mask))
    return passed(f"unbound workqueues confined to {format_cpulist(mask)}{note}", format_cpulist(mask))


@check(
    "timer-migration", category="isolation", max_severity="warn", rank=15, source=("S1", "S8"),
    expected="0", remediation="kernel.timer_migration=0 (tuned network-latency)",
)
def timer_migration(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/kernel/timer_migration")
    if value == 0:
        return passed("timer migration off", "0")
    return warned("timers migrate from idle CPUs onto busy ones (the busy-polling trading core)", str(value))


@check(
    "nmi-watchdog", category="isolation", max_severity="warn", rank=15, source=("S1", "S8", "S6"),
    expected="0", remediation="kernel.nmi_watchdog=0 (tuned network-latency) or cmdline nmi_watchdog=0 / nowatchdog",
)
def nmi_watchdog(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/kernel/nmi_watchdog")
    if value == 0:
        return passed("hard-lockup detector off", "0")
    return warned("perf NMIs fire periodically on every CPU (hard-lockup detector)", str(value))


@check(
    "softlockup-watchdog", category="isolation", max_severity="warn", rank=15, source=("S1", "S6", "S8"),
    expected="soft_watchdog 0, or watchdog_cpumask excluding the isolated CPUs",
    remediation="cmdline nosoftlockup (tuned cpu-partitioning/realtime) or kernel.watchdog_cpumask=<housekeeping>",
)
def softlockup_watchdog(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/kernel/soft_watchdog")
    cmd = p.cmdline()
    if value == 0:
        return passed("soft-lockup watchdog off", "0")
    if cmd.has("nosoftlockup") or cmd.has("nowatchdog"):
        return passed(f"cmdline {cmd.render('nosoftlockup', 'nowatchdog')}", "disabled on cmdline")
    isolated = p.isolated()
    if isolated:
        path = "/proc/sys/kernel/watchdog_cpumask"
        mask = p.parse(path, p.required_text(path), parse_cpulist)
        if not mask & isolated:
            return passed(f"watchdog runs only on {format_cpulist(mask)} (not on isolated CPUs)",
                          f"watchdog_cpumask {format_cpulist(mask)}")
        return warned(f"watchdog hrtimer fires on isolated CPUs {format_cpulist(mask & isolated)}",
                      f"watchdog_cpumask {format_cpulist(mask)}")
    mask_raw = p.optional_text("/proc/sys/kernel/watchdog_cpumask")
    where = f" (watchdog_cpumask {mask_raw.strip()})" if mask_raw else ""
    return warned(f"soft-lockup watchdog hrtimer wakes every CPU{where}", f"soft_watchdog {value}")


@check(
    "sched-rt-runtime", category="isolation", max_severity="info", rank=None, source=("S1", "S18"),
    expected="-1 if the trader uses SCHED_FIFO/RR busy loops; otherwise irrelevant",
    remediation="kernel.sched_rt_runtime_us=-1 (tuned realtime) only for SCHED_FIFO/RR traders",
)
def sched_rt_runtime(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/kernel/sched_rt_runtime_us")
    if value < 0:
        return info("RT throttling off (-1)", str(value))
    return info(f"RT tasks may use {value} us per period (default 950000 of 1000000); matters only for "
                "SCHED_FIFO/RR traders", str(value))


@check(
    "preempt-model", category="isolation", max_severity="info", rank=None, source=("S3",),
    expected="a deliberate choice (PREEMPT_RT / full / voluntary / none)",
    remediation="cmdline preempt=full|voluntary|none on PREEMPT_DYNAMIC kernels; PREEMPT_RT kernel for RT",
)
def preempt_model(p: Probe) -> Result:
    realtime = p.optional_text("/sys/kernel/realtime")
    version = p.optional_text("/proc/sys/kernel/version") or p.optional_text("/proc/version")
    debug = p.optional_text("/sys/kernel/debug/sched/preempt")
    cmd = p.cmdline()
    if realtime is None and version is None and debug is None and not p.cmdline_known():
        raise UnknownInput("no readable preemption evidence (/sys/kernel/realtime, kernel version, cmdline)")
    version_text = (version or "").strip()
    if (realtime is not None and realtime.strip() == "1") or "PREEMPT_RT" in version_text:
        model = "PREEMPT_RT"
    elif "PREEMPT_DYNAMIC" in version_text:
        current = None
        if debug is not None:
            try:
                current = parenthesised_choice(debug)
            except ParseError:
                current = None
        chosen = current or cmd.get("preempt")
        model = f"PREEMPT_DYNAMIC ({chosen if chosen else 'boot default from Kconfig'})"
    elif re.search(r"\bPREEMPT\b", version_text):
        model = "PREEMPT (full)"
    else:
        model = "none/voluntary (no PREEMPT in version)"
    return info(f"preemption model {model}; kernel {version_text or 'version unreadable'}", model)

