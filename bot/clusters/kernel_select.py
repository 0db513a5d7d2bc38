"""Exact order statistics and quantiles for the cluster kernels (numba, no library sorts).

``quantile_kernel`` is ``np.quantile``'s default (linear) method, bit for bit: the order
statistics are found by selection (hand-written: numba's library sorts cost seconds of compile
time), with fast paths for a few distinct values (the steps of a level grid) and for the upper
tail of a large array (the strength ring); every path returns the same two order statistics and
interpolates them with the same expression.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def select_kth(values: np.ndarray, k: int) -> float:
    """The k-th smallest value (0-based) by quickselect on a copy: exact, as a full sort would give.

    Hand-written instead of ``np.partition``: numba's library sorts cost seconds of compile time.
    """
    return _select_in_place(values.copy(), k)


@njit(cache=True)
def _select_in_place(a: np.ndarray, k: int) -> float:
    """Quickselect of the k-th smallest of ``a`` (reordered in place): afterwards a[k:] >= a[k]."""
    lo, hi = 0, a.size - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(cache=True)
def _upper_pair(values: np.ndarray, lo: int) -> tuple[float, float, bool]:
    """The lo-th and (lo+1)-th smallest when lo is in the upper tail, from a subset; ok False = no luck.

    A threshold t from a strided sample; every value below t is smaller than every value >= t,
    so when at least ``n - lo`` values are >= t, the order statistics are those of that subset
    (exact, ties included). A 2000-size ring thus costs a pass and a select over ~1/10 of it.
    """
    n = values.size
    need = n - lo  # values at or above the lo-th smallest
    stride = 8
    m = n // stride
    sample = np.empty(m)
    for s in range(m):
        sample[s] = values[s * stride]
    # expect ~2x the needed values above t (rank from the top of the sample)
    t = _select_in_place(sample, max(m - 1 - (2 * need) // stride, 0))
    sub = np.empty(n)
    c = 0
    for i in range(n):  # branch-free: the write is kept only when the value is >= t
        v = values[i]
        sub[c] = v
        c += v >= t
    if c < need:
        return 0.0, 0.0, False
    low, high = select_pair(sub[:c], lo - (n - c))
    return low, high, True


@njit(cache=True)
def select_pair(a: np.ndarray, k: int) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest of ``a`` (reordered in place); the k-th twice when it is the last."""
    low = _select_in_place(a, k)
    high = low
    if k + 1 < a.size:
        # after the select a[k + 1:] >= a[k]: the next order statistic is their minimum
        high = a[k + 1]
        for i in range(k + 2, a.size):
            high = min(high, a[i])
    return low, high


@njit(cache=True)
def _few_values_pair(values: np.ndarray, lo: int) -> tuple[float, float, bool]:
    """The lo-th and (lo+1)-th smallest when ``values`` hold at most 4 distinct numbers; ok False otherwise.

    Zeros (+0.0 and -0.0 compare equal but differ) and NaN give up at once.
    """
    v = np.empty(4)
    c = np.zeros(4, np.int64)
    v[0] = first = values[0]
    if first == 0.0 or np.isnan(first):
        return 0.0, 0.0, False
    n_first = 0  # the count of the first value stays in a register (no store-to-load chain)
    nd = 1
    for i in range(values.size):
        x = values[i]
        if x == first:
            n_first += 1
            continue
        j = 1
        while j < nd and v[j] != x:
            j += 1
        if j == nd:
            if nd == 4 or x == 0.0 or np.isnan(x):
                return 0.0, 0.0, False
            v[nd] = x
            nd += 1
        c[j] += 1
    c[0] = n_first
    for a in range(1, nd):  # insertion sort of the distinct values with their counts
        b = a
        while b > 0 and v[b] < v[b - 1]:
            v[b], v[b - 1] = v[b - 1], v[b]
            c[b], c[b - 1] = c[b - 1], c[b]
            b -= 1
    low = high = v[nd - 1]
    below = 0
    for a in range(nd):
        if lo < below + c[a]:
            low = v[a]
            high = v[a] if lo + 1 < below + c[a] else v[min(a + 1, nd - 1)]
            break
        below += c[a]
    return low, high, True


@njit(cache=True)
def quantile_kernel(values: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile (``np.quantile`` default method) of a non-empty 1-D array."""
    k = q * (values.size - 1)
    lo = int(k)
    n = values.size
    if n >= 32:  # e.g. the steps of a level grid: a few distinct values
        low, high, ok = _few_values_pair(values, lo)
        if ok:
            return low if lo + 1 >= n else low + (k - lo) * (high - low)
    ok = False
    if n >= 256 and 8 * (n - lo) <= n:
        low, high, ok = _upper_pair(values, lo)
    if not ok:
        low, high = select_pair(values.copy(), lo)
    return low if lo + 1 >= n else low + (k - lo) * (high - low)
