"""``stanchion latency-audit``: is this host tuned for a latency-sensitive trader?

Exit codes: 0 no ``fail``; 1 at least one ``fail`` (or ``warn``/``unknown`` with
``--fail-on``); 2 usage or internal error.
"""

from __future__ import annotations

from typing import Annotated

import typer

EXIT_USAGE = 2


def _split(values: list[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for raw in values or [] for v in raw.split(",") if v.strip())


def latency_audit(
    root: Annotated[str, typer.Option("--root", help="Read every path, command output and env under DIR.",
                                      metavar="DIR")] = "/",
    pid: Annotated[str, typer.Option("--pid", help="Target process for process-scoped checks.",
                                     metavar="PID|self")] = "self",
    isolated_cpus: Annotated[str | None, typer.Option("--isolated-cpus", metavar="LIST",
                                                      help="Override the derived isolated CPU set.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    fail_on: Annotated[list[str] | None, typer.Option("--fail-on", metavar="fail|warn|unknown",
                                                      help="Statuses that make the exit code 1.")] = None,
    only: Annotated[list[str] | None,
                    typer.Option("--only", metavar="ID[,ID…]", help="Run only these checks.")] = None,
    skip: Annotated[list[str] | None,
                    typer.Option("--skip", metavar="ID[,ID…]", help="Do not run these checks.")] = None,
    no_exec: Annotated[bool, typer.Option("--no-exec", help="Never run external commands (ethtool).")] = False,
) -> None:
    """Audit kernel, CPU, memory, network and cgroup settings that cost latency (read-only, no root needed)."""
    from stanchion.ops.latency_audit import AuditOptions, AuditUsageError, Status, run_audit
    from stanchion.ops.latency_audit.parse import ParseError, parse_cpulist
    from stanchion.ops.latency_audit.render import render_json, render_text

    def usage(message: str) -> typer.Exit:
        typer.echo(f"latency-audit: error: {message}", err=True)
        return typer.Exit(EXIT_USAGE)

    statuses = {"fail": Status.FAIL, "warn": Status.WARN, "unknown": Status.UNKNOWN}
    fail_names = _split(fail_on) or frozenset({"fail"})
    bad = sorted(fail_names - set(statuses))
    if bad:
        raise usage(f"--fail-on: expected fail, warn or unknown, got {', '.join(bad)}")
    override = None
    if isolated_cpus is not None:
        try:
            override = parse_cpulist(isolated_cpus)
        except ParseError as exc:
            raise usage(f"--isolated-cpus: {exc}") from None
    options = AuditOptions(
        root=root,
        pid=pid,
        isolated_cpus=override,
        fail_on=frozenset(statuses[n] for n in fail_names),
        only=_split(only) if only else None,
        skip=_split(skip),
        allow_exec=not no_exec,
    )
    try:
        report = run_audit(options)
    except AuditUsageError as exc:
        raise usage(str(exc)) from None
    except OSError as exc:
        raise usage(f"cannot read {root}: {exc.strerror or exc}") from None
    typer.echo(render_json(report) if as_json else render_text(report))
    raise typer.Exit(report.exit_code)
