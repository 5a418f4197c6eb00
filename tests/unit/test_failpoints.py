"""Failpoints: armed only from the environment, refused in live mode, SIGKILL on the nth hit."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from stanchion.core import failpoints
from stanchion.core.errors import ConfigError


@pytest.fixture(autouse=True)
def _disarmed() -> object:
    yield None
    failpoints.disarm()


def test_unset_environment_arms_nothing() -> None:
    assert failpoints.configure({}, live=False) == {}
    assert failpoints.ARMED is False
    failpoints.hit("oms.intent_journaled")  # unarmed: returns


def test_spec_is_parsed_with_default_first_hit() -> None:
    armed = failpoints.configure(
        {"STANCHION_FAILPOINTS": "oms.intent_journaled:3, kernel.fill_journaled"}, live=False
    )
    assert armed == {"oms.intent_journaled": 3, "kernel.fill_journaled": 1}
    assert failpoints.ARMED is True


@pytest.mark.parametrize("spec", ["no.such.point:1", "oms.intent_journaled:0", "oms.intent_journaled:x"])
def test_bad_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        failpoints.configure({"STANCHION_FAILPOINTS": spec}, live=False)
    assert failpoints.ARMED is False


def test_live_mode_refuses_failpoints() -> None:
    with pytest.raises(ConfigError, match="refused in mode: live"):
        failpoints.configure({"STANCHION_FAILPOINTS": "oms.intent_journaled:1"}, live=True)
    assert failpoints.ARMED is False
    assert failpoints.configure({}, live=True) == {}  # live without the variable is fine


def test_the_nth_hit_kills_the_process_with_sigkill() -> None:
    code = (
        "from stanchion.core import failpoints\n"
        "failpoints.configure({'STANCHION_FAILPOINTS': 'kernel.fill_journaled:3'}, live=False)\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    failpoints.hit('oms.intent_journaled')\n"
        "    failpoints.hit('kernel.fill_journaled')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == ["0", "1", "2"]  # died inside the third hit, not before, not after
