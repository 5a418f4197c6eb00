"""The OMS: intent journaled before the command, UNKNOWN resolved by query, fills deduplicated,
the cancel races handled, and the whole state rebuilt from the journal after a crash."""

from __future__ import annotations

from pathlib import Path

from stanchion.core.ids import ClientOrderIdFactory
from stanchion.engine.oms import JournalKind, OrderManager, QueryOrder
from stanchion.model.execution import ExecutionReport, Fill
from stanchion.model.orders import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from stanchion.persistence.journal import Journal

SEC = 1_000_000_000


class ListJournal:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes]] = []

    def __call__(self, kind: str, key: str, body: bytes) -> int:
        self.records.append((kind, key, body))
        return len(self.records)


def _oms(journal: ListJournal | None = None, epoch: int = 1) -> tuple[OrderManager, ListJournal]:
    j = journal or ListJournal()
    return OrderManager("binance", "main", ClientOrderIdFactory("S", 0, epoch), j), j


def _submit(oms: OrderManager, qty: int = 100, now: int = 0) -> str:
    order, command = oms.create(strategy="mm", symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT,
                                qty=qty, price=5_000, time_in_force=TimeInForce.GTC, now_ns=now)
    assert command.client_order_id == order.client_order_id
    return order.client_order_id


def _report(cid: str, status: OrderStatus, exec_type: ExecutionType, cum: int = 0, fill_qty: int = 0,
            trade_id: int = 0, orig: str | None = None) -> ExecutionReport:
    fill = None
    if fill_qty:
        fill = Fill("binance", "BTCUSDT", trade_id, 77, cid, Side.BUY, 5_000, fill_qty, 1, "BTC", 8, True, 1)
    return ExecutionReport("binance", "BTCUSDT", cid, orig, 77, Side.BUY, OrderType.LIMIT, TimeInForce.GTC,
                           exec_type, status, 100, 5_000, cum, cum * 5_000, None, 1, 1, fill)


def test_intent_is_journaled_before_the_command_exists() -> None:
    oms, journal = _oms()
    cid = _submit(oms)
    assert journal.records[0][0] == JournalKind.INTENT and journal.records[0][1] == cid
    assert oms.get(cid).status is OrderStatus.SUBMITTING  # type: ignore[union-attr]


def test_lifecycle_with_partial_fills_and_duplicate_reports() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    update, fill = oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    assert update and update.status is OrderStatus.NEW and fill is None
    _, fill = oms.on_report(_report(cid, OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE, 40, 40, trade_id=1))
    assert fill is not None and fill.qty == 40
    # the same trade again (reconnect replay): no second fill
    update, fill = oms.on_report(_report(cid, OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE, 40, 40, trade_id=1))
    assert fill is None and update is None and oms.stats.duplicate_fills == 1
    update, fill = oms.on_report(_report(cid, OrderStatus.FILLED, ExecutionType.TRADE, 100, 60, trade_id=2))
    assert update and update.status is OrderStatus.FILLED and fill and fill.qty == 60
    order = oms.get(cid)
    assert order is not None and order.filled_qty == 100 and not order.is_open
    assert oms.open_count() == 0
    # a late, stale NEW after FILLED changes nothing
    assert oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW)) == (None, None)
    assert oms.get(cid).status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_a_cancel_is_one_journal_write_and_replays_to_cancel_pending() -> None:
    oms, journal = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    before = len(journal.records)
    command = oms.request_cancel(cid)
    assert command is not None and oms.get(cid).status is OrderStatus.CANCEL_PENDING  # type: ignore[union-attr]
    assert journal.records[before:] == [(JournalKind.CANCEL_INTENT, cid, b"")]  # the intent alone
    fresh, _ = _oms()
    for kind, key, body in journal.records:
        fresh.replay(kind, key, body)
    order = fresh.get(cid)
    assert order is not None and order.status is OrderStatus.CANCEL_PENDING and order.venue_order_id == 77
    assert [q.client_order_id for q in fresh.after_replay(now_ns=0)] == [cid]  # resolved by query


def test_fill_after_cancel_request() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    cancel = oms.request_cancel(cid)
    assert cancel is not None and cancel.client_order_id == cid
    assert oms.request_cancel(cid) is None  # one cancel in flight
    update, fill = oms.on_report(_report(cid, OrderStatus.FILLED, ExecutionType.TRADE, 100, 100, trade_id=9))
    assert update and update.status is OrderStatus.FILLED and fill is not None


def test_cancel_rejected_because_filled_is_resolved_by_query() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    oms.request_cancel(cid)
    query = oms.on_cancel_rejected(cid, now_ns=SEC, reason="-2011 Unknown order sent.")
    assert query == QueryOrder("binance", "BTCUSDT", cid)
    assert oms.get(cid).status is OrderStatus.UNKNOWN  # type: ignore[union-attr]
    update, fill = oms.on_report(_report(cid, OrderStatus.FILLED, ExecutionType.TRADE, 100, 100, trade_id=3))
    assert update and update.status is OrderStatus.FILLED and fill is not None
    assert oms.stats.resolved_unknown == 1


def test_unknown_outcome_never_resends_and_not_found_waits_for_grace() -> None:
    oms, journal = _oms()
    cid = _submit(oms, now=0)
    query = oms.on_outcome_unknown(cid, now_ns=SEC, reason="timeout")
    assert query is not None
    intents = [r for r in journal.records if r[0] == JournalKind.INTENT]
    assert len(intents) == 1  # nothing was re-issued
    assert oms.on_query_not_found(cid, now_ns=2 * SEC) is None  # may still be in flight
    assert oms.get(cid).status is OrderStatus.UNKNOWN  # type: ignore[union-attr]
    update = oms.on_query_not_found(cid, now_ns=11 * SEC)
    assert update and update.status is OrderStatus.REJECTED


def test_unknown_then_found_new() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    oms.on_outcome_unknown(cid, now_ns=SEC, reason="503")
    update, _ = oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    assert update and update.previous is OrderStatus.UNKNOWN and update.status is OrderStatus.NEW
    assert oms.queries_due(now_ns=100 * SEC, every_ns=SEC) == []


def test_queries_due_repeat_for_unknown() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    oms.on_outcome_unknown(cid, now_ns=0, reason="timeout")
    assert oms.queries_due(now_ns=SEC // 2, every_ns=SEC) == []
    assert [q.client_order_id for q in oms.queries_due(now_ns=SEC, every_ns=SEC)] == [cid]


def test_stray_report_is_counted_not_applied() -> None:
    oms, _ = _oms()
    assert oms.on_report(_report("web_123", OrderStatus.NEW, ExecutionType.NEW)) == (None, None)
    assert oms.stats.stray_reports == 1


def test_open_qty_and_counts() -> None:
    oms, _ = _oms()
    a = _submit(oms, qty=100)
    _submit(oms, qty=50)
    oms.on_report(_report(a, OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE, 30, 30, trade_id=1))
    assert oms.open_qty("BTCUSDT") == (70 + 50, 0)
    assert oms.open_count() == 2


def test_rebuild_from_a_real_journal_after_a_crash(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    oms = OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 1), journal.append)
    done = _submit(oms)
    oms.on_report(_report(done, OrderStatus.FILLED, ExecutionType.TRADE, 100, 100, trade_id=5))
    live = _submit(oms)
    oms.on_report(_report(live, OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE, 20, 20, trade_id=6))
    in_flight = _submit(oms)  # intent journaled, answer never came
    journal.close()

    recovered = Journal(tmp_path)
    history = recovered.open()
    fresh = OrderManager("binance", "main", ClientOrderIdFactory("S", 0, 2), recovered.append)
    replayed_fills = [f for r in history if (f := fresh.replay(r.kind, r.key, r.body)) is not None]
    assert [f.trade_id for f in replayed_fills] == [5, 6]
    queries = fresh.after_replay(now_ns=0)
    assert sorted(q.client_order_id for q in queries) == sorted([live, in_flight])
    assert fresh.get(done).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert fresh.get(live).filled_qty == 20  # type: ignore[union-attr]
    # the replayed fill is not applied twice when the venue reports it again
    _, fill = fresh.on_report(_report(live, OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE, 20, 20, trade_id=6))
    assert fill is None
    # a new order after the restart can never reuse an id of the previous epoch
    new_cid = _submit(fresh)
    assert new_cid not in {done, live, in_flight}
    recovered.close()


def test_illegal_local_transition_is_refused() -> None:
    oms, _ = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.FILLED, ExecutionType.TRADE, 100, 100, trade_id=1))
    assert oms.request_cancel(cid) is None  # nothing to cancel on a filled order
    assert oms.on_cancel_rejected(cid, now_ns=0, reason="x") is None


def test_a_replace_is_one_journal_write_and_replays_to_both_orders() -> None:
    oms, journal = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.NEW, ExecutionType.NEW))
    before = len(journal.records)
    replaced = oms.request_replace(cid, qty=200, price=5_100, now_ns=7)
    assert replaced is not None
    successor, command = replaced
    assert (command.original_client_order_id, command.client_order_id) == (cid, successor.client_order_id)
    assert (command.side, command.order_type, command.qty, command.price, command.time_in_force) == (
        Side.BUY, OrderType.LIMIT, 200, 5_100, TimeInForce.GTC
    )
    assert oms.get(cid).status is OrderStatus.CANCEL_PENDING  # type: ignore[union-attr]
    assert successor.status is OrderStatus.SUBMITTING and successor.strategy == "mm"
    assert [(kind, key) for kind, key, _ in journal.records[before:]] == [(JournalKind.REPLACE_INTENT, cid)]
    assert oms.request_replace(cid, qty=200, price=5_200, now_ns=8) is None  # a cancel is in flight

    fresh, _ = _oms()
    for kind, key, body in journal.records:
        fresh.replay(kind, key, body)
    original, again = fresh.get(cid), fresh.get(successor.client_order_id)
    assert original is not None and original.status is OrderStatus.CANCEL_PENDING
    assert again is not None and (again.qty, again.price, again.side) == (200, 5_100, Side.BUY)
    assert sorted(q.client_order_id for q in fresh.after_replay(now_ns=0)) == sorted([cid, again.client_order_id])


def test_a_replace_of_a_closed_order_journals_nothing() -> None:
    oms, journal = _oms()
    cid = _submit(oms)
    oms.on_report(_report(cid, OrderStatus.FILLED, ExecutionType.TRADE, 100, 100, trade_id=3))
    before = len(journal.records)
    assert oms.request_replace(cid, qty=100, price=5_000, now_ns=1) is None
    assert oms.request_replace("S-unknown", qty=100, price=5_000, now_ns=1) is None
    assert len(journal.records) == before
