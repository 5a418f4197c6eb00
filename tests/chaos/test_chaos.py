"""Chaos against the simulator: hundreds of injected faults of every kind, invariants checked
as the run goes (see ``harness``). The short run is part of ``make test``; ``make chaos`` runs
the long one (``pytest -m long tests/chaos``)."""

from __future__ import annotations

import json

import pytest

from stanchion.sim.binance.faults import KINDS
from tests.chaos.harness import Profile, run_chaos

SHORT = Profile("short", faults=300, per_round=25, spacing_s=0.05, settle_s=0.3, max_stall_s=2.0, seed=4)
LONG = Profile("long", faults=600, per_round=10, spacing_s=0.1, settle_s=0.5, max_stall_s=3.5, seed=44)


async def _run(profile: Profile) -> None:
    harness, summary = await run_chaos(profile)
    print(f"\nchaos {profile.name}: " + json.dumps(summary, default=str))
    for text in harness.violations[:30]:
        print("violation:", text)
    assert summary["faults"] >= 300
    assert set(summary["faults_by_kind"]) == set(KINDS)  # type: ignore[arg-type]
    assert summary["armed"]["armed"] > 0  # type: ignore[index]  # armed orders ran through the faults too
    assert harness.violations == []


@pytest.mark.timeout(180)
async def test_chaos_short() -> None:
    await _run(SHORT)


@pytest.mark.long
@pytest.mark.timeout(3600)
async def test_chaos_long() -> None:
    await _run(LONG)
