"""Realized liquidation events beside the heatmap snapshots: what the exchange really liquidated.

Layout, inside a snapshot store root (``bot.heatmap.store``)::

    <root>/<SYMBOL_SAFE>/symbol.json
    <root>/<SYMBOL_SAFE>/liquidations/date=YYYY-MM-DD/part-<seq>-<uuid>.parquet

One row per liquidation event, columns :data:`EVENT_SCHEMA`: ``ts`` (event time, UTC,
microseconds), ``side`` (``long`` = a long position was liquidated, so the exchange *sold*;
``short`` = a short was liquidated), ``price`` (the fill or order price), ``qty`` (base units),
``usd`` (price x qty), ``source`` (where it came from: ``binance:forceOrder``, ``ccxt:<id>``,
``file:<name>``). A poll may see an event twice (streams and REST windows overlap), so a write
only appends a part and a read drops exact duplicates of (ts, side, price, qty): appends stay
cheap and idempotent. Parts are written to a hidden temp file, fsynced and renamed, so a reader
never sees half a part; a day holding more than ``MAX_PARTS`` parts is compacted into one.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bot.domain import Side, utc
from bot.errors import DataError
from bot.heatmap.partition import DAY_US, atomic_write_bytes, day_name, fsync_dir, locked

EVENTS_DIR = "liquidations"
MAX_PARTS = 64
EVENT_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("side", pa.string(), nullable=False),
    pa.field("price", pa.float64(), nullable=False),
    pa.field("qty", pa.float64(), nullable=False),
    pa.field("usd", pa.float64(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
])
COLUMNS = tuple(EVENT_SCHEMA.names)
_PART = re.compile(r"^part-(\d{8})-[0-9a-f]{32}\.parquet$")
_DAY = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_SIDES = frozenset({Side.LONG.value, Side.SHORT.value})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class LiquidationStore:
    """Realized liquidation events per symbol, partitioned by UTC day (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def write(self, symbol: str, events: pd.DataFrame) -> int:
        """Append ``events`` of ``symbol`` (columns ``COLUMNS``, or ``ts`` as the index); returns rows written.

        Every row is checked before any byte is written: a bad row is a ``DataError`` naming it.
        """
        table = _to_table(events)
        if table.num_rows == 0:
            return 0
        symdir = _symbol_dir(self.root, symbol)
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        days = ts // DAY_US
        with locked(symdir):
            for day in np.unique(days):
                rows = np.flatnonzero(days == day)
                _add_part(symdir / EVENTS_DIR / f"date={day_name(int(day))}", table.take(pa.array(rows)))
        return int(table.num_rows)

    def read(self, symbol: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Events of ``symbol`` with ``start <= ts <= end`` (inclusive, both optional), by time, no duplicates."""
        from bot.heatmap.store import symbol_dirname
        lo = _us(start) if start is not None else None
        hi = _us(end) if end is not None else None
        if lo is not None and hi is not None and lo > hi:
            raise DataError(f"start {start} is after end {end}", field="start")
        base = self.root / symbol_dirname(symbol) / EVENTS_DIR
        first = day_name(lo // DAY_US) if lo is not None else ""
        last = day_name(hi // DAY_US) if hi is not None else "9999"
        days = sorted(d for d in base.iterdir() if (m := _DAY.match(d.name)) and first <= m[1] <= last) \
            if base.is_dir() else []
        tables = [_read_part(p) for d in days for p in _parts(d)]
        if not tables:
            return _frame(EVENT_SCHEMA.empty_table())
        table = pa.concat_tables(tables)
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        keep = np.ones(ts.size, dtype=bool)
        if lo is not None:
            keep &= ts >= lo
        if hi is not None:
            keep &= ts <= hi
        frame = _frame(table.filter(pa.array(keep)))
        frame = frame.drop_duplicates(subset=["ts", "side", "price", "qty"], keep="first")
        return frame.sort_values("ts", kind="stable").reset_index(drop=True)

    def symbols(self) -> list[str]:
        """Symbols that hold at least one event part, sorted."""
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            meta = d / "symbol.json"
            if meta.is_file() and (d / EVENTS_DIR).is_dir():
                out.append(json.loads(meta.read_text(encoding="utf-8"))["symbol"])
        return sorted(out)


def events_from_forceorder(frame: pd.DataFrame, source: str = "binance:forceOrder") -> pd.DataFrame:
    """``bot.marketdata.events.forceorder_events`` output (ts index) as store rows."""
    return pd.DataFrame({"ts": pd.DatetimeIndex(frame.index).tz_convert("UTC"), "side": frame["side"].to_numpy(),
                         "price": frame["price"].to_numpy(np.float64), "qty": frame["qty"].to_numpy(np.float64),
                         "usd": frame["usd"].to_numpy(np.float64), "source": source})


def _to_table(events: pd.DataFrame) -> pa.Table:
    frame = events.reset_index() if "ts" not in events.columns and events.index.name == "ts" else events
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"liquidation events miss column(s) {', '.join(missing)}", field="events")
    frame = frame[list(COLUMNS)]
    for col in ("price", "qty", "usd"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"must be finite and > 0, got {frame[col].iloc[row]!r}", field=col, position=f"row {row}")
    sides = frame["side"].astype(str)
    bad_side = ~sides.isin(_SIDES).to_numpy()
    if bad_side.any():
        row = int(np.flatnonzero(bad_side)[0])
        raise DataError(f"side must be long or short, got {frame['side'].iloc[row]!r}", field="side",
                        position=f"row {row}")
    ts = pd.to_datetime(frame["ts"], utc=True, errors="coerce")
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise DataError(f"not a time: {frame['ts'].iloc[row]!r}", field="ts", position=f"row {row}")
    try:
        return pa.table({"ts": pa.array(ts.dt.as_unit("us"), EVENT_SCHEMA.field("ts").type),
                         "side": pa.array(sides.to_numpy(), pa.string()),
                         "price": pa.array(frame["price"].to_numpy(np.float64)),
                         "qty": pa.array(frame["qty"].to_numpy(np.float64)),
                         "usd": pa.array(frame["usd"].to_numpy(np.float64)),
                         "source": pa.array(frame["source"].astype(str).to_numpy(), pa.string())},
                        schema=EVENT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"liquidation events do not fit the schema: {exc}", field="events") from None


def _symbol_dir(root: Path, symbol: str) -> Path:
    from bot.heatmap.store import SYMBOL_FILE, symbol_dirname
    symdir = root / symbol_dirname(symbol)
    meta = symdir / SYMBOL_FILE
    if meta.is_file():
        stored = json.loads(meta.read_text(encoding="utf-8")).get("symbol")
        if stored != symbol:
            raise DataError(f"folder {symdir} holds {stored!r}, not {symbol!r}", field="symbol")
    else:
        symdir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(meta, json.dumps({"symbol": symbol}).encode())
    return symdir


def _parts(day_dir: Path) -> list[Path]:
    return sorted((p for p in day_dir.iterdir() if _PART.match(p.name)), key=lambda p: p.name)


def _add_part(day_dir: Path, table: pa.Table) -> None:
    day_dir.mkdir(parents=True, exist_ok=True)
    parts = _parts(day_dir)
    seq = int(_PART.match(parts[-1].name)[1]) + 1 if parts else 1  # type: ignore[index]
    _write_part(day_dir, table, seq)
    if len(parts) + 1 > MAX_PARTS:  # compact: one part with every row, then drop the old ones
        merged = pa.concat_tables([_read_part(p) for p in _parts(day_dir)])
        _write_part(day_dir, merged, seq + 1)
        for path in _parts(day_dir)[:-1]:
            path.unlink(missing_ok=True)


def _write_part(day_dir: Path, table: pa.Table, seq: int) -> None:
    final = day_dir / f"part-{seq:08d}-{uuid.uuid4().hex}.parquet"
    tmp = day_dir / f".tmp-{uuid.uuid4().hex}.parquet"
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(day_dir)


def _read_part(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"unreadable liquidation part: {exc}", field=str(path)) from None
    if not table.schema.equals(EVENT_SCHEMA, check_metadata=False):
        raise DataError("not a liqbot liquidation part (schema differs)", field=str(path))
    return table


def _frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _us(ts: datetime) -> int:
    return int((utc(ts) - _EPOCH) // pd.Timedelta(microseconds=1))
