"""numba kernel of ``group_levels``: heatmap levels -> clusters (see ``bot.clusters.grouping``).

``group_kernel`` returns one float64 row per cluster (columns ``G_*``) sorted by (price level,
side). Everything is sequential and deterministic: sums run level by level, peaks and
prominences follow scipy's ``find_peaks``/``peak_prominences`` definitions (a flat top's peak is
its middle bin, rounded down), ties go to the lowest index.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bot.clusters.kernel import (P_BIN_PCT, P_CORE_FRAC, P_GAP_BINS, P_MIN_CLUSTER_USD, P_SMOOTH_BINS, quantile_kernel,
                                 lex_argsort)

G_SIDE, G_LEVEL, G_USD, G_LOW, G_HIGH, G_TIER, G_DIST_PCT, G_FIRST, G_LAST, G_NLEV, G_CORE = range(11)
NG = 11
_PROFILE_SCALE = 1e12   # the profile is quantized to integers relative to its maximum


@njit(cache=True)
def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of local maxima (scipy ``find_peaks`` without conditions: plateau -> its middle)."""
    out = np.empty(x.size, np.int64)
    m = 0
    i = 1
    i_max = x.size - 1
    while i < i_max:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < i_max and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                out[m] = (i + ahead - 1) // 2
                m += 1
                i = ahead
        i += 1
    return out[:m]


@njit(cache=True)
def prominences(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Topographic prominence of each peak (scipy ``peak_prominences`` without ``wlen``)."""
    out = np.empty(peaks.size)
    for k in range(peaks.size):
        peak = peaks[k]
        top = x[peak]
        i = peak
        left_min = top
        while i >= 0 and x[i] <= top:
            left_min = min(left_min, x[i])
            i -= 1
        i = peak
        right_min = top
        while i < x.size and x[i] <= top:
            right_min = min(right_min, x[i])
            i += 1
        out[k] = top - max(left_min, right_min)
    return out


@njit(cache=True)
def _significant(x: np.ndarray, peak: int, need: float) -> bool:
    """Whether the peak's prominence (as ``prominences``) is >= need, scanning only as far as it takes.

    prominence = top - max(left base, right base) >= need holds iff it holds for each base
    alone (rounding is monotone), and a base only sinks as the scan goes on: each side's scan
    stops as soon as its base is deep enough, and a shallow left base decides without the right.
    """
    top = x[peak]
    ok = False
    i = peak
    base = top
    while i >= 0 and x[i] <= top:
        base = min(base, x[i])
        if top - base >= need:
            ok = True
            break
        i -= 1
    if not ok:
        return False
    i = peak
    base = top
    while i < x.size and x[i] <= top:
        base = min(base, x[i])
        if top - base >= need:
            return True
        i += 1
    return False


@njit(cache=True)
def valley_cuts(profile: np.ndarray, core_frac: float) -> np.ndarray:
    """Bin positions of the lowest point (first one on ties) between consecutive significant peaks."""
    peaks = local_maxima(profile)
    if peaks.size < 2:
        return np.empty(0)
    keep = np.empty(peaks.size, np.int64)
    n_keep = 0
    for k in range(peaks.size):
        if _significant(profile, peaks[k], (1.0 - core_frac) * profile[peaks[k]]):
            keep[n_keep] = peaks[k]
            n_keep += 1
    keep = keep[:n_keep]
    if keep.size < 2:
        return np.empty(0)
    cuts = np.empty(keep.size - 1)
    for k in range(keep.size - 1):
        at = keep[k]
        for b in range(keep[k] + 1, keep[k + 1]):
            if profile[b] < profile[at]:
                at = b
        cuts[k] = at
    return cuts


@njit(cache=True)
def smoothed_profile(pos: np.ndarray, us: np.ndarray, new_run: np.ndarray, pad: int, smooth: int) -> np.ndarray:
    """Cloud-in-cell deposit, tolerated holes filled (lower neighbour), triangular smoothing, quantized."""
    n = pos.size
    nbins = int(np.floor(pos[n - 1])) + pad + 2
    lower = np.empty(nbins)
    upper = np.empty(nbins)
    inside = np.empty(nbins + 1, np.int64)
    for b in range(nbins):
        lower[b] = 0.0
        upper[b] = 0.0
        inside[b] = 0
    inside[nbins] = 0
    for k in range(n):
        b = int(np.floor(pos[k]))
        frac = pos[k] - b
        lower[b] += us[k] * (1.0 - frac)
        upper[b + 1] += us[k] * frac
        # bins spanned by each run: first level's bin .. last level's upper bin
        if new_run[k]:
            inside[b] += 1
        if k == n - 1 or new_run[k + 1]:
            inside[int(np.ceil(pos[k])) + 1] -= 1
    # the deposit with `smooth` zero bins either side: the smoothing then needs no bounds tests
    # (adding 0.0 x weight leaves a non-negative sum unchanged, bit for bit)
    raw = np.empty(nbins + 2 * smooth)
    for b in range(smooth):
        raw[b] = 0.0
        raw[nbins + smooth + b] = 0.0
    for b in range(nbins):
        raw[smooth + b] = lower[b] + upper[b]
    next_fill = upper  # reused: the nearest filled bin above each bin
    last = 0.0
    for b in range(nbins - 1, -1, -1):
        next_fill[b] = last
        if raw[smooth + b] > 0:
            last = raw[smooth + b]
    depth = 0
    last = 0.0  # the nearest filled bin below (before any filling)
    for b in range(nbins):
        depth += inside[b]
        value = raw[smooth + b]
        if depth > 0 and value <= 0:
            raw[smooth + b] = min(last, next_fill[b])
        if value > 0:
            last = value
    width = 2 * smooth + 1
    kern = np.empty(width)
    total = 0.0
    for j in range(width):
        kern[j] = (smooth + 1.0) - abs(j - smooth)
        total += kern[j]
    for j in range(width):
        kern[j] /= total
    prof = np.empty(nbins)
    for b in range(nbins):
        prof[b] = 0.0
    for j in range(width):  # per bin the same sum order as a loop over j (vectorizes over bins)
        w = kern[j]
        for b in range(nbins):
            prof[b] += raw[b + j] * w
    top = 0.0
    for b in range(nbins):
        top = max(top, prof[b])
    if top > 0:
        scale = _PROFILE_SCALE / top
        for b in range(nbins):
            prof[b] = np.rint(prof[b] * scale)
    return prof


@njit(cache=True)
def _positions(lp: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, width: float, gap: int,
               pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levels with USD, long side then short side: (level index, side, USD, bin position)."""
    total = 0
    for i in range(long_usd.size):
        total += (long_usd[i] > 0) + (short_usd[i] > 0)
    idx = np.empty(total, np.int64)
    side = np.empty(total, np.int64)
    us = np.empty(total)
    pos = np.empty(total)
    k = 0
    offset = 0.0
    for s in range(2):
        usd = long_usd if s == 0 else short_usd
        start = k
        for i in range(usd.size):
            if usd[i] > 0:
                idx[k], side[k], us[k] = i, s, usd[i]
                pos[k] = (lp[i] - lp[idx[start]]) / width
                k += 1
        if k > start:  # integer offset: the bins of the second side keep their own alignment
            last = pos[k - 1]
            for j in range(start, k):
                pos[j] = np.rint((pos[j] + offset) * 1e9) / 1e9 + pad  # float noise cannot move a boundary
            offset = np.ceil(last) + offset + gap + 2 * pad + 4
    return idx, side, us, pos


@njit(cache=True)
def _level_cores(pos: np.ndarray, new_run: np.ndarray, profile: np.ndarray, core_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Per level: is it core (profile >= core_frac x its piece's height), and does a piece start there."""
    n = pos.size
    cuts = valley_cuts(profile, core_frac)
    at_level = np.empty(n)
    piece_start = np.empty(n, np.bool_)
    for k in range(n):
        piece_start[k] = new_run[k]
    basin = 0  # cuts strictly below the level (positions ascend): its peak basin
    for k in range(n):
        j = int(np.floor(pos[k]))
        if pos[k] == j:
            at_level[k] = profile[j]
        else:
            at_level[k] = (profile[j + 1] - profile[j]) * (pos[k] - j) + profile[j]
        moved = False
        while basin < cuts.size and cuts[basin] < pos[k]:
            basin += 1
            moved = True
        if moved and k > 0:
            piece_start[k] = True
    core = np.empty(n, np.bool_)
    k = 0
    while k < n:
        e = k + 1
        height = at_level[k]
        while e < n and not piece_start[e]:
            height = max(height, at_level[e])
            e += 1
        for j in range(k, e):
            core[j] = at_level[j] >= core_frac * height
        k = e
    return core, piece_start


@njit(cache=True)
def group_kernel(prices: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, price: float, params: np.ndarray,
                 tier_lev: np.ndarray, tier_long: np.ndarray, tier_short: np.ndarray, dist_lev: np.ndarray,
                 dist_logd: np.ndarray) -> np.ndarray:
    """Clusters of one snapshot: (m, NG) float64 rows sorted by (price level, side).

    ``tier_lev`` (K,) with ``tier_long``/``tier_short`` (K, n): per-tier USD per level (dominant
    tier per cluster); when ``tier_lev`` is empty the tier is implied from the distance with the
    table ``dist_lev`` (K2,) / ``dist_logd`` (2, K2) (log of the distance fraction, rows long/short).
    """
    n = prices.size
    gap = int(params[P_GAP_BINS])
    smooth = int(params[P_SMOOTH_BINS])
    core_frac = params[P_CORE_FRAC]
    pad = smooth + 2
    lp = np.empty(n)
    for i in range(n):
        lp[i] = np.log(prices[i])
    width = np.log1p(params[P_BIN_PCT] / 100.0)
    if n > 1:
        steps = np.empty(n - 1)
        for i in range(n - 1):
            steps[i] = lp[i + 1] - lp[i]
        width = max(width, quantile_kernel(steps, 0.5))
    idx, side, us, pos = _positions(lp, long_usd, short_usd, width, gap, pad)
    total = idx.size
    if total == 0:
        return np.empty((0, 11))
    new_run = np.empty(total, np.bool_)
    new_run[0] = True
    for k in range(1, total):
        # round(dx) - 1 empty bins lie between two levels; rounding keeps a misaligned grid whole
        new_run[k] = pos[k] - pos[k - 1] >= gap + 1.5
    profile = smoothed_profile(pos, us, new_run, pad, smooth)
    core, piece_start = _level_cores(pos, new_run, profile, core_frac)
    starts = np.empty(total, np.int64)
    m = 0
    for k in range(total):
        if k == 0 or new_run[k] or core[k] != core[k - 1] or (core[k] and piece_start[k]):
            starts[m] = k
            m += 1
    out = np.empty((m, 11))
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
        out[c, G_SIDE] = side[s]
        out[c, G_LEVEL] = level
        out[c, G_USD] = usd
        out[c, G_LOW] = low
        out[c, G_HIGH] = high
        out[c, G_TIER] = _cluster_tier(idx, s, e, side[s], dist, tier_lev, tier_long, tier_short, dist_lev, dist_logd)
        out[c, G_DIST_PCT] = dist * 100.0
        out[c, G_FIRST] = idx[s]
        out[c, G_LAST] = idx[e]
        out[c, G_NLEV] = e - s + 1
        out[c, G_CORE] = 1.0 if core[s] else 0.0
    level = np.empty(m)
    side_of = np.empty(m)
    for c in range(m):
        level[c] = out[c, G_LEVEL]
        side_of[c] = out[c, G_SIDE]
    order = lex_argsort(level, side_of, side_of)
    min_usd = params[P_MIN_CLUSTER_USD]
    result = np.empty((m, NG))
    kept = 0
    for r in order:
        if min_usd <= 0 or out[r, G_USD] >= min_usd:
            for col in range(NG):
                result[kept, col] = out[r, col]
            kept += 1
    return result[:kept]


@njit(cache=True)
def _cluster_tier(idx: np.ndarray, s: int, e: int, side: int, dist: float, tier_lev: np.ndarray,
                  tier_long: np.ndarray, tier_short: np.ndarray, dist_lev: np.ndarray, dist_logd: np.ndarray) -> float:
    """Dominant tier of levels idx[s..e] by per-tier USD, else the implied tier of the distance."""
    if tier_lev.size > 0:
        table = tier_short if side == 1 else tier_long
        best, at = -np.inf, 0
        for t in range(tier_lev.size):
            acc = 0.0
            for k in range(s, e + 1):
                acc += table[t, idx[k]]
            if acc > best:
                best, at = acc, t
        return tier_lev[at]
    return pick_tier(dist, side, dist_lev, dist_logd)


@njit(cache=True)
def pick_tier(dist: float, side: int, dist_lev: np.ndarray, dist_logd: np.ndarray) -> float:
    """Nearest candidate leverage by log distance (first on ties); a zero distance reads as the top tier."""
    logd = np.log(max(dist, 1e-12))
    best, at = np.inf, 0
    for t in range(dist_lev.size):
        gap = abs(logd - dist_logd[side, t])
        if gap < best:
            best, at = gap, t
    return dist_lev[at]


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
