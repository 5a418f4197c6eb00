"""Verdicts, statuses, check metadata (spec §3.1)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stanchion.ops.latency_audit.probe import Probe

__all__ = ["CheckSpec", "Result", "Severity", "SkipCheck", "Status", "UnknownInput", "Verdict"]


class Status(enum.Enum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"
    SKIP = "skip"
    UNKNOWN = "unknown"


class Severity(enum.Enum):
    """The most a check may report (``max_severity``)."""

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


STATUS_ORDER = (Status.PASS, Status.WARN, Status.FAIL, Status.INFO, Status.SKIP, Status.UNKNOWN)


class SkipCheck(Exception):
    """Raised by a check: not applicable (evaluated first)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownInput(Exception):
    """Raised by a check: a required input is unreadable, empty, unparsable or hidden."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Result:
    """What a check's rule concluded (before the cap and the downgrade rule)."""

    status: Status
    message: str
    observed: str | None = None
    expected: str | None = None
    # set when a ``fail`` rests on an assumption an unreadable optional input could refute
    unverifiable: str | None = None
    remediation: str | None = None  # overrides the static remediation


def passed(message: str, observed: str | None = None, expected: str | None = None) -> Result:
    return Result(Status.PASS, message, observed, expected)


def warned(message: str, observed: str | None = None, expected: str | None = None) -> Result:
    return Result(Status.WARN, message, observed, expected)


def failed(message: str, observed: str | None = None, expected: str | None = None,
           unverifiable: str | None = None) -> Result:
    return Result(Status.FAIL, message, observed, expected, unverifiable)


def info(message: str, observed: str | None = None, expected: str | None = None) -> Result:
    return Result(Status.INFO, message, observed, expected)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    category: str
    max_severity: Severity
    rank: int | None
    source: tuple[str, ...]
    expected: str
    remediation: str
    run: Callable[[Probe], Result]


@dataclass
class Verdict:
    """One check's final report entry (spec §6)."""

    id: str
    category: str
    status: Status
    max_severity: Severity
    observed: str | None
    expected: str | None
    message: str
    inputs: dict[str, str] = field(default_factory=dict)
    remediation: str = ""
    source: tuple[str, ...] = ()
    rank: int | None = None
    internal_error: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "category": self.category,
            "status": self.status.value,
            "max_severity": self.max_severity.value,
            "observed": self.observed,
            "expected": self.expected,
            "message": self.message,
            "inputs": dict(self.inputs),
            "remediation": self.remediation,
            "source": list(self.source),
            "rank": self.rank,
        }


def cap(status: Status, max_severity: Severity) -> Status:
    """A status never exceeds the check's ``max_severity``."""
    if max_severity is Severity.INFO and status in (Status.WARN, Status.FAIL):
        return Status.INFO
    if max_severity is Severity.WARN and status is Status.FAIL:
        return Status.WARN
    return status
