"""Research replay: any heatmap source through the cluster tracker once, as columnar histories.

``replay_history`` feeds every snapshot of a source (the synthetic ``HeatmapSeries`` or a
snapshot store's ``StoredSeries``) to the very kernels ``ClusterTracker.update`` runs
(``group_kernel`` then ``track_apply``), with the range each snapshot's bar traded, and records:

- ``ClusterHistory``: at the sampled rows, every cluster the tracker holds (active and retained
  broken): row, cluster key, side, level, low/high edge, USD, strength, active, broken-at,
  first-seen, and whether the cluster touches the snapshot's outermost level while that level
  carries USD (``truncated``: the source's window cut it);
- ``BreakLog``: every cluster the tracker broke, at the row it broke (all rows, sampled or not),
  linked to the history by ``key``;
- ``magnets(history, variant)``: the magnet above / below price per sampled row, for the
  product's rule (``STRONGEST``: most USD, ties to the nearer) and research variants
  (``NEAREST``, ``THRESHOLDED``: the nearest with strength >= a threshold).

Keys are the tracker's int64 cluster keys (unique in one replay); ``cluster_ids`` turns them into
the string ids the live tracker would show. Tier data: the distance table of the first snapshot's
``assumptions`` (per-level ``tier_usd`` tables are not read: tiers do not move USD or strength).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping, Protocol

import numpy as np
from numba import njit

from bot.clusters.grouping import tier_arrays
from bot.clusters.kernel import (F_DIST, F_HIGH, F_LEVEL, F_LOW, F_PEAK_USD, F_STRENGTH, F_USD, I_ACTIVE,
                                 I_BROKEN_AT, I_FIRST_SEEN, I_KEY, I_LOG_BIN, I_SALT, I_SIDE, kernel_params,
                                 new_state)
from bot.clusters.kernel_group import group_kernel, level_prices_kernel
from bot.clusters.kernel_track import track_apply
from bot.clusters.tiers import tiers_from_assumptions
from bot.clusters.tracker import make_cluster_id
from bot.errors import DataError

CHUNK = 4096  # snapshots converted to flat level arrays at a time (bounded memory on 14 months)

# record columns (float table) and (int table)
R_LEVEL, R_LOW, R_HIGH, R_USD, R_STRENGTH, R_PEAK_USD, R_DIST = range(7)
NRF = 7
R_ROW, R_KEY, R_SIDE, R_ACTIVE, R_BROKEN_AT, R_FIRST_SEEN, R_TRUNC, R_LOG_BIN, R_SALT = range(9)
NRI = 9


class SnapshotSource(Protocol):
    """What the replay reads: per snapshot its time, price and levels, a chunk at a time."""

    symbol: str
    ts: np.ndarray      # (n,) int64 ns UTC, when each snapshot was known
    price: np.ndarray   # (n,) float64

    def __len__(self) -> int:
        ...

    def assumptions(self) -> Mapping[str, Any]:
        """The source's model assumptions (the first snapshot's)."""
        ...

    def chunk(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``[j0, j1)``: flat prices, long, short, offsets (j1 - j0 + 1) and per row edge flags
        (bit 1: the lowest level carries USD at the source's window edge, bit 2: the highest)."""
        ...


@njit(cache=True)
def _trim_rows(base, long32, short32, width, bin_width, j0, j1):  # pragma: no cover - numba
    """Synthetic window rows trimmed exactly as ``make_snapshot`` does, flattened."""
    off = np.zeros(j1 - j0 + 1, np.int64)
    lo_a = np.empty(j1 - j0, np.int64)
    hi_a = np.empty(j1 - j0, np.int64)
    total = 0
    for j in range(j0, j1):
        lo, hi = 0, 0
        for b in range(width):
            if long32[j, b] > 0 or short32[j, b] > 0:
                lo = b
                break
        for b in range(width - 1, -1, -1):
            if long32[j, b] > 0 or short32[j, b] > 0:
                hi = b + 1
                break
        lo_a[j - j0], hi_a[j - j0] = lo, hi
        total += hi - lo
        off[j - j0 + 1] = total
    prices = np.empty(total)
    longs = np.empty(total)
    shorts = np.empty(total)
    edge = np.zeros(j1 - j0, np.int64)
    for j in range(j0, j1):
        k, lo, hi = off[j - j0], lo_a[j - j0], hi_a[j - j0]
        p = level_prices_kernel(base[j] + lo, hi - lo, bin_width)
        for b in range(hi - lo):
            prices[k + b] = p[b]
            longs[k + b] = long32[j, lo + b]
            shorts[k + b] = short32[j, lo + b]
        if hi > lo:
            edge[j - j0] = (1 if lo == 0 else 0) + (2 if hi == width else 0)
    return prices, longs, shorts, off, edge


class SeriesSource:
    """A synthetic ``HeatmapSeries`` as a snapshot source (its window edges are the range limit)."""

    def __init__(self, series: Any) -> None:
        self.series = series
        self.symbol = series.symbol
        self.ts = np.asarray(series.ts, np.int64)
        self.price = np.asarray(series.price, np.float64)

    def __len__(self) -> int:
        return len(self.series)

    def assumptions(self) -> Mapping[str, Any]:
        """The model's assumptions (one object for every row)."""
        return self.series.assumptions

    def chunk(self, j0: int, j1: int) -> tuple[np.ndarray, ...]:
        """Trimmed rows ``[j0, j1)`` flattened."""
        s = self.series
        return _trim_rows(np.ascontiguousarray(s.base, np.int64), s.long_usd, s.short_usd, s.width,
                          float(s.bin_width), j0, j1)


class StoredSource:
    """A snapshot store's ``StoredSeries`` as a snapshot source (edges: the outermost stored levels)."""

    def __init__(self, stored: Any) -> None:
        self.stored = stored
        self.symbol = stored.symbol
        self.ts = stored.ts.astype("datetime64[ns]").view(np.int64)
        self.price = np.asarray(stored.price, np.float64)

    def __len__(self) -> int:
        return len(self.stored)

    def assumptions(self) -> Mapping[str, Any]:
        """The first snapshot's assumptions (empty for an empty store)."""
        return self.stored.snapshot(0).assumptions if len(self.stored) else {}

    def chunk(self, j0: int, j1: int) -> tuple[np.ndarray, ...]:
        """Rows ``[j0, j1)`` as stored."""
        s = self.stored
        a, b = int(s.offsets[j0]), int(s.offsets[j1])
        off = (s.offsets[j0:j1 + 1] - a).astype(np.int64)
        longs = np.ascontiguousarray(s.long_usd[a:b], np.float64)
        shorts = np.ascontiguousarray(s.short_usd[a:b], np.float64)
        edge = np.zeros(j1 - j0, np.int64)
        for r in range(j1 - j0):
            lo, hi = off[r], off[r + 1]
            if hi > lo:
                edge[r] = (1 if longs[lo] + shorts[lo] > 0 else 0) + (2 if longs[hi - 1] + shorts[hi - 1] > 0 else 0)
        return np.ascontiguousarray(s.level_prices[a:b], np.float64), longs, shorts, off, edge


@njit(cache=True)
def _grow2(a, need):  # pragma: no cover - numba
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _replay_chunk(cf, ci, meta, meta_f, ring, params, prices, longs, shorts, off, edge, snap_price, snap_ts, high,
                  low, sample, tier_lev, tier_long, tier_short, dist_lev, dist_logd, j0,
                  j1):  # pragma: no cover - numba
    """Rows ``[j0, j1)`` through ``group_kernel`` + ``track_apply``; records of sampled rows and breaks."""
    rec_f = np.empty((1024, NRF))
    rec_i = np.empty((1024, NRI), np.int64)
    brk_f = np.empty((256, NRF))
    brk_i = np.empty((256, NRI), np.int64)
    nr = nb = 0
    for j in range(j0, j1):
        a, b = off[j - j0], off[j - j0 + 1]
        g = group_kernel(prices[a:b], longs[a:b], shorts[a:b], snap_price[j], params, tier_lev, tier_long,
                         tier_short, dist_lev, dist_logd)
        n, cf, ci = track_apply(cf, ci, meta, meta_f, ring, params, g, snap_price[j], snap_ts[j], high[j], low[j])
        # a cluster is cut when it reaches an outermost level that still holds USD
        lo_edge = prices[a] if (b > a and edge[j - j0] & 1) else -np.inf
        hi_edge = prices[b - 1] if (b > a and edge[j - j0] & 2) else np.inf
        for r in range(n):
            newly = ci[r, I_BROKEN_AT] == snap_ts[j]
            if not (sample[j] or newly):
                continue
            trunc = 1 if (ci[r, I_ACTIVE] == 1 and (cf[r, F_LOW] <= lo_edge or cf[r, F_HIGH] >= hi_edge)) else 0
            if sample[j]:
                rec_f, rec_i = _grow2(rec_f, nr + 1), _grow2(rec_i, nr + 1)
                _put(rec_f, rec_i, nr, cf, ci, r, j, trunc)
                nr += 1
            if newly:
                brk_f, brk_i = _grow2(brk_f, nb + 1), _grow2(brk_i, nb + 1)
                _put(brk_f, brk_i, nb, cf, ci, r, j, trunc)
                nb += 1
    return cf, ci, rec_f[:nr], rec_i[:nr], brk_f[:nb], brk_i[:nb]


@njit(cache=True)
def _put(out_f, out_i, k, cf, ci, r, j, trunc):  # pragma: no cover - numba
    out_f[k, R_LEVEL], out_f[k, R_LOW], out_f[k, R_HIGH] = cf[r, F_LEVEL], cf[r, F_LOW], cf[r, F_HIGH]
    out_f[k, R_USD], out_f[k, R_STRENGTH], out_f[k, R_PEAK_USD] = cf[r, F_USD], cf[r, F_STRENGTH], cf[r, F_PEAK_USD]
    out_f[k, R_DIST] = cf[r, F_DIST]
    out_i[k, R_ROW], out_i[k, R_KEY], out_i[k, R_SIDE], out_i[k, R_ACTIVE] = j, ci[r, I_KEY], ci[r, I_SIDE], ci[
        r, I_ACTIVE]
    out_i[k, R_BROKEN_AT], out_i[k, R_FIRST_SEEN], out_i[k, R_TRUNC] = ci[r, I_BROKEN_AT], ci[r, I_FIRST_SEEN], trunc
    out_i[k, R_LOG_BIN], out_i[k, R_SALT] = ci[r, I_LOG_BIN], ci[r, I_SALT]


@dataclass(frozen=True, slots=True, eq=False)
class ClusterHistory:
    """Columnar cluster records (one per cluster held at each sampled row) and the broken clusters.

    ``ts``/``price``: per source row; ``sampled``: the rows that have records. Record columns:
    ``row``, ``key``, ``side`` (0 long, 1 short), ``level``, ``low``, ``high``, ``usd``,
    ``strength``, ``peak_usd``, ``active``, ``broken_at`` (ns, -1 while active), ``first_seen``,
    ``truncated``. ``breaks`` has the same columns, one row per cluster at the row it broke.
    """

    symbol: str
    ts: np.ndarray
    price: np.ndarray
    sampled: np.ndarray
    records: dict[str, np.ndarray]
    breaks: dict[str, np.ndarray]
    assumptions: Mapping[str, Any]

    def __len__(self) -> int:
        return int(self.records["row"].size)

    def cluster_ids(self, keys: np.ndarray) -> list[str]:
        """The tracker's string ids of ``keys`` (each must occur in the records or the breaks)."""
        cols = ("key", "side", "log_bin", "first_seen", "salt")
        table = {int(k): (s, lb, fs, sa) for src in (self.records, self.breaks)
                 for k, s, lb, fs, sa in zip(*(src[c].tolist() for c in cols))}
        return [make_cluster_id(self.symbol, *table[int(k)]) for k in np.asarray(keys).tolist()]


def _columns(f: np.ndarray, i: np.ndarray) -> dict[str, np.ndarray]:
    return {"row": i[:, R_ROW], "key": i[:, R_KEY], "side": i[:, R_SIDE], "active": i[:, R_ACTIVE].astype(np.bool_),
            "broken_at": i[:, R_BROKEN_AT], "first_seen": i[:, R_FIRST_SEEN], "truncated": i[:, R_TRUNC].astype(
                np.bool_), "log_bin": i[:, R_LOG_BIN], "salt": i[:, R_SALT], "level": f[:, R_LEVEL],
            "low": f[:, R_LOW], "high": f[:, R_HIGH], "usd": f[:, R_USD], "strength": f[:, R_STRENGTH],
            "peak_usd": f[:, R_PEAK_USD], "dist_pct": f[:, R_DIST]}


def replay_history(source: SnapshotSource, cluster_settings: Any, high: np.ndarray, low: np.ndarray,
                   sample: np.ndarray | None = None) -> ClusterHistory:
    """Replay ``source`` through the tracker; ``high``/``low``: the range traded in the bar (or since
    the previous snapshot) ending at each snapshot (NaN = infer from prices); ``sample``: rows whose
    clusters are recorded (default all)."""
    n = len(source)
    if n == 0:
        raise DataError("no snapshots to replay", field="heatmaps")
    high, low = np.ascontiguousarray(high, np.float64), np.ascontiguousarray(low, np.float64)
    if high.shape != (n,) or low.shape != (n,):
        raise DataError(f"high/low must have one value per snapshot ({n})", field="high")
    sample = np.ones(n, np.bool_) if sample is None else np.ascontiguousarray(sample, np.bool_)
    _, dist = tiers_from_assumptions(source.assumptions(), 0, cluster_settings.implied_tiers,
                                        cluster_settings.implied_mmr)
    tiers = tier_arrays(None, dist)
    params = kernel_params(cluster_settings)
    cf, ci, meta, meta_f, ring = new_state(cluster_settings)
    ts, price = np.ascontiguousarray(source.ts, np.int64), np.ascontiguousarray(source.price, np.float64)
    parts = []
    for j0 in range(0, n, CHUNK):
        j1 = min(j0 + CHUNK, n)
        prices, longs, shorts, off, edge = source.chunk(j0, j1)
        cf, ci, *out = _replay_chunk(cf, ci, meta, meta_f, ring, params, prices, longs, shorts, off, edge, price, ts,
                                     high, low, sample, *tiers, j0, j1)
        parts.append(out)
    rec_f, rec_i, brk_f, brk_i = (np.concatenate([p[c] for p in parts]) for c in range(4))
    return ClusterHistory(symbol=source.symbol, ts=ts, price=price, sampled=sample, records=_columns(rec_f, rec_i),
                          breaks=_columns(brk_f, brk_i), assumptions=source.assumptions())


class MagnetVariant(StrEnum):
    """Which cluster on each side counts as the magnet."""

    STRONGEST = "strongest"      # the product's rule: most USD, ties to the nearer
    NEAREST = "nearest"          # the nearest active cluster
    THRESHOLDED = "thresholded"  # the nearest active cluster with strength >= threshold


@dataclass(frozen=True, slots=True, eq=False)
class Magnets:
    """Per sampled row: the magnet above (a short cluster) and below (a long cluster); NaN / -1 when none."""

    row: np.ndarray
    ts: np.ndarray
    price: np.ndarray
    above_level: np.ndarray
    above_usd: np.ndarray
    above_strength: np.ndarray
    above_key: np.ndarray
    below_level: np.ndarray
    below_usd: np.ndarray
    below_strength: np.ndarray
    below_key: np.ndarray

    def __len__(self) -> int:
        return int(self.row.size)


@njit(cache=True)
def _magnets_kernel(rows, rec_row, side, active, level, usd, strength, dist, price_of_row, mode,
                    threshold):  # pragma: no cover - numba
    m = rows.size
    out = np.full((m, 6), np.nan)
    keys = np.full((m, 2), -1, np.int64)
    pos = 0
    for s in range(m):
        j = rows[s]
        p = price_of_row[j]
        while pos < rec_row.size and rec_row[pos] < j:
            pos += 1
        best_a, best_b = -1, -1
        r = pos
        while r < rec_row.size and rec_row[r] == j:
            if active[r]:
                if side[r] == 1 and level[r] > p:
                    best_a = _better(best_a, r, usd, strength, dist, mode, threshold)
                elif side[r] == 0 and level[r] < p:
                    best_b = _better(best_b, r, usd, strength, dist, mode, threshold)
            r += 1
        for c, best in ((0, best_a), (1, best_b)):
            if best >= 0:
                out[s, 3 * c], out[s, 3 * c + 1], out[s, 3 * c + 2] = level[best], usd[best], strength[best]
                keys[s, c] = best
        pos = r
    return out, keys


@njit(cache=True)
def _better(cur, r, usd, strength, dist, mode, threshold):  # pragma: no cover - numba
    if mode == 2 and strength[r] < threshold:
        return cur
    if cur < 0:
        return r
    if mode == 0:  # strongest, ties to the nearer (magnet_read)
        if usd[r] > usd[cur] or (usd[r] == usd[cur] and dist[r] < dist[cur]):
            return r
        return cur
    return r if dist[r] < dist[cur] else cur


def magnets(history: ClusterHistory, variant: MagnetVariant = MagnetVariant.STRONGEST,
            threshold: float = 0.6) -> Magnets:
    """The magnet above and below price at every sampled row, by ``variant``."""
    rec = history.records
    rows = np.flatnonzero(history.sampled)
    mode = {MagnetVariant.STRONGEST: 0, MagnetVariant.NEAREST: 1, MagnetVariant.THRESHOLDED: 2}[
        MagnetVariant(variant)]
    out, idx = _magnets_kernel(rows, rec["row"], rec["side"], rec["active"], rec["level"], rec["usd"],
                               rec["strength"], np.abs(rec["dist_pct"]), history.price, mode, float(threshold))
    key = np.where(idx >= 0, rec["key"][np.maximum(idx, 0)] if rec["key"].size else -1, -1)
    return Magnets(row=rows, ts=history.ts[rows], price=history.price[rows],
                   above_level=out[:, 0], above_usd=out[:, 1], above_strength=out[:, 2], above_key=key[:, 0],
                   below_level=out[:, 3], below_usd=out[:, 4], below_strength=out[:, 5], below_key=key[:, 1])


def since(history: ClusterHistory, start_ns: int) -> ClusterHistory:
    """The history with the rows before ``start_ns`` unsampled and their breaks dropped (the
    tracker still ran over them: its state at ``start_ns`` is the one a live run would hold)."""
    keep_rec = history.ts[history.records["row"]] >= start_ns
    keep_brk = history.ts[history.breaks["row"]] >= start_ns
    return ClusterHistory(symbol=history.symbol, ts=history.ts, price=history.price,
                          sampled=history.sampled & (history.ts >= start_ns),
                          records={k: v[keep_rec] for k, v in history.records.items()},
                          breaks={k: v[keep_brk] for k, v in history.breaks.items()},
                          assumptions=history.assumptions)
