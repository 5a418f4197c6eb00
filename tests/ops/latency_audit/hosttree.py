"""Build fake host roots for ``latency-audit --root`` (spec §7).

A host is a dict ``{kernel path: content}``; content is ``str``/``bytes`` (a file),
``DIR`` (an empty directory), ``Link(target)`` (a symlink, absolute targets are
resolved inside the root), ``DENIED`` (listed in ``.latency-audit/unreadable``:
reads of it and below it return "denied", also when the tests run as root) or
``None`` (remove a key inherited from a base host). Keys may use brace ranges
(``/sys/devices/system/cpu/cpu{0..7}/online``). ``ENV`` and ``COMMANDS`` keys hold
the audited process's environment and captured command outputs.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class _Denied:
    def __repr__(self) -> str:
        return "DENIED"


class _Dir:
    def __repr__(self) -> str:
        return "DIR"


DENIED = _Denied()
DIR = _Dir()
ENV = "@env"
COMMANDS = "@commands"


@dataclass(frozen=True)
class Link:
    target: str


_BRACE = re.compile(r"\{(\d+)\.\.(\d+)\}|\{([^{}]*,[^{}]*)\}")


def expand(pattern: str) -> list[str]:
    """Brace expansion: ``cpu{0..3}`` and ``{a,b}``."""
    parts: list[list[str]] = []
    last = 0
    for match in _BRACE.finditer(pattern):
        parts.append([pattern[last:match.start()]])
        if match.group(3) is not None:
            parts.append(match.group(3).split(","))
        else:
            parts.append([str(i) for i in range(int(match.group(1)), int(match.group(2)) + 1)])
        last = match.end()
    parts.append([pattern[last:]])
    return ["".join(p) for p in itertools.product(*parts)]


def overlay(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; ``None`` removes a key and everything under it.
    ``ENV``/``COMMANDS`` dicts are merged key by key."""
    out: dict[str, Any] = {}
    for key, value in base.items():
        if key in (ENV, COMMANDS):
            out[key] = value
        else:
            out.update(dict.fromkeys(expand(key), value))
    for key, value in changes.items():
        if key in (ENV, COMMANDS):
            merged = dict(out.get(key, {}))
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            out[key] = merged
            continue
        for path in expand(key):
            if value is None:
                for existing in [k for k in out if k == path or k.startswith(path + "/")]:
                    del out[existing]
            else:
                out[path] = value
    return out


def build(root: Path, host: dict[str, Any]) -> Path:
    """Write ``host`` under ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / ".latency-audit"
    manifest.mkdir(exist_ok=True)
    denied: list[str] = []
    for key, value in host.items():
        if key == ENV:
            (manifest / "env").write_text("".join(f"{k}={v}\n" for k, v in value.items()))
            continue
        if key == COMMANDS:
            (manifest / "commands").mkdir(exist_ok=True)
            for name, text in value.items():
                (manifest / "commands" / f"{name}.txt").write_text(text)
            continue
        for path in expand(key):
            if value is DENIED:
                denied.append(path)
                continue
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if value is DIR:
                target.mkdir(parents=True, exist_ok=True)
            elif isinstance(value, Link):
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(value.target, target)
            elif isinstance(value, bytes):
                target.write_bytes(value)
            else:
                target.write_text(value)
    (manifest / "unreadable").write_text("".join(f"{p}\n" for p in denied))
    return root
