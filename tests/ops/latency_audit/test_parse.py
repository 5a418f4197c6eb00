"""The shared parsing rules of spec §3.4 (pure functions, no files)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stanchion.ops.latency_audit.parse import (
    ParseError,
    bracketed_choice,
    cpuinfo_flags,
    format_cpulist,
    parse_cgroup_file,
    parse_cmdline,
    parse_cpu_max,
    parse_cpulist,
    parse_dma_latency,
    parse_ethtool_coalesce,
    parse_ethtool_rings,
    parse_hexmask,
    parse_int,
    parse_interrupts,
    parse_isolcpus,
    parse_keyvalue_stat,
    parse_limits_memlock,
    parse_swaps,
)
from tests.ops.latency_audit.hosts import ETHTOOL_C_ADAPTIVE, ETHTOOL_G, SWAPS_EMPTY, interrupts, limits


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("0-3,8,10-11\n", {0, 1, 2, 3, 8, 10, 11}),
        ("", set()),
        ("(null)\n", set()),
        ("\n", set()),
        ("5", {5}),
        ("0-15:2/4", {0, 1, 4, 5, 8, 9, 12, 13}),
    ],
)
def test_cpulist(text: str, cpus: set[int]) -> None:
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize("text", ["3-1", "a", "1,,2", "0-3:5/4", "0-3:1/0", "1-2-3", "ff"])
def test_cpulist_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cpulist(text)


@given(st.sets(st.integers(min_value=0, max_value=300), max_size=40))
def test_cpulist_round_trip(cpus: set[int]) -> None:
    assert parse_cpulist(format_cpulist(cpus)) == cpus


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("3\n", {0, 1}),
        ("00000000,0000ff03\n", {0, 1, 8, 9, 10, 11, 12, 13, 14, 15}),
        ("00000001,00000000", {32}),
        ("0", set()),
        ("f0", {4, 5, 6, 7}),
    ],
)
def test_hexmask(text: str, cpus: set[int]) -> None:
    assert parse_hexmask(text) == cpus


@pytest.mark.parametrize("text", ["", "0x3", "g", "123456789", "1,,2"])
def test_hexmask_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_hexmask(text)


def test_bracketed_choice() -> None:
    assert bracketed_choice("always [madvise] never\n") == "madvise"
    assert bracketed_choice("always defer [defer+madvise] madvise never") == "defer+madvise"
    with pytest.raises(ParseError):
        bracketed_choice("")
    with pytest.raises(ParseError):
        bracketed_choice("always madvise never")


def test_cmdline() -> None:
    cmd = parse_cmdline('root=/dev/sda1 quiet isolcpus=1 isolcpus=domain,2-3 dyndbg="file x +p" -- isolcpus=9 single\n')
    assert cmd.get("isolcpus") == "domain,2-3"  # last occurrence wins, init's arguments ignored
    assert cmd.has("quiet") and cmd.get("quiet") is None
    assert cmd.get("dyndbg") == "file x +p"
    assert not cmd.has("single")
    assert parse_isolcpus("managed_irq,domain,2-7") == ({"managed_irq", "domain"}, frozenset(range(2, 8)))
    assert parse_isolcpus("nohz,4") == ({"nohz"}, frozenset({4}))


def test_scalars() -> None:
    assert parse_int(" 42\n") == 42
    assert parse_int("-1") == -1
    for bad in ("", "  \n", "4 2", "x"):
        with pytest.raises(ParseError):
            parse_int(bad)
    assert parse_dma_latency(b"\x00\x94\x35\x77") == 2_000_000_000
    assert parse_dma_latency(b"\xff\xff\xff\xff") == -1
    with pytest.raises(ParseError):
        parse_dma_latency(b"\x01\x02")


def test_process_files() -> None:
    assert parse_limits_memlock(limits("8388608")) == 8388608
    assert parse_limits_memlock(limits("unlimited")) is None
    with pytest.raises(ParseError):
        parse_limits_memlock(limits("lots"))
    lines = parse_cgroup_file("12:cpu,cpuacct:/user.slice\n1:name=systemd:/init.scope\n0::/a/b\n")
    assert lines[0].controllers == ("cpu", "cpuacct") and lines[2].path == "/a/b"
    with pytest.raises(ParseError):
        parse_cgroup_file("")
    assert parse_cpu_max("max 100000\n") is None
    quota = parse_cpu_max("150000 100000")
    assert quota is not None and float(quota.cpus) == 1.5
    assert parse_cpu_max("50000") is not None
    for bad in ("", "max 0", "x 100000", "1 2 3"):
        with pytest.raises(ParseError):
            parse_cpu_max(bad)
    assert parse_keyvalue_stat("nr_periods 3\nnr_throttled 1\n") == {"nr_periods": 3, "nr_throttled": 1}


def test_proc_files() -> None:
    assert cpuinfo_flags("processor : 0\nflags : a b c\n\nprocessor : 1\nflags : z\n") == {"a", "b", "c"}
    assert cpuinfo_flags("processor : 0\nFeatures : fp\n") is None
    with pytest.raises(ParseError):
        cpuinfo_flags("hello")
    assert parse_swaps(SWAPS_EMPTY) == []
    assert parse_swaps(SWAPS_EMPTY + "/swapfile file 1024 0 -2\n")[0].size_kb == 1024
    table = parse_interrupts(interrupts(2, {24: [5, 7]}))
    assert table.cpus == (0, 1) and table.numeric["24"] == (5, 7) and "LOC" in table.named
    with pytest.raises(ParseError):
        parse_interrupts("24: 1 2\n")


def test_ethtool() -> None:
    coalesce = parse_ethtool_coalesce(ETHTOOL_C_ADAPTIVE.format(name="eth0"))
    assert coalesce.adaptive_rx == "on" and coalesce.rx_usecs == 20
    with pytest.raises(ParseError):
        parse_ethtool_coalesce("Coalesce parameters for eth0:\n")
    rings = parse_ethtool_rings(ETHTOOL_G.format(name="eth0"))
    assert (rings.rx, rings.max_rx, rings.tx, rings.max_tx) == (1024, 4096, 1024, 4096)
    with pytest.raises(ParseError):
        parse_ethtool_rings("Pre-set maximums:\nRX: 1\n")
