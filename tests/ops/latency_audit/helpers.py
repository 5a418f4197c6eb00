"""Shared helpers: build a host, run the audit, read statuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stanchion.cli.main import main
from stanchion.ops.latency_audit import AuditOptions, AuditReport, run_audit
from tests.ops.latency_audit.hosttree import build


def audit(root: Path, host: dict[str, Any], **options: Any) -> AuditReport:
    build(root, host)
    return run_audit(AuditOptions(root=str(root), **options))


def statuses(report: AuditReport) -> dict[str, str]:
    return {v.id: v.status.value for v in report.verdicts}


def verdict(report: AuditReport, check_id: str) -> tuple[str, str]:
    found = next(v for v in report.verdicts if v.id == check_id)
    return found.status.value, found.message


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``stanchion latency-audit ARGS`` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(["latency-audit", *args])
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "--json", *args)
    return code, json.loads(out)
