"""Heatmap levels -> clusters, as a structure of arrays (computed by ``kernel_group.group_kernel``).

Per side, on the levels holding USD (both sides go through one pass: the short levels are laid
out after the long ones, too far apart to touch):

1. **Axis.** Each level gets a position in log-price bins of width ``bin_pct`` percent, but never
   finer than the snapshot's own grid (the median log step of its levels): a provider map with a
   level every 500 USD is grouped on that grid, so its neighbouring levels stay contiguous.
   Positions are relative to the side's first level, so a map shifted as a whole (all prices
   x 1.001) groups identically.
2. **Runs.** Consecutive levels more than ``gap_bins`` empty bins apart start a new run.
3. **Profile.** USD is deposited on the bins linearly (cloud-in-cell, so a grid that does not
   align with the bins makes no false holes); a tolerated hole inside a run takes the lower of
   its neighbours (so it neither splits a cluster nor lifts its lower side); then a triangular
   kernel of half-width ``smooth_bins`` smooths it. The profile only finds boundaries; USD totals
   come from the raw levels.
4. **Peaks.** A local maximum counts as a peak when it rises from its higher base (topographic
   prominence) by at least ``1 - core_frac`` of its height; consecutive peaks are separated at
   the lowest bin between them. Each (run, peak basin) piece has a height: the highest profile
   value at its levels.
5. **Core and flanks.** A level is *core* when the profile there is >= ``core_frac`` x its
   piece's height. A cluster is a maximal stretch of core levels of one piece, or a maximal
   stretch of flank levels of one run (flanks on both sides of a valley form one cluster). So two
   magnets on one side are two clusters, and a long thin tail does not drag a magnet's
   USD-weighted price toward it.

Every level with USD belongs to exactly one cluster: with ``min_cluster_usd = 0`` the cluster USD
of a side sums to the level USD of that side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.clusters.kernel import kernel_params
from bot.clusters.kernel_group import (G_CORE, G_DIST_PCT, G_FIRST, G_HIGH, G_LAST, G_LEVEL, G_LOW, G_NLEV, G_SIDE,
                                       G_TIER, G_USD, group_kernel)
from bot.clusters.tiers import DistanceTable, TierInfo, formula_table
from bot.domain import Side
from bot.errors import DataError

if TYPE_CHECKING:
    from config.settings import ClusterSettings

LONG, SHORT = np.int8(0), np.int8(1)
SIDES: tuple[Side, Side] = (Side.LONG, Side.SHORT)
_NO_TIERS = np.empty(0)
_NO_TIER_USD = np.empty((0, 0))


@dataclass(frozen=True, slots=True, eq=False)
class ClusterArrays:
    """Clusters of one snapshot as parallel arrays, sorted by ``price_level``.

    ``side`` is 0 (long) / 1 (short); ``first_level``/``last_level`` are inclusive indices into
    the snapshot's level arrays; ``n_levels`` counts the levels with USD on that side;
    ``is_core`` is False for the flank clusters between magnets.
    """

    side: np.ndarray
    price_level: np.ndarray
    usd: np.ndarray
    price_low: np.ndarray
    price_high: np.ndarray
    leverage_tier: np.ndarray
    distance_pct: np.ndarray
    first_level: np.ndarray
    last_level: np.ndarray
    n_levels: np.ndarray
    is_core: np.ndarray

    def __len__(self) -> int:
        return int(self.price_level.size)

    def take(self, keep: np.ndarray) -> "ClusterArrays":
        """A new ClusterArrays holding only the rows selected by ``keep`` (mask or indices)."""
        return ClusterArrays(**{name: getattr(self, name)[keep] for name in self.__slots__})

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> "ClusterArrays":
        """From ``group_kernel`` output rows (columns ``G_*``)."""
        return cls(side=rows[:, G_SIDE].astype(np.int8), price_level=rows[:, G_LEVEL].copy(),
                   usd=rows[:, G_USD].copy(), price_low=rows[:, G_LOW].copy(), price_high=rows[:, G_HIGH].copy(),
                   leverage_tier=rows[:, G_TIER].copy(), distance_pct=rows[:, G_DIST_PCT].copy(),
                   first_level=rows[:, G_FIRST].astype(np.intp), last_level=rows[:, G_LAST].astype(np.intp),
                   n_levels=rows[:, G_NLEV].astype(np.intp), is_core=rows[:, G_CORE] > 0)


def tier_arrays(tier_info: TierInfo | None, distances: DistanceTable) -> tuple[np.ndarray, ...]:
    """The kernel's tier arguments (tier_lev, tier_long, tier_short, dist_lev, dist_logd) as float64."""
    f64 = np.ascontiguousarray
    if tier_info is None:
        lev, long, short = _NO_TIERS, _NO_TIER_USD, _NO_TIER_USD
    else:
        lev, long, short = (f64(a, dtype=np.float64) for a in (tier_info.leverages, tier_info.long, tier_info.short))
    return (lev, long, short, f64(distances.leverages, dtype=np.float64),
            f64(distances.log_distance, dtype=np.float64))


def level_arrays(prices: Any, long_usd: Any, short_usd: Any, price: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated writable float64 copies of a snapshot's level arrays (one kernel specialisation)."""
    arrays = tuple(np.array(a, dtype=np.float64, copy=True, order="C") for a in (prices, long_usd, short_usd))
    p, lo, sh = arrays
    if not (p.ndim == 1 and p.shape == lo.shape == sh.shape):
        raise DataError("prices, long_usd and short_usd must be 1-D arrays of one length", field="levels")
    if not (np.isfinite(price) and price > 0):
        raise DataError(f"must be a finite positive number, got {price!r}", field="price")
    return p, lo, sh


def group_levels(prices: Any, long_usd: Any, short_usd: Any, price: float, settings: "ClusterSettings", *,
                 tier_info: TierInfo | None = None, distances: DistanceTable | None = None) -> ClusterArrays:
    """Group a snapshot's levels into clusters per side (see the module docstring).

    ``prices`` ascend strictly; ``long_usd``/``short_usd`` are >= 0 and the same length.
    ``leverage_tier`` is the dominant tier from ``tier_info`` when given, else implied from the
    distance to ``price`` with ``distances`` (default: the formula over ``settings.implied_tiers``
    with ``settings.implied_mmr``). Computed by ``kernel_group.group_kernel``.
    """
    p, lo, sh = level_arrays(prices, long_usd, short_usd, price)
    if distances is None:
        distances = formula_table(tuple(float(t) for t in settings.implied_tiers), float(settings.implied_mmr))
    rows = group_kernel(p, lo, sh, float(price), kernel_params(settings), *tier_arrays(tier_info, distances))
    return ClusterArrays.from_rows(rows)
