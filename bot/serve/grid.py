"""The heatmap over time as a compact grid (time x price), for the dashboard.

Each snapshot's levels are summed into ``rows`` equal price bins spanning [low, high] (default: the
range the levels of up to 64 evenly spaced snapshots cover, trimmed to the 0.5-99.5 % USD quantiles
so one far level cannot flatten the map); the USD of a cell is quantised to one byte on a log scale,
``q = round(255 * log1p(usd) / log1p(max))``, and the bytes are sent base64-encoded, row-major by snapshot. ``usd(q) =
expm1(q / 255 * log1p(max))`` inverts it to within one step. A week of 5 m snapshots (2,016) at
160 rows is 322,560 bytes before base64.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numba
import numpy as np

from bot.errors import DataError
from bot.heatmap.stored_series import StoredSeries

QUANT_LEVELS = 255
SPAN_SAMPLE = 64  # snapshots whose levels set the default price span


class GridSide(StrEnum):
    """Which side's USD a grid cell holds."""

    TOTAL = "total"
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, slots=True)
class Grid:
    """A quantised heatmap grid: ``q[t, r]`` for snapshot ``t`` and price bin ``r``."""

    ts_ms: np.ndarray        # int64, snapshot times
    price: np.ndarray        # float64, snapshot reference prices
    low: float
    high: float
    q: np.ndarray            # uint8 (T, rows)
    max_usd: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: bin edges, times, prices and the base64 bytes."""
        rows = int(self.q.shape[1]) if self.q.ndim == 2 else 0
        return {"snapshots": int(self.q.shape[0]), "rows": rows, "low": self.low, "high": self.high,
                "bin": (self.high - self.low) / rows if rows else 0.0, "ts": self.ts_ms.tolist(),
                "price": self.price.tolist(), "max_usd": self.max_usd, "quant_levels": QUANT_LEVELS,
                "scale": "log1p", "q": base64.b64encode(np.ascontiguousarray(self.q).tobytes()).decode("ascii")}


def build_grid(series: StoredSeries, rows: int, side: GridSide = GridSide.TOTAL, low: float | None = None,
               high: float | None = None) -> Grid:
    """Sum ``series``' levels into ``rows`` price bins per snapshot and quantise (see the module doc)."""
    if rows < 2:
        raise DataError(f"must be >= 2, got {rows}", field="rows")
    n = len(series)
    ts_ms = (series.ts.astype("datetime64[ms]").astype(np.int64) if n else np.empty(0, np.int64))
    if side is GridSide.TOTAL:
        usd = series.long_usd + series.short_usd
    else:
        usd = series.long_usd if side is GridSide.LONG else series.short_usd
    prices = series.level_prices
    if n == 0 or prices.size == 0:
        return Grid(ts_ms, np.asarray(series.price, np.float64), 0.0, 0.0, np.zeros((n, rows), np.uint8), 0.0)
    if low is None or high is None:
        lo_q, hi_q = _weighted_span(*_sample(series.offsets, prices, usd))
        low = lo_q if low is None else low
        high = hi_q if high is None else high
    if not (np.isfinite(low) and np.isfinite(high) and high > low > 0):
        raise DataError(f"price range must have 0 < low < high, got {low!r}..{high!r}", field="low")
    cells = bin_levels(series.offsets, prices, usd, float(low), float(high), rows)
    top = float(cells.max()) if cells.size else 0.0
    if top > 0:
        q = np.rint(np.log1p(cells) * (QUANT_LEVELS / np.log1p(top))).astype(np.uint8)
    else:
        q = np.zeros((n, rows), np.uint8)
    return Grid(ts_ms, np.asarray(series.price, np.float64), float(low), float(high), q, top)


@numba.njit(cache=True)
def bin_levels(offsets: np.ndarray, prices: np.ndarray, usd: np.ndarray, low: float, high: float,
               rows: int) -> np.ndarray:  # pragma: no cover - numba
    """USD per (snapshot, price bin): one pass over the flat levels; levels outside [low, high) are left out."""
    n = offsets.size - 1
    cells = np.zeros((n, rows), np.float64)
    scale = rows / (high - low)
    for t in range(n):
        for k in range(offsets[t], offsets[t + 1]):
            u = usd[k]
            if u > 0:
                r = int(np.floor((prices[k] - low) * scale))
                if 0 <= r < rows:
                    cells[t, r] += u
    return cells


def _sample(offsets: np.ndarray, prices: np.ndarray, usd: np.ndarray,
            snapshots: int = SPAN_SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """The levels of at most ``snapshots`` evenly spaced snapshots (the span needs no more)."""
    n = offsets.size - 1
    picks = np.unique(np.linspace(0, n - 1, min(n, snapshots)).round().astype(np.int64))
    idx = np.concatenate([np.arange(offsets[t], offsets[t + 1]) for t in picks])
    return prices[idx], usd[idx]


def _weighted_span(prices: np.ndarray, usd: np.ndarray) -> tuple[float, float]:
    """The 0.5 and 99.5 % USD-weighted quantiles of the level prices (all prices when no USD)."""
    order = np.argsort(prices, kind="stable")
    p, w = prices[order], np.clip(usd[order], 0.0, None)
    total = float(w.sum())
    if total <= 0:
        return float(p[0]), float(p[-1]) * (1 + 1e-9)
    cum = np.cumsum(w) / total
    lo = float(p[min(int(np.searchsorted(cum, 0.005)), p.size - 1)])
    hi = float(p[min(int(np.searchsorted(cum, 0.995)), p.size - 1)])
    if hi <= lo:
        hi = lo * (1 + 1e-6)
    return lo, hi
