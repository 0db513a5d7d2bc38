"""Pure vectorized kernel: heatmap levels -> clusters, as a structure of arrays.

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
from scipy.signal import find_peaks, peak_prominences

from bot.clusters.strength import quantile
from bot.clusters.tiers import DistanceTable, TierInfo, dominant_tiers, formula_table
from bot.domain import Side
from bot.errors import DataError

if TYPE_CHECKING:
    from config.settings import ClusterSettings

LONG, SHORT = np.int8(0), np.int8(1)
SIDES: tuple[Side, Side] = (Side.LONG, Side.SHORT)
_POS_DECIMALS = 9       # positions are rounded so float noise cannot move a boundary
_PROFILE_SCALE = 1e12   # the profile is quantized to integers relative to its maximum


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


def group_levels(prices: Any, long_usd: Any, short_usd: Any, price: float, settings: "ClusterSettings", *,
                 tier_info: TierInfo | None = None, distances: DistanceTable | None = None) -> ClusterArrays:
    """Group a snapshot's levels into clusters per side (see the module docstring).

    ``prices`` ascend strictly; ``long_usd``/``short_usd`` are >= 0 and the same length.
    ``leverage_tier`` is the dominant tier from ``tier_info`` when given, else implied from the
    distance to ``price`` with ``distances`` (default: the formula over ``settings.implied_tiers``
    with ``settings.implied_mmr``).
    """
    p = np.ascontiguousarray(prices, dtype=np.float64)
    sides_usd = (np.ascontiguousarray(long_usd, dtype=np.float64), np.ascontiguousarray(short_usd, dtype=np.float64))
    if not (p.ndim == 1 and p.shape == sides_usd[0].shape == sides_usd[1].shape):
        raise DataError("prices, long_usd and short_usd must be 1-D arrays of one length", field="levels")
    if not (np.isfinite(price) and price > 0):
        raise DataError(f"must be a finite positive number, got {price!r}", field="price")
    if distances is None:
        distances = formula_table(tuple(float(t) for t in settings.implied_tiers), float(settings.implied_mmr))
    lp = np.log(p)
    w_bin = float(np.log1p(settings.bin_pct / 100.0))
    width = max(w_bin, quantile(np.diff(lp), 0.5)) if p.size > 1 else w_bin
    idx, side, us, starts, core = _segment(lp, sides_usd, width, settings.gap_bins, settings.smooth_bins,
                                           settings.core_frac)
    out = _aggregate(p, us, idx, side, starts, core, price, distances, tier_info)
    order = np.lexsort((out.side, out.price_level))
    if settings.min_cluster_usd > 0:
        order = order[out.usd[order] >= settings.min_cluster_usd]
    return out.take(order)


def _segment(lp: np.ndarray, sides_usd: tuple[np.ndarray, np.ndarray], width: float, gap_bins: int,
             smooth_bins: int, core_frac: float) -> tuple[np.ndarray, ...]:
    """Both sides in one pass: the short levels are laid out after the long ones, far enough
    apart that they never touch. Returns (level index, side and USD per level, cluster starts,
    is-core per cluster)."""
    pad = smooth_bins + 2
    per_side = [np.flatnonzero(usd > 0) for usd in sides_usd]
    pos_parts, offset = [], 0.0
    for idx in per_side:
        local = (lp[idx] - lp[idx[0]]) / width if idx.size else np.empty(0)
        pos_parts.append(local + offset)
        if idx.size:  # integer offset: the bins of the second side keep their own alignment
            offset = float(np.ceil(local[-1])) + offset + gap_bins + 2 * pad + 4
    idx = np.concatenate(per_side)
    side = np.repeat(np.array([LONG, SHORT]), [per_side[0].size, per_side[1].size])
    us = np.where(side == SHORT, sides_usd[1][idx], sides_usd[0][idx])
    if idx.size == 0:
        return idx, side, us, np.empty(0, np.intp), np.empty(0, bool)
    pos = np.round(np.concatenate(pos_parts), _POS_DECIMALS) + pad
    new_run = np.empty(idx.size, bool)
    new_run[0] = True
    # round(dx) - 1 empty bins lie between two levels; rounding keeps a misaligned grid whole
    new_run[1:] = np.diff(pos) >= gap_bins + 1.5
    profile = _profile(pos, us, new_run, pad, smooth_bins)
    at_level = np.interp(pos, np.arange(profile.size, dtype=np.float64), profile)
    basin = np.searchsorted(_valley_cuts(profile, core_frac), pos, side="left")
    piece_start = new_run.copy()
    piece_start[1:] |= basin[1:] != basin[:-1]
    piece_starts = np.flatnonzero(piece_start)
    height = np.repeat(np.maximum.reduceat(at_level, piece_starts), np.diff(np.append(piece_starts, idx.size)))
    core = at_level >= core_frac * height
    boundary = new_run.copy()
    boundary[1:] |= core[1:] != core[:-1]
    boundary[1:] |= core[1:] & piece_start[1:]
    starts = np.flatnonzero(boundary)
    return idx, side, us, starts, core[starts]


def _profile(pos: np.ndarray, us: np.ndarray, new_run: np.ndarray, pad: int, smooth_bins: int) -> np.ndarray:
    """Cloud-in-cell deposit of USD on bins, tolerated holes filled, triangular smoothing,
    quantized to kill float noise.

    An empty bin inside a run (a gap of at most ``gap_bins``) takes the lower of its two
    neighbouring values: a tolerated hole then neither splits a cluster nor lifts its lower side.
    """
    b0 = np.floor(pos).astype(np.intp)
    frac = pos - b0
    nbins = int(b0[-1]) + pad + 2
    prof = np.bincount(b0, us * (1.0 - frac), minlength=nbins) + np.bincount(b0 + 1, us * frac, minlength=nbins)
    # bins spanned by each run: from the first level's bin to the last level's upper bin
    run_first = np.flatnonzero(new_run)
    run_last = np.append(run_first[1:], pos.size) - 1
    inside = np.zeros(nbins + 1, np.intp)
    np.add.at(inside, b0[run_first], 1)
    np.add.at(inside, np.ceil(pos[run_last]).astype(np.intp) + 1, -1)
    hole = (np.cumsum(inside[:-1]) > 0) & (prof <= 0)
    if hole.any():
        filled = np.flatnonzero(prof > 0)
        at = np.searchsorted(filled, np.flatnonzero(hole))
        prof[hole] = np.minimum(prof[filled[at - 1]], prof[filled[at]])
    if smooth_bins > 0:
        kern = (smooth_bins + 1.0) - np.abs(np.arange(-smooth_bins, smooth_bins + 1, dtype=np.float64))
        prof = np.convolve(prof, kern / kern.sum(), mode="same")
    top = prof.max()
    return np.round(prof * (_PROFILE_SCALE / top)) if top > 0 else prof


def _valley_cuts(profile: np.ndarray, core_frac: float) -> np.ndarray:
    """Bin positions of the lowest point between consecutive significant peaks (ascending)."""
    peaks, _ = find_peaks(profile)
    if peaks.size < 2:
        return np.empty(0)
    prom = peak_prominences(profile, peaks)[0]
    peaks = peaks[prom >= (1.0 - core_frac) * profile[peaks]]
    if peaks.size < 2:
        return np.empty(0)
    # argmin of the profile on each span [peak_i, peak_i+1): label the bins, sort by (span, value)
    span = np.zeros(profile.size, np.intp)
    span[peaks] = 1
    span = np.cumsum(span)
    inside = (span >= 1) & (span < peaks.size)
    bins = np.flatnonzero(inside)
    order = np.lexsort((profile[bins], span[bins]))
    first = np.ones(order.size, bool)
    first[1:] = span[bins[order[1:]]] != span[bins[order[:-1]]]
    return bins[order[first]].astype(np.float64)


def _aggregate(prices: np.ndarray, us: np.ndarray, idx: np.ndarray, side: np.ndarray, starts: np.ndarray,
               core: np.ndarray, price: float, distances: DistanceTable,
               tier_info: TierInfo | None) -> ClusterArrays:
    """Sum each cluster's raw levels: USD, USD-weighted price, extent, tier, distance."""
    p = prices[idx]
    if starts.size == 0:
        empty_f, empty_i = np.empty(0), np.empty(0, np.intp)
        return ClusterArrays(np.empty(0, np.int8), empty_f, empty_f, empty_f, empty_f, empty_f, empty_f,
                             empty_i, empty_i, empty_i, np.empty(0, bool))
    total = np.add.reduceat(us, starts)
    ends = np.append(starts[1:], idx.size) - 1
    # the weighted mean can leave [low, high] by one ulp; clamp so the extent always holds it
    level = np.clip(np.add.reduceat(us * p, starts) / total, p[starts], p[ends])
    distance = np.abs(level / price - 1.0)
    is_short = side[starts] == SHORT
    if tier_info is not None:
        tier = dominant_tiers(tier_info, side == SHORT, idx, starts)
    else:
        tier = distances.pick(distance, is_short)
    return ClusterArrays(side=side[starts], price_level=level, usd=total, price_low=p[starts], price_high=p[ends],
                         leverage_tier=tier, distance_pct=distance * 100.0, first_level=idx[starts],
                         last_level=idx[ends], n_levels=ends - starts + 1, is_core=core)
