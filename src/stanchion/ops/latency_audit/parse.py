"""Pure parsers for the kernel's text formats (spec §3.4). No I/O here.

Every parser raises :class:`ParseError` with a short, specific reason on input
it does not understand; callers turn that into an ``unknown`` verdict.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "CgroupLine",
    "Cmdline",
    "EthtoolCoalesce",
    "EthtoolRings",
    "ParseError",
    "Quota",
    "bracketed_choice",
    "cpuinfo_flags",
    "format_cpulist",
    "parenthesised_choice",
    "parse_cgroup_file",
    "parse_cmdline",
    "parse_cpu_max",
    "parse_cpulist",
    "parse_dma_latency",
    "parse_ethtool_coalesce",
    "parse_ethtool_rings",
    "parse_hexmask",
    "parse_int",
    "parse_interrupts",
    "parse_isolcpus",
    "parse_keyvalue_stat",
    "parse_limits_memlock",
    "parse_status",
    "parse_swaps",
]

NO_CONSTRAINT_US = 2_000_000_000  # /dev/cpu_dma_latency default: nobody holds a constraint


class ParseError(ValueError):
    """Input did not have the expected format."""


def _excerpt(text: str, limit: int = 40) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "…")


# ---- cpu sets -------------------------------------------------------------------------------------

_RANGE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+)/(\d+))?)?$")


def parse_cpulist(text: str) -> frozenset[int]:
    """``0-3,8,10-11`` (and ``0-15:2/4`` groups); ``""`` and ``(null)`` are empty."""
    text = text.strip()
    if text in ("", "(null)"):
        return frozenset()
    cpus: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        match = _RANGE.match(item)
        if match is None:
            raise ParseError(f"not a cpu list: {_excerpt(text)}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first or last > 65535:
            raise ParseError(f"bad cpu range {item!r}")
        if match.group(3) is not None:
            used, group = int(match.group(3)), int(match.group(4))
            if group == 0 or used > group:
                raise ParseError(f"bad cpu group {item!r}")
            cpus.update(c for c in range(first, last + 1) if (c - first) % group < used)
        else:
            cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpulist(cpus: Iterable[int]) -> str:
    """The kernel's compact form: ``0-3,8``; empty set → ``""``."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_hexmask(text: str) -> frozenset[int]:
    """Comma-separated 32-bit hex words, most significant first (``00000000,0000ff03``)."""
    words = text.strip().split(",")
    if not text.strip() or any(not re.fullmatch(r"[0-9a-fA-F]{1,8}", w) for w in words):
        raise ParseError(f"not a hex cpu mask: {_excerpt(text)}")
    value = 0
    for word in words:
        value = (value << 32) | int(word, 16)
    return frozenset(i for i in range(value.bit_length()) if value >> i & 1)


# ---- scalar and choice files ----------------------------------------------------------------------


def parse_int(text: str) -> int:
    """A sysctl integer: surrounding whitespace stripped; empty is an error."""
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty")
    try:
        return int(stripped)
    except ValueError:
        raise ParseError(f"not an integer: {_excerpt(stripped)}") from None


def bracketed_choice(text: str) -> str:
    """``always [madvise] never`` → ``madvise``."""
    match = re.search(r"\[([^\]\s]+)\]", text)
    if match is None:
        raise ParseError(f"no [selected] value in {_excerpt(text)}")
    return match.group(1)


def parenthesised_choice(text: str) -> str:
    """``none (voluntary) full`` (debugfs sched/preempt) → ``voluntary``."""
    match = re.search(r"\(([^)\s]+)\)", text)
    if match is None:
        raise ParseError(f"no (selected) value in {_excerpt(text)}")
    return match.group(1)


def parse_dma_latency(data: bytes) -> int:
    """``/dev/cpu_dma_latency``: exactly 4 bytes, little-endian signed int32, µs."""
    if len(data) < 4:
        raise ParseError(f"expected 4 bytes, got {len(data)}")
    value: int = struct.unpack("<i", data[:4])[0]
    return value


# ---- kernel command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cmdline:
    """Parsed ``/proc/cmdline``: last occurrence of a key wins; bare flags map to None."""

    params: dict[str, str | None] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.params

    def get(self, key: str) -> str | None:
        return self.params.get(key)

    def render(self, *keys: str) -> str:
        shown = [k if self.params[k] is None else f"{k}={self.params[k]}" for k in keys if k in self.params]
        return " ".join(shown) if shown else "(none)"


def parse_cmdline(text: str) -> Cmdline:
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            continue
        if ch.isspace() and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        tokens.append("".join(current))
    params: dict[str, str | None] = {}
    for token in tokens:
        if token == "--":  # noqa: S105 - the end-of-options marker
            break  # the rest belongs to init
        key, sep, value = token.partition("=")
        params[key] = value if sep else None
    return Cmdline(params)


ISOLCPUS_FLAGS = frozenset({"nohz", "domain", "managed_irq"})


def parse_isolcpus(value: str) -> tuple[frozenset[str], frozenset[int]]:
    """``managed_irq,domain,2-7`` → ({managed_irq, domain}, {2..7})."""
    items = value.split(",")
    flags: set[str] = set()
    while items and items[0] in ISOLCPUS_FLAGS:
        flags.add(items.pop(0))
    return frozenset(flags), parse_cpulist(",".join(items))


# ---- /proc/<pid>/... ------------------------------------------------------------------------------


def parse_status(text: str) -> dict[str, str]:
    """``/proc/<pid>/status`` as ``{key: value}``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if not fields:
        raise ParseError("no 'Key: value' lines")
    return fields


def parse_limits_memlock(text: str) -> int | None:
    """Soft ``Max locked memory`` in bytes; None for ``unlimited``."""
    match = re.search(r"^Max locked memory\s+(\S+)\s+(\S+)", text, re.MULTILINE)
    if match is None:
        raise ParseError("no 'Max locked memory' row")
    soft = match.group(1)
    if soft == "unlimited":
        return None
    if not soft.isdigit():
        raise ParseError(f"bad memlock limit {soft!r}")
    return int(soft)


@dataclass(frozen=True)
class CgroupLine:
    hierarchy: str
    controllers: tuple[str, ...]
    path: str


def parse_cgroup_file(text: str) -> list[CgroupLine]:
    """``/proc/<pid>/cgroup``: ``id:controllers:path`` lines."""
    lines: list[CgroupLine] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        parts = raw.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            raise ParseError(f"bad cgroup line {_excerpt(raw)}")
        controllers = tuple(c for c in parts[1].split(",") if c)
        lines.append(CgroupLine(parts[0], controllers, parts[2]))
    if not lines:
        raise ParseError("empty")
    return lines


@dataclass(frozen=True)
class Quota:
    """A CFS bandwidth limit: ``quota`` µs of CPU time per ``period`` µs."""

    quota: int
    period: int

    @property
    def cpus(self) -> Fraction:
        return Fraction(self.quota, self.period)

    def render(self) -> str:
        return f"{self.quota}/{self.period} ({float(self.cpus):.2f} CPUs)"


def parse_cpu_max(text: str) -> Quota | None:
    """cgroup v2 ``cpu.max``: ``$MAX $PERIOD``; ``max`` → None."""
    parts = text.split()
    if not parts or len(parts) > 2:
        raise ParseError(f"bad cpu.max {_excerpt(text)}")
    period = 100_000
    if len(parts) == 2:
        if not parts[1].isdigit() or int(parts[1]) == 0:
            raise ParseError(f"bad cpu.max period {_excerpt(text)}")
        period = int(parts[1])
    if parts[0] == "max":
        return None
    if not parts[0].isdigit():
        raise ParseError(f"bad cpu.max quota {_excerpt(text)}")
    return Quota(int(parts[0]), period)


def parse_keyvalue_stat(text: str) -> dict[str, int]:
    """``cpu.stat``-style ``key value`` lines."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ParseError(f"bad stat line {_excerpt(line)}")
        values[parts[0]] = int(parts[1])
    if not values:
        raise ParseError("empty")
    return values


# ---- /proc files ----------------------------------------------------------------------------------


def cpuinfo_flags(text: str) -> frozenset[str] | None:
    """Flags of the first ``flags`` line; None when there is none (non-x86)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    if not re.search(r"^processor\s*:", text, re.MULTILINE):
        raise ParseError("no 'processor' or 'flags' lines")
    return None


@dataclass(frozen=True)
class SwapEntry:
    name: str
    kind: str
    size_kb: int
    used_kb: int


def parse_swaps(text: str) -> list[SwapEntry]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Filename"):
        raise ParseError("no 'Filename' header")
    entries: list[SwapEntry] = []
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4 or not parts[2].isdigit() or not parts[3].isdigit():
            raise ParseError(f"bad swap line {_excerpt(line)}")
        entries.append(SwapEntry(parts[0], parts[1], int(parts[2]), int(parts[3])))
    return entries


@dataclass(frozen=True)
class Interrupts:
    cpus: tuple[int, ...]
    # irq -> per-cpu counts (aligned with cpus)
    numeric: dict[str, tuple[int, ...]]
    # LOC, RES, ... -> per-cpu counts
    named: dict[str, tuple[int, ...]]


def parse_interrupts(text: str) -> Interrupts:
    lines = text.splitlines()
    if not lines:
        raise ParseError("empty")
    header = lines[0].split()
    if not header or not all(re.fullmatch(r"CPU\d+", h) for h in header):
        raise ParseError("no 'CPUn' header")
    cpus = tuple(int(h[3:]) for h in header)
    numeric: dict[str, tuple[int, ...]] = {}
    named: dict[str, tuple[int, ...]] = {}
    for line in lines[1:]:
        label, sep, rest = line.partition(":")
        label = label.strip()
        if not sep or not label:
            continue
        fields = rest.split()
        counts: list[int] = []
        for value in fields[: len(cpus)]:
            if not value.isdigit():
                break
            counts.append(int(value))
        if label.isdigit():
            numeric[label] = tuple(counts)
        else:
            named[label] = tuple(counts)
    return Interrupts(cpus, numeric, named)


# ---- ethtool --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EthtoolCoalesce:
    adaptive_rx: str  # on | off | n/a
    rx_usecs: int | None  # None = n/a


def parse_ethtool_coalesce(text: str) -> EthtoolCoalesce:
    adaptive = re.search(r"^Adaptive RX:\s*(on|off|n/a)\b", text, re.MULTILINE)
    usecs = re.search(r"^rx-usecs:\s*(\d+|n/a)\s*$", text, re.MULTILINE)
    if adaptive is None or usecs is None:
        raise ParseError("no 'Adaptive RX:' / 'rx-usecs:' lines")
    value = usecs.group(1)
    return EthtoolCoalesce(adaptive.group(1), None if value == "n/a" else int(value))


@dataclass(frozen=True)
class EthtoolRings:
    max_rx: int | None
    max_tx: int | None
    rx: int | None
    tx: int | None

    def render(self) -> str:
        def show(v: int | None) -> str:
            return "n/a" if v is None else str(v)

        return f"RX {show(self.rx)}/{show(self.max_rx)}, TX {show(self.tx)}/{show(self.max_tx)}"


def parse_ethtool_rings(text: str) -> EthtoolRings:
    blocks: dict[str, dict[str, int | None]] = {}
    current: dict[str, int | None] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Pre-set maximums"):
            current = blocks.setdefault("max", {})
        elif stripped.startswith("Current hardware settings"):
            current = blocks.setdefault("cur", {})
        elif current is not None:
            key, sep, value = stripped.partition(":")
            value = value.strip()
            if sep and key in ("RX", "TX"):
                current[key] = int(value) if value.isdigit() else None
    if "max" not in blocks or "cur" not in blocks:
        raise ParseError("no 'Pre-set maximums:' / 'Current hardware settings:' blocks")
    for block in blocks.values():
        if "RX" not in block or "TX" not in block:
            raise ParseError("missing RX:/TX: lines")
    return EthtoolRings(blocks["max"]["RX"], blocks["max"]["TX"], blocks["cur"]["RX"], blocks["cur"]["TX"])
