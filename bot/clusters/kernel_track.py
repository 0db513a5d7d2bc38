"""numba kernel of ``ClusterTracker.update``: breaks, retention, grouping, strength, id matching.

``track_update`` advances a ``TrackerState`` (layout in ``bot.clusters.kernel``) by one snapshot.
Clusters are identified by an int64 ``key`` (a monotone counter); the string id of today's
tracker is derived outside numba by ``make_cluster_id`` from (side, birth log-bin, birth ts,
salt), which the kernel stores per row. ``salt`` is the smallest number not used by a cluster
the tracker holds (or has just born) with the same (side, log-bin, birth ts): the former
``while cid in taken`` loop, except that a 48-bit hash collision between *different* base texts
(probability ~2^-48 per pair) no longer bumps the salt.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bot.clusters.kernel import (
    F_DIST,
    F_HIGH,
    F_LEVEL,
    F_LOW,
    F_PEAK_STRENGTH,
    F_PEAK_USD,
    F_STRENGTH,
    F_TIER,
    F_USD,
    I_ACTIVE,
    I_BROKEN_AT,
    I_FIRST_SEEN,
    I_KEY,
    I_LAST_SEEN,
    I_LAST_UPDATED,
    I_LOG_BIN,
    I_SALT,
    I_SIDE,
    M_HAS_LAST,
    M_LAST_TS,
    M_N,
    M_NEXT_KEY,
    M_RING_N,
    M_RING_POS,
    MF_LAST_PRICE,
    NF,
    NI,
    P_BIN_PCT,
    P_MATCH_PCT,
    P_QUANTILE,
    P_RETENTION_S,
    lex_merge_argsort,
    match_kernel,
    ring_push,
    strength_values,
)
from bot.clusters.kernel_group import (
    G_DIST_PCT,
    G_HIGH,
    G_LEVEL,
    G_LOW,
    G_SIDE,
    G_TIER,
    G_USD,
    group_kernel,
)
from bot.clusters.kernel_strength import reference_guess, strength_reference_near


@njit(cache=True)
def _isclose(a: float, b: float, rel_tol: float) -> bool:
    """``math.isclose`` with abs_tol = 0."""
    return a == b or abs(a - b) <= rel_tol * max(abs(a), abs(b))


@njit(cache=True)
def _previous_rows(cf: np.ndarray, ci: np.ndarray, n: int, ts_ns: int, low: float, high: float,
                   keep_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the held rows: survivors (active, not crossed), kept broken rows, and which of those broke now."""
    surv = np.empty(n, np.int64)
    kept = np.empty(n, np.int64)
    newly = np.empty(n, np.bool_)
    ns = nk = 0
    for r in range(n):
        if ci[r, I_ACTIVE] == 1:
            level = cf[r, F_LEVEL]
            if (low <= level) if ci[r, I_SIDE] == 0 else (high >= level):
                kept[nk] = r
                newly[nk] = True
                nk += 1
            else:
                surv[ns] = r
                ns += 1
        elif (ts_ns - ci[r, I_BROKEN_AT]) / 1e9 <= keep_s:
            kept[nk] = r
            newly[nk] = False
            nk += 1
    return surv[:ns], kept[:nk], newly[:nk]


@njit(cache=True)
def born_row_of(ci: np.ndarray, r: int, side: int, log_bin: int, ts_ns: int) -> bool:
    """Whether row ``r`` of ``ci`` has this (side, birth log-bin, birth ts)."""
    return ci[r, I_SIDE] == side and ci[r, I_LOG_BIN] == log_bin and ci[r, I_FIRST_SEEN] == ts_ns


@njit(cache=True)
def track_update(cf: np.ndarray, ci: np.ndarray, meta: np.ndarray, meta_f: np.ndarray, ring: np.ndarray,
                 params: np.ndarray, prices: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, price: float,
                 ts_ns: int, bar_high: float, bar_low: float, tier_lev: np.ndarray, tier_long: np.ndarray,
                 tier_short: np.ndarray, dist_lev: np.ndarray,
                 dist_logd: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Advance the tracker state by one snapshot; returns (n, cf, ci).

    ``bar_high``/``bar_low`` NaN = unknown (the range is inferred from the previous and current
    price). ``cf``/``ci`` are updated in place and returned; when they are too small, larger
    copies are returned instead (always use the returned arrays). Rows ``[0, n)`` then hold the
    active clusters of this snapshot and the retained broken ones, sorted by (level, side, key).
    Inputs are not validated (the Python wrapper does it). It is ``group_kernel`` (which needs
    only the snapshot, so a caller may run it ahead, on another core) then ``track_apply``.
    """
    g = group_kernel(prices, long_usd, short_usd, price, params, tier_lev, tier_long, tier_short, dist_lev,
                     dist_logd)
    return track_apply(cf, ci, meta, meta_f, ring, params, g, price, ts_ns, bar_high, bar_low)


@njit(cache=True)
def track_apply(cf: np.ndarray, ci: np.ndarray, meta: np.ndarray, meta_f: np.ndarray, ring: np.ndarray,
                params: np.ndarray, g: np.ndarray, price: float, ts_ns: int, bar_high: float,
                bar_low: float) -> tuple[int, np.ndarray, np.ndarray]:
    """``track_update`` given the snapshot's ``group_kernel`` rows ``g``: breaks, retention, strength,
    matching, ids; same returns."""
    n = meta[M_N]
    prev = meta_f[MF_LAST_PRICE] if meta[M_HAS_LAST] == 1 else price
    low = bar_low if not np.isnan(bar_low) else min(prev, price)
    high = bar_high if not np.isnan(bar_high) else max(prev, price)
    surv, kept, newly = _previous_rows(cf, ci, n, ts_ns, low, high, params[P_RETENTION_S])
    m = g.shape[0]
    usd = np.empty(m)
    new_level = np.empty(m)
    for j in range(m):
        usd[j] = g[j, G_USD]
        new_level[j] = g[j, G_LEVEL]
    ref = strength_reference_near(ring, meta[M_RING_N], usd, params[P_QUANTILE], reference_guess(cf, ci, n))
    strength = strength_values(usd, ref)
    meta[M_RING_N], meta[M_RING_POS] = ring_push(ring, meta[M_RING_N], meta[M_RING_POS], usd)
    new_side = np.empty(m, np.int64)
    for j in range(m):
        new_side[j] = int(g[j, G_SIDE])
    old_side = np.empty(surv.size, np.int64)
    old_level = np.empty(surv.size)
    for k in range(surv.size):
        old_side[k] = ci[surv[k], I_SIDE]
        old_level[k] = cf[surv[k], F_LEVEL]
    partner = match_kernel(old_side, old_level, new_side, new_level, np.log1p(params[P_MATCH_PCT] / 100.0))

    total = m + kept.size
    nf = np.empty((total, NF))
    ni = np.empty((total, NI), np.int64)
    held = np.empty(kept.size + surv.size, np.int64)
    for k in range(kept.size):  # loops, not slice assignment: that pulls in seconds of compile
        held[k] = kept[k]
    for k in range(surv.size):
        held[kept.size + k] = surv[k]
    born = np.empty(m, np.int64)  # rows of ni born so far in this update
    n_born = np.int64(0)  # not the literal 0: _salt_new would compile a second, literal-typed version
    w_bin = np.log1p(params[P_BIN_PCT] / 100.0)
    for j in range(m):
        level, cur = g[j, G_LEVEL], usd[j]
        nf[j, F_LEVEL] = level
        nf[j, F_USD] = cur
        nf[j, F_LOW] = g[j, G_LOW]
        nf[j, F_HIGH] = g[j, G_HIGH]
        nf[j, F_STRENGTH] = strength[j]
        nf[j, F_TIER] = g[j, G_TIER]
        nf[j, F_DIST] = g[j, G_DIST_PCT]
        ni[j, I_SIDE] = new_side[j]
        ni[j, I_ACTIVE] = 1
        ni[j, I_LAST_SEEN] = ts_ns
        ni[j, I_BROKEN_AT] = -1
        if partner[j] < 0:
            log_bin = int(np.floor(np.log(level) / w_bin))
            ni[j, I_KEY] = meta[M_NEXT_KEY]
            meta[M_NEXT_KEY] += 1
            ni[j, I_FIRST_SEEN] = ts_ns
            ni[j, I_LAST_UPDATED] = ts_ns
            ni[j, I_LOG_BIN] = log_bin
            ni[j, I_SALT] = _salt_new(ci, held, ni, born, n_born, new_side[j], log_bin, ts_ns)
            born[n_born] = j
            n_born += 1
            nf[j, F_PEAK_USD] = cur
            nf[j, F_PEAK_STRENGTH] = strength[j]
        else:
            r = surv[partner[j]]
            ni[j, I_KEY] = ci[r, I_KEY]
            ni[j, I_FIRST_SEEN] = ci[r, I_FIRST_SEEN]
            ni[j, I_LOG_BIN] = ci[r, I_LOG_BIN]
            ni[j, I_SALT] = ci[r, I_SALT]
            same = _isclose(cur, cf[r, F_USD], 1e-9) and _isclose(level, cf[r, F_LEVEL], 1e-12)
            ni[j, I_LAST_UPDATED] = ci[r, I_LAST_UPDATED] if same else ts_ns
            # the peaks are the largest values over the cluster's life (never below the current ones)
            nf[j, F_PEAK_USD] = max(cf[r, F_PEAK_USD], cur)
            nf[j, F_PEAK_STRENGTH] = max(cf[r, F_PEAK_STRENGTH], strength[j])
    for k in range(kept.size):
        r, j = kept[k], m + k
        for col in range(NF):
            nf[j, col] = cf[r, col]
        for col in range(NI):
            ni[j, col] = ci[r, col]
        if newly[k]:
            ni[j, I_ACTIVE] = 0
            ni[j, I_BROKEN_AT] = ts_ns
            ni[j, I_LAST_UPDATED] = ts_ns
        nf[j, F_DIST] = abs(nf[j, F_LEVEL] / price - 1.0) * 100.0

    keys = np.empty(total)
    sides = np.empty(total)
    levels = np.empty(total)
    for k in range(total):
        keys[k] = ni[k, I_KEY]  # keys stay far below 2^53: exact
        sides[k] = ni[k, I_SIDE]
        levels[k] = nf[k, F_LEVEL]
    order = lex_merge_argsort(levels, sides, keys, m)  # new rows, then the kept ones: both in order
    if total > cf.shape[0]:
        cap = max(2 * cf.shape[0], total)
        cf = np.empty((cap, NF))
        ci = np.empty((cap, NI), np.int64)
        for k in range(cap):  # zero rows beyond n, as new_state leaves them
            for col in range(NF):
                cf[k, col] = 0.0
            for col in range(NI):
                ci[k, col] = 0
    for k in range(total):
        for col in range(NF):
            cf[k, col] = nf[order[k], col]
        for col in range(NI):
            ci[k, col] = ni[order[k], col]
    meta[M_N] = total
    meta[M_LAST_TS] = ts_ns
    meta[M_HAS_LAST] = 1
    meta_f[MF_LAST_PRICE] = price
    return total, cf, ci


@njit(cache=True)
def _salt_new(ci: np.ndarray, held: np.ndarray, ni: np.ndarray, born: np.ndarray, n_born: int, side: int,
              log_bin: int, ts_ns: int) -> int:
    """Smallest salt unused by the held rows (in ``ci``) and this update's births (in ``ni``)."""
    salt = 0
    while True:
        used = False
        for r in held:
            if born_row_of(ci, r, side, log_bin, ts_ns) and ci[r, I_SALT] == salt:
                used = True
        for k in range(n_born):
            if born_row_of(ni, born[k], side, log_bin, ts_ns) and ni[born[k], I_SALT] == salt:
                used = True
        if not used:
            return salt
        salt += 1
