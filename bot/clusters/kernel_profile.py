"""numba pieces of ``group_kernel`` that split runs of levels into clusters: profile, peaks, cores.

The snapshot's levels become a smoothed USD profile over log-price bins; significant peaks of
the profile cut a run at the lowest valley between them, and each piece's core (profile >=
core_frac x the piece's height) is a cluster, its flanks others. Peaks and prominences follow
scipy's ``find_peaks``/``peak_prominences`` definitions (a flat top's peak is its middle bin,
rounded down), ties go to the lowest index. Every sum runs in a fixed order (bit-reproducible).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_PROFILE_SCALE = 1e12   # the profile is quantized to integers relative to its maximum


@njit(cache=True)
def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of local maxima (scipy ``find_peaks`` without conditions: plateau -> its middle)."""
    out = np.empty(x.size, np.int64)
    return out[:_local_maxima_into(x, out)]


@njit(cache=True)
def _local_maxima_into(x: np.ndarray, out: np.ndarray) -> int:
    """``local_maxima`` written to the front of ``out`` (size >= x.size); returns how many."""
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
    return m


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
def valley_cuts(profile: np.ndarray, core_frac: float, peaks: np.ndarray, cuts: np.ndarray) -> int:
    """Bin positions of the lowest point (first one on ties) between consecutive significant peaks.

    Written to the front of ``cuts``; ``peaks`` (int64) is scratch; both of size >= profile.size.
    Returns the number of cuts.
    """
    n_peaks = _local_maxima_into(profile, peaks)
    n_keep = 0
    for k in range(n_peaks):  # kept peaks overwrite the front of ``peaks`` (k >= n_keep)
        if _significant(profile, peaks[k], (1.0 - core_frac) * profile[peaks[k]]):
            peaks[n_keep] = peaks[k]
            n_keep += 1
    if n_keep < 2:
        return 0
    for k in range(n_keep - 1):
        at = peaks[k]
        for b in range(peaks[k] + 1, peaks[k + 1]):
            if profile[b] < profile[at]:
                at = b
        cuts[k] = at
    return n_keep - 1


@njit(cache=True)
def smoothed_profile(pos: np.ndarray, us: np.ndarray, new_run: np.ndarray, smooth: int, raw: np.ndarray,
                     inside: np.ndarray, prof: np.ndarray) -> None:
    """Cloud-in-cell deposit, tolerated holes filled (lower neighbour), triangular smoothing, quantized.

    The profile of ``nbins = floor(pos[-1]) + pad + 2`` bins goes to ``prof`` (nbins); ``raw``
    (nbins + 2 x smooth) and ``inside`` (int64, nbins + 1) are scratch (the caller's workspace:
    no allocation per snapshot). ``pos`` ascends (the levels' prices do), so a bin's deposits
    arrive one after the other: they are summed in a register, in the same order (from 0.0) as
    per-bin accumulators would.
    """
    n = pos.size
    nbins = prof.size
    # the deposit with `smooth` zero bins either side: the smoothing then needs no bounds tests
    # (adding 0.0 x weight leaves a non-negative sum unchanged, bit for bit)
    raw[:] = 0.0
    inside[:] = 0
    prof[:] = 0.0
    b = int(np.floor(pos[0]))
    lower = 0.0   # deposits of the levels in bin b into b ...
    upper = 0.0   # ... and into b + 1
    carry = 0.0   # the upper deposits into bin b from bin b - 1
    for k in range(n):
        bk = int(np.floor(pos[k]))
        if bk != b:
            raw[smooth + b] = lower + carry
            carry = upper if bk == b + 1 else 0.0
            if bk > b + 1:
                raw[smooth + b + 1] = 0.0 + upper
            b, lower, upper = bk, 0.0, 0.0
        frac = pos[k] - bk
        lower += us[k] * (1.0 - frac)
        upper += us[k] * frac
        # bins spanned by each run: first level's bin .. last level's upper bin
        if new_run[k]:
            inside[bk] += 1
        if k == n - 1 or new_run[k + 1]:
            inside[int(np.ceil(pos[k])) + 1] -= 1
    raw[smooth + b] = lower + carry
    raw[smooth + b + 1] = 0.0 + upper
    depth = 0
    last = 0.0  # the nearest filled bin below (before any filling)
    for b in range(nbins):
        depth += inside[b]
        value = raw[smooth + b]
        if depth > 0 and value <= 0:
            above = 0.0  # the nearest filled bin above (not filled yet: the scan only reads ahead)
            for c in range(b + 1, nbins):
                if raw[smooth + c] > 0:
                    above = raw[smooth + c]
                    break
            raw[smooth + b] = min(last, above)
        if value > 0:
            last = value
    width = 2 * smooth + 1
    total = 0.0
    for j in range(width):
        total += (smooth + 1.0) - abs(j - smooth)
    for j in range(width):  # per bin the same sum order as a loop over j (vectorizes over bins)
        w = ((smooth + 1.0) - abs(j - smooth)) / total
        for b in range(nbins):
            prof[b] += raw[b + j] * w
    top = 0.0
    for b in range(nbins):
        top = max(top, prof[b])
    if top > 0:
        scale = _PROFILE_SCALE / top
        for b in range(nbins):
            prof[b] = np.rint(prof[b] * scale)


@njit(cache=True)
def cluster_starts(pos: np.ndarray, new_run: np.ndarray, profile: np.ndarray, core_frac: float, peaks: np.ndarray,
                   cuts: np.ndarray, at_level: np.ndarray, piece_start: np.ndarray, starts: np.ndarray,
                   core_of: np.ndarray) -> int:
    """First level of each cluster (``starts``) and whether it is a core one (``core_of``, 0/1).

    A piece (a run cut at the valleys) splits into its core levels (profile >= core_frac x the
    piece's height) and the flanks between them; a new cluster starts at each run, at each
    core/flank change and where a core crosses into a new piece. Every array after
    ``core_frac`` is the caller's scratch (``peaks``/``cuts`` >= profile.size, the others >=
    pos.size, int64 but ``cuts``/``at_level``); returns the number of clusters m, written to the
    front of ``starts`` and ``core_of``.
    """
    n = pos.size
    n_cuts = valley_cuts(profile, core_frac, peaks, cuts)
    one = np.uint64(1)
    for k in range(n):  # unsigned bins (pos >= 0): no negative-index wraparound, no branch
        x = pos[k]
        f = np.floor(x)
        j = np.uint64(f)
        # on a bin (pos == j) this is profile[j] exactly: (+-0.0) + p == p for the profile's p >= 0
        at_level[k] = (profile[j + one] - profile[j]) * (x - f) + profile[j]
    if n_cuts == 0:  # the pieces are the runs
        piece_start = new_run
    basin = 0  # cuts strictly below the level (positions ascend): its peak basin
    for k in range(n if n_cuts > 0 else 0):
        start = new_run[k]
        if basin < n_cuts and cuts[basin] < pos[k]:
            while basin < n_cuts and cuts[basin] < pos[k]:
                basin += 1
            if k > 0:
                start = 1
        piece_start[k] = start
    m = 0
    prev = False
    k = 0
    while k < n:
        e = k + 1
        height = at_level[k]
        while e < n and not piece_start[e]:
            height = max(height, at_level[e])
            e += 1
        need = core_frac * height
        for j in range(k, e):
            core = at_level[j] >= need
            if j == 0 or new_run[j] or core != prev or (core and j == k):
                starts[m] = j
                core_of[m] = core
                m += 1
            prev = core
        k = e
    return m
