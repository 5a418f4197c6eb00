"""Human and JSON renderings of an :class:`AuditReport` (spec §6)."""

from __future__ import annotations

import json
import textwrap

from stanchion.ops.latency_audit.model import Status, Verdict
from stanchion.ops.latency_audit.runner import AuditReport

__all__ = ["render_json", "render_text", "verdict_line"]

GROUPS = (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.INFO)
WIDTH = 100


def render_json(report: AuditReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def verdict_line(report: AuditReport) -> str:
    counts = report.summary()
    if report.internal_errors:
        head = "ERROR (internal error in a check)"
    elif report.exit_code == 1:
        head = "FAIL"
    else:
        head = "OK"
    parts = ", ".join(f"{counts[s.value]} {s.value}" for s in
                      (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.INFO, Status.PASS, Status.SKIP))
    return f"latency-audit: {head} — {parts} (exit {report.exit_code})"


def _block(label: str, text: str | None) -> list[str]:
    if not text:
        return []
    return textwrap.wrap(text, WIDTH, initial_indent=f"      {label:<10}", subsequent_indent=" " * 16,
                         break_on_hyphens=False)


def _entry(verdict: Verdict) -> list[str]:
    rank = f", rank {verdict.rank}" if verdict.rank is not None else ""
    lines = [f"  [{verdict.status.value}] {verdict.id} ({verdict.category}{rank})"]
    lines += textwrap.wrap(verdict.message, WIDTH, initial_indent="      ", subsequent_indent="      ",
                           break_on_hyphens=False)
    lines += _block("found:", verdict.observed)
    lines += _block("expected:", verdict.expected)
    if verdict.status in (Status.FAIL, Status.WARN):
        lines += _block("fix:", verdict.remediation)
    lines += _block("sources:", ", ".join(verdict.source))
    return lines


def render_text(report: AuditReport) -> str:
    facts = report.facts
    env = facts.env
    cpus = facts.cpus
    hint = f" ({env.hypervisor_hint})" if env.hypervisor_hint else ""

    def show(value: frozenset[int] | None) -> str:
        from stanchion.ops.latency_audit.parse import format_cpulist

        return "unknown" if value is None else (format_cpulist(value) or "none")

    out = [
        f"latency-audit  root={report.root}  pid={report.target_pid}  "
        f"environment={','.join(env.kinds)}{hint}",
        f"kernel {facts.kernel_release or 'unknown'} {facts.kernel_version or ''}".rstrip(),
        f"cpus: online {show(cpus.online)}, isolated {show(cpus.isolated)}, housekeeping {show(cpus.housekeeping)}, "
        f"NUMA nodes {cpus.nodes if cpus.nodes is not None else 'unknown'}",
    ]
    for status in GROUPS:
        group = [v for v in report.verdicts if v.status is status]
        if not group:
            continue
        out.append("")
        out.append(f"{status.value.upper()} ({len(group)})")
        for verdict in group:
            out.extend(_entry(verdict))
    for status in (Status.PASS, Status.SKIP):
        ids = [v.id for v in report.verdicts if v.status is status]
        out.append("")
        out.extend(textwrap.wrap(f"{status.value}: {len(ids)} ({', '.join(ids) or '-'})", WIDTH, break_on_hyphens=False,
                                 subsequent_indent="  "))
    if report.internal_errors:
        out.append("")
        out.append("internal errors (please report): " + "; ".join(report.internal_errors))
    out.append("")
    out.append(verdict_line(report))
    return "\n".join(out)
