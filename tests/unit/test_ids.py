"""Client order ids: deterministic, unique across restarts (epochs) and shards, venue-safe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stanchion.core.ids import (
    BINANCE_CLIENT_ID_RULE,
    MAX_EPOCH,
    MAX_SEQUENCE,
    MAX_SHARD,
    ClientOrderIdFactory,
    ClientOrderIdParts,
    format_client_order_id,
    parse_client_order_id,
)

namespaces = st.from_regex(r"[A-Za-z0-9]{1,4}", fullmatch=True)


@given(
    namespaces,
    st.integers(0, MAX_SHARD),
    st.integers(0, MAX_EPOCH),
    st.integers(1, MAX_SEQUENCE),
)
def test_ids_are_venue_safe_and_decode(ns: str, shard: int, epoch: int, seq: int) -> None:
    cid = format_client_order_id(ns, shard, epoch, seq)
    assert BINANCE_CLIENT_ID_RULE.accepts(cid)
    assert len(cid) <= 22 and cid.isalnum()  # OKX: alphanumeric <= 32
    assert parse_client_order_id(cid) == ClientOrderIdParts(ns, shard, epoch, seq)


def test_deterministic() -> None:
    a = ClientOrderIdFactory("S", 3, 7)
    b = ClientOrderIdFactory("S", 3, 7)
    assert [a.next_id() for _ in range(5)] == [b.next_id() for _ in range(5)]


def test_unique_across_restarts_and_shards() -> None:
    seen: set[str] = set()
    for epoch in range(3):  # three process starts of each shard
        for shard in range(4):
            factory = ClientOrderIdFactory("S", shard, epoch)
            for _ in range(500):
                cid = factory.next_id()
                assert cid not in seen
                seen.add(cid)
    assert len(seen) == 3 * 4 * 500


def test_resume_sequence_within_epoch() -> None:
    first = ClientOrderIdFactory("S", 0, 1)
    ids = [first.next_id() for _ in range(3)]
    resumed = ClientOrderIdFactory("S", 0, 1, next_sequence=first.next_sequence)
    assert resumed.next_id() not in ids


def test_ordering_within_epoch() -> None:
    factory = ClientOrderIdFactory("S", 0, 1)
    ids = [factory.next_id() for _ in range(100)]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 0, 0), "namespace"),
        (("TOOLONG", 0, 0), "namespace"),
        (("a-b", 0, 0), "namespace"),
        (("S", -1, 0), "shard"),
        (("S", MAX_SHARD + 1, 0), "shard"),
        (("S", 0, MAX_EPOCH + 1), "epoch"),
    ],
)
def test_invalid_parameters(args: tuple[str, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClientOrderIdFactory(*args)


def test_foreign_ids_are_not_ours() -> None:
    factory = ClientOrderIdFactory("S", 2, 5)
    assert factory.owns(factory.next_id())
    assert not factory.owns(ClientOrderIdFactory("S", 3, 5).next_id())
    assert not factory.owns(ClientOrderIdFactory("T", 2, 5).next_id())
    for foreign in ["web_abc123", "x-" * 10, "", "Sööööö", "S" + "Z" * 18, "ios_" + "0" * 18]:
        assert parse_client_order_id(foreign) is None


def test_binance_rule() -> None:
    assert BINANCE_CLIENT_ID_RULE.accepts("abc.DEF:/_-1")
    assert not BINANCE_CLIENT_ID_RULE.accepts("a" * 37)
    assert not BINANCE_CLIENT_ID_RULE.accepts("has space")
    assert not BINANCE_CLIENT_ID_RULE.accepts("")
