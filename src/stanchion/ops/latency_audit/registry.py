"""The check registry: metadata next to each rule, order fixed by the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from stanchion.ops.latency_audit.model import CheckSpec, Result, Severity
from stanchion.ops.latency_audit.probe import Probe

__all__ = ["CHECK_IDS", "all_checks", "check"]

# Spec §4, "Check ids in spec order (46)".
CHECK_IDS: Final = (
    "cpu-governor", "cpu-epp", "cpu-min-perf-pct", "cpu-turbo", "cstates", "vm-halt-poll", "smt", "tsc-flags",
    "clocksource", "cpu-isolation", "nohz-full", "rcu-nocbs", "irq-affinity", "irqbalance", "workqueue-cpumask",
    "timer-migration", "nmi-watchdog", "softlockup-watchdog", "sched-rt-runtime", "preempt-model",
    "thp-enabled", "thp-defrag", "thp-khugepaged", "compaction-proactiveness", "compact-unevictable", "swap",
    "swappiness", "numa-balancing", "zone-reclaim", "ksm", "vm-stat-interval", "memlock", "busy-poll",
    "nic-coalescing", "nic-rings", "rps-xps", "napi-deferral", "tcp-slow-start-after-idle",
    "tcp-low-latency-legacy", "tcp-nodelay", "tcp-autocorking", "cgroup-cpu-quota", "cgroup-throttling",
    "k8s-cpu-manager", "cpu-mitigations", "tuned-profile",
)

_REGISTRY: dict[str, CheckSpec] = {}


def check(
    id: str,
    *,
    category: str,
    max_severity: str,
    rank: int | None,
    source: tuple[str, ...],
    expected: str,
    remediation: str,
) -> Callable[[Callable[[Probe], Result]], Callable[[Probe], Result]]:
    """Register a check function under its spec id."""

    def register(fn: Callable[[Probe], Result]) -> Callable[[Probe], Result]:
        if id not in CHECK_IDS or id in _REGISTRY:
            raise ValueError(f"bad or duplicate check id {id!r}")
        _REGISTRY[id] = CheckSpec(id, category, Severity(max_severity), rank, source, expected, remediation, fn)
        return fn

    return register


def all_checks() -> list[CheckSpec]:
    """Every check, in spec order."""
    from stanchion.ops.latency_audit import (  # noqa: F401 - importing registers the checks
        checks_cgroup,
        checks_cpu,
        checks_isolation,
        checks_memory,
        checks_network,
    )

    missing = [i for i in CHECK_IDS if i not in _REGISTRY]
    if missing:
        raise RuntimeError(f"checks not implemented: {missing}")
    return [_REGISTRY[i] for i in CHECK_IDS]
