"""Forward outcomes on the candles: which of two levels price reaches first, how far it goes.

All functions look only at bars that open at or after the sample time ``t`` (the time the
snapshot was known), so an outcome never uses the bar the snapshot was built from.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numba import njit


class FirstHit(IntEnum):
    """Which level a later bar reached first."""

    DOWN = 0
    UP = 1
    UNDECIDED = 2   # neither within the horizon (or the candles end first)
    TIE = 3         # one bar reached both


@njit(cache=True)
def _first_hit(high, low, start, up, dn, max_bars):  # pragma: no cover - numba
    out = np.full(start.size, 2, np.int64)
    when = np.full(start.size, -1, np.int64)
    n = high.size
    for s in range(start.size):
        for k in range(start[s], min(n, start[s] + max_bars)):
            hu, hd = high[k] >= up[s], low[k] <= dn[s]
            if hu or hd:
                out[s] = 3 if (hu and hd) else (1 if hu else 0)
                when[s] = k
                break
    return out, when


def first_hit(open_ns: np.ndarray, high: np.ndarray, low: np.ndarray, t_ns: np.ndarray, up: np.ndarray,
              dn: np.ndarray, horizon_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: ``FirstHit`` code and the bar index that decided it (-1 when undecided).

    Samples whose horizon runs past the last candle and are not decided by then are UNDECIDED.
    """
    bar_ns = int(np.median(np.diff(open_ns))) if open_ns.size > 1 else 1
    start = np.searchsorted(open_ns, np.asarray(t_ns, np.int64), side="left").astype(np.int64)
    return _first_hit(high, low, start, np.asarray(up, np.float64), np.asarray(dn, np.float64),
                      int(horizon_ns // bar_ns))


@njit(cache=True)
def _excursions(high, low, start, stop):  # pragma: no cover - numba
    up = np.full(start.size, np.nan)
    dn = np.full(start.size, np.nan)
    for s in range(start.size):
        if stop[s] > start[s]:
            up[s] = np.max(high[start[s]:stop[s]])
            dn[s] = np.min(low[start[s]:stop[s]])
    return up, dn


def excursions(open_ns: np.ndarray, high: np.ndarray, low: np.ndarray, t_ns: np.ndarray,
               horizon_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: highest high and lowest low of the bars opening in ``[t, t + horizon)``, and
    whether the candles cover the whole horizon (NaN when no bar)."""
    t = np.asarray(t_ns, np.int64)
    start = np.searchsorted(open_ns, t, side="left").astype(np.int64)
    stop = np.searchsorted(open_ns, t + int(horizon_ns), side="left").astype(np.int64)
    bar_ns = int(np.median(np.diff(open_ns))) if open_ns.size > 1 else 0
    covered = t + int(horizon_ns) <= open_ns[-1] + bar_ns
    hi, lo = _excursions(high, low, start, stop)
    return hi, lo, covered


def close_after(open_ns: np.ndarray, close: np.ndarray, t_ns: np.ndarray, horizon_ns: int) -> np.ndarray:
    """Close of the last bar opening before ``t + horizon`` (the price ``horizon`` after ``t``); NaN past the end."""
    bar_ns = int(np.median(np.diff(open_ns))) if open_ns.size > 1 else 0
    end = np.asarray(t_ns, np.int64) + int(horizon_ns)
    k = np.searchsorted(open_ns, end - bar_ns, side="left")
    out = np.full(k.shape, np.nan)
    ok = (k < open_ns.size) & (end <= open_ns[-1] + bar_ns)
    out[ok] = close[k[ok]]
    return out
