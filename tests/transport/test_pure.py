"""Pure parts of the transport: backoff, staleness rule, connection table."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stanchion.core.errors import ConfigError, IllegalTransitionError
from stanchion.transport.backoff import Backoff, BackoffPolicy
from stanchion.transport.staleness import ConnectionHealth, StalenessMonitor, StreamHealth, StreamPolicy
from stanchion.transport.state import CONNECTION_TABLE, ConnectionState, ConnectionTrigger, new_connection_machine

S = 1_000_000_000


# --- backoff -------------------------------------------------------------------


@given(seed=st.integers(0, 2**32), base=st.floats(0.01, 2.0), cap=st.floats(2.0, 120.0))
def test_every_delay_is_within_full_jitter_bounds(seed: int, base: float, cap: float) -> None:
    backoff = Backoff(BackoffPolicy(base_s=base, cap_s=cap), random.Random(seed))
    for n in range(40):
        delay = backoff.next_delay_s()
        assert 0.0 <= delay <= min(cap, base * 2**n)


def test_same_seed_same_sequence_and_jitter_is_spread() -> None:
    first, second = Backoff(rng=random.Random(7)), Backoff(rng=random.Random(7))
    assert [first.next_delay_s() for _ in range(10)] == [second.next_delay_s() for _ in range(10)]
    backoff = Backoff(BackoffPolicy(base_s=1.0, cap_s=1.0), random.Random(1))
    delays = [backoff.next_delay_s() for _ in range(2000)]
    # full jitter: uniform over [0, 1], not clustered near the ceiling
    assert min(delays) < 0.05
    assert max(delays) > 0.95
    assert 0.45 < sum(delays) / len(delays) < 0.55


def test_backoff_resets_only_after_a_healthy_connection() -> None:
    backoff = Backoff(BackoffPolicy(base_s=1.0, cap_s=64.0, reset_after_s=60.0), random.Random(0))
    for _ in range(5):
        backoff.next_delay_s()
    assert backoff.attempt == 5
    backoff.record_connected(0)
    backoff.record_disconnected(10 * S)  # flapped after 10 s: keep backing off
    assert backoff.attempt == 5
    backoff.record_connected(100 * S)
    backoff.record_disconnected(161 * S)  # healthy for 61 s
    assert backoff.attempt == 0
    assert backoff.ceiling_s(200) == 64.0


def test_backoff_policy_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="base_s"):
        BackoffPolicy(base_s=0.0)
    with pytest.raises(ConfigError, match="cap_s"):
        BackoffPolicy(base_s=5.0, cap_s=1.0)


# --- staleness -----------------------------------------------------------------


def _monitor() -> StalenessMonitor:
    mon = StalenessMonitor(liveness_window_s=30.0, default_policy=StreamPolicy(stale_after_s=2.0), now_ns=0)
    mon.add_stream("btc@depth", 0)
    mon.add_stream("eth@depth", 0)
    mon.add_stream("doge@trade", 0, StreamPolicy(stale_after_s=2.0, quiet_allowed=True))
    return mon


def test_one_silent_symbol_is_stale_while_others_flow() -> None:
    mon = _monitor()
    for t in range(1, 6):
        mon.on_data("btc@depth", t * S)
    changes = mon.tick(5 * S)
    by_stream = {c.stream: c.current for c in changes}
    assert by_stream == {"eth@depth": StreamHealth.STALE, "doge@trade": StreamHealth.QUIET}
    assert mon.connection_health is ConnectionHealth.ALIVE
    assert not mon.reconnect_needed
    recovery = mon.on_data("eth@depth", 6 * S)
    assert recovery is not None and recovery.current is StreamHealth.LIVE and recovery.silent_ns == 6 * S


def test_quiet_stream_kept_alive_by_pings_is_never_dead() -> None:
    mon = StalenessMonitor(30.0, StreamPolicy(stale_after_s=2.0, quiet_allowed=True), now_ns=0)
    mon.add_stream("doge@trade", 0)
    for t in range(20, 200, 20):  # Binance pings every 20 s, no trades for minutes
        mon.on_heartbeat(t * S)
        mon.tick(t * S)
    assert mon.stream_health("doge@trade") is StreamHealth.QUIET
    assert mon.connection_health is ConnectionHealth.ALIVE


def test_no_traffic_at_all_is_dead() -> None:
    mon = _monitor()
    mon.on_data("btc@depth", 1 * S)
    assert not [c for c in mon.tick(31 * S) if c.current is StreamHealth.DEAD]
    changes = mon.tick(31 * S + 1)
    assert {c.stream for c in changes if c.current is StreamHealth.DEAD} == {"btc@depth", "eth@depth", "doge@trade"}
    assert mon.connection_health is ConnectionHealth.DEAD
    assert mon.reconnect_needed


def test_pings_without_any_data_is_a_stall() -> None:
    mon = _monitor()
    mon.on_heartbeat(1 * S)
    mon.tick(1 * S)
    assert mon.connection_health is ConnectionHealth.ALIVE
    mon.on_heartbeat(3 * S)
    changes = mon.tick(3 * S)
    assert mon.connection_health is ConnectionHealth.STALLED
    assert changes[-1].stream is None and changes[-1].current is ConnectionHealth.STALLED


def test_next_deadline_is_the_earliest_threshold_and_reset_restarts_grace() -> None:
    mon = _monitor()
    mon.on_data("btc@depth", 1 * S)
    assert mon.next_deadline_ns() == 2 * S + 1  # eth and doge registered at 0 with 2 s
    mon.tick(10 * S)
    mon.reset(10 * S)
    assert all(h is StreamHealth.LIVE for _, h in mon.streams())
    assert mon.next_deadline_ns() == 12 * S + 1
    assert mon.max_sleep_ns == 2 * S


@given(events=st.lists(st.tuples(st.sampled_from(["a", "b", "hb"]), st.integers(0, 5 * S)), max_size=60))
def test_health_always_matches_the_rule(events: list[tuple[str, int]]) -> None:
    mon = StalenessMonitor(3.0, StreamPolicy(stale_after_s=1.0), now_ns=0)
    mon.add_stream("a", 0)
    mon.add_stream("b", 0, StreamPolicy(stale_after_s=1.0, quiet_allowed=True))
    last = {"a": 0, "b": 0}
    traffic = 0
    now = 0
    for name, dt in events:
        now += dt
        if name == "hb":
            mon.on_heartbeat(now)
        else:
            mon.on_data(name, now)
            last[name] = now
        traffic = now
        mon.tick(now)
        dead = now - traffic > 3 * S
        assert not dead
        a_expected = StreamHealth.LIVE if now - last["a"] <= S else StreamHealth.STALE
        b_expected = StreamHealth.LIVE if now - last["b"] <= S else StreamHealth.QUIET
        assert mon.stream_health("a") is a_expected
        assert mon.stream_health("b") is b_expected
        expected = ConnectionHealth.STALLED if a_expected is StreamHealth.STALE else ConnectionHealth.ALIVE
        assert mon.connection_health is expected


# --- connection table ----------------------------------------------------------


def test_connection_table_paths_and_illegal_transition() -> None:
    m = new_connection_machine()
    for trigger, expected in [
        (ConnectionTrigger.CONNECT, ConnectionState.CONNECTING),
        (ConnectionTrigger.CONNECTED, ConnectionState.LIVE),
        (ConnectionTrigger.STREAM_STALE, ConnectionState.STALE),
        (ConnectionTrigger.ROTATE, ConnectionState.ROTATING),
        (ConnectionTrigger.ROTATED, ConnectionState.LIVE),
        (ConnectionTrigger.LOST, ConnectionState.DISCONNECTED),
        (ConnectionTrigger.CLOSE, ConnectionState.CLOSED),
    ]:
        assert m.trigger(trigger) is expected
    assert CONNECTION_TABLE.is_terminal(ConnectionState.CLOSED)
    fresh = new_connection_machine()
    with pytest.raises(IllegalTransitionError):
        fresh.trigger(ConnectionTrigger.ROTATED)
    assert fresh.state is ConnectionState.DISCONNECTED
