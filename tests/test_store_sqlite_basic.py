"""The SQLite store: WAL, migrations, write-ahead intents, atomic steps, history, one writer."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.errors import DataError, FatalError
from bot.execution.orders import (Balance, ClosedTrade, ExitReason, Fill, IllegalTransition, Liquidity, OrderIntent,
                                  OrderLeg, OrderSide, OrderState, OrderType, Position, PositionSide,
                                  client_order_id, new_order)
from bot.store import Decision, SignalDecision, StepWrite, Store
from bot.store.schema import MIGRATIONS

SYM = "BTC/USDT:USDT"
T0 = datetime(2025, 1, 6, tzinfo=timezone.utc)
T1 = datetime(2025, 1, 6, 0, 5, tzinfo=timezone.utc)


def intent(signal: str = "s1") -> OrderIntent:
    cid = client_order_id(signal, OrderLeg.ENTRY)
    return OrderIntent(cid, SYM, OrderSide.BUY, OrderType.MARKET, OrderLeg.ENTRY, 0.1, signal, cid, T0,
                       stop_loss=99_000.0, take_profit=101_000.0)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def test_wal_and_migrations(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in store.conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [v for v, _ in MIGRATIONS]


def test_reopen_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.record_intents([new_order(intent())])
    with Store.open(tmp_path) as s:
        assert [o.client_id for o in s.open_orders()] == [intent().client_id]
        assert s.conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_intent_is_durable_before_the_step(store: Store, tmp_path: Path) -> None:
    order = new_order(intent())
    store.record_intents([order])
    other = sqlite3.connect(tmp_path / "state" / "liqbot.sqlite")  # another process's view
    assert other.execute("SELECT state FROM orders").fetchall() == [("pending_submit",)]
    assert [e.kind for e in store.events()] == ["order.intent"]
    with pytest.raises(FatalError):
        store.record_intents([order])  # never stored twice


def test_step_writes_everything_and_the_history(store: Store) -> None:
    order = new_order(intent())
    store.record_intents([order])
    filled = order.transition(OrderState.OPEN, T0).transition(OrderState.FILLED, T1, filled_qty=0.1,
                                                              avg_price=100_020.0)
    fill = Fill(f"{order.client_id}-1", order.client_id, SYM, OrderSide.BUY, OrderLeg.ENTRY, 0.1, 100_020.0, 5.0,
                Liquidity.TAKER, T1, order.client_id)
    pos = Position(order.client_id, SYM, PositionSide.LONG, 0.1, 100_020.0, T1, "s1", 99_000.0, 101_000.0, fees=5.0)
    store.commit_step(StepWrite(
        ts=T1, orders=[filled], fills=[fill], positions=[pos], balance=Balance(9995.0, 1.0),
        decisions=[SignalDecision("s1", T0, SYM, "liquidation_hunt", "LONG", Decision.SUBMITTED,
                                  client_id=order.client_id)],
        risk={"state": "ACTIVE", "reason": None}, kv={"cursor": "x"}, blobs={"model": b"\x00\x01"}))
    assert store.get_order(order.client_id) == filled
    assert store.fills() == [fill] and store.positions() == [pos]
    assert store.equity_curve()[0][3] == pytest.approx(9996.0)
    assert store.decisions()[0].client_id == order.client_id
    assert store.kv_get("cursor") == "x" and store.blob_get("model") == b"\x00\x01"
    assert [e.kind for e in store.events()] == ["order.intent", "order.state", "fill", "position.opened",
                                                "risk.state"]
    trade = ClosedTrade(order.client_id, SYM, PositionSide.LONG, 0.1, 100_020.0, 101_000.0, T1, T1, 98.0, 6.0,
                        0.0, 92.0, ExitReason.TAKE_PROFIT, "s1")
    store.commit_step(StepWrite(ts=T1, positions=[], trades=[trade]))
    assert store.positions() == [] and store.trades() == [trade]
    assert [e.kind for e in store.events()][-2:] == ["position.closed", "trade.closed"]


def test_a_failing_step_writes_nothing(store: Store) -> None:
    order = new_order(intent())
    store.record_intents([order])
    filled = order.transition(OrderState.OPEN, T0).transition(OrderState.FILLED, T1, filled_qty=0.1)
    store.commit_step(StepWrite(ts=T1, orders=[filled]))
    events = len(store.events())
    back = order.transition(OrderState.OPEN, T1)  # FILLED -> OPEN is illegal
    with pytest.raises(IllegalTransition):
        store.commit_step(StepWrite(ts=T1, orders=[back], kv={"cursor": "y"}))
    assert store.get_order(order.client_id).state is OrderState.FILLED  # type: ignore[union-attr]
    assert store.kv_get("cursor") is None and len(store.events()) == events


def test_duplicate_fill_is_refused(store: Store) -> None:
    order = new_order(intent())
    store.record_intents([order])
    fill = Fill("t-1", order.client_id, SYM, OrderSide.BUY, OrderLeg.ENTRY, 0.1, 1.0, 0.0, Liquidity.TAKER, T1, "p")
    store.commit_step(StepWrite(ts=T1, fills=[fill]))
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_step(StepWrite(ts=T1, fills=[fill]))
    assert len(store.fills()) == 1


def test_one_writer_per_state_folder(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FatalError):
        Store.open(tmp_path / "state")
    reader = Store.open(tmp_path / "state", readonly=True)  # readers need no lock
    assert reader.orders() == []
    with pytest.raises(sqlite3.OperationalError):
        reader.conn.execute("DELETE FROM orders")
    reader.close()


def test_readonly_open_of_a_missing_store_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        Store.open(tmp_path / "nothing", readonly=True)
