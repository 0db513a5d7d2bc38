"""The tracker's strength reference, warm-started: the same quantile, found from a guess.

``quantile_kernel`` over the 2000-size ring costs a sample select, a compaction pass and a
second select every bar (~5 us in the tracker). The reference barely moves between bars (the
ring changes by one snapshot's clusters), and the previous one can be read back from the state
(active rows hold usd / reference). ``quantile_near`` counts, in one vectorised pass, how many
values reach each of a few thresholds around that guess; the two order statistics the quantile
needs then lie in a bracket of typically ~10 values, which a second pass collects. The result
is exact for any guess: the order statistics are the same values ``quantile_kernel`` selects and
the interpolation is the same expression; a useless guess only falls back to ``quantile_kernel``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bot.clusters.kernel import F_STRENGTH, F_USD, I_ACTIVE, strength_reference
from bot.clusters.kernel_select import quantile_kernel, select_pair

# thresholds as fractions of the guess: the reference moves < 0.2% in most bars (the same
# clusters push the same sizes bar after bar, so values crowd around it) and < 1% in 93%
_F0, _F1, _F2, _F3 = 0.99, 0.998, 1.002, 1.01
_MAX_BRACKET = 256  # a wider bracket means a poor guess: the generic select is as quick
_BLOCK = 16


@njit(cache=True)
def reference_guess(cf: np.ndarray, ci: np.ndarray, n: int) -> float:
    """The previous update's strength reference as usd / strength of an unclipped active row; 0 if none."""
    for r in range(n):
        s = cf[r, F_STRENGTH]
        if ci[r, I_ACTIVE] == 1 and 0.0 < s < 1.0:
            return cf[r, F_USD] / s
    return 0.0


@njit(cache=True)
def strength_reference_near(ring: np.ndarray, ring_n: int, current: np.ndarray, q: float, guess: float) -> float:
    """``strength_reference`` (bit for bit), quicker when ``guess`` is near the answer."""
    if ring_n > 0 and guess > 0.0:
        return quantile_near(ring[:ring_n], q, guess)
    return strength_reference(ring, ring_n, current, q)


@njit(cache=True)
def quantile_near(values: np.ndarray, q: float, guess: float) -> float:
    """``quantile_kernel(values, q)`` exactly, found by bracketing around ``guess`` (> 0)."""
    n = values.size
    k = q * (n - 1)
    lo = int(k)
    if n < 64 or not guess > 0.0 or guess == np.inf:
        return quantile_kernel(values, q)
    t0, t1, t2, t3 = guess * _F0, guess * _F1, guess * _F2, guess * _F3
    c0 = c1 = c2 = c3 = 0
    for i in range(n):  # independent compare-and-count: vectorises
        v = values[i]
        c0 += v >= t0
        c1 += v >= t1
        c2 += v >= t2
        c3 += v >= t3
    counts = (c0, c1, c2, c3)
    ts = (t0, t1, t2, t3)
    # x_lo >= t iff count(>= t) >= n - lo; x_(lo+1) < t iff count(>= t) < n - lo - 1
    need = n - lo
    a = -1
    for j in range(4):
        if counts[j] >= need:
            a = j
    if a < 0:
        return quantile_kernel(values, q)
    t_lo, c_lo = ts[a], counts[a]
    t_hi, c_hi = np.inf, 0
    for j in range(3, a, -1):
        if counts[j] < need - 1:
            t_hi, c_hi = ts[j], counts[j]
    width = c_lo - c_hi
    if width > _MAX_BRACKET:
        return quantile_kernel(values, q)
    buf = np.empty(width)
    w = 0
    # a vectorised test per block (rows of a 2-D view: indices from 0, so no negative-index
    # gathers); few blocks hold bracket values, only those are scanned
    nb = n // _BLOCK
    blocks = values[:nb * _BLOCK].reshape((nb, _BLOCK))
    for b in range(nb + 1):
        row = blocks[b] if b < nb else values[nb * _BLOCK:]
        hits = 0
        for i in range(row.size):
            hits += (row[i] >= t_lo) & (row[i] < t_hi)
        if hits > 0:
            for i in range(row.size):
                v = row[i]
                if v >= t_lo and v < t_hi:
                    buf[w] = v
                    w += 1
    low, high = select_pair(buf, lo - (n - c_lo))  # x_lo's rank among the bracket
    return low if lo + 1 >= n else low + (k - lo) * (high - low)
