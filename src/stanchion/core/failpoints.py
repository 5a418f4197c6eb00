"""Failpoints: named places where a test can make the process die with SIGKILL.

The crash test needs kills at exact points of the order lifecycle (the intent
journaled but the order not yet written, the frame written, a fill journaled
but not yet applied, a reconciliation half done). Code marks such a point with::

    if failpoints.ARMED:
        failpoints.hit("oms.intent_journaled")

Unarmed (always, outside tests) that is one module-attribute check. Failpoints
are armed only from the environment variable ``STANCHION_FAILPOINTS``, read
once at start by :func:`configure`, as ``name:nth,name:nth`` — the process
kills itself (SIGKILL, no cleanup, no flush) the ``nth`` time ``name`` is hit.
``mode: live`` refuses them: :func:`configure` raises.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping

from stanchion.core.errors import ConfigError

ENVIRONMENT_VARIABLE = "STANCHION_FAILPOINTS"

ARMED = False
"""True once :func:`configure` armed at least one failpoint (checked at every call site)."""

_remaining: dict[str, int] = {}

NAMES = frozenset({
    "oms.intent_journaled",  # kernel: intent in the journal, order not yet handed to the gateway
    "oms.cancel_journaled",  # kernel: cancel intent in the journal, cancel not yet handed to the gateway
    "oms.replace_journaled",  # kernel: replace intent in the journal, the request not yet handed to the gateway
    "oms.armed_journaled",  # kernel: armed order's intent in the journal, not yet handed to the gateway to sign
    "adapter.order_frame_written",  # adapter: an order.place (also an armed one's) or order.cancelReplace frame written
    "kernel.fill_journaled",  # kernel: fill in the journal, positions not yet updated
    "runtime.reconcile_queried",  # runtime: venue queried, not yet compared
})
"""The failpoints the code defines; arming an unknown name is a configuration error."""


def parse(spec: str) -> dict[str, int]:
    """``"a:1,b:3"`` → ``{"a": 1, "b": 3}``; a name without ``:nth`` fires on its first hit."""
    armed: dict[str, int] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, _, nth = item.partition(":")
        if name not in NAMES:
            raise ConfigError(f"{ENVIRONMENT_VARIABLE}: unknown failpoint {name!r} (known: {', '.join(sorted(NAMES))})")
        if nth and (not nth.isdigit() or int(nth) < 1):
            raise ConfigError(f"{ENVIRONMENT_VARIABLE}: {item!r}: the hit count must be a positive integer")
        armed[name] = int(nth) if nth else 1
    return armed


def configure(environ: Mapping[str, str] | None = None, *, live: bool) -> dict[str, int]:
    """Arm the failpoints named in the environment (once, at start). Returns what was armed.

    Raises :class:`ConfigError` when failpoints are asked for in live mode.
    """
    global ARMED  # noqa: PLW0603 - the one flag every call site reads
    spec = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "")
    armed = parse(spec)
    if armed and live:
        raise ConfigError(f"{ENVIRONMENT_VARIABLE} is set: failpoints are refused in mode: live")
    _remaining.clear()
    _remaining.update(armed)
    ARMED = bool(armed)
    return dict(armed)


def disarm() -> None:
    global ARMED  # noqa: PLW0603 - see configure
    _remaining.clear()
    ARMED = False


def hit(name: str) -> None:
    """Count a hit of ``name``; on the armed hit, SIGKILL this process (never returns then)."""
    left = _remaining.get(name)
    if left is None:
        return
    if left > 1:
        _remaining[name] = left - 1
        return
    os.kill(os.getpid(), signal.SIGKILL)
