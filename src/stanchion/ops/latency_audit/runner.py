"""Runs every check in spec order and builds the report (spec §3.1, §3.2, §6)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from stanchion.core.errors import LocalError
from stanchion.ops.latency_audit.hostfs import HostFS
from stanchion.ops.latency_audit.model import (
    STATUS_ORDER,
    CheckSpec,
    SkipCheck,
    Status,
    UnknownInput,
    Verdict,
    cap,
)
from stanchion.ops.latency_audit.parse import format_cpulist
from stanchion.ops.latency_audit.probe import Facts, Probe, Snapshot, collect_facts
from stanchion.ops.latency_audit.registry import CHECK_IDS, all_checks

__all__ = ["SCHEMA", "AuditOptions", "AuditReport", "AuditUsageError", "run_audit"]

SCHEMA: Final = "latency-audit/1"
EXIT_OK: Final = 0
EXIT_FAIL: Final = 1
EXIT_ERROR: Final = 2


class AuditUsageError(LocalError):
    """Bad arguments or an unusable root: exit code 2."""


@dataclass(frozen=True)
class AuditOptions:
    root: str = "/"
    pid: str = "self"
    isolated_cpus: frozenset[int] | None = None
    fail_on: frozenset[Status] = frozenset({Status.FAIL})
    only: frozenset[str] | None = None
    skip: frozenset[str] = frozenset()
    allow_exec: bool = True
    environ: Mapping[str, str] | None = None  # live mode only; None = os.environ


@dataclass
class AuditReport:
    root: str
    target_pid: str
    facts: Facts
    verdicts: list[Verdict]
    fail_on: frozenset[Status]
    internal_errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in STATUS_ORDER}
        for verdict in self.verdicts:
            counts[verdict.status.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        if self.internal_errors:
            return EXIT_ERROR
        statuses = {v.status for v in self.verdicts}
        return EXIT_FAIL if statuses & (self.fail_on | {Status.FAIL}) else EXIT_OK

    def to_json(self) -> dict[str, object]:
        cpus = self.facts.cpus

        def show(value: frozenset[int] | None) -> str | None:
            return None if value is None else format_cpulist(value)

        return {
            "schema": SCHEMA,
            "root": self.root,
            "target_pid": self.target_pid,
            "environment": {
                "kinds": list(self.facts.env.kinds),
                "hypervisor_hint": self.facts.env.hypervisor_hint,
                "evidence": list(self.facts.env.evidence),
            },
            "kernel": {"release": self.facts.kernel_release, "version": self.facts.kernel_version},
            "cpus": {
                "online": show(cpus.online),
                "isolated": show(cpus.isolated),
                "housekeeping": show(cpus.housekeeping),
                "nodes": cpus.nodes,
            },
            "summary": self.summary(),
            "exit_code": self.exit_code,
            "checks": [v.to_json() for v in self.verdicts],
        }


def validate_ids(ids: frozenset[str], option: str) -> None:
    unknown = sorted(ids - set(CHECK_IDS))
    if unknown:
        raise AuditUsageError(f"{option}: unknown check id(s) {', '.join(unknown)}")


def _check_root(root: str) -> None:
    path = Path(root)
    if not path.exists():
        raise AuditUsageError(f"--root {root}: no such directory")
    if not path.is_dir():
        raise AuditUsageError(f"--root {root}: not a directory")


def run_audit(options: AuditOptions) -> AuditReport:
    """Audit the host under ``options.root``. Raises :class:`AuditUsageError` for
    bad options or a root that is not a Linux filesystem tree."""
    _check_root(options.root)
    if options.only is not None:
        validate_ids(options.only, "--only")
    validate_ids(options.skip, "--skip")
    if not re.fullmatch(r"self|[1-9]\d{0,9}", options.pid):
        raise AuditUsageError(f"--pid {options.pid!r}: expected a process id or 'self'")

    fs = HostFS(options.root, allow_exec=options.allow_exec, environ=options.environ)
    if fs.live and not sys.platform.startswith("linux"):
        raise AuditUsageError(f"not Linux ({sys.platform}): nothing to audit")
    if fs.exists("/proc") is False and fs.exists("/sys") is False:
        raise AuditUsageError(f"--root {options.root}: not a Linux root (no proc or sys)")
    if options.pid != "self" and fs.exists(f"/proc/{options.pid}") is False:
        raise AuditUsageError(f"--pid {options.pid}: no such process under {options.root}")

    snap = Snapshot(fs)
    facts = collect_facts(snap, options.pid, options.isolated_cpus)
    report = AuditReport(options.root, options.pid, facts, [], options.fail_on)
    for spec in all_checks():
        selected = (options.only is None or spec.id in options.only) and spec.id not in options.skip
        verdict = evaluate(spec, snap, facts) if selected else _verdict(
            spec, Status.SKIP, "not selected (--only/--skip)", None, {}
        )
        if verdict.internal_error:
            report.internal_errors.append(f"{spec.id}: {verdict.message}")
        report.verdicts.append(verdict)
    return report


def _verdict(spec: CheckSpec, status: Status, message: str, observed: str | None,
             inputs: dict[str, str], expected: str | None = None, remediation: str | None = None) -> Verdict:
    return Verdict(
        id=spec.id,
        category=spec.category,
        status=status,
        max_severity=spec.max_severity,
        observed=observed,
        expected=expected or spec.expected,
        message=message,
        inputs=inputs,
        remediation=remediation or spec.remediation,
        source=spec.source,
        rank=spec.rank,
    )


def evaluate(spec: CheckSpec, snap: Snapshot, facts: Facts) -> Verdict:
    """One check: applicability → inputs → rule → cap → downgrade."""
    probe = Probe(snap, facts)
    try:
        result = spec.run(probe)
    except SkipCheck as exc:
        return _verdict(spec, Status.SKIP, exc.reason, None, probe.inputs)
    except UnknownInput as exc:
        return _verdict(spec, Status.UNKNOWN, exc.reason, None, probe.inputs)
    except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the other 45
        verdict = _verdict(spec, Status.UNKNOWN, f"internal error: {type(exc).__name__}: {exc}", None, probe.inputs)
        verdict.internal_error = True
        return verdict
    status = cap(result.status, spec.max_severity)
    message = result.message
    if status is Status.FAIL and result.unverifiable:
        status = Status.WARN
        message = f"{message} [unverifiable: {result.unverifiable}]"
    return _verdict(spec, status, message, result.observed, probe.inputs, result.expected, result.remediation)
