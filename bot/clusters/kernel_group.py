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
def _positions(lp: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, width: float, gap: int, pad: int,
               idx: np.ndarray, side: np.ndarray, us: np.ndarray, pos: np.ndarray, at: np.ndarray) -> None:
    """Levels with USD, long side then short side, into the caller's arrays (size: the count of them):
    level index, side, USD, bin position; ``at`` (size of ``lp``) is scratch."""
    n = long_usd.size
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
    """``group_kernel`` given ``lp = log_kernel(prices)`` (a caller with a fixed price grid logs it once).

    Scratch lives in one float64 and one int64 workspace per stage (carved into slices): a
    snapshot costs a handful of allocations, not one per intermediate array.
    """
    n = prices.size
    gap = int(params[P_GAP_BINS])
    smooth = int(params[P_SMOOTH_BINS])
    core_frac = params[P_CORE_FRAC]
    pad = smooth + 2
    total = 0
    for i in range(n):
        total += (long_usd[i] > 0) + (short_usd[i] > 0)
    # one workspace per snapshot (big allocations take glibc's slow path): float64 steps/at (n) |
    # us | pos | at_level (total each) | raw (nbins + 2 smooth) | profile | cuts (nbins each), then
    # int64 (viewed) idx | side | new_run | piece | starts | core (total each) | inside (nbins + 1) |
    # peaks (nbins); nbins is bounded before the positions exist: each side spans at most
    # (lp[-1] - lp[0]) / width bins, plus the offsets and pads below
    min_width = np.log1p(params[P_BIN_PCT] / 100.0)  # the bins are at least this wide
    span = 2.0 * (lp[n - 1] - lp[0]) / min_width if n > 0 and min_width > 0 else np.inf
    nb_max = int(span) + gap + 4 * pad + 32 if 0.0 <= span < 1e6 else 0  # 0: profile arrays of their own
    f_len = n + 3 * total + 3 * nb_max + 2 * smooth
    ws = np.empty(f_len + 6 * total + 2 * nb_max + 1)
    fw = ws[:f_len]
    width = min_width
    if n > 1:
        steps = fw[:n - 1]
        for i in range(n - 1):
            steps[i] = lp[i + 1] - lp[i]
        width = max(width, quantile_kernel(steps, 0.5))
    if total == 0:
        return np.empty((0, NG))
    iw = ws[f_len:].view(np.int64)
    us, pos, at_level = fw[n:n + total], fw[n + total:n + 2 * total], fw[n + 2 * total:n + 3 * total]
    idx, side, new_run = iw[:total], iw[total:2 * total], iw[2 * total:3 * total]
    piece, starts, core = iw[3 * total:4 * total], iw[4 * total:5 * total], iw[5 * total:6 * total]
    _positions(lp, long_usd, short_usd, width, gap, pad, idx, side, us, pos, fw[:n])  # the steps are done with
    new_run[0] = 1
    for k in range(1, total):
        # round(dx) - 1 empty bins lie between two levels; rounding keeps a misaligned grid whole
        new_run[k] = pos[k] - pos[k - 1] >= gap + 1.5
    nbins = int(np.floor(pos[total - 1])) + pad + 2
    if nbins <= nb_max:
        pw = fw[n + 3 * total:]
        pi = iw[6 * total:]
    else:  # not reached (the bound holds); kept so a wrong bound can never write out of bounds
        pw = np.empty(3 * nbins + 2 * smooth)
        pi = np.empty(2 * nbins + 1, np.int64)
    profile = pw[nbins + 2 * smooth:2 * nbins + 2 * smooth]
    smoothed_profile(pos, us, new_run, smooth, pw[:nbins + 2 * smooth], pi[:nbins + 1], profile)
    m = cluster_starts(pos, new_run, profile, core_frac, pi[nbins + 1:], pw[2 * nbins + 2 * smooth:], at_level, piece,
                       starts, core)
    out = np.empty((m, NG))
    n_long = np.int64(0)  # not the literal 0: callees would compile a second, literal-typed version
    implied = tier_lev.size == 0
    in_order = True  # rows ascend by (level, side): lex_merge_argsort would return the identity
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
        if implied:
            out[c, G_TIER] = _pick_tier(dist, side[s], dist_lev, dist_logd)
        else:
            out[c, G_TIER] = _dominant_tier(idx, s, e, tier_lev, tier_short if side[s] == 1 else tier_long)
        out[c, G_FIRST] = idx[s]
        out[c, G_LAST] = idx[e]
        out[c, G_NLEV] = e - s + 1
        out[c, G_CORE] = 1.0 if core[c] else 0.0
        if c > 0 and (level < out[c - 1, G_LEVEL] or (level == out[c - 1, G_LEVEL]
                                                      and out[c, G_SIDE] < out[c - 1, G_SIDE])):
            in_order = False
    min_usd = params[P_MIN_CLUSTER_USD]
    in_place = in_order
    if min_usd > 0:
        for c in range(m):
            in_place = in_place and out[c, G_USD] >= min_usd
    if in_place:  # the usual map (longs below the price, shorts above, none dropped): no copy
        return out
    level_of = np.empty(m)
    side_of = np.empty(m)
    for c in range(m):
        level_of[c] = out[c, G_LEVEL]
        side_of[c] = out[c, G_SIDE]
    # each side's clusters ascend (their level ranges do): the sort is a merge of the two sides
    order = lex_merge_argsort(level_of, side_of, side_of, n_long)
    result = np.empty((m, NG))
    kept = 0
    for r in order:
        if min_usd <= 0 or out[r, G_USD] >= min_usd:
            for col in range(NG):
                result[kept, col] = out[r, col]
            kept += 1
    return result[:kept]


@njit(cache=True)
def _dominant_tier(idx: np.ndarray, s: int, e: int, tier_lev: np.ndarray, table: np.ndarray) -> float:
    """The tier with the most USD (first on ties) over levels ``idx[s..e]`` of a (K, n) per-tier table."""
    best, at = -np.inf, 0
    for t in range(tier_lev.size):
        acc = 0.0
        for k in range(s, e + 1):
            acc += table[t, idx[k]]
        if acc > best:
            best, at = acc, t
    return tier_lev[at]


@njit(cache=True)
def pick_tiers(distance_frac: np.ndarray, is_short: np.ndarray, leverages: np.ndarray,
               log_distance: np.ndarray) -> np.ndarray:
    """Nearest candidate leverage by log distance (first on ties) per distance (fraction, >= 0).

    ``log_distance`` (2, K): rows long/short; a zero distance reads as the top tier, never log(0).
    """
    out = np.empty(distance_frac.size)
    for i in range(distance_frac.size):
        out[i] = _pick_tier(distance_frac[i], is_short[i], leverages, log_distance)
    return out


@njit(cache=True)
def _pick_tier(distance_frac: float, is_short: int, leverages: np.ndarray, log_distance: np.ndarray) -> float:
    """``pick_tiers`` of one distance."""
    logd = np.log(max(distance_frac, 1e-12))
    best, at = np.inf, 0
    for t in range(leverages.size):
        gap = abs(logd - log_distance[is_short, t])
        if gap < best:
            best, at = gap, t
    return leverages[at]


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
