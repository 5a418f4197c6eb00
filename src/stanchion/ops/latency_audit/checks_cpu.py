"""§5.1 CPU frequency and idle: checks 1–9."""

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
    NO_CONSTRAINT_US,
    ParseError,
    cpuinfo_flags,
    format_cpulist,
    parse_cpulist,
    parse_dma_latency,
    parse_int,
)
from stanchion.ops.latency_audit.probe import CPU, Probe
from stanchion.ops.latency_audit.registry import check


def _cpufreq_values(p: Probe, leaf: str) -> dict[str, str] | None:
    """``{cpuN|policyN: value}`` of a cpufreq attribute; None when cpufreq is absent
    for every online CPU (and no policy directories exist)."""
    values: dict[str, str] = {}
    cpus = p.cpu_dirs()
    dirs = [(f"cpu{n}", f"{CPU}/cpu{n}/cpufreq") for n in cpus if p.present(f"{CPU}/cpu{n}/cpufreq")]
    if not dirs and p.present(f"{CPU}/cpufreq"):
        names = p.required_listdir(f"{CPU}/cpufreq")
        dirs = [(n, f"{CPU}/cpufreq/{n}") for n in names if re.fullmatch(r"policy\d+", n)]
    if not dirs:
        return None
    present = False
    for label, base in dirs:
        raw = p.text(f"{base}/{leaf}")
        if isinstance(raw, Unread):
            if raw.kind == "missing":
                continue
            raise UnknownInput(p.unread_problem(f"{base}/{leaf}", raw))
        present = True
        if not raw.strip():
            raise UnknownInput(f"{base}/{leaf}: empty")
        values[label] = raw.strip()
    return values if present else None


def _offenders(values: dict[str, str], want: str) -> str:
    bad = {k: v for k, v in values.items() if v != want}
    by_value: dict[str, list[str]] = {}
    for label, value in bad.items():
        by_value.setdefault(value, []).append(label)
    return "; ".join(f"{v} on {', '.join(labels)}" for v, labels in sorted(by_value.items()))


@check(
    "cpu-governor", category="cpu", max_severity="fail", rank=9, source=("S1", "S18", "S2", "S24"),
    expected="performance on all CPUs",
    remediation="tuned [cpu] governor=performance (latency-performance) or cpupower frequency-set -g performance",
)
def cpu_governor(p: Probe) -> Result:
    values = _cpufreq_values(p, "scaling_governor")
    if values is None:
        raise SkipCheck("no cpufreq for any online CPU (frequency owned by firmware/hypervisor)")
    driver = p.optional_text(f"{CPU}/cpu{p.cpu_dirs()[0]}/cpufreq/scaling_driver") if p.cpu_dirs() else None
    suffix = f" (driver {driver.strip()})" if driver and driver.strip() else ""
    if all(v == "performance" for v in values.values()):
        return passed(f"all {len(values)} CPUs use the performance governor{suffix}", "performance")
    return failed(f"governor is not performance: {_offenders(values, 'performance')}{suffix}",
                  _offenders(values, "performance"))


@check(
    "cpu-epp", category="cpu", max_severity="warn", rank=9, source=("S1",),
    expected="performance",
    remediation="tuned [cpu] energy_performance_preference=performance / energy_perf_bias=performance",
)
def cpu_epp(p: Probe) -> Result:
    values = _cpufreq_values(p, "energy_performance_preference")
    if values is None:
        raise SkipCheck("energy_performance_preference absent (no HWP/amd-pstate EPP)")
    if all(v == "performance" for v in values.values()):
        return passed("EPP is performance on all CPUs", "performance")
    return warned(f"EPP biases toward power saving: {_offenders(values, 'performance')}",
                  _offenders(values, "performance"))


@check(
    "cpu-min-perf-pct", category="cpu", max_severity="warn", rank=9, source=("S1",),
    expected="100", remediation="tuned [cpu] min_perf_pct=100 (latency-performance)",
)
def cpu_min_perf_pct(p: Probe) -> Result:
    value = p.required_int(f"{CPU}/intel_pstate/min_perf_pct", absent="intel_pstate absent")
    status = p.optional_text(f"{CPU}/intel_pstate/status")
    note = f" (intel_pstate {status.strip()})" if status else ""
    if value == 100:
        return passed(f"min_perf_pct is 100{note}", "100")
    return warned(f"P-state floor is {value}% of max: cores drop frequency between bursts{note}", str(value))


@check(
    "cpu-turbo", category="cpu", max_severity="info", rank=None, source=("S1", "S18"),
    expected="a deliberate choice (tradeoff)", remediation="tuned [cpu] boost=1|0",
)
def cpu_turbo(p: Probe) -> Result:
    no_turbo_path = f"{CPU}/intel_pstate/no_turbo"
    boost_path = f"{CPU}/cpufreq/boost"
    if p.present(no_turbo_path):
        enabled = p.required_int(no_turbo_path) == 0
        where = "intel_pstate/no_turbo"
    elif p.present(boost_path):
        enabled = p.required_int(boost_path) != 0
        where = "cpufreq/boost"
    else:
        raise SkipCheck("no intel_pstate/no_turbo or cpufreq/boost")
    state = "enabled" if enabled else "disabled"
    return info(f"turbo/boost {state} ({where}): faster bursts vs frequency determinism", state)


def _state_dirs(p: Probe, cpu: int) -> list[str]:
    base = f"{CPU}/cpu{cpu}/cpuidle"
    if not p.present(base):
        return []
    return [f"{base}/{n}" for n in p.required_listdir(base) if re.fullmatch(r"state\d+", n)]


@check(
    "cstates", category="cpu", max_severity="fail", rank=5, source=("S5", "S14", "S1", "S2", "S19", "S24"),
    expected="deepest usable idle state exit latency <= 10 us on the trading cores",
    remediation=(
        "tuned [cpu] force_latency=cstate.id_no_zero:1|3 (latency-performance), or cmdline "
        "intel_idle.max_cstate=1 processor.max_cstate=1, or echo 1 > "
        "/sys/devices/system/cpu/cpu*/cpuidle/state<M>/disable; BIOS maximum performance. "
        "Avoid idle=poll except on dedicated cores"
    ),
)
def cstates(p: Probe) -> Result:  # noqa: C901, PLR0912 - the spec's rule has this many cases
    if p.env.vm:
        raise SkipCheck("virtual machine: guest idle states are virtual (see vm-halt-poll)")
    driver_raw = p.text(f"{CPU}/cpuidle/current_driver")
    if isinstance(driver_raw, Unread) and driver_raw.kind != "missing":
        raise UnknownInput(p.unread_problem(f"{CPU}/cpuidle/current_driver", driver_raw))
    driver = "none" if isinstance(driver_raw, Unread) else driver_raw.strip()
    if isinstance(driver_raw, str) and not driver:
        raise UnknownInput(f"{CPU}/cpuidle/current_driver: empty")
    cmd = p.cmdline()
    limits = cmd.render("idle", "intel_idle.max_cstate", "processor.max_cstate", "cpuidle.off")
    if cmd.get("idle") == "poll":
        return passed("idle=poll: CPUs never enter idle states", "idle=poll")
    if driver == "none":
        return passed("no cpuidle driver: default idle is HLT (~C1)", "driver none")

    isolated = p.isolated()
    cpus = isolated or p.online()
    unverifiable: list[str] = []
    qos = NO_CONSTRAINT_US
    raw_qos = p.raw("/dev/cpu_dma_latency", 4)
    if isinstance(raw_qos, Unread):
        if raw_qos.kind != "missing":
            unverifiable.append("PM QoS (/dev/cpu_dma_latency) unreadable; a running tuned/app may hold a lower limit")
    else:
        try:
            qos = parse_dma_latency(raw_qos)
        except ParseError as exc:
            unverifiable.append(f"PM QoS (/dev/cpu_dma_latency) unparsable: {exc}")

    worst = 0
    worst_where = "POLL"
    for cpu in sorted(cpus):
        limit = qos
        resume_path = f"{CPU}/cpu{cpu}/power/pm_qos_resume_latency_us"
        resume = p.text(resume_path)
        if isinstance(resume, Unread):
            if resume.kind != "missing":
                unverifiable.append(f"{resume_path} unreadable")
        elif resume.strip() == "n/a":
            limit = 0
        else:
            value = p.parse(resume_path, resume, parse_int)
            if value > 0:
                limit = min(limit, value)
        for state in _state_dirs(p, cpu):
            if p.required_int(f"{state}/disable") != 0:
                continue
            latency = p.required_int(f"{state}/latency")
            if latency > limit:
                continue
            if latency > worst:
                name = p.optional_text(f"{state}/name")
                worst = latency
                worst_where = f"{name.strip() if name else state.rsplit('/', 1)[1]} on cpu{cpu}"
    for module in ("intel_idle", "processor"):
        param = p.optional_text(f"/sys/module/{module}/parameters/max_cstate")
        if param and param.strip():
            limits += f"; {module}.max_cstate module value {param.strip()}"
    scope = f"isolated CPUs {format_cpulist(cpus)}" if isolated else f"all online CPUs {format_cpulist(cpus)}"
    qos_note = "" if qos == NO_CONSTRAINT_US else f", PM QoS {qos} us"
    observed = f"{worst} us ({worst_where})"
    detail = (f"deepest usable idle state exit latency {worst} us ({worst_where}) over {scope}; "
              f"driver {driver}{qos_note}; idle cmdline {limits}")
    if worst <= 10:
        return passed(detail, observed)
    if worst <= 50:
        return warned(detail, observed)
    return failed(detail, observed, unverifiable="; ".join(unverifiable) or None)


@check(
    "vm-halt-poll", category="cpu", max_severity="warn", rank=11, source=("S15", "S5"),
    expected="guest halt polling enabled (cpuidle-haltpoll, guest_halt_poll_ns > 0)",
    remediation=(
        "guest cmdline cpuidle_haltpoll.force=1 haltpoll.guest_halt_poll_ns=200000, or idle=poll on "
        "dedicated hosts only; prefer instance types with dedicated physical cores"
    ),
)
def vm_halt_poll(p: Probe) -> Result:
    if not p.env.vm:
        raise SkipCheck("not a virtual machine")
    driver_raw = p.text(f"{CPU}/cpuidle/current_driver")
    if isinstance(driver_raw, Unread) and driver_raw.kind != "missing":
        raise UnknownInput(p.unread_problem(f"{CPU}/cpuidle/current_driver", driver_raw))
    driver = "none" if isinstance(driver_raw, Unread) else driver_raw.strip()
    if not driver:
        raise UnknownInput(f"{CPU}/cpuidle/current_driver: empty")
    if p.cmdline().get("idle") == "poll":
        return passed("idle=poll: vCPUs never halt", "idle=poll")
    if driver == "haltpoll":
        ns = p.required_int("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
        if ns > 0:
            return passed(f"cpuidle-haltpoll polls up to {ns} ns before HLT", f"haltpoll, {ns} ns")
        return warned("cpuidle-haltpoll loaded but guest_halt_poll_ns = 0: every idle vCPU exits to the host",
                      "haltpoll, 0 ns")
    return warned(f"cpuidle driver {driver}: idle vCPUs HLT-exit to the host (wake = IPI + host reschedule)",
                  f"driver {driver}")


@check(
    "smt", category="cpu", max_severity="warn", rank=13, source=("S2", "S18", "S6"),
    expected="SMT off (or both siblings of a trading core isolated)",
    remediation="BIOS, cmdline nosmt, or echo off > /sys/devices/system/cpu/smt/control",
)
def smt(p: Probe) -> Result:
    vm_note = " (VM: topology as presented by the hypervisor)" if p.env.vm else ""
    if p.present(f"{CPU}/smt"):
        control = p.optional_text(f"{CPU}/smt/control")
        control_value = control.strip() if control else ""
        if control_value in ("off", "forceoff", "notsupported", "notimplemented"):
            return passed(f"SMT control is {control_value}{vm_note}", f"control={control_value}")
        active = p.required_int(f"{CPU}/smt/active")
        if active == 0:
            return passed(f"SMT inactive{vm_note}", "active=0")
        return warned(f"SMT active{_sibling_note(p)}{vm_note}", f"active={active}, control={control_value or '?'}")
    shared = []
    for cpu in p.cpu_dirs():
        path = f"{CPU}/cpu{cpu}/topology/thread_siblings_list"
        raw = p.text(path)
        if isinstance(raw, Unread):
            if raw.kind == "missing":
                continue
            raise UnknownInput(p.unread_problem(path, raw))
        siblings = p.parse(path, raw, parse_cpulist)
        if len(siblings) > 1:
            shared.append(f"cpu{cpu}: {format_cpulist(siblings)}")
    if shared:
        return warned(f"hyperthread siblings present: {'; '.join(shared[:8])}{vm_note}", "siblings present")
    return passed(f"no hyperthread siblings{vm_note}", "no siblings")


def _sibling_note(p: Probe) -> str:
    """Evidence: isolated CPUs whose sibling is a housekeeping CPU."""
    isolated = p.facts.cpus.isolated
    housekeeping = p.facts.cpus.housekeeping
    if not isolated or housekeeping is None:
        return ""
    exposed = []
    for cpu in sorted(isolated):
        raw = p.optional_text(f"{CPU}/cpu{cpu}/topology/thread_siblings_list")
        if raw is None:
            continue
        try:
            siblings = parse_cpulist(raw)
        except ParseError:
            continue
        if siblings & housekeeping:
            exposed.append(f"cpu{cpu}~{format_cpulist(siblings & housekeeping)}")
    return f"; isolated CPUs sharing a core with housekeeping CPUs: {', '.join(exposed)}" if exposed else ""


@check(
    "tsc-flags", category="cpu", max_severity="warn", rank=12, source=("S2", "S20", "S19"),
    expected="constant_tsc and nonstop_tsc",
    remediation="hardware/BIOS; in VMs ask for invariant-TSC exposure",
)
def tsc_flags(p: Probe) -> Result:
    raw = p.required_text("/proc/cpuinfo")
    flags = p.parse("/proc/cpuinfo", raw, cpuinfo_flags)
    if flags is None:
        raise SkipCheck("no 'flags' line in /proc/cpuinfo (not x86)")
    missing = [f for f in ("constant_tsc", "nonstop_tsc") if f not in flags]
    present = " ".join(f for f in ("constant_tsc", "nonstop_tsc", "tsc_known_freq", "tsc_reliable") if f in flags)
    if not missing:
        return passed(f"invariant TSC ({present})", present)
    return warned(f"TSC lacks {' '.join(missing)}: may stop in deep C-states or change rate",
                  present or "(none)")


CLOCK_GOOD = frozenset({"tsc", "kvm-clock", "hyperv_clocksource_tsc_page", "arch_sys_counter"})
CLOCK_BAD = frozenset({"xen", "hpet", "acpi_pm", "pit", "jiffies", "refined-jiffies"})


@check(
    "clocksource", category="cpu", max_severity="fail", rank=12, source=("S19", "S25", "S20", "S1"),
    expected="tsc",
    remediation=(
        "cmdline clocksource=tsc (plus tsc=reliable only on hardware with a known-stable TSC), or "
        "echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource"
    ),
)
def clocksource(p: Probe) -> Result:
    base = "/sys/devices/system/clocksource/clocksource0"
    current = p.required_text(f"{base}/current_clocksource").strip()
    available_raw = p.optional_text(f"{base}/available_clocksource")
    available = available_raw.split() if available_raw else []
    cmd = p.cmdline()
    note = ""
    if current != "tsc" and "tsc" in available:
        note = "; tsc is available"
    extra = cmd.render("clocksource", "tsc")
    if extra != "(none)":
        note += f"; cmdline {extra}"
    if current in CLOCK_GOOD:
        return passed(f"clocksource {current} (vDSO-capable){note}", current)
    if current in CLOCK_BAD:
        return failed(f"clocksource {current}: each clock read costs a microsecond or a syscall{note}", current)
    return warned(f"unrecognised clocksource {current}{note}", current)
