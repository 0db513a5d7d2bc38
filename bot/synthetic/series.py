"""``HeatmapSeries``: a columnar batch of synthetic snapshots, cheap to hold and to slice.

Representation (chosen for 120k snapshots x a few hundred levels):
every snapshot is a fixed-width window of ``width`` bins of one global log-price grid,
bin ``g`` standing for price ``exp((g + 0.5) * bin_width)``. ``base[i]`` is the global bin of
column 0 of row ``i`` (the window is centred on that bar's close), and ``long_usd``/``short_usd``
are dense ``(n, width)`` float32 matrices. Memory is ``n * width * 8`` bytes plus 40 bytes per
row: 120k rows x 304 bins (0.1 % bins, +-15 %) is about 290 MB. A row is a zero-copy slice;
``snapshot(i)`` trims zero bins at both ends and builds the domain ``HeatmapSnapshot``.
Break events (cohorts consumed) are one row per bar and side that liquidated something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

from bot.clusters.kernel_group import level_prices_kernel
from bot.domain import HeatmapSnapshot, HeatmapSource, Side


@dataclass(frozen=True, slots=True, eq=False)
class BreakEvents:
    """Cohorts liquidated: ``ts`` (bar close, ns UTC), ``side`` (0 long, 1 short), USD-weighted ``price``, ``usd``."""

    ts: np.ndarray
    side: np.ndarray
    price: np.ndarray
    usd: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.size)

    @classmethod
    def from_bars(cls, close_ns: np.ndarray, ev: np.ndarray) -> "BreakEvents":
        """From the kernel's per-bar ``(long usd, long price, short usd, short price)`` rows."""
        ts = np.concatenate((close_ns, close_ns))
        side = np.concatenate((np.zeros(close_ns.size, np.int8), np.ones(close_ns.size, np.int8)))
        price = np.concatenate((ev[:, 1], ev[:, 3]))
        usd = np.concatenate((ev[:, 0], ev[:, 2]))
        keep = usd > 0
        order = np.argsort(ts[keep], kind="stable")
        return cls(ts=ts[keep][order], side=side[keep][order], price=price[keep][order], usd=usd[keep][order])

    def sides(self) -> list[Side]:
        """The ``side`` column as domain enums."""
        return [Side.LONG if s == 0 else Side.SHORT for s in self.side]

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame indexed by UTC time (columns side, price, usd)."""
        return pd.DataFrame({"side": [s.value for s in self.sides()], "price": self.price, "usd": self.usd},
                            index=pd.DatetimeIndex(self.ts, tz="UTC", name="ts"))


def level_prices(base: int, width: int, bin_width: float) -> np.ndarray:
    """Prices of the ``width`` bins starting at global bin ``base`` (libm exp in numba, so every
    producer of a synthetic snapshot's prices, Python or fused loop, gets the same bits)."""
    return level_prices_kernel(int(base), int(width), float(bin_width))


def make_snapshot(symbol: str, ts_ns: int, price: float, base: int, long_row: np.ndarray, short_row: np.ndarray,
                  bin_width: float, assumptions: Mapping[str, Any]) -> HeatmapSnapshot:
    """One domain snapshot from a window row; the same function serves batch and incremental paths."""
    nz = np.flatnonzero((long_row > 0) | (short_row > 0))
    lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
    return HeatmapSnapshot(
        symbol=symbol, ts=pd.Timestamp(int(ts_ns), tz="UTC").to_pydatetime(), price=float(price),
        prices=level_prices(base + lo, hi - lo, bin_width), long_usd=long_row[lo:hi], short_usd=short_row[lo:hi],
        source=HeatmapSource.SYNTHETIC, assumptions=assumptions)


@dataclass(frozen=True, slots=True, eq=False)
class HeatmapSeries:
    """Synthetic snapshots as columns; ``ts`` is when each was known (its bar's close).

    ``bar_open`` is the open of the bar a snapshot closes, ``price`` that bar's close.
    """

    symbol: str
    bin_width: float
    ts: np.ndarray          # (n,) int64 ns UTC, the bar close
    bar_open: np.ndarray    # (n,) int64 ns UTC
    price: np.ndarray       # (n,) float64
    base: np.ndarray        # (n,) int64 global bin of column 0
    long_usd: np.ndarray    # (n, width) float32
    short_usd: np.ndarray   # (n, width) float32
    breaks: BreakEvents
    assumptions: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "assumptions", MappingProxyType(dict(self.assumptions)))

    def __len__(self) -> int:
        return int(self.ts.size)

    @property
    def width(self) -> int:
        """Bins per row."""
        return int(self.long_usd.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        arrays = (self.ts, self.bar_open, self.price, self.base, self.long_usd, self.short_usd,
                  self.breaks.ts, self.breaks.side, self.breaks.price, self.breaks.usd)
        return int(sum(a.nbytes for a in arrays))

    def prices(self, i: int) -> np.ndarray:
        """Level prices of row ``i`` (ascending, the full window)."""
        return level_prices(int(self.base[i]), self.width, self.bin_width)

    def index_at(self, ts: pd.Timestamp | np.datetime64 | int) -> int:
        """Row of the latest snapshot known at ``ts`` (-1 if none)."""
        ns = ts if isinstance(ts, (int, np.integer)) else pd.Timestamp(ts).value
        return int(np.searchsorted(self.ts, ns, side="right")) - 1

    def snapshot(self, i: int, symbol: str | None = None) -> HeatmapSnapshot:
        """Row ``i`` as a ``HeatmapSnapshot`` (zero bins trimmed at both ends)."""
        return make_snapshot(symbol or self.symbol, int(self.ts[i]), float(self.price[i]), int(self.base[i]),
                             self.long_usd[i], self.short_usd[i], self.bin_width, self.assumptions)

    def window_sums(self, i: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """USD of longs priced >= ``low`` and of shorts priced <= ``high`` in rows ``i`` (vectorized)."""
        i = np.asarray(i, dtype=np.int64)
        k = np.arange(self.width)
        centres = (self.base[i, None] + k[None, :] + 0.5) * self.bin_width
        long_mask = centres >= np.log(np.asarray(low, dtype=np.float64))[:, None]
        short_mask = centres <= np.log(np.asarray(high, dtype=np.float64))[:, None]
        rows_l = self.long_usd[i].astype(np.float64)
        rows_s = self.short_usd[i].astype(np.float64)
        return (rows_l * long_mask).sum(axis=1), (rows_s * short_mask).sum(axis=1)
