"""``latency-audit``: read-only audit of a Linux host's settings that cost a
latency-sensitive trading process (spec: docs/latency-audit.md).

Layout: :mod:`hostfs` is the only module that touches the machine (files,
listings, commands, environment, all under ``--root``); :mod:`parse` holds pure
parsers; the ``checks_*`` modules hold pure rules over a :class:`Probe`;
:mod:`runner` evaluates them in spec order; :mod:`render` prints the report.
"""

from __future__ import annotations

from stanchion.ops.latency_audit.model import Status, Verdict
from stanchion.ops.latency_audit.registry import CHECK_IDS
from stanchion.ops.latency_audit.runner import (
    SCHEMA,
    AuditOptions,
    AuditReport,
    AuditUsageError,
    run_audit,
)

__all__ = [
    "CHECK_IDS",
    "SCHEMA",
    "AuditOptions",
    "AuditReport",
    "AuditUsageError",
    "Status",
    "Verdict",
    "run_audit",
]
