"""The bot's SQLite store (WAL): orders, fills, positions, trades, equity, signal links, risk state.

Two kinds of write, each one transaction:

- :meth:`Store.record_intents` commits order intents (PENDING_SUBMIT) *before* the broker is
  called, so a crash between the call and the step commit leaves a trace to reconcile;
- :meth:`Store.commit_step` commits everything one runner step changed, together with the
  cursor and component state, so a ``kill -9`` at any moment resumes from a whole step.

A historic replay may hold one transaction over many steps (:meth:`Store.begin_batch` ...
:meth:`Store.commit_batch`): the writes above join it, so a ``kill -9`` loses the open batch as a
whole and the run resumes from the last committed one (the simulated venue's state rolls back
with it; a real venue is never batched).

Every change also appends to ``events`` (append-only history). One process writes a state
folder at a time (an exclusive ``flock``); readers open the database read-only.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from bot.clock import parse_ts
from bot.domain import iso, utc
from bot.errors import DataError, FatalError, StateLockedError
from bot.execution.orders import (Balance, ClosedTrade, Fill, Order, OrderState, Position, check_transition,
                                  from_record, to_record)
from bot.store.frames import ClusterFrame, encode_clusters
from bot.store.integrity import check_file, check_open
from bot.store.schema import TABLES, migrate

if TYPE_CHECKING:
    from bot.feeds.base import Bar

DB_NAME = "liqbot.sqlite"
LOCK_NAME = "liqbot.lock"


class Decision(StrEnum):
    """What the bot did with a signal."""

    SUBMITTED = "submitted"
    DENIED = "denied"      # the risk guard said no
    SKIPPED = "skipped"    # not actionable (position already open, entries paused, ...)


@dataclass(frozen=True, slots=True)
class SignalDecision:
    """The link from a signal to the order it produced (or why it produced none)."""

    signal_id: str
    ts: datetime
    symbol: str
    strategy: str
    direction: str
    decision: Decision
    reason: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the append-only history."""

    seq: int
    ts: datetime
    kind: str
    key: str
    payload: dict[str, Any]


@dataclass(slots=True)
class StepWrite:
    """Everything one runner step changed. ``positions=None`` leaves positions as they are."""

    ts: datetime
    orders: Sequence[Order] = ()
    fills: Sequence[Fill] = ()
    positions: Sequence[Position] | None = None
    trades: Sequence[ClosedTrade] = ()
    balance: Balance | None = None
    decisions: Sequence[SignalDecision] = ()
    risk: Mapping[str, Any] | None = None
    kv: Mapping[str, Any] = field(default_factory=dict)
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    outbox: Sequence[tuple[str, datetime, bytes]] = ()
    bars: Sequence["Bar"] = ()              # chart rows (bot.store.frames), rewritten on a replayed step
    frames: Sequence[ClusterFrame] = ()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


_ts = parse_ts


class Store:
    """One state folder's database. Open with :meth:`open`; close (or use ``with``) when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path, lock: Any = None) -> None:
        self.conn = conn
        self.path = path
        self._lock = lock
        self._sync = 2
        self._batch = False  # a batch transaction is open: writes join it

    @classmethod
    def open(cls, state_dir: Path, *, readonly: bool = False, lock: Any = None) -> "Store":
        """Open (or create) the store in ``state_dir``; a writer takes the folder's lock (or is handed
        ``lock``, taken earlier with :func:`take_lock` so that a busy folder is refused before heavy work)."""
        state_dir = Path(state_dir)
        path = state_dir / DB_NAME
        if state_dir.exists() and not state_dir.is_dir():
            raise DataError(f"is a file, not a state folder: {state_dir}", field="--state")
        if readonly:
            if not check_file(path):
                raise DataError(f"no liqbot store in {state_dir}", field="--state")
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            try:
                conn.execute("PRAGMA query_only=ON")
                check_open(conn, path, TABLES)
            except BaseException:
                conn.close()
                raise
            return cls(conn, path)
        lock = lock if lock is not None else take_lock(state_dir)
        try:
            existed = check_file(path)  # only a missing file makes a new store
            conn = sqlite3.connect(path, isolation_level=None)
        except BaseException:
            release_lock(lock)
            raise
        try:
            if existed:
                check_open(conn, path, TABLES)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            migrate(conn)
        except BaseException:
            conn.close()
            release_lock(lock)
            raise
        return cls(conn, path, lock)

    def close(self) -> None:
        """Close the database (an open batch is rolled back) and release the folder lock."""
        self.rollback_batch()
        self.conn.close()
        if self._lock is not None:
            release_lock(self._lock)
            self._lock = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> "_Transaction":
        return _Transaction(self.conn, self if self._batch else None)

    @property
    def in_batch(self) -> bool:
        """A batch transaction is open."""
        return self._batch

    def begin_batch(self) -> None:
        """Open one transaction that every following write joins until :meth:`commit_batch` (idempotent)."""
        if self._batch:
            return
        self._durability(True)  # one sync per batch: cheap, and a batch may hold orders and fills
        self.conn.execute("BEGIN IMMEDIATE")
        self._batch = True

    def commit_batch(self) -> None:
        """Commit the open batch (no-op without one)."""
        if self._batch:
            self._batch = False
            self.conn.execute("COMMIT")

    def rollback_batch(self) -> None:
        """Drop the open batch (no-op without one): the store is back at the last committed batch."""
        if self._batch:
            self._batch = False
            self.conn.execute("ROLLBACK")

    # --- writes -------------------------------------------------------------------------

    def record_intents(self, orders: Sequence[Order]) -> None:
        """Commit new PENDING_SUBMIT orders before the broker sees them (write-ahead)."""
        if not orders:
            return
        self._durability(True)
        with self._tx() as cur:
            for order in orders:
                if order.state is not OrderState.PENDING_SUBMIT:
                    raise FatalError(f"intent {order.client_id} must be pending_submit, is {order.state.value}")
                _insert_order(cur, order)
                _event(cur, order.intent.created_at, "order.intent", order.client_id, to_record(order))

    def commit_step(self, step: StepWrite) -> None:
        """Write one step atomically: orders, fills, positions, trades, equity, links, risk, kv.

        A step that touched orders or fills is synced to disk (survives power loss); one that
        did not is durable against a crash of the process (WAL, ``synchronous=NORMAL``) and,
        after a power loss, is replayed from the deterministic feed.
        """
        ts = utc(step.ts)
        self._durability(bool(step.orders or step.fills or step.trades))
        with self._tx() as cur:
            for order in step.orders:
                _upsert_order(cur, ts, order)
            for fill in step.fills:
                rec = to_record(fill)
                cur.execute("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            (fill.trade_id, fill.client_id, fill.symbol, fill.side.value, fill.leg.value, fill.qty,
                             fill.price, fill.fee, iso(fill.ts), fill.position_id, _dumps(rec)))
                _event(cur, ts, "fill", fill.trade_id, rec)
            if step.positions is not None:
                _replace_positions(cur, ts, step.positions)
            for trade in step.trades:
                rec = to_record(trade)
                cur.execute("INSERT INTO trades VALUES (?,?,?,?,?,?,?,?)",
                            (trade.position_id, trade.symbol, trade.side.value, iso(trade.closed_at), trade.net_pnl,
                             trade.exit_reason.value, trade.signal_id, _dumps(rec)))
                _event(cur, ts, "trade.closed", trade.position_id, rec)
            if step.balance is not None:
                open_count = cur.execute("SELECT COUNT(*) FROM positions").fetchone()[0]
                cur.execute("INSERT OR REPLACE INTO equity VALUES (?,?,?,?,?)",
                            (iso(ts), step.balance.wallet, step.balance.unrealized, step.balance.equity, open_count))
            for d in step.decisions:
                cur.execute("INSERT OR REPLACE INTO signal_orders VALUES (?,?,?,?,?,?,?,?)",
                            (d.signal_id, iso(d.ts), d.symbol, d.strategy, d.direction, d.decision.value, d.reason,
                             d.client_id))
            if step.risk is not None:
                _write_risk(cur, ts, step.risk)
            for key, value in step.kv.items():
                cur.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, _dumps(value)))
            for key, blob in step.blobs.items():
                cur.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)", (key, sqlite3.Binary(blob)))
            for symbol, snap_ts, payload in step.outbox:
                cur.execute("INSERT INTO snapshot_outbox (symbol, ts, payload) VALUES (?,?,?)",
                            (symbol, iso(snap_ts), sqlite3.Binary(payload)))
            cur.executemany("INSERT OR REPLACE INTO bars VALUES (?,?,?,?,?,?,?,?,?,?)",
                            [(b.symbol, iso(b.ts), b.open, b.high, b.low, b.close, b.volume, b.oi_usd,
                              b.long_short_ratio, b.funding_rate) for b in step.bars])
            cur.executemany("INSERT OR REPLACE INTO cluster_frames VALUES (?,?,?,?)",
                            [(f.symbol, iso(f.ts), f.price, encode_clusters(f.clusters)) for f in step.frames])

    def outbox(self) -> list[tuple[int, bytes]]:
        """Pending snapshots (seq, payload), oldest first."""
        rows = self.conn.execute("SELECT seq, payload FROM snapshot_outbox ORDER BY seq").fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def clear_outbox(self, upto: int) -> None:
        """Forget pending snapshots up to ``upto`` (after they reached the snapshot store)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM snapshot_outbox WHERE seq <= ?", (upto,))

    def _durability(self, full: bool) -> None:
        if self._batch:  # the level cannot change inside a transaction; a batch commits with FULL
            return
        level = 2 if full else 1
        if self._sync != level:
            self.conn.execute(f"PRAGMA synchronous={level}")
            self._sync = level

    def write_risk(self, ts: datetime, risk: Mapping[str, Any]) -> None:
        """Write the risk state alone (``liqbot risk reset``)."""
        with self._tx() as cur:
            _write_risk(cur, utc(ts), risk)

    # --- reads --------------------------------------------------------------------------

    def get_order(self, client_id: str) -> Order | None:
        """One order by client id."""
        row = self.conn.execute("SELECT record FROM orders WHERE client_id = ?", (client_id,)).fetchone()
        return from_record(Order, json.loads(row[0])) if row else None

    def orders(self, states: Iterable[OrderState] | None = None) -> list[Order]:
        """Orders (optionally only in ``states``), oldest first."""
        sql, args = "SELECT record FROM orders", ()
        if states is not None:
            wanted = tuple(s.value for s in states)
            sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args = wanted
        rows = self.conn.execute(sql + " ORDER BY created_at, client_id", args).fetchall()
        return [from_record(Order, json.loads(r[0])) for r in rows]

    def open_orders(self) -> list[Order]:
        """Orders not yet in a terminal state."""
        return self.orders([s for s in OrderState if not s.is_terminal])

    def fills(self) -> list[Fill]:
        """Every fill, in the order it was executed (stored)."""
        rows = self.conn.execute("SELECT record FROM fills ORDER BY rowid").fetchall()
        return [from_record(Fill, json.loads(r[0])) for r in rows]

    def last_fill_ts(self) -> datetime | None:
        """Time of the newest fill."""
        row = self.conn.execute("SELECT MAX(ts) FROM fills").fetchone()
        return _ts(row[0]) if row and row[0] else None

    def positions(self) -> list[Position]:
        """Open positions by symbol."""
        rows = self.conn.execute("SELECT record FROM positions ORDER BY symbol").fetchall()
        return [from_record(Position, json.loads(r[0])) for r in rows]

    def trades(self) -> list[ClosedTrade]:
        """Closed trades by close time."""
        rows = self.conn.execute("SELECT record FROM trades ORDER BY closed_at, position_id").fetchall()
        return [from_record(ClosedTrade, json.loads(r[0])) for r in rows]

    def equity_curve(self) -> list[tuple[datetime, float, float, float, int]]:
        """(ts, wallet, unrealized, equity, open positions) by time."""
        rows = self.conn.execute("SELECT ts, wallet, unrealized, equity, open_positions FROM equity ORDER BY ts")
        return [(_ts(r[0]), r[1], r[2], r[3], r[4]) for r in rows.fetchall()]

    def decisions(self) -> list[SignalDecision]:
        """What the bot did with each signal, by time."""
        rows = self.conn.execute("SELECT * FROM signal_orders ORDER BY ts, signal_id").fetchall()
        return [SignalDecision(r[0], _ts(r[1]), r[2], r[3], r[4], Decision(r[5]), r[6], r[7]) for r in rows]

    def risk_state(self) -> dict[str, Any] | None:
        """The stored risk state record, or ``None`` before the first step."""
        row = self.conn.execute("SELECT record FROM risk_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def kv_get(self, key: str, default: Any = None) -> Any:
        """A stored JSON value."""
        row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def blob_get(self, key: str) -> bytes | None:
        """A stored binary value."""
        row = self.conn.execute("SELECT value FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def events(self, kind: str | None = None) -> list[Event]:
        """The history, in order (optionally one kind)."""
        sql = "SELECT seq, ts, kind, key, payload FROM events"
        rows = self.conn.execute(sql + (" WHERE kind = ?" if kind else "") + " ORDER BY seq",
                                 (kind,) if kind else ()).fetchall()
        return [Event(r[0], _ts(r[1]), r[2], r[3], json.loads(r[4])) for r in rows]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    Inside a batch it joins the open transaction; a failure rolls the whole batch back, so the
    store never holds half a step.
    """

    def __init__(self, conn: sqlite3.Connection, batch: "Store | None" = None) -> None:
        self.conn = conn
        self.batch = batch

    def __enter__(self) -> sqlite3.Cursor:
        if self.batch is None:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn.cursor()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.batch is not None:
            if exc_type:
                self.batch.rollback_batch()
            return
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def take_lock(state_dir: Path) -> Any:
    """The state folder's exclusive writer lock (created with the folder), or ``StateLockedError`` at once when
    another liqbot process holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / LOCK_NAME, "a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StateLockedError(f"state folder {state_dir} is in use by another liqbot process") from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def release_lock(lock: Any) -> None:
    """Release a lock from :func:`take_lock` (once; releasing it again does nothing)."""
    if lock.closed:
        return
    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    lock.close()


def _event(cur: sqlite3.Cursor, ts: datetime, kind: str, key: str, payload: Mapping[str, Any]) -> None:
    cur.execute("INSERT INTO events (ts, kind, key, payload) VALUES (?,?,?,?)", (iso(ts), kind, key, _dumps(payload)))


def _order_row(order: Order) -> tuple[Any, ...]:
    i = order.intent
    return (i.client_id, i.symbol, i.leg.value, i.side.value, i.type.value, i.qty, i.price, order.state.value,
            order.filled_qty, order.avg_price, order.exchange_id, i.signal_id, i.position_id, iso(i.created_at),
            iso(order.updated_at), _dumps(to_record(order)))


def _insert_order(cur: sqlite3.Cursor, order: Order) -> None:
    try:
        cur.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _order_row(order))
    except sqlite3.IntegrityError:
        raise FatalError(f"order {order.client_id} is already stored") from None


def _upsert_order(cur: sqlite3.Cursor, ts: datetime, order: Order) -> None:
    row = cur.execute("SELECT state, filled_qty FROM orders WHERE client_id = ?", (order.client_id,)).fetchone()
    if row is None:  # placed by the venue on our behalf, or adopted during reconciliation
        _insert_order(cur, order)
        _event(cur, ts, "order.adopted", order.client_id, to_record(order))
        return
    old = OrderState(row[0])
    if old == order.state and row[1] == order.filled_qty:
        return
    check_transition(old, order.state)
    cur.execute("UPDATE orders SET state=?, filled_qty=?, avg_price=?, exchange_id=?, updated_at=?, record=? "
                "WHERE client_id=?", (order.state.value, order.filled_qty, order.avg_price, order.exchange_id,
                                      iso(order.updated_at), _dumps(to_record(order)), order.client_id))
    _event(cur, ts, "order.state", order.client_id,
           {"from": old.value, "to": order.state.value, "filled_qty": order.filled_qty,
            "avg_price": order.avg_price, "reason": order.reason})


def _replace_positions(cur: sqlite3.Cursor, ts: datetime, positions: Sequence[Position]) -> None:
    before = dict(cur.execute("SELECT position_id, symbol FROM positions").fetchall())
    now = {p.position_id for p in positions}
    for position_id in before.keys() - now:
        _event(cur, ts, "position.closed", position_id, {"symbol": before[position_id]})
    cur.execute("DELETE FROM positions")
    for p in positions:
        rec = to_record(p)
        cur.execute("INSERT INTO positions VALUES (?,?,?,?,?,?,?)",
                    (p.symbol, p.position_id, p.side.value, p.qty, p.entry_price, iso(p.opened_at), _dumps(rec)))
        if p.position_id not in before:
            _event(cur, ts, "position.opened", p.position_id, rec)


def _write_risk(cur: sqlite3.Cursor, ts: datetime, risk: Mapping[str, Any]) -> None:
    row = cur.execute("SELECT state, reason FROM risk_state WHERE id = 1").fetchone()
    state, reason = str(risk["state"]), risk.get("reason")
    if row is None or row[0] != state or row[1] != reason:
        _event(cur, ts, "risk.state", state, dict(risk))
    cur.execute("INSERT OR REPLACE INTO risk_state VALUES (1, ?, ?, ?)", (state, reason, _dumps(dict(risk))))

