"""The cluster core's shared numba pieces: parameters, state layout, quantile, strength ring, matching.

Every number that decides a cluster (logs, sums, quantiles, the id matching) is computed by the
``@njit(cache=True)`` functions of ``kernel.py``, ``kernel_group.py`` and ``kernel_track.py``;
the Python classes (``group_levels``, ``StrengthReference``, ``ClusterTracker``) are thin wrappers
over them, and the fused backtest loop calls the very same functions, so both paths give
bit-identical results (no fastmath, sequential sums, stable sorts).

Parameters travel as one float64 array built by ``kernel_params`` (indices ``P_*``). The tracker
state is a ``TrackerState`` of plain arrays: ``cf`` (cap, NF) float64 and ``ci`` (cap, NI) int64
cluster rows (columns ``F_*`` / ``I_*``), ``meta`` int64 (``M_*``), ``meta_f`` float64 (``MF_*``)
and ``ring`` float64 (the strength window). Rows ``[0, meta[M_N])`` are the tracker's clusters
(active and retained broken) sorted by (price level, side, key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from bot.clusters.kernel_select import quantile_kernel, select_kth  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from config.settings import ClusterSettings

# --- parameter array indices (kernel_params) ---
P_BIN_PCT = 0             # log-price bin width, percent
P_GAP_BINS = 1            # empty bins tolerated inside a run
P_SMOOTH_BINS = 2         # triangular smoothing half-width
P_CORE_FRAC = 3           # core threshold / peak significance
P_MIN_CLUSTER_USD = 4     # clusters with less USD are dropped
P_MATCH_PCT = 5           # id matching reach, percent
P_RETENTION_S = 6         # broken clusters kept this long, seconds
P_QUANTILE = 7            # strength reference quantile
P_WINDOW = 8              # strength ring size
P_TYPICAL_POSITION_USD = 9  # for liquidation_count (used by wrappers only)
N_PARAMS = 10

# --- cluster rows: float columns of cf ---
F_LEVEL, F_USD, F_LOW, F_HIGH, F_STRENGTH, F_TIER, F_DIST, F_PEAK_USD, F_PEAK_STRENGTH = range(9)
NF = 9
# --- cluster rows: int columns of ci (times are int64 ns UTC; I_BROKEN_AT is -1 while active) ---
I_KEY, I_SIDE, I_ACTIVE, I_FIRST_SEEN, I_LAST_SEEN, I_LAST_UPDATED, I_BROKEN_AT, I_LOG_BIN, I_SALT = range(9)
NI = 9
# --- meta (int64) and meta_f (float64) ---
M_N, M_NEXT_KEY, M_LAST_TS, M_HAS_LAST, M_RING_N, M_RING_POS = range(6)
N_META = 6
MF_LAST_PRICE = 0
N_META_F = 1

LOG_BIN_UNKNOWN = -(2 ** 62)  # birth bin of a cluster restored from a saved state (never salts a new id)
MATCH, SKIP_OLD, SKIP_NEW = 0, 1, 2


class TrackerState(NamedTuple):
    """The tracker's arrays (numba accepts this tuple as is)."""

    cf: np.ndarray
    ci: np.ndarray
    meta: np.ndarray
    meta_f: np.ndarray
    ring: np.ndarray


def kernel_params(settings: "ClusterSettings") -> np.ndarray:
    """The float64 parameter array of the kernels (indices ``P_*``) from the cluster settings."""
    p = np.zeros(N_PARAMS)
    p[P_BIN_PCT] = settings.bin_pct
    p[P_GAP_BINS] = settings.gap_bins
    p[P_SMOOTH_BINS] = settings.smooth_bins
    p[P_CORE_FRAC] = settings.core_frac
    p[P_MIN_CLUSTER_USD] = settings.min_cluster_usd
    p[P_MATCH_PCT] = settings.match_pct
    p[P_RETENTION_S] = settings.broken_retention_s
    p[P_QUANTILE] = settings.strength_quantile
    p[P_WINDOW] = settings.strength_window
    p[P_TYPICAL_POSITION_USD] = settings.typical_position_usd
    return p


def new_state(settings: "ClusterSettings", capacity: int = 256) -> TrackerState:
    """An empty tracker state (no clusters, no history)."""
    return TrackerState(cf=np.zeros((capacity, NF)), ci=np.zeros((capacity, NI), np.int64),
                        meta=np.zeros(N_META, np.int64), meta_f=np.zeros(N_META_F),
                        ring=np.zeros(int(settings.strength_window)))


@njit(cache=True)
def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """Indices that sort ``keys`` (float64) ascending, equal keys in input order (bottom-up merge sort)."""
    return lex_argsort(keys, keys, keys)


@njit(cache=True)
def gather(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]`` for a 1-D float64 array (a loop compiles much faster than fancy indexing)."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        out[k] = values[idx[k]]
    return out


@njit(cache=True)
def gather_index(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]`` for a 1-D int64 array."""
    out = np.empty(idx.size, np.int64)
    for k in range(idx.size):
        out[k] = values[idx[k]]
    return out


@njit(cache=True)
def rows_where(values: np.ndarray, target: int) -> np.ndarray:
    """Indices i with values[i] == target (ascending)."""
    out = np.empty(values.size, np.int64)
    m = 0
    for i in range(values.size):
        if values[i] == target:
            out[m] = i
            m += 1
    return out[:m]


@njit(cache=True)
def strength_reference(ring: np.ndarray, ring_n: int, current: np.ndarray, q: float) -> float:
    """The quantile of the held sizes, or of ``current`` when none are held (cold start); 0 if empty."""
    if ring_n > 0:
        return quantile_kernel(ring[:ring_n], q)
    if current.size > 0:
        return quantile_kernel(current, q)
    return 0.0


@njit(cache=True)
def strength_values(usd: np.ndarray, ref: float) -> np.ndarray:
    """USD / reference clipped to [0, 1]; all 0 when the reference is not positive."""
    out = np.empty(usd.size)
    for i in range(usd.size):
        out[i] = min(max(usd[i] / ref, 0.0), 1.0) if ref > 0 else 0.0
    return out


@njit(cache=True)
def ring_push(ring: np.ndarray, ring_n: int, ring_pos: int, usd: np.ndarray) -> tuple[int, int]:
    """Append sizes to the ring (oldest dropped); returns the new (count, write position)."""
    size = ring.size
    m = usd.size
    if m >= size:
        for k in range(size):
            ring[k] = usd[m - size + k]
        return size, 0
    for k in range(m):
        ring[(ring_pos + k) % size] = usd[k]
    return min(ring_n + m, size), (ring_pos + m) % size


@njit(cache=True)
def _by_level(rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``rows`` stably sorted by ``level[rows]`` (the tracker's rows mostly are already: no sort then)."""
    for k in range(1, rows.size):
        if level[rows[k]] < level[rows[k - 1]]:
            lv = gather(level, rows)
            return gather_index(rows, lex_argsort(lv, lv, lv))
    return rows


@njit(cache=True)
def lex_argsort(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Indices that sort rows by (a, b, c) ascending (float64 keys), equal rows in input order.

    The same permutation as stable sorts by c, then b, then a, in one bottom-up merge sort;
    runs already in order are copied without comparing.
    """
    n = a.size
    order = np.empty(n, np.int64)
    for k in range(n):
        order[k] = k
    buf = np.empty(n, np.int64)
    width = 1
    while width < n:
        for start in range(0, n, 2 * width):
            mid = min(start + width, n)
            end = min(start + 2 * width, n)
            i, j = start, mid
            if mid < end and not _lex_less(a, b, c, order[mid], order[mid - 1]):
                for k in range(start, end):
                    buf[k] = order[k]
                continue
            for k in range(start, end):
                if i < mid and (j >= end or not _lex_less(a, b, c, order[j], order[i])):
                    buf[k] = order[i]
                    i += 1
                else:
                    buf[k] = order[j]
                    j += 1
        order, buf = buf, order
        width *= 2
    return order


@njit(cache=True)
def lex_merge_argsort(a: np.ndarray, b: np.ndarray, c: np.ndarray, split: int) -> np.ndarray:
    """``lex_argsort(a, b, c)`` when rows [0, split) and [split, n) are each already in order: one merge.

    The stable sort of two sorted runs is their merge taking the first run on ties; should a run
    not be in order, the full sort runs instead (same result either way).
    """
    n = a.size
    for k in range(1, n):
        if k != split and _lex_less(a, b, c, k, k - 1):
            return lex_argsort(a, b, c)
    order = np.empty(n, np.int64)
    i, j = np.int64(0), split  # not the literal 0: _lex_less would compile a literal-typed version
    for k in range(n):
        if j >= n or (i < split and not _lex_less(a, b, c, j, i)):
            order[k] = i
            i += 1
        else:
            order[k] = j
            j += 1
    return order


@njit(cache=True)
def _lex_less(a: np.ndarray, b: np.ndarray, c: np.ndarray, x: int, y: int) -> bool:
    """Whether row x sorts strictly before row y by (a, b, c)."""
    if a[x] != a[y]:
        return a[x] < a[y]
    if b[x] != b[y]:
        return b[x] < b[y]
    return c[x] < c[y]


@njit(cache=True)
def _match_side(old_level: np.ndarray, new_level: np.ndarray, oi: np.ndarray, ni: np.ndarray, max_log: float,
                out: np.ndarray) -> None:
    """Order-preserving optimal matching of one side's old rows ``oi`` to new rows ``ni`` (both by level)."""
    a, b = oi.size, ni.size
    if a == 0 or b == 0:
        return
    lo = np.empty(a)
    ln = np.empty(b)
    for i in range(a):
        lo[i] = np.log(old_level[oi[i]])
    for j in range(b):
        ln[j] = np.log(new_level[ni[j]])
    full = 4.0 * max_log * max_log
    best = np.empty((a + 1, b + 1))
    choice = np.empty((a + 1, b + 1), np.int8)
    for j in range(b + 1):
        best[0, j] = 0.0
    for i in range(1, a + 1):
        best[i, 0] = 0.0
        choice[i, 0] = SKIP_OLD
        for j in range(1, b + 1):
            value, ch = -1.0, MATCH
            d = ln[j - 1] - lo[i - 1]
            if abs(d) <= max_log:
                value = best[i - 1, j - 1] + (full - d * d)
            if best[i - 1, j] > value:
                value, ch = best[i - 1, j], SKIP_OLD
            if best[i, j - 1] > value:
                value, ch = best[i, j - 1], SKIP_NEW
            best[i, j] = value
            choice[i, j] = ch
    i, j = a, b
    while i > 0 and j > 0:
        ch = choice[i, j]
        if ch == MATCH:
            out[ni[j - 1]] = oi[i - 1]
            i -= 1
            j -= 1
        elif ch == SKIP_OLD:
            i -= 1
        else:
            j -= 1


@njit(cache=True)
def match_kernel(old_side: np.ndarray, old_level: np.ndarray, new_side: np.ndarray, new_level: np.ndarray,
                 max_log: float) -> np.ndarray:
    """For each new cluster the index of its predecessor among the old ones, or -1.

    Per side, maximises the sum over matched admissible pairs of ``4 max_log^2 - d^2`` (d = log
    price ratio, admissible = |d| <= max_log): exactly the objective of the former filler-cost
    linear_sum_assignment. With a convex cost in 1-D an optimal matching never crosses, so an
    O(n m) dynamic programme over the levels in ascending order (stable, ties by input index)
    finds it. Tie-break between equal totals: at each cell prefer matching the pair, then
    skipping the old cluster, then skipping the new one (strict improvement needed to switch).
    """
    out = np.empty(new_level.size, np.int64)
    for j in range(out.size):
        out[j] = -1
    for s in range(2):
        o_rows = rows_where(old_side, s)
        n_rows = rows_where(new_side, s)
        _match_side(old_level, new_level, _by_level(o_rows, old_level), _by_level(n_rows, new_level), max_log, out)
    return out
