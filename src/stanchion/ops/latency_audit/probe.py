"""What the checks see: a memoising snapshot of the host, the derived sets
(§3.5), the environment (§3.6), and a per-check :class:`Probe` that records
every input the check read (the report's ``inputs``).

Checks are deterministic functions of the snapshot: each file is read once per
run, no clock, no randomness, no writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from stanchion.ops.latency_audit.hostfs import HostFS, Unread
from stanchion.ops.latency_audit.model import SkipCheck, UnknownInput
from stanchion.ops.latency_audit.parse import (
    Cmdline,
    ParseError,
    cpuinfo_flags,
    format_cpulist,
    parse_cmdline,
    parse_cpulist,
    parse_int,
    parse_isolcpus,
)

__all__ = ["CpuSets", "Environment", "Facts", "Probe", "Snapshot", "collect_facts"]

T = TypeVar("T")
CPU: Final = "/sys/devices/system/cpu"
MAX_INPUT_CHARS: Final = 2000

VM_DMI_MARKERS: Final = ("QEMU", "KVM", "Amazon EC2", "Google", "VMware", "Xen", "innotek", "Firecracker")


class Snapshot:
    """Reads through :class:`HostFS`, once per path."""

    def __init__(self, fs: HostFS) -> None:
        self.fs = fs
        self._text: dict[str, str | Unread] = {}
        self._bytes: dict[tuple[str, int], bytes | Unread] = {}
        self._dirs: dict[str, list[str] | Unread] = {}
        self._exists: dict[str, bool | Unread] = {}
        self._commands: dict[str, str | Unread] = {}
        self._environ: dict[str, str] | None = None

    def read_text(self, path: str) -> str | Unread:
        if path not in self._text:
            self._text[path] = self.fs.read_text(path)
        return self._text[path]

    def read_bytes(self, path: str, n: int) -> bytes | Unread:
        key = (path, n)
        if key not in self._bytes:
            self._bytes[key] = self.fs.read_bytes(path, n)
        return self._bytes[key]

    def listdir(self, path: str) -> list[str] | Unread:
        if path not in self._dirs:
            self._dirs[path] = self.fs.listdir(path)
        return self._dirs[path]

    def exists(self, path: str) -> bool | Unread:
        if path not in self._exists:
            self._exists[path] = self.fs.exists(path)
        return self._exists[path]

    def command(self, name: str, argv: list[str]) -> str | Unread:
        if name not in self._commands:
            self._commands[name] = self.fs.run_command(name, argv)
        return self._commands[name]

    def environ(self) -> dict[str, str]:
        if self._environ is None:
            self._environ = self.fs.environ()
        return self._environ


def render_input(value: str | bytes | Unread) -> str:
    if isinstance(value, Unread):
        return value.render()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if len(value) > MAX_INPUT_CHARS:
        return value[:MAX_INPUT_CHARS] + f"…<truncated {len(value) - MAX_INPUT_CHARS} chars>"
    return value


class Recorder:
    """Reads through the snapshot and remembers each raw input."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.inputs: dict[str, str] = {}

    def text(self, path: str) -> str | Unread:
        value = self.snap.read_text(path)
        self.inputs[path] = render_input(value)
        return value

    def raw(self, path: str, n: int) -> bytes | Unread:
        value = self.snap.read_bytes(path, n)
        self.inputs[path] = render_input(value)
        return value

    def listdir(self, path: str) -> list[str] | Unread:
        value = self.snap.listdir(path)
        if isinstance(value, Unread):
            self.inputs[path] = value.render()
        return value

    def exists(self, path: str) -> bool | Unread:
        value = self.snap.exists(path)
        if isinstance(value, Unread):
            self.inputs[path] = value.render()
        elif not value:
            self.inputs.setdefault(path, "<missing>")
        return value

    def command(self, name: str, argv: list[str]) -> str | Unread:
        value = self.snap.command(name, argv)
        self.inputs[" ".join(argv)] = render_input(value)
        return value


# ---- derived facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSets:
    online: frozenset[int] | None
    isolated: frozenset[int] | None
    isolated_from: tuple[str, ...]
    nodes: int | None
    nohz_full: frozenset[int] | None  # None: sysfs file absent (kernel without NO_HZ_FULL) or unknown

    @property
    def housekeeping(self) -> frozenset[int] | None:
        if self.online is None or self.isolated is None:
            return None
        return self.online - self.isolated


@dataclass(frozen=True)
class Environment:
    kinds: tuple[str, ...]
    hypervisor_hint: str | None
    evidence: tuple[str, ...]

    @property
    def vm(self) -> bool:
        return "vm" in self.kinds

    @property
    def container(self) -> bool:
        return "container" in self.kinds

    @property
    def kubernetes(self) -> bool:
        return "kubernetes" in self.kinds


@dataclass
class Facts:
    pid: str
    cmdline: Cmdline | None
    cmdline_problem: str | None
    cpus: CpuSets
    online_problem: str | None
    isolated_problem: str | None
    nodes_problem: str | None
    env: Environment
    environ: dict[str, str]
    kernel_release: str | None
    kernel_version: str | None
    # inputs behind each derived value, merged into the inputs of checks that use it
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)


def _problem(path: str, value: Unread) -> str:
    return f"{path}: {value.describe()}"


def _cpulist_file(rec: Recorder, path: str, *, absent_ok: bool) -> tuple[frozenset[int] | None, str | None]:
    """(set, problem); an absent file is (None, None) when ``absent_ok``."""
    raw = rec.text(path)
    if isinstance(raw, Unread):
        if raw.kind == "missing" and absent_ok:
            return None, None
        return None, _problem(path, raw)
    try:
        return parse_cpulist(raw), None
    except ParseError as exc:
        return None, f"{path}: {exc}"


def _isolated_set(
    rec: Recorder, cmdline: Cmdline | None, raw_cmdline: str | Unread, nohz: frozenset[int] | None,
    nohz_problem: str | None, override: frozenset[int] | None,
) -> tuple[frozenset[int] | None, str | None, list[str]]:
    """I (spec §3.5): the override, else isolated ∪ nohz_full ∪ isolcpus= ∪ cgroup isolated partitions."""
    if override is not None:
        return override, None, ["--isolated-cpus"]
    iso_file, iso_problem = _cpulist_file(rec, f"{CPU}/isolated", absent_ok=True)
    problem = iso_problem or nohz_problem
    if problem is not None:
        return None, problem, []
    sources: list[str] = []
    found: set[int] = set()
    if iso_file:
        found |= iso_file
        sources.append("isolcpus (sysfs isolated)")
    if nohz:
        found |= nohz
        sources.append("nohz_full")
    if cmdline is not None and cmdline.get("isolcpus"):
        try:
            _, iso_cmd = parse_isolcpus(cmdline.get("isolcpus") or "")
        except ParseError:
            iso_cmd = frozenset()
        if iso_cmd:
            found |= iso_cmd
            sources.append("isolcpus= (cmdline)")
        rec.inputs["/proc/cmdline"] = render_input(raw_cmdline)
    cg_iso, _cg_problem = _cpulist_file(rec, "/sys/fs/cgroup/cpuset.cpus.isolated", absent_ok=True)
    if cg_iso:
        found |= cg_iso
        sources.append("cgroup v2 isolated partitions")
    return frozenset(found), None, sources


def collect_facts(snap: Snapshot, pid: str, isolated_override: frozenset[int] | None) -> Facts:
    inputs: dict[str, dict[str, str]] = {}

    rec = Recorder(snap)
    raw_cmdline = rec.text("/proc/cmdline")
    cmdline: Cmdline | None = None
    cmdline_problem: str | None = None
    if isinstance(raw_cmdline, Unread):
        cmdline_problem = _problem("/proc/cmdline", raw_cmdline)
    elif not raw_cmdline.strip():
        cmdline_problem = "/proc/cmdline: empty"
    else:
        cmdline = parse_cmdline(raw_cmdline)
    inputs["cmdline"] = rec.inputs

    rec = Recorder(snap)
    online, online_problem = _cpulist_file(rec, f"{CPU}/online", absent_ok=False)
    if online is not None and not online:
        online, online_problem = None, f"{CPU}/online: empty"
    inputs["online"] = rec.inputs

    rec = Recorder(snap)
    nohz, nohz_problem = _cpulist_file(rec, f"{CPU}/nohz_full", absent_ok=True)
    isolated, isolated_problem, sources = _isolated_set(rec, cmdline, raw_cmdline, nohz, nohz_problem,
                                                         isolated_override)
    inputs["isolated"] = rec.inputs

    rec = Recorder(snap)
    nodes: int | None = 1
    nodes_problem: str | None = None
    raw_nodes = rec.text("/sys/devices/system/node/online")
    if isinstance(raw_nodes, Unread):
        if raw_nodes.kind != "missing":
            nodes, nodes_problem = None, _problem("/sys/devices/system/node/online", raw_nodes)
    else:
        try:
            nodes = len(parse_cpulist(raw_nodes)) or None
            if nodes is None:
                nodes_problem = "/sys/devices/system/node/online: empty"
        except ParseError as exc:
            nodes, nodes_problem = None, f"/sys/devices/system/node/online: {exc}"
    inputs["nodes"] = rec.inputs

    environ = snap.environ()
    env = detect_environment(snap, environ)

    def plain(path: str) -> str | None:
        raw = snap.read_text(path)
        return None if isinstance(raw, Unread) else (raw.strip() or None)

    return Facts(
        pid=pid,
        cmdline=cmdline,
        cmdline_problem=cmdline_problem,
        cpus=CpuSets(online, isolated, tuple(sources), nodes, nohz),
        online_problem=online_problem,
        isolated_problem=isolated_problem,
        nodes_problem=nodes_problem,
        env=env,
        environ=environ,
        kernel_release=plain("/proc/sys/kernel/osrelease"),
        kernel_version=plain("/proc/sys/kernel/version"),
        inputs=inputs,
    )


def _detect_vm(snap: Snapshot, evidence: list[str]) -> bool:
    vm = False
    cpuinfo = snap.read_text("/proc/cpuinfo")
    if isinstance(cpuinfo, str):
        try:
            flags = cpuinfo_flags(cpuinfo)
        except ParseError:
            flags = None
        if flags and "hypervisor" in flags:
            vm = True
            evidence.append("cpuinfo:hypervisor")
    if snap.exists("/sys/hypervisor/type") is True:
        vm = True
        evidence.append("/sys/hypervisor/type")
    for name in ("sys_vendor", "product_name"):
        raw = snap.read_text(f"/sys/class/dmi/id/{name}")
        value = raw.strip() if isinstance(raw, str) else ""
        lowered = value.lower()
        if value and (any(m.lower() in lowered for m in VM_DMI_MARKERS)
                      or "microsoft corporation" in lowered or "virtual machine" in lowered):
            vm = True
            evidence.append(f"dmi:{name}={value}")
    return vm


def _hypervisor_hint(snap: Snapshot) -> str | None:
    clocks = snap.read_text("/sys/devices/system/clocksource/clocksource0/available_clocksource")
    names = clocks.split() if isinstance(clocks, str) else []
    if "kvm-clock" in names:
        return "kvm"
    if "xen" in names:
        return "xen"
    if any(n.startswith("hyperv_clocksource") for n in names):
        return "hyperv"
    return None


def detect_environment(snap: Snapshot, environ: dict[str, str]) -> Environment:
    """Spec §3.6: vm / bare-metal, container, kubernetes (markers are heuristics)."""
    evidence: list[str] = []
    kinds = ["vm" if _detect_vm(snap, evidence) else "bare-metal"]
    container = False
    for marker in ("/.dockerenv", "/run/.containerenv"):
        if snap.exists(marker) is True:
            container = True
            evidence.append(marker)
    if "container" in environ:
        container = True
        evidence.append("env:container")
    pod = False
    if "KUBERNETES_SERVICE_HOST" in environ:
        container = pod = True
        evidence.append("env:KUBERNETES_SERVICE_HOST")
    if snap.exists("/var/run/secrets/kubernetes.io/serviceaccount") is True:
        container = pod = True
        evidence.append("/var/run/secrets/kubernetes.io/serviceaccount")
    node = isinstance(snap.read_text("/var/lib/kubelet/cpu_manager_state"), str)
    if node:
        evidence.append("/var/lib/kubelet/cpu_manager_state")
    if container:
        kinds.append("container")
    if pod or node:
        kinds.append("kubernetes")
    return Environment(tuple(kinds), _hypervisor_hint(snap), tuple(evidence))


# ---- the per-check probe --------------------------------------------------------------------------


class Probe(Recorder):
    """The one argument of every check: typed reads that raise
    :class:`SkipCheck` / :class:`UnknownInput` with a specific reason."""

    def __init__(self, snap: Snapshot, facts: Facts) -> None:
        super().__init__(snap)
        self.facts = facts

    def _merge(self, key: str) -> None:
        for path, value in self.facts.inputs.get(key, {}).items():
            self.inputs.setdefault(path, value)

    # -- derived values --

    @property
    def env(self) -> Environment:
        return self.facts.env

    @property
    def pid(self) -> str:
        return self.facts.pid

    def cmdline(self, *, required: bool = False) -> Cmdline:
        """The kernel command line; unreadable → empty (optional) or unknown (required)."""
        self._merge("cmdline")
        if self.facts.cmdline is None:
            if required:
                raise UnknownInput(self.facts.cmdline_problem or "/proc/cmdline unreadable")
            return Cmdline()
        return self.facts.cmdline

    def cmdline_known(self) -> bool:
        return self.facts.cmdline is not None

    def online(self) -> frozenset[int]:
        self._merge("online")
        if self.facts.cpus.online is None:
            raise UnknownInput(f"online CPUs unknown ({self.facts.online_problem})")
        return self.facts.cpus.online

    def isolated(self) -> frozenset[int]:
        """The isolated set I; unknown → the check is unknown."""
        self._merge("isolated")
        if self.facts.cpus.isolated is None:
            raise UnknownInput(f"isolated CPUs unknown ({self.facts.isolated_problem})")
        return self.facts.cpus.isolated

    def housekeeping(self) -> frozenset[int]:
        return self.online() - self.isolated()

    def nodes(self) -> int:
        self._merge("nodes")
        if self.facts.cpus.nodes is None:
            raise UnknownInput(f"NUMA nodes unknown ({self.facts.nodes_problem})")
        return self.facts.cpus.nodes

    def nohz_set(self) -> frozenset[int] | None:
        """The sysfs nohz_full set; None when the file is absent; unknown if unreadable."""
        self._merge("isolated")
        raw = self.text(f"{CPU}/nohz_full")
        if isinstance(raw, Unread):
            if raw.kind == "missing":
                return None
            raise UnknownInput(_problem(f"{CPU}/nohz_full", raw))
        return self.parse(f"{CPU}/nohz_full", raw, parse_cpulist)

    # -- typed reads --

    def parse(self, path: str, raw: str, parser: Callable[[str], T]) -> T:
        try:
            return parser(raw)
        except ParseError as exc:
            raise UnknownInput(f"{path}: unparsable ({exc})") from None

    def required_text(self, path: str, *, absent: str | None = None, allow_empty: bool = False) -> str:
        """Text of a required input. ``absent``: the skip reason when the file is missing
        (None → missing is unknown)."""
        raw = self.text(path)
        if isinstance(raw, Unread):
            if raw.kind == "missing" and absent is not None:
                raise SkipCheck(absent)
            raise UnknownInput(_problem(path, raw))
        if not allow_empty and not raw.strip():
            raise UnknownInput(f"{path}: empty")
        return raw

    def optional_text(self, path: str) -> str | None:
        """Text of an optional input (evidence); None when unreadable for any reason."""
        raw = self.text(path)
        return None if isinstance(raw, Unread) else raw

    def required_int(self, path: str, *, absent: str | None = None) -> int:
        return self.parse(path, self.required_text(path, absent=absent), parse_int)

    def sysctl(self, path: str) -> int:
        """A sysctl integer whose absence means "not built" → skip."""
        return self.required_int(path, absent=f"{path} absent (feature not built)")

    def present(self, path: str) -> bool:
        """Existence; unknown if the parent cannot be searched."""
        found = self.exists(path)
        if isinstance(found, Unread):
            raise UnknownInput(_problem(path, found))
        return found

    def required_listdir(self, path: str) -> list[str]:
        names = self.listdir(path)
        if isinstance(names, Unread):
            raise UnknownInput(_problem(path, names))
        return names

    def cpu_dirs(self) -> list[int]:
        """Online CPUs if known, else the ``cpuN`` directories."""
        if self.facts.cpus.online is not None:
            self._merge("online")
            return sorted(self.facts.cpus.online)
        names = self.required_listdir(CPU)
        return sorted(int(n[3:]) for n in names if re.fullmatch(r"cpu\d+", n))

    def unread_problem(self, path: str, value: Unread) -> str:
        return _problem(path, value)


def cpus_text(cpus: frozenset[int] | None) -> str:
    if cpus is None:
        return "unknown"
    return format_cpulist(cpus) or "(none)"
