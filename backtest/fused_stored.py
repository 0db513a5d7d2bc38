"""Recorded or imported heatmaps on the fused (compiled) path of the backtester.

``StoredRows`` hands the decision step, for every valid bar, the newest stored snapshot known at
the bar's close. :class:`StoredBars` is that alignment as the columns the fused loop reads (the
snapshot's time and price per bar) plus its own grouping kernel: each bar's stored levels go
through ``group_kernel``, the very kernel ``ClusterTracker.update`` calls on the snapshot's
arrays, so the fused loop's tracker, magnets and engine see what ``Decider.step`` sees, bar for
bar (``tests/test_backtest_replay.py`` compares the signal logs byte for byte).

The fused loop reads one set of tier assumptions for the whole run, so a store whose snapshots
disagree on them, carry per-level tier USD, mix sources, or leave a bar without a snapshot stays
on the bar-by-bar path (:func:`stored_bars` returns ``None``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from numba import njit

from backtest.fused import _grow
from bot.clusters.kernel_group import NG, group_kernel
from bot.domain import HeatmapSource


@njit(cache=True, nogil=True)
def group_stored(level_prices, long_usd, short_usd, offsets, rows, snap_price, cparams, tier_lev, tier_long,
                 tier_short, dist_lev, dist_logd, j0, j1):  # pragma: no cover - numba
    """``group_kernel`` of the snapshot of each bar in ``[j0, j1)`` (``rows[j]``): the groups stacked,
    with each bar's offsets. A snapshot held over several bars is grouped once."""
    off = np.zeros(j1 - j0 + 1, np.int64)
    out = np.empty((64 * (j1 - j0) + 64, NG))
    k = 0
    last_r, g = -1, np.empty((0, NG))
    for j in range(j0, j1):
        r = rows[j]
        if r != last_r:
            a, b = offsets[r], offsets[r + 1]
            g = group_kernel(level_prices[a:b].copy(), long_usd[a:b].copy(), short_usd[a:b].copy(), snap_price[j],
                             cparams, tier_lev, tier_long, tier_short, dist_lev, dist_logd)
            last_r = r
        out = _grow(out, k + g.shape[0])
        for q in range(g.shape[0]):
            out[k + q] = g[q]
        k += g.shape[0]
        off[j - j0 + 1] = k
    return out[:k], off


@dataclass(frozen=True)
class StoredBars:
    """Stored snapshots aligned to the valid bars: row ``j`` is the snapshot known at bar ``j``'s close."""

    symbol: str
    ts: np.ndarray              # (n,) int64 ns: the snapshot's time, per bar
    price: np.ndarray           # (n,) float64: the snapshot's price, per bar
    rows: np.ndarray            # (n,) int64: the stored snapshot of each bar
    offsets: np.ndarray
    level_prices: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    assumptions: Mapping[str, Any]
    source: HeatmapSource
    width: int = 0              # tier USD per level is not supported here: the tier tables never need it

    def __len__(self) -> int:
        return int(self.rows.size)

    def group_rows(self, j0: int, j1: int, cparams: np.ndarray, tiers: tuple[np.ndarray, ...]) -> tuple[Any, Any]:
        """The grouped clusters of bars ``[j0, j1)`` and their offsets (what the fused loop decides on)."""
        return group_stored(self.level_prices, self.long_usd, self.short_usd, self.offsets, self.rows, self.price,
                            cparams, *tiers, j0, j1)


def stored_bars(series: Any, rows: np.ndarray) -> StoredBars | None:
    """The fused loop's view of ``series`` (a ``StoredSeries``) read at ``rows``; ``None`` when it cannot take it."""
    if rows.size == 0 or int(rows.min()) < 0:
        return None  # a bar before the first snapshot: the decision step skips it, the fused loop cannot
    used = np.unique(rows)
    texts = {str(t) for t in np.asarray(series.assumptions)[used]}
    sources = {str(s) for s in np.asarray(series.source)[used]}
    if len(texts) != 1 or len(sources) != 1:
        return None
    assumptions = json.loads(texts.pop() or "{}")
    if not isinstance(assumptions, dict) or "tier_usd" in assumptions:
        return None
    try:
        source = HeatmapSource(sources.pop())
    except ValueError:
        return None
    ts_ns = series.ts.astype("datetime64[ns]").view(np.int64)
    return StoredBars(symbol=series.symbol, ts=np.ascontiguousarray(ts_ns[rows]),
                      price=np.ascontiguousarray(series.price[rows], dtype=np.float64),
                      rows=np.ascontiguousarray(rows, dtype=np.int64),
                      offsets=np.ascontiguousarray(series.offsets, dtype=np.int64),
                      level_prices=np.ascontiguousarray(series.level_prices, dtype=np.float64),
                      long_usd=np.ascontiguousarray(series.long_usd, dtype=np.float64),
                      short_usd=np.ascontiguousarray(series.short_usd, dtype=np.float64),
                      assumptions=assumptions, source=source)
