"""A columnar batch of stored heatmap snapshots of one symbol (what the store reads back).

Levels are kept flat (CSR layout): the levels of snapshot ``i`` are
``level_prices[offsets[i]:offsets[i + 1]]`` and the same slice of ``long_usd``/``short_usd``.
The backtester works on these arrays directly; ``snapshot(i)`` builds the domain object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterator, Mapping, Protocol, Sequence, Union

import numpy as np
import pyarrow as pa

from bot.clusters.kernel_group import bin_prices_kernel
from bot.domain import Cluster, HeatmapSnapshot, HeatmapSource, Side, utc
from bot.errors import DataError

LEVEL_COLUMNS = ("prices", "long_usd", "short_usd")

#: One row per snapshot; level arrays as list columns.
SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("price", pa.float64(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("assumptions", pa.string(), nullable=False),        # JSON object
    pa.field("provided_clusters", pa.string()),                  # JSON list, null when none
    pa.field("prices", pa.list_(pa.float64()), nullable=False),
    pa.field("long_usd", pa.list_(pa.float64()), nullable=False),
    pa.field("short_usd", pa.list_(pa.float64()), nullable=False),
])
_TS_TYPE = SCHEMA.field("ts").type
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def snapshots_to_arrow(snapshots: Sequence[HeatmapSnapshot]) -> pa.Table:
    """Snapshots as a table of ``SCHEMA`` (one row per snapshot)."""
    counts = np.fromiter((len(s) for s in snapshots), dtype=np.int64, count=len(snapshots))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

    def levels(attr: str) -> pa.Array:
        flat = np.concatenate([getattr(s, attr) for s in snapshots]) if snapshots else np.empty(0)
        return pa.ListArray.from_arrays(offsets, pa.array(flat, pa.float64()))

    return pa.table({
        "ts": pa.array([s.ts for s in snapshots], _TS_TYPE),
        "price": pa.array([s.price for s in snapshots], pa.float64()),
        "source": pa.array([s.source.value for s in snapshots], pa.string()),
        "assumptions": pa.array([assumptions_json(s.assumptions) for s in snapshots], pa.string()),
        "provided_clusters": pa.array([clusters_to_json(s.provided_clusters) for s in snapshots],
                                      pa.string()),
        "prices": levels("prices"), "long_usd": levels("long_usd"), "short_usd": levels("short_usd"),
    }, schema=SCHEMA)


class ColumnarBatch(Protocol):
    """The synthetic model's ``HeatmapSeries``: rows are windows of one global log-price grid."""

    symbol: str
    bin_width: float
    ts: np.ndarray          # int64 ns UTC
    price: np.ndarray
    base: np.ndarray        # global bin of column 0 of each row
    long_usd: np.ndarray    # (n, width)
    short_usd: np.ndarray   # (n, width)
    assumptions: Mapping[str, Any]


Heatmaps = Union["StoredSeries", ColumnarBatch, pa.Table, Sequence[HeatmapSnapshot]]


def batch_ts_us(heatmaps: Heatmaps) -> np.ndarray:
    """Snapshot times of a batch as int64 microseconds since the epoch (UTC)."""
    if isinstance(heatmaps, StoredSeries):
        return heatmaps.ts.astype("datetime64[us]").view(np.int64)
    if isinstance(heatmaps, pa.Table):
        col = heatmaps.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return col.to_numpy() if col.num_chunks else np.empty(0, np.int64)
    if _is_dense(heatmaps):
        ns = np.asarray(heatmaps.ts, dtype=np.int64)
        if ns.size and np.any(ns % 1000):
            raise DataError("sub-microsecond snapshot times cannot be stored", field="ts")
        return ns // 1000
    return np.array([(utc(s.ts) - _EPOCH) // timedelta(microseconds=1) for s in heatmaps], dtype=np.int64)


def batch_rows(heatmaps: Heatmaps, rows: np.ndarray | slice) -> pa.Table:
    """Rows of any batch as a table of ``SCHEMA`` (in the order given)."""
    if isinstance(heatmaps, pa.Table):
        idx = np.arange(heatmaps.num_rows)[rows] if isinstance(rows, slice) else np.asarray(rows)
        return heatmaps.take(pa.array(idx, pa.int64()))
    if isinstance(heatmaps, StoredSeries):
        return heatmaps.take(rows).to_arrow()
    if _is_dense(heatmaps):
        return _dense_rows(heatmaps, np.arange(len(heatmaps.ts))[rows] if isinstance(rows, slice) else rows)
    snaps = heatmaps if isinstance(heatmaps, list) else list(heatmaps)
    idx = np.arange(len(snaps))[rows] if isinstance(rows, slice) else np.asarray(rows)
    return snapshots_to_arrow([snaps[int(i)] for i in idx])


def as_stored_series(heatmaps: Heatmaps, symbol: str | None = None,
                     rows: np.ndarray | None = None) -> "StoredSeries":
    """A ``StoredSeries`` of any batch (optionally only ``rows``), sorted by time."""
    if isinstance(heatmaps, StoredSeries):
        return heatmaps if rows is None else heatmaps.take(rows)
    if not isinstance(heatmaps, pa.Table) and not _is_dense(heatmaps):
        heatmaps = sorted(heatmaps, key=lambda s: s.ts)
        names = {s.symbol for s in heatmaps}
        if len(names) > 1:
            raise DataError(f"snapshots of several symbols: {sorted(names)}", field="symbol")
        symbol = symbol or next(iter(names), None)
    name = symbol or getattr(heatmaps, "symbol", None)
    if not name:
        raise DataError("a symbol is needed", field="symbol")
    table = batch_rows(heatmaps, slice(None) if rows is None else rows)
    return StoredSeries.from_arrow(table, name)


def validate_batch(heatmaps: Heatmaps) -> None:
    """Check a batch like ``HeatmapSnapshot`` does, vectorised; ``DataError`` names the first bad row."""
    if isinstance(heatmaps, pa.Table):
        heatmaps = StoredSeries.from_arrow(heatmaps, "")
    if isinstance(heatmaps, StoredSeries):
        _validate_flat(heatmaps)
    elif _is_dense(heatmaps):
        _check_rows(np.asarray(heatmaps.price, dtype=np.float64), "price", positive=True)
        for name in ("long_usd", "short_usd"):
            values = np.asarray(getattr(heatmaps, name))
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                row = int(np.flatnonzero(bad.any(axis=1))[0])
                raise DataError("must be finite and >= 0", field=name, position=row)
    # snapshot objects validated themselves on construction


def _validate_flat(s: "StoredSeries") -> None:
    _check_rows(s.price, "price", positive=True)
    known = {x.value for x in HeatmapSource}
    for i, value in enumerate(s.source):
        if value not in known:
            raise DataError(f"unknown source {value!r}", field="source", position=i)
    row_of = np.repeat(np.arange(len(s)), np.diff(s.offsets))
    _check_rows(s.level_prices, "prices", positive=True, row_of=row_of)
    _check_rows(s.long_usd, "long_usd", row_of=row_of)
    _check_rows(s.short_usd, "short_usd", row_of=row_of)
    bad = np.flatnonzero((row_of[1:] == row_of[:-1]) & (np.diff(s.level_prices) <= 0))
    if bad.size:
        raise DataError("level prices must ascend strictly (no duplicates)", field="prices",
                        position=int(row_of[bad[0] + 1]))


def _check_rows(values: np.ndarray, name: str, *, positive: bool = False, row_of: np.ndarray | None = None) -> None:
    bad = np.flatnonzero(~np.isfinite(values) | ((values <= 0) if positive else (values < 0)))
    if bad.size:
        i = int(bad[0])
        need = "> 0" if positive else ">= 0"
        raise DataError(f"must be finite and {need}, got {values[i]!r}", field=name,
                        position=int(row_of[i]) if row_of is not None else i)


def _is_dense(heatmaps: Any) -> bool:
    return hasattr(heatmaps, "base") and hasattr(heatmaps, "bin_width") and hasattr(heatmaps, "long_usd")


def _dense_rows(series: ColumnarBatch, idx: np.ndarray) -> pa.Table:
    """Rows of a dense window batch, zero bins trimmed at both ends (as its ``snapshot(i)`` does)."""
    idx = np.asarray(idx, dtype=np.int64)
    long_m, short_m = np.asarray(series.long_usd)[idx], np.asarray(series.short_usd)[idx]
    width = long_m.shape[1]
    nz = (long_m > 0) | (short_m > 0)
    has = nz.any(axis=1)
    lo = np.where(has, nz.argmax(axis=1), 0)
    hi = np.where(has, width - nz[:, ::-1].argmax(axis=1), 0)
    counts = hi - lo
    row = np.repeat(np.arange(idx.size), counts)
    col = ranges(lo, counts)
    # the model's level_prices kernel (libm exp), so prices match its snapshots bit for bit
    prices = bin_prices_kernel(np.ascontiguousarray(np.asarray(series.base)[idx][row] + col, dtype=np.int64),
                               float(series.bin_width))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    text = assumptions_json(dict(series.assumptions))
    return pa.table({
        "ts": pa.array(np.asarray(series.ts, dtype=np.int64)[idx] // 1000, pa.int64()).cast(_TS_TYPE),
        "price": pa.array(np.asarray(series.price, dtype=np.float64)[idx]),
        "source": pa.array([HeatmapSource.SYNTHETIC.value] * idx.size, pa.string()),
        "assumptions": pa.array([text] * idx.size, pa.string()),
        "provided_clusters": pa.nulls(idx.size, pa.string()),
        "prices": pa.ListArray.from_arrays(offsets, pa.array(prices)),
        "long_usd": pa.ListArray.from_arrays(offsets, pa.array(long_m[row, col].astype(np.float64))),
        "short_usd": pa.ListArray.from_arrays(offsets, pa.array(short_m[row, col].astype(np.float64))),
    }, schema=SCHEMA)


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + count)`` for each pair, without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - first, counts) + np.arange(total, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class StoredSeries:
    """Snapshots of one symbol as parallel arrays; ``ts`` is ``datetime64[us]`` in UTC."""

    symbol: str
    ts: np.ndarray
    price: np.ndarray
    offsets: np.ndarray
    level_prices: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    source: np.ndarray
    assumptions: np.ndarray
    provided_clusters: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.size)

    @property
    def counts(self) -> np.ndarray:
        """Number of levels of each snapshot."""
        return np.diff(self.offsets)

    def take(self, rows: np.ndarray | slice) -> "StoredSeries":
        """The snapshots at ``rows`` (indices or a slice), levels gathered without a Python loop."""
        idx = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows, dtype=np.int64)
        counts = np.diff(self.offsets)[idx]
        flat = ranges(self.offsets[idx], counts)
        return StoredSeries(
            symbol=self.symbol, ts=self.ts[idx], price=self.price[idx],
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            level_prices=self.level_prices[flat], long_usd=self.long_usd[flat], short_usd=self.short_usd[flat],
            source=self.source[idx], assumptions=self.assumptions[idx],
            provided_clusters=self.provided_clusters[idx])

    def snapshot(self, i: int, symbol: str | None = None) -> HeatmapSnapshot:
        """Snapshot ``i`` as the domain object (validated on construction)."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        try:
            source = HeatmapSource(self.source[i])
        except ValueError:
            raise DataError(f"unknown source {self.source[i]!r}", field="source", position=i) from None
        return HeatmapSnapshot(
            symbol=symbol or self.symbol, ts=self.ts[i].astype(datetime).replace(tzinfo=timezone.utc),
            price=float(self.price[i]), prices=self.level_prices[a:b], long_usd=self.long_usd[a:b],
            short_usd=self.short_usd[a:b], source=source, assumptions=_assumptions(self.assumptions[i]),
            provided_clusters=clusters_from_json(self.provided_clusters[i]))

    def snapshots(self) -> Iterator[HeatmapSnapshot]:
        """Every snapshot in order."""
        for i in range(len(self)):
            yield self.snapshot(i)

    def to_arrow(self) -> pa.Table:
        """One row per snapshot in the store's schema (``SnapshotStore.write_series`` takes it)."""
        offsets = pa.array(self.offsets.astype(np.int32))
        return pa.table({
            "ts": pa.array(self.ts.astype("datetime64[us]"), _TS_TYPE),
            "price": pa.array(self.price, pa.float64()),
            "source": pa.array(self.source, pa.string()),
            "assumptions": pa.array(self.assumptions, pa.string()),
            "provided_clusters": pa.array(self.provided_clusters, pa.string()),
            **{name: pa.ListArray.from_arrays(offsets, pa.array(values, pa.float64()))
               for name, values in zip(LEVEL_COLUMNS, (self.level_prices, self.long_usd, self.short_usd))},
        }, schema=SCHEMA)

    @classmethod
    def from_arrow(cls, table: pa.Table, symbol: str) -> "StoredSeries":
        """Build from a table of the store's schema (string columns may be dictionary-encoded)."""
        flat = {name: flat_lists(table.column(name)) for name in LEVEL_COLUMNS}
        offsets = flat["prices"][0]
        for name in LEVEL_COLUMNS[1:]:
            if not np.array_equal(flat[name][0], offsets):
                raise DataError("level arrays differ in length from prices", field=name)
        return cls.from_parts(table, symbol, offsets, *(flat[name][1] for name in LEVEL_COLUMNS))

    @classmethod
    def from_parts(cls, meta: pa.Table, symbol: str, offsets: np.ndarray, level_prices: np.ndarray,
                   long_usd: np.ndarray, short_usd: np.ndarray) -> "StoredSeries":
        """From the per-snapshot columns of ``meta`` and flat level arrays already in hand."""
        return cls(
            symbol=symbol, ts=meta.column("ts").cast(pa.int64()).to_numpy().view("datetime64[us]"),
            price=meta.column("price").to_numpy(), offsets=offsets, level_prices=level_prices,
            long_usd=long_usd, short_usd=short_usd, source=_strings(meta.column("source")),
            assumptions=_strings(meta.column("assumptions")),
            provided_clusters=_strings(meta.column("provided_clusters")))


def flat_lists(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets from 0, flat values) of a list column, chunk by chunk (no int32 overflow)."""
    offsets, values, base = [np.zeros(1, np.int64)], [], 0
    for chunk in col.chunks:
        off = chunk.offsets.to_numpy().astype(np.int64)
        offsets.append(off[1:] - off[0] + base)
        base += int(off[-1] - off[0])
        values.append(chunk.flatten().to_numpy(zero_copy_only=False))
    return np.concatenate(offsets), (np.concatenate(values) if values else np.empty(0))


def _strings(col: pa.ChunkedArray) -> np.ndarray:
    """A string column as an object array; dictionary chunks share one str per distinct value."""
    parts = []
    for chunk in col.chunks:
        if pa.types.is_dictionary(chunk.type):
            words = np.array(chunk.dictionary.to_pylist() + [None], dtype=object)
            idx = chunk.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False)
            parts.append(words[idx])
        else:
            parts.append(np.array(chunk.to_pylist(), dtype=object))
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


# ---- JSON of the small per-snapshot fields -----------------------------------------------

@lru_cache(maxsize=256)
def _assumptions_cached(text: str) -> Mapping[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise DataError("must be a JSON object", field="assumptions")
    return value


def _assumptions(text: str) -> Mapping[str, Any]:
    # Snapshots of one build share one assumptions dict; a copy keeps the cache unmutated.
    return dict(_assumptions_cached(text))


def assumptions_json(value: Mapping[str, Any]) -> str:
    """Canonical JSON of a snapshot's assumptions (sorted keys, so equal dicts store equal)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    """Mappings (read-only proxies too), numpy scalars and arrays, else their text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def clusters_to_json(clusters: tuple[Cluster, ...]) -> str | None:
    """Provider clusters of a snapshot as one JSON string (None when there are none)."""
    if not clusters:
        return None
    return json.dumps([c.to_dict() for c in clusters], separators=(",", ":"))


def clusters_from_json(text: str | None) -> tuple[Cluster, ...]:
    """Inverse of ``clusters_to_json``."""
    if not text:
        return ()
    out = []
    for i, d in enumerate(json.loads(text)):
        try:
            out.append(Cluster(
                cluster_id=d["cluster_id"], price_level=d["price_level"], side=Side(d["side"]),
                leverage_tier=d["leverage_tier"], open_interest=d["open_interest"],
                liquidation_count=d["liquidation_count"], strength=d["strength"],
                distance_from_price=d["distance_from_price"], active=d["active"],
                first_seen=datetime.fromisoformat(d["first_seen"]),
                last_seen=datetime.fromisoformat(d["last_seen"]),
                last_updated=datetime.fromisoformat(d["last_updated"]),
                price_low=d["price_low"], price_high=d["price_high"],
                broken_at=datetime.fromisoformat(d["broken_at"]) if d.get("broken_at") else None,
                liquidation_count_is_estimate=d.get("liquidation_count_is_estimate", True)))
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"bad stored cluster: {exc}", field="provided_clusters", position=i) from None
    return tuple(out)
