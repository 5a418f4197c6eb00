"""Reconciliation: our view against the venue's, as a pure diff.

Inputs are snapshots: what the engine believes (positions from its fills,
open orders from its OMS, the balances it started from) and what the venue
reports (balances, open orders). The output is a :class:`ReconcileReport`
with the position drift per symbol in percent — the ``trading_position_drift_percent``
metric — plus the orders only one side knows, and the action the configured
policy calls for.

Spot venues report balances, not positions: the venue "position" in a base
asset is ``free + locked`` now minus the balance at the reference point
(start of the engine's accounting), and the engine's position is the net of
its fills (base-asset fees included, see ``engine.positions``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class DriftPolicy(enum.Enum):
    ALERT = "alert"  # report and keep trading
    HALT = "halt"  # engage the kill switch (HALT)
    ADOPT = "adopt"  # take the venue's view as the truth


class ReconcileAction(enum.Enum):
    NONE = "none"
    ALERT = "alert"
    HALT = "halt"
    ADOPT = "adopt"


@dataclass(frozen=True, slots=True)
class SymbolDrift:
    symbol: str
    base_asset: str
    internal_qty: int
    venue_qty: int
    drift_percent: float
    """|internal − venue| / max(|venue|, |internal|) × 100; 0 when both are 0.
    A float: it is a metric, not money."""

    @property
    def difference(self) -> int:
        return self.venue_qty - self.internal_qty


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    venue: str
    drifts: tuple[SymbolDrift, ...]
    unknown_at_venue: tuple[str, ...]
    """Client order ids we think are open that the venue does not list."""
    unknown_locally: tuple[str, ...]
    """Open orders at the venue with one of *our* ids that we do not know."""
    foreign_open_orders: int
    """Open orders at the venue that are not ours (manual, other bots)."""
    action: ReconcileAction
    threshold_percent: float

    @property
    def max_drift_percent(self) -> float:
        return max((d.drift_percent for d in self.drifts), default=0.0)

    @property
    def breached(self) -> tuple[SymbolDrift, ...]:
        return tuple(d for d in self.drifts if d.drift_percent > self.threshold_percent)


def drift_percent(internal: int, venue: int) -> float:
    if internal == venue:
        return 0.0
    denominator = max(abs(venue), abs(internal))
    return abs(venue - internal) * 100.0 / denominator


def reconcile(
    *,
    venue: str,
    symbols: Mapping[str, str],
    internal_positions: Mapping[str, int],
    venue_balances: Mapping[str, int],
    reference_balances: Mapping[str, int],
    internal_open_orders: set[str],
    venue_open_orders: set[str],
    is_ours: Callable[[str], bool],
    threshold_percent: float,
    policy: DriftPolicy,
) -> ReconcileReport:
    """Compare the engine's view with the venue's.

    ``symbols`` maps symbol → base asset; balances are total (free + locked) per
    asset at quantity scale; ``is_ours`` is a predicate on client order ids.
    """
    drifts = []
    for symbol, base in sorted(symbols.items()):
        internal = internal_positions.get(symbol, 0)
        venue_qty = venue_balances.get(base, 0) - reference_balances.get(base, 0)
        drifts.append(SymbolDrift(symbol, base, internal, venue_qty, drift_percent(internal, venue_qty)))
    ours_at_venue = {cid for cid in venue_open_orders if is_ours(cid)}
    unknown_at_venue = tuple(sorted(internal_open_orders - ours_at_venue))
    unknown_locally = tuple(sorted(ours_at_venue - internal_open_orders))
    foreign = len(venue_open_orders) - len(ours_at_venue)
    breached = any(d.drift_percent > threshold_percent for d in drifts)
    if not breached and not unknown_locally:
        action = ReconcileAction.NONE
    elif policy is DriftPolicy.HALT:
        action = ReconcileAction.HALT
    elif policy is DriftPolicy.ADOPT:
        action = ReconcileAction.ADOPT
    else:
        action = ReconcileAction.ALERT
    return ReconcileReport(
        venue, tuple(drifts), unknown_at_venue, unknown_locally, foreign, action, threshold_percent
    )
