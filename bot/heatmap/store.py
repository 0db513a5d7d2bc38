"""Parquet snapshot store: heatmap snapshots per symbol, partitioned by UTC day.

Layout::

    <root>/<SYMBOL_SAFE>/symbol.json                       {"symbol": "BTC/USDT:USDT"}
    <root>/<SYMBOL_SAFE>/date=YYYY-MM-DD/part-<seq>-<a>-<b>.parquet

One row per snapshot; the level arrays are list columns (measured against a long table of
one row per level plus a snapshot table: same size on disk, half the read time, one file).
Floats use BYTE_STREAM_SPLIT + zstd.

Every part file *replaces* the time range ``[a, b]`` (microseconds of its day, inclusive)
of the parts written before it (lower ``seq``). That one rule gives the guarantees:

- atomic and crash-safe: a part is written to a hidden temp file, fsynced, then renamed;
  a half-written file is never named ``part-*`` and is never read;
- idempotent: re-writing a time range masks what was there, so there are no duplicates;
  parts that a newer one masks completely are deleted afterwards (a crash before the delete
  changes nothing a reader sees);
- cheap appends: the paper bot adds one small part per snapshot; a day is compacted into
  one part once it holds more than ``MAX_PARTS``.

One writer per symbol at a time (an exclusive ``flock``); readers need no lock.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bot.domain import HeatmapSnapshot, utc
from bot.errors import DataError
from bot.heatmap.partition import MAX_PARTS  # noqa: F401  (re-exported: the store's compaction limit)
from bot.heatmap.partition import (DAY_US, add_part, atomic_write_bytes, conform, day_name, empty_table, level_count,
                                   list_parts, locked, resolve, ts_us)
from bot.heatmap.stored_series import (LEVEL_COLUMNS, SCHEMA, Heatmaps, StoredSeries, batch_rows, batch_ts_us,
                                       flat_lists, validate_batch)

SYMBOL_FILE = "symbol.json"
WRITE_THREADS = min(4, os.cpu_count() or 1)
_DAY_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def symbol_dirname(symbol: str) -> str:
    """File-system-safe folder name of a ccxt symbol: ``BTC/USDT:USDT`` -> ``BTC_USDT_USDT``."""
    if not symbol or not symbol.strip():
        raise DataError("must be a non-empty symbol", field="symbol")
    return re.sub(r"[^A-Za-z0-9.-]", "_", symbol.strip())


class SnapshotStore:
    """Heatmap snapshots on disk, per symbol, partitioned by UTC day (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def is_store(path: Path) -> bool:
        """True when ``path`` is a store root (it holds at least one symbol folder)."""
        path = Path(path)
        return path.is_dir() and any((d / SYMBOL_FILE).is_file() for d in path.iterdir() if d.is_dir())

    # ---- writing -------------------------------------------------------------------------

    def write(self, snapshots: Iterable[HeatmapSnapshot]) -> int:
        """Store snapshots (any symbols); each symbol's time span replaces what was there.

        Returns the number of snapshots written.
        """
        by_symbol: dict[str, list[HeatmapSnapshot]] = {}
        for snap in snapshots:
            by_symbol.setdefault(snap.symbol, []).append(snap)
        return sum(self.write_series(snaps, symbol) for symbol, snaps in by_symbol.items())

    def write_series(self, series: Heatmaps, symbol: str) -> int:
        """Store a batch of one symbol, replacing its time span [first ts, last ts].

        ``series``: the synthetic model's ``HeatmapSeries`` (converted a day at a time, no
        snapshot objects), a ``StoredSeries``, a table of ``SCHEMA``, or a list of snapshots.
        Returns the number of snapshots written.
        """
        if isinstance(series, pa.Table):
            series = conform(series)
        stamps = batch_ts_us(series)
        if stamps.size == 0:
            return 0
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
        dup = np.flatnonzero(np.diff(stamps) == 0)
        if dup.size:
            raise DataError(f"two snapshots of {symbol} at the same time ({stamps[dup[0]]} us)",
                            field="ts", position=int(order[dup[0] + 1]))
        validate_batch(series)  # all of it before any byte is written: nothing half-written
        symdir = self._symbol_dir(symbol, create=True)
        start_us, end_us = int(stamps[0]), int(stamps[-1])
        day_index = stamps // DAY_US

        def write_day(day: int) -> None:
            lo, hi = (int(x) for x in np.searchsorted(day_index, [day, day + 1]))
            part_dir = symdir / f"date={day_name(day)}"
            if lo == hi and not part_dir.is_dir():
                return  # nothing stored there, nothing new: no tombstone needed
            table = conform(batch_rows(series, order[lo:hi])) if hi > lo else SCHEMA.empty_table()
            a = max(start_us, day * DAY_US) - day * DAY_US
            b = min(end_us, (day + 1) * DAY_US - 1) - day * DAY_US
            add_part(part_dir, table, a, b)

        # days are independent folders; parquet encoding and fsync release the GIL
        with locked(symdir), ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            list(pool.map(write_day, range(start_us // DAY_US, end_us // DAY_US + 1)))
        return int(stamps.size)

    # ---- reading -------------------------------------------------------------------------

    def symbols(self) -> list[str]:
        """The symbols the store holds, sorted."""
        if not self.root.is_dir():
            return []
        found = []
        for d in self.root.iterdir():
            meta = d / SYMBOL_FILE
            if d.is_dir() and meta.is_file():
                found.append(json.loads(meta.read_text(encoding="utf-8"))["symbol"])
        return sorted(found)

    def size_bytes(self, symbol: str | None = None) -> int:
        """Bytes on disk of the visible parts (of one symbol, or of all)."""
        dirs = [self._symbol_dir(symbol)] if symbol else [self.root / symbol_dirname(s) for s in self.symbols()]
        return sum(path.stat().st_size for d in dirs if d.is_dir() for path in d.glob("date=*/part-*.parquet"))

    def time_range(self, symbol: str) -> tuple[datetime, datetime] | None:
        """First and last snapshot time of ``symbol``, or None when it has none."""
        days = self._days(symbol, None, None)
        first = next((t for d in days if (t := resolve(d, None, None, ["ts"])).num_rows), None)
        last = next((t for d in reversed(days) if (t := resolve(d, None, None, ["ts"])).num_rows), None)
        if first is None or last is None:
            return None
        return utc(pc.min(first["ts"]).as_py()), utc(pc.max(last["ts"]).as_py())

    def read_table(self, symbol: str, start: datetime | None = None, end: datetime | None = None,
                   columns: list[str] | None = None) -> pa.Table:
        """Rows of ``symbol`` with ``start <= ts <= end`` (both optional, inclusive), by time."""
        tables = list(self._iter_tables(symbol, start, end, columns))
        if not tables:
            return empty_table(columns)
        return pa.concat_tables(tables)

    def read_columns(self, symbol: str, start: datetime | None = None, end: datetime | None = None, *,
                     max_snapshots: int | None = None) -> StoredSeries:
        """Columnar read for the backtester: flat level arrays with offsets, no snapshot objects.

        Levels are copied a day at a time into arrays sized from the parts' footers, so the peak
        memory is the result plus one day (not twice the result). ``max_snapshots`` keeps at
        most that many, evenly spaced in time order (a plot of 14 months needs ~2,000).
        """
        lo, hi = _bounds(start, end)
        days = self._days(symbol, lo, hi)
        wanted = None
        if max_snapshots is not None:
            all_ts = [ts_us(resolve(day, lo, hi, ["ts"])) for day in days]
            flat = np.concatenate(all_ts) if all_ts else np.empty(0, np.int64)
            keep = np.unique(np.linspace(0, flat.size - 1, min(flat.size, max(max_snapshots, 1))).round())
            wanted = flat[keep.astype(np.int64)] if flat.size else flat
        capacity = sum(level_count(path) for day in days for *_x, path in list_parts(day))
        levels = {name: _Buffer(capacity if wanted is None else 0) for name in LEVEL_COLUMNS}
        offsets, metas, pos = [np.zeros(1, np.int64)], [], 0
        for day in days:
            table = resolve(day, lo, hi, None)
            if wanted is not None:
                table = table.filter(pa.array(np.isin(ts_us(table), wanted)))
            if not table.num_rows:
                continue
            for name in LEVEL_COLUMNS:
                off, values = flat_lists(table.column(name))
                levels[name].add(values)
            offsets.append(off[1:] + pos)
            pos += int(off[-1])
            metas.append(table.drop_columns(list(LEVEL_COLUMNS)))
        meta = pa.concat_tables(metas) if metas else empty_table(None).drop_columns(list(LEVEL_COLUMNS))
        return StoredSeries.from_parts(meta, symbol, np.concatenate(offsets),
                                       *(levels[name].array() for name in LEVEL_COLUMNS))

    def read(self, symbol: str, start: datetime | None = None,
             end: datetime | None = None) -> Iterator[HeatmapSnapshot]:
        """Snapshots of ``symbol`` in time order, one day in memory at a time."""
        for table in self._iter_tables(symbol, start, end, None):
            yield from StoredSeries.from_arrow(table, symbol).snapshots()

    # ---- internals -----------------------------------------------------------------------

    def _iter_tables(self, symbol: str, start: datetime | None, end: datetime | None,
                     columns: list[str] | None) -> Iterator[pa.Table]:
        lo, hi = _bounds(start, end)
        for day_dir in self._days(symbol, lo, hi):
            table = resolve(day_dir, lo, hi, columns)
            if table.num_rows:
                yield table

    def _symbol_dir(self, symbol: str, *, create: bool = False) -> Path:
        symdir = self.root / symbol_dirname(symbol)
        meta = symdir / SYMBOL_FILE
        if meta.is_file():
            stored = json.loads(meta.read_text(encoding="utf-8")).get("symbol")
            if stored != symbol:
                raise DataError(f"folder {symdir} holds {stored!r}, not {symbol!r}", field="symbol")
        elif create:
            symdir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(meta, json.dumps({"symbol": symbol}).encode())
        return symdir

    def _days(self, symbol: str, lo_us: int | None, hi_us: int | None) -> list[Path]:
        symdir = self._symbol_dir(symbol)
        if not symdir.is_dir():
            return []
        first = day_name(lo_us // DAY_US) if lo_us is not None else ""
        last = day_name(hi_us // DAY_US) if hi_us is not None else "9999"
        days = [d for d in symdir.iterdir() if (m := _DAY_DIR.match(d.name)) and first <= m[1] <= last]
        return sorted(days, key=lambda d: d.name)


def load_store_snapshots(root: Path, symbol: str | None = None, *, start: datetime | None = None,
                         end: datetime | None = None, last: int | None = 1) -> list[HeatmapSnapshot]:
    """Snapshots of a store folder, for ``heatmap show DIR``.

    Per symbol (or only ``symbol``: BTC, BTCUSDT or BTC/USDT:USDT): the snapshots in
    [start, end] when a bound is given, else the ``last`` ones (None: all), in time order.
    """
    store = SnapshotStore(root)
    if not SnapshotStore.is_store(store.root):
        raise DataError("not a snapshot store (no symbol folders)", field="INPUT", position=str(root))
    symbols = store.symbols()
    if symbol is not None:
        from bot.heatmap.parsers import unified_symbol
        try:
            wanted = {symbol, unified_symbol(symbol)}
        except ValueError:
            wanted = {symbol}
        symbols = [s for s in symbols if s in wanted]
        if not symbols:
            raise DataError(f"{symbol} is not in the store (has {', '.join(store.symbols())})", field="--symbol")
    out: list[HeatmapSnapshot] = []
    for name in symbols:
        if start is None and end is None and last is not None:
            span = store.time_range(name)
            if span is None:
                continue
            series = store.read_columns(name, span[1] - timedelta(days=1), span[1])
            if len(series) < last:  # the latest day holds too few: read further back
                series = store.read_columns(name, span[0], span[1])
            series = series.take(slice(max(len(series) - last, 0), len(series)))
        else:
            series = store.read_columns(name, start, end)
        out.extend(series.snapshots())
    return out


# ---- helpers -----------------------------------------------------------------------------

def _bounds(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    lo = _to_us(start) if start is not None else None
    hi = _to_us(end) if end is not None else None
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"start {start} is after end {end}", field="start")
    return lo, hi


class _Buffer:
    """A float64 array filled in order; grows (rarely) when a concurrent write added levels."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 0), dtype=np.float64)
        self._n = 0

    def add(self, values: np.ndarray) -> None:
        end = self._n + values.size
        if end > self._data.size:
            grown = np.empty(max(end, int(self._data.size * 1.5)), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n:end] = values
        self._n = end

    def array(self) -> np.ndarray:
        return self._data[: self._n]


def _to_us(ts: datetime) -> int:
    return (utc(ts) - _EPOCH) // timedelta(microseconds=1)
