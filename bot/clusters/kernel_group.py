"""numba kernel of ``group_levels``: heatmap levels -> clusters (see ``bot.clusters.grouping``).

``group_kernel`` returns one float64 row per cluster (columns ``G_*``) sorted by (price level,
side). Everything is sequential and deterministic: sums run level by level, ties go to the lowest
index; the profile, peaks and cores are in ``kernel_profile``. Prices must ascend strictly (the
``group_levels`` contract): positions, bins and clusters then ascend per side.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bot.clusters.kernel import (
    P_BIN_PCT,
    P_CORE_FRAC,
    P_GAP_BINS,
    P_MIN_CLUSTER_USD,
    P_SMOOTH_BINS,
    lex_merge_argsort,
    quantile_kernel,
)
from bot.clusters.kernel_profile import cluster_starts, smoothed_profile

G_SIDE, G_LEVEL, G_USD, G_LOW, G_HIGH, G_TIER, G_DIST_PCT, G_FIRST, G_LAST, G_NLEV, G_CORE = range(11)
NG = 11


@njit(cache=True)
def _positions(lp: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, width: float, gap: int,
               pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levels with USD, long side then short side: (level index, side, USD, bin position)."""
    n = long_usd.size
    total = 0
    for i in range(n):
        total += (long_usd[i] > 0) + (short_usd[i] > 0)
    idx = np.empty(total, np.int64)
    side = np.empty(total, np.int64)
    us = np.empty(total)
    pos = np.empty(total)
    at = np.empty(n)
    k = 0
    offset = 0.0
    for s in range(2):
        usd = long_usd if s == 0 else short_usd
        first, last = 0, n - 1
        while first < n and not usd[first] > 0:
            first += 1
        if first == n:
            continue
        while not usd[last] > 0:
            last -= 1
        base = lp[first]
        # every level of the side's span at once (vectorizes: slices index from 0, no negative-
        # index gathers); the float noise of the log difference cannot move a bin boundary
        span_lp, span_at = lp[first:last + 1], at[first:last + 1]
        for i in range(span_lp.size):
            span_at[i] = np.rint(((span_lp[i] - base) / width + offset) * 1e9) / 1e9 + pad
        for i in range(first, last + 1):
            if usd[i] > 0:
                idx[k], side[k], us[k], pos[k] = i, s, usd[i], at[i]
                k += 1
        # integer offset: the bins of the second side keep their own alignment
        offset = np.ceil((lp[last] - base) / width) + offset + gap + 2 * pad + 4
    return idx, side, us, pos


@njit(cache=True)
def group_kernel(prices: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, price: float, params: np.ndarray,
                 tier_lev: np.ndarray, tier_long: np.ndarray, tier_short: np.ndarray, dist_lev: np.ndarray,
                 dist_logd: np.ndarray) -> np.ndarray:
    """Clusters of one snapshot: (m, NG) float64 rows sorted by (price level, side).

    ``tier_lev`` (K,) with ``tier_long``/``tier_short`` (K, n): per-tier USD per level (dominant
    tier per cluster); when ``tier_lev`` is empty the tier is implied from the distance with the
    table ``dist_lev`` (K2,) / ``dist_logd`` (2, K2) (log of the distance fraction, rows long/short).
    """
    return group_kernel_lp(prices, log_kernel(prices), long_usd, short_usd, price, params, tier_lev, tier_long,
                           tier_short, dist_lev, dist_logd)


@njit(cache=True)
def log_kernel(values: np.ndarray) -> np.ndarray:
    """``np.log`` of each value (libm, one at a time: the same doubles wherever it is called)."""
    out = np.empty(values.size)
    for i in range(values.size):
        out[i] = np.log(values[i])
    return out


@njit(cache=True)
def group_kernel_lp(prices: np.ndarray, lp: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, price: float,
                    params: np.ndarray, tier_lev: np.ndarray, tier_long: np.ndarray, tier_short: np.ndarray,
                    dist_lev: np.ndarray, dist_logd: np.ndarray) -> np.ndarray:
    """``group_kernel`` given ``lp = log_kernel(prices)`` (a caller with a fixed price grid logs it once)."""
    n = prices.size
    gap = int(params[P_GAP_BINS])
    smooth = int(params[P_SMOOTH_BINS])
    core_frac = params[P_CORE_FRAC]
    pad = smooth + 2
    width = np.log1p(params[P_BIN_PCT] / 100.0)
    if n > 1:
        steps = np.empty(n - 1)
        for i in range(n - 1):
            steps[i] = lp[i + 1] - lp[i]
        width = max(width, quantile_kernel(steps, 0.5))
    idx, side, us, pos = _positions(lp, long_usd, short_usd, width, gap, pad)
    total = idx.size
    if total == 0:
        return np.empty((0, NG))
    new_run = np.empty(total, np.bool_)
    new_run[0] = True
    for k in range(1, total):
        # round(dx) - 1 empty bins lie between two levels; rounding keeps a misaligned grid whole
        new_run[k] = pos[k] - pos[k - 1] >= gap + 1.5
    profile = smoothed_profile(pos, us, new_run, pad, smooth)
    starts, core = cluster_starts(pos, new_run, profile, core_frac)
    m = starts.size
    out = np.empty((m, NG))
    n_long = np.int64(0)  # not the literal 0: callees would compile a second, literal-typed version
    for c in range(m):
        s = starts[c]
        e = starts[c + 1] - 1 if c + 1 < m else total - 1
        usd = 0.0
        weighted = 0.0
        for k in range(s, e + 1):
            usd += us[k]
            weighted += us[k] * prices[idx[k]]
        low, high = prices[idx[s]], prices[idx[e]]
        # the weighted mean can leave [low, high] by one ulp; clamp so the extent always holds it
        level = min(max(weighted / usd, low), high)
        dist = abs(level / price - 1.0)
        n_long += side[s] == 0
        out[c, G_SIDE] = side[s]
        out[c, G_LEVEL] = level
        out[c, G_USD] = usd
        out[c, G_LOW] = low
        out[c, G_HIGH] = high
        out[c, G_DIST_PCT] = dist * 100.0
        out[c, G_TIER] = dist  # the distance fraction, until _cluster_tiers puts the tier there
        out[c, G_FIRST] = idx[s]
        out[c, G_LAST] = idx[e]
        out[c, G_NLEV] = e - s + 1
        out[c, G_CORE] = 1.0 if core[c] else 0.0
    _cluster_tiers(out, idx, starts, total, tier_lev, tier_long, tier_short, dist_lev, dist_logd)
    level = np.empty(m)
    side_of = np.empty(m)
    for c in range(m):
        level[c] = out[c, G_LEVEL]
        side_of[c] = out[c, G_SIDE]
    # each side's clusters ascend (their level ranges do): the sort is a merge of the two sides
    order = lex_merge_argsort(level, side_of, side_of, n_long)
    min_usd = params[P_MIN_CLUSTER_USD]
    in_place = True
    for c in range(m):
        in_place = in_place and order[c] == c and (min_usd <= 0 or out[c, G_USD] >= min_usd)
    if in_place:  # the usual map (longs below the price, shorts above, none dropped): no copy
        return out
    result = np.empty((m, NG))
    kept = 0
    for r in order:
        if min_usd <= 0 or out[r, G_USD] >= min_usd:
            for col in range(NG):
                result[kept, col] = out[r, col]
            kept += 1
    return result[:kept]


@njit(cache=True)
def _cluster_tiers(out: np.ndarray, idx: np.ndarray, starts: np.ndarray, total: int, tier_lev: np.ndarray,
                   tier_long: np.ndarray, tier_short: np.ndarray, dist_lev: np.ndarray, dist_logd: np.ndarray) -> None:
    """``out[:, G_TIER]``: the dominant tier of each cluster's levels by per-tier USD, else the implied one.

    On entry ``out[:, G_TIER]`` holds each cluster's distance fraction (exact, not from the percent).
    One call for all clusters: a call per cluster would pass (and reference-count) six arrays.
    """
    m = out.shape[0]
    if tier_lev.size == 0:
        dist = np.empty(m)
        side = np.empty(m, np.int64)
        for c in range(m):
            dist[c] = out[c, G_TIER]
            side[c] = int(out[c, G_SIDE])
        tiers = pick_tiers(dist, side, dist_lev, dist_logd)
        for c in range(m):
            out[c, G_TIER] = tiers[c]
        return
    for c in range(m):
        s = starts[c]
        e = starts[c + 1] - 1 if c + 1 < m else total - 1
        table = tier_short if out[c, G_SIDE] == 1 else tier_long
        best, at = -np.inf, 0
        for t in range(tier_lev.size):
            acc = 0.0
            for k in range(s, e + 1):
                acc += table[t, idx[k]]
            if acc > best:
                best, at = acc, t
        out[c, G_TIER] = tier_lev[at]


@njit(cache=True)
def pick_tiers(distance_frac: np.ndarray, is_short: np.ndarray, leverages: np.ndarray,
               log_distance: np.ndarray) -> np.ndarray:
    """Nearest candidate leverage by log distance (first on ties) per distance (fraction, >= 0).

    ``log_distance`` (2, K): rows long/short; a zero distance reads as the top tier, never log(0).
    """
    out = np.empty(distance_frac.size)
    for i in range(distance_frac.size):
        logd = np.log(max(distance_frac[i], 1e-12))
        best, at = np.inf, 0
        for t in range(leverages.size):
            gap = abs(logd - log_distance[is_short[i], t])
            if gap < best:
                best, at = gap, t
        out[i] = leverages[at]
    return out


@njit(cache=True)
def level_prices_kernel(base: int, width: int, bin_width: float) -> np.ndarray:
    """Prices ``exp((base + k + 0.5) * bin_width)`` of ``width`` bins from global bin ``base``."""
    out = np.empty(width)
    for k in range(width):
        out[k] = np.exp((float(base) + float(k) + 0.5) * bin_width)
    return out


@njit(cache=True)
def bin_prices_kernel(bins: np.ndarray, bin_width: float) -> np.ndarray:
    """Prices ``exp((bin + 0.5) * bin_width)`` of global bins (int64): ``level_prices`` for any bins."""
    out = np.empty(bins.size)
    for k in range(bins.size):
        out[k] = np.exp((float(bins[k]) + 0.5) * bin_width)
    return out
