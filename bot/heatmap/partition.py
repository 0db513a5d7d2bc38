"""One day partition of the snapshot store: its parts, how newer parts mask older ones, and
how a part is written (temp file, fsync, rename) and compacted. See ``bot.heatmap.store``.

A part's name is ``part-<seq>-<a>-<b>.parquet``: it replaces the microseconds ``[a, b]`` of its
day (inclusive) in every part with a lower ``seq``.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bot.atomic import fsync_dir, remove_stale_temps, temp_name
from bot.errors import DataError
from bot.heatmap.stored_series import SCHEMA

MAX_PARTS = 16
DAY_US = 86_400_000_000
_PART = re.compile(r"^part-(\d{8})-(\d{11})-(\d{11})\.parquet$")
_STRING_COLUMNS = ["source", "assumptions", "provided_clusters"]
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": _STRING_COLUMNS,
    "column_encoding": {name: "BYTE_STREAM_SPLIT" for name in
                        ("price", "prices.list.element", "long_usd.list.element", "short_usd.list.element")},
}


def list_parts(day_dir: Path) -> list[tuple[int, int, int, Path]]:
    """(seq, a, b, path) of every visible part, oldest first."""
    found = []
    for p in day_dir.iterdir() if day_dir.is_dir() else ():
        m = _PART.match(p.name)
        if m:
            found.append((int(m[1]), int(m[2]), int(m[3]), p))
    return sorted(found)


def resolve(day_dir: Path, lo_us: int | None, hi_us: int | None, columns: list[str] | None) -> pa.Table:
    """The rows a day holds after newer parts mask older ones, within [lo, hi], by time."""
    for attempt in range(3):  # a concurrent compaction may delete a part we listed
        try:
            return _resolve_once(day_dir, lo_us, hi_us, columns)
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _resolve_once(day_dir: Path, lo_us: int | None, hi_us: int | None,
                  columns: list[str] | None) -> pa.Table:
    parts = list_parts(day_dir)
    base = int(day_of(day_dir)) * DAY_US
    want = None if columns is None else list(dict.fromkeys(["ts", *columns]))
    tables = []
    for i, (_seq, a, b, path) in enumerate(parts):
        later = [(base + pa_, base + pb) for _s, pa_, pb, _p in parts[i + 1:]]
        if any(la <= base + a and base + b <= lb for la, lb in later):
            continue  # fully masked (its deletion was interrupted)
        if (lo_us is not None and base + b < lo_us) or (hi_us is not None and base + a > hi_us):
            continue
        table = _read_part(path, want)
        ts = ts_us(table)
        keep = np.ones(ts.size, dtype=bool)
        for la, lb in later:
            keep &= (ts < la) | (ts > lb)
        if lo_us is not None:
            keep &= ts >= lo_us
        if hi_us is not None:
            keep &= ts <= hi_us
        tables.append(table if keep.all() else table.filter(pa.array(keep)))
    if not tables:
        return empty_table(want)
    out = pa.concat_tables(tables)
    out = out if len(tables) == 1 else out.sort_by("ts")
    return out if columns is None else out.select(columns)


def _read_part(path: Path, columns: list[str] | None) -> pa.Table:
    """One part; string columns come back dictionary-encoded (one Python str per distinct value)."""
    try:
        table = pq.ParquetFile(path, read_dictionary=_STRING_COLUMNS).read(columns=columns)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"unreadable part: {exc}", field=str(path)) from None
    names = SCHEMA.names if columns is None else columns
    got = {f.name: f.type.value_type if pa.types.is_dictionary(f.type) else f.type for f in table.schema}
    if table.column_names != list(names) or any(got[n] != SCHEMA.field(n).type for n in names):
        raise DataError("not a liqbot snapshot part (schema differs)", field=str(path))
    return table


def add_part(day_dir: Path, table: pa.Table, a: int, b: int) -> None:
    """Write ``table`` as the newest part replacing [a, b]; prune and compact the day."""
    day_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(day_dir)  # parts half-written by a killed writer
    parts = list_parts(day_dir)
    seq = parts[-1][0] + 1 if parts else 1
    _write_part(day_dir, table, seq, a, b)
    masked = [p for _s, pa_, pb, p in parts if a <= pa_ and pb <= b]
    for path in masked:
        path.unlink(missing_ok=True)
    if len(parts) - len(masked) + 1 > MAX_PARTS:
        merged = conform(_resolve_once(day_dir, None, None, None))
        _write_part(day_dir, merged, seq + 1, 0, DAY_US - 1)
        for _s, _a, _b, path in list_parts(day_dir)[:-1]:
            path.unlink(missing_ok=True)


def _write_part(day_dir: Path, table: pa.Table, seq: int, a: int, b: int) -> None:
    final = day_dir / f"part-{seq:08d}-{a:011d}-{b:011d}.parquet"
    tmp = temp_name(final)
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, **_WRITE_OPTIONS)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(day_dir)


def conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly the columns and types of ``SCHEMA`` (``DataError`` when it cannot)."""
    missing = [n for n in SCHEMA.names if n not in table.column_names]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", field="table")
    try:
        return table.select(SCHEMA.names).cast(SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"columns do not fit the store schema: {exc}", field="table") from None


def level_count(path: Path) -> int:
    """Upper bound of the levels a part holds (leaf values of ``prices``), from its footer."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return 0  # deleted meanwhile, or unreadable (reported when read)
    j = next((j for j in range(meta.num_columns) if meta.schema.column(j).path == "prices.list.element"), None)
    return 0 if j is None else sum(meta.row_group(i).column(j).num_values for i in range(meta.num_row_groups))


def ts_us(table: pa.Table) -> np.ndarray:
    """The ``ts`` column as int64 microseconds since the epoch."""
    col = table.column("ts")
    return col.cast(pa.int64()).to_numpy() if col.num_chunks else np.empty(0, np.int64)


def day_name(day: int) -> str:
    """``YYYY-MM-DD`` of a day number (days since 1970-01-01)."""
    return (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()


def day_of(day_dir: Path) -> int:
    """Day number of a ``date=YYYY-MM-DD`` folder."""
    return (date.fromisoformat(day_dir.name[5:]) - date(1970, 1, 1)).days


def empty_table(columns: list[str] | None) -> pa.Table:
    """An empty table of ``SCHEMA`` (or of its ``columns``)."""
    schema = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
    return schema.empty_table()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a small file so that readers see the old content or the new, never a part."""
    remove_stale_temps(path.parent, path.name)
    tmp = temp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@contextmanager
def locked(symdir: Path) -> Iterator[None]:
    """Exclusive writer lock of one symbol folder (``flock`` on ``.lock``)."""
    with open(symdir / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
