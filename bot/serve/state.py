"""Read-only access to a state folder for ``liqbot serve``: SQLite rows, the signal log, the snapshot store.

Every request opens its own read-only connection (``file:...?mode=ro``, ``PRAGMA query_only``) through
:meth:`bot.store.Store.open`, so a running bot keeps writing (WAL) and the server can never change the
state. The live stream follows new rows by ``rowid`` (:data:`FEEDS`): rows are only ever appended or
replaced (a replaced row gets a new rowid, so it is seen again, never missed).
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterator

from bot.domain import iso
from bot.errors import DataError
from bot.store import Store
from bot.store.frames import decode_clusters, decode_columns
from bot.store.summary import summarize


class Feed(StrEnum):
    """What the live stream carries, one kind per table it follows."""

    BAR = "bar"
    FRAME = "frame"
    SIGNAL = "signal"
    FILL = "fill"
    RISK = "risk"


# the table (and filter) each stream kind follows by rowid
FEEDS: dict[Feed, tuple[str, str]] = {
    Feed.BAR: ("bars", ""),
    Feed.FRAME: ("cluster_frames", ""),
    Feed.SIGNAL: ("signal_orders", ""),
    Feed.FILL: ("fills", ""),
    Feed.RISK: ("events", "kind = 'risk.state'"),
}


@dataclass(frozen=True, slots=True)
class SignalQuery:
    """Filters and paging of the signal feed (newest first)."""

    symbol: str | None = None
    strategy: str | None = None
    direction: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


class SignalLogIndex:
    """The signal log's emitted signals by id, read incrementally (only whole new lines are parsed).

    The log is append-only, so the index remembers the byte offset it has read up to; a torn last
    line is read again once it is complete. Lines that are not JSON objects are skipped: the review
    command reports them, the dashboard only shows what it can.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._by_id: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, signal_id: str) -> dict[str, Any] | None:
        """The logged signal JSON of ``signal_id`` (None when not logged)."""
        self.refresh()
        return self._by_id.get(signal_id)

    def refresh(self) -> None:
        """Read what was appended since the last call."""
        with self._lock:
            try:
                size = os.path.getsize(self.path)
            except OSError:
                return
            if size < self._offset:  # a new log: start again
                self._offset, self._by_id = 0, {}
            if size == self._offset:
                return
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(size - self._offset)
            end = chunk.rfind(b"\n") + 1
            for raw in chunk[:end].splitlines():
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("record") is None and isinstance(obj.get("id"), str):
                    self._by_id[obj["id"]] = obj
            self._offset += end


class StateReader:
    """One state folder (SQLite store, signal log) and its snapshot store, read-only."""

    def __init__(self, state_dir: Path, store_dir: Path | None = None, signal_log: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.store_dir = Path(store_dir) if store_dir is not None else self.state_dir / "snapshots"
        log = Path(signal_log) if signal_log is not None else Path("signals.jsonl")
        self.signals_log = SignalLogIndex(log if log.is_absolute() else self.state_dir / log)
        self._frames: dict[str, tuple[int, tuple[datetime, float, list[Any]]]] = {}

    def check(self) -> None:
        """A DataError naming ``--state`` when the folder holds no liqbot store."""
        with self.open():
            pass

    @contextmanager
    def open(self) -> Iterator[Store]:
        """A read-only store for one request."""
        store = Store.open(self.state_dir, readonly=True)
        try:
            yield store
        finally:
            store.close()

    # --- symbols and clusters -------------------------------------------------------------

    def symbols(self) -> list[str]:
        """Symbols of the run (its stored identity), else the ones with chart rows."""
        with self.open() as store:
            run = store.kv_get("run") or {}
            found = {r[0] for r in store.conn.execute("SELECT DISTINCT symbol FROM cluster_frames")}
            found |= {r[0] for r in store.conn.execute("SELECT DISTINCT symbol FROM bars")}
        listed = [s for s in run.get("symbols", []) if isinstance(s, str)]
        return listed + sorted(found - set(listed))

    def latest_frame(self, symbol: str, at: datetime | None = None) -> tuple[datetime, float, list[Any]] | None:
        """(ts, price, clusters) of the newest cluster frame of ``symbol`` (at or before ``at``)."""
        sql = "SELECT rowid, ts, price FROM cluster_frames WHERE symbol = ?"
        args: tuple[Any, ...] = (symbol,)
        if at is not None:
            sql, args = sql + " AND ts <= ?", (symbol, iso(at))
        with self.open() as store:
            row = store.conn.execute(sql + " ORDER BY ts DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            cached = self._frames.get(symbol)
            if cached is not None and cached[0] == row[0]:  # a rewritten frame gets a new rowid
                return cached[1]
            text = store.conn.execute("SELECT clusters FROM cluster_frames WHERE rowid = ?", (row[0],)).fetchone()[0]
        from bot.clock import parse_ts
        found = (parse_ts(row[1]), float(row[2]), decode_clusters(text))
        self._frames[symbol] = (row[0], found)  # decoded once per new frame: the cluster API's hot path
        return found

    def frames(self, symbol: str, start: datetime | None, end: datetime | None,
               max_frames: int) -> list[tuple[str, float, dict[str, Any]]]:
        """(ts, price, columnar clusters) of ``symbol`` in [start, end], at most ``max_frames`` evenly spaced."""
        where, args = _range("ts", start, end)
        with self.open() as store:
            rows = store.conn.execute(f"SELECT ts, price, clusters FROM cluster_frames WHERE symbol = ?{where} "
                                      "ORDER BY ts", (symbol, *args)).fetchall()
        if len(rows) > max_frames:  # evenly spaced, the first and the newest always kept
            last = len(rows) - 1
            keep = sorted({round(k * last / (max_frames - 1)) for k in range(max_frames)}) if max_frames > 1 else [last]
            rows = [rows[k] for k in keep]
        return [(r[0], float(r[1]), decode_columns(r[2])) for r in rows]

    def frame_count(self, symbol: str, start: datetime | None, end: datetime | None) -> int:
        """How many cluster frames (one per snapshot the runner stepped) ``symbol`` has in [start, end]."""
        where, args = _range("ts", start, end)
        with self.open() as store:
            return int(store.conn.execute(f"SELECT COUNT(*) FROM cluster_frames WHERE symbol = ?{where}",
                                          (symbol, *args)).fetchone()[0])

    def bars(self, symbol: str, start: datetime | None, end: datetime | None) -> dict[str, list[Any]]:
        """Candles of ``symbol`` in [start, end] (bar open times), columnar."""
        where, args = _range("ts", start, end)
        with self.open() as store:
            rows = store.conn.execute("SELECT ts, open, high, low, close, volume, oi_usd, long_short_ratio "
                                      f"FROM bars WHERE symbol = ?{where} ORDER BY ts", (symbol, *args)).fetchall()
        names = ("ts", "open", "high", "low", "close", "volume", "oi_usd", "long_short_ratio")
        return {name: [r[k] for r in rows] for k, name in enumerate(names)}

    def positioning(self) -> dict[str, tuple[str, float, float]]:
        """Per symbol: (ts, OI USD, long/short ratio) of the newest bar that knew both."""
        with self.open() as store:
            rows = store.conn.execute(
                "SELECT b.symbol, b.ts, b.oi_usd, b.long_short_ratio FROM bars b JOIN "
                "(SELECT symbol, MAX(ts) AS ts FROM bars WHERE oi_usd IS NOT NULL AND long_short_ratio > 0 "
                "GROUP BY symbol) m ON b.symbol = m.symbol AND b.ts = m.ts").fetchall()
        return {r[0]: (r[1], float(r[2]), float(r[3])) for r in rows}

    def cluster_counts(self) -> dict[str, int]:
        """Per symbol: clusters in its newest frame."""
        with self.open() as store:
            rows = store.conn.execute(
                "SELECT f.symbol, f.clusters FROM cluster_frames f JOIN (SELECT symbol, MAX(ts) AS ts "
                "FROM cluster_frames GROUP BY symbol) m ON f.symbol = m.symbol AND f.ts = m.ts").fetchall()
        return {r[0]: len(decode_columns(r[1])["cluster_id"]) for r in rows}

    # --- the bot --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``liqbot status`` summary plus the run's identity and cursor."""
        with self.open() as store:
            out = summarize(store)
            out["run"] = store.kv_get("run")
            out["cursor"] = store.kv_get("cursor")
        return out

    def risk(self) -> dict[str, Any]:
        """The stored risk record and its history of state changes."""
        with self.open() as store:
            record = store.risk_state() or {"state": "ACTIVE", "reason": None}
            history = [{"seq": e.seq, "ts": iso(e.ts), **e.payload} for e in store.events("risk.state")]
        return {"risk": record, "history": history}

    def records(self, table: str, order: str, where: str = "", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """The stored JSON records of ``table`` (a fixed name from this module's callers)."""
        with self.open() as store:
            rows = store.conn.execute(f"SELECT record FROM {table}{where} ORDER BY {order}", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def equity(self, start: datetime | None, end: datetime | None) -> dict[str, list[Any]]:
        """The equity curve in [start, end], columnar."""
        where, args = _range("ts", start, end, first=True)
        with self.open() as store:
            rows = store.conn.execute(f"SELECT ts, wallet, unrealized, equity, open_positions FROM equity{where} "
                                      "ORDER BY ts", args).fetchall()
        names = ("ts", "wallet", "unrealized", "equity", "open_positions")
        return {name: [r[k] for r in rows] for k, name in enumerate(names)}

    def signals(self, q: SignalQuery) -> dict[str, Any]:
        """What the bot did with each signal, newest first, each with its logged signal (reason, prices)."""
        clauses, args = [], []
        for column, value in (("symbol", q.symbol), ("strategy", q.strategy), ("direction", q.direction),
                              ("decision", q.decision)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where, more = _range("ts", q.since, q.until, first=not clauses)
        sql_where = (" WHERE " + " AND ".join(clauses) if clauses else "") + where
        with self.open() as store:
            total = store.conn.execute(f"SELECT COUNT(*) FROM signal_orders{sql_where}", (*args, *more)).fetchone()[0]
            rows = store.conn.execute(f"SELECT rowid, * FROM signal_orders{sql_where} ORDER BY ts DESC, signal_id "
                                      "LIMIT ? OFFSET ?", (*args, *more, q.limit, q.offset)).fetchall()
        return {"total": total, "limit": q.limit, "offset": q.offset, "items": [self._signal_row(r) for r in rows]}

    def _signal_row(self, r: tuple[Any, ...]) -> dict[str, Any]:
        return {"rowid": r[0], "signal_id": r[1], "ts": r[2], "symbol": r[3], "strategy": r[4], "direction": r[5],
                "decision": r[6], "decision_reason": r[7], "client_id": r[8], "signal": self.signals_log.get(r[1])}

    # --- the live stream ------------------------------------------------------------------

    def cursors(self) -> dict[Feed, int]:
        """The newest rowid of every followed table."""
        with self.open() as store:
            return {feed: int(store.conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}"
                                                 + (f" WHERE {cond}" if cond else "")).fetchone()[0])
                    for feed, (table, cond) in FEEDS.items()}

    def since(self, cursors: dict[Feed, int], limit: int = 500) -> list[tuple[Feed, int, dict[str, Any]]]:
        """Rows added after ``cursors`` (at most ``limit`` per kind), as (kind, rowid, JSON-ready row)."""
        out: list[tuple[Feed, int, dict[str, Any]]] = []
        with self.open() as store:
            conn = store.conn
            for feed, (table, cond) in FEEDS.items():
                extra = f" AND {cond}" if cond else ""
                if feed is Feed.SIGNAL:
                    rows = conn.execute(f"SELECT rowid, * FROM {table} WHERE rowid > ?{extra} ORDER BY rowid LIMIT ?",
                                        (cursors.get(feed, 0), limit)).fetchall()
                    out += [(feed, r[0], self._signal_row(r)) for r in rows]
                    continue
                column = {Feed.BAR: "symbol, ts, open, high, low, close, volume", Feed.FRAME: "symbol, ts, price",
                          Feed.FILL: "record", Feed.RISK: "ts, payload"}[feed]
                rows = conn.execute(f"SELECT rowid, {column} FROM {table} WHERE rowid > ?{extra} ORDER BY rowid "
                                    "LIMIT ?", (cursors.get(feed, 0), limit)).fetchall()
                for r in rows:
                    if feed is Feed.BAR:
                        row = dict(zip(("symbol", "ts", "open", "high", "low", "close", "volume"), r[1:]))
                    elif feed is Feed.FRAME:
                        row = {"symbol": r[1], "ts": r[2], "price": r[3]}
                    elif feed is Feed.FILL:
                        row = json.loads(r[1])
                    else:
                        row = {"ts": r[1], **json.loads(r[2])}
                    out.append((feed, r[0], row))
        return out


def _range(column: str, start: datetime | None, end: datetime | None, *, first: bool = False
           ) -> tuple[str, tuple[str, ...]]:
    """SQL bounds on an ISO-text time column (``iso`` text sorts in time order)."""
    if start is not None and end is not None and start > end:
        raise DataError(f"start {iso(start)} is after end {iso(end)}", field="start")
    parts, args = [], []
    if start is not None:
        parts.append(f"{column} >= ?")
        args.append(iso(start))
    if end is not None:
        parts.append(f"{column} <= ?")
        args.append(iso(end))
    if not parts:
        return "", ()
    return (" WHERE " if first else " AND ") + " AND ".join(parts), tuple(args)
