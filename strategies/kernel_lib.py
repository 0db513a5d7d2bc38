"""The shared pieces of every strategy's candidate kernel: the table and row layouts, codes and exit helpers.

A strategy module (``strategies.hunt`` and its siblings) writes its ``candidates_nb`` kernel with
these helpers and nothing else from the engine, so the engine (``strategies.kernel``) can import the
generated dispatch over every strategy without an import cycle.

* ``tab``: float64 ``(n, N_TAB)`` C-contiguous, one row per cluster in canonical order (price,
  side, id), columns ``T_*``; built by :func:`zone_kernel` from the raw cluster numbers.
* candidate rows: float64 ``(k, N_COL)``, columns ``C_*``, written by :func:`emit`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from strategies.kernel_round import price_decimals_nb, round_decimals, round_price_nb

# --- cluster table columns (canonical order of the ClusterTable arrays)
T_LEVEL, T_LOW, T_HIGH, T_STRENGTH, T_USD, T_IS_SHORT, T_ACTIVE, T_AGE_S, T_PEAK_USD, T_PEAK_STRENGTH = range(10)
N_TAB = 10

# --- output columns
(C_STRATEGY, C_DIRECTION, C_CLUSTER, C_TARGET_CLUSTER, C_ENTRY, C_STOP, C_TARGET, C_CONFIDENCE, C_RR, C_RULE,
 C_OUTCOME, C_RANK, C_MULT, C_MULT_RAW) = range(14)
N_COL = 14

# directions; bias codes (strategy codes are the registry order: strategies.registry)
D_LONG, D_SHORT = 1, -1
BIAS_BEARISH, BIAS_NEUTRAL, BIAS_BULLISH = -1, 0, 1
# rule codes (0 = passed every filter), in the order the filters apply
R_PASS, R_GEOMETRY, R_MIN_RR, R_MIN_CONFIDENCE, R_MAX_STOP, R_MIN_TARGET, R_STOP_AT_CLUSTER = range(7)
# outcomes: NONE (candidates only, not decided), WINNER, CONFLICT, CONFLICT_CANCEL, FILTERED
O_NONE, O_WINNER, O_CONFLICT, O_CANCEL, O_FILTERED = range(5)
RR_DECIMALS = 2
CONFIDENCE_DECIMALS = 4


@njit(cache=True)
def zone_kernel(raw: np.ndarray, zone_pct: float) -> np.ndarray:
    """Clean raw cluster numbers (columns ``T_*``; ``T_LOW``/``T_HIGH`` hold the reported range).

    The zone always contains the level and is capped to ``zone_pct`` around it (a missing or NaN
    edge is the level); non-finite strength, USD and peaks read as 0. Age stays NaN when active.
    """
    n = raw.shape[0]
    out = raw.copy()
    f = zone_pct / 100.0
    for k in range(n):
        level = raw[k, T_LEVEL]
        lo = raw[k, T_LOW] if np.isfinite(raw[k, T_LOW]) else level
        hi = raw[k, T_HIGH] if np.isfinite(raw[k, T_HIGH]) else level
        out[k, T_LOW] = min(max(lo, level * (1.0 - f)), level)
        out[k, T_HIGH] = min(max(hi, level), level * (1.0 + f))
        for c in (T_STRENGTH, T_USD, T_PEAK_USD, T_PEAK_STRENGTH):
            if not np.isfinite(raw[k, c]):
                out[k, c] = 0.0
    return out


@njit(cache=True)
def distance_pct_nb(level: float, price: float) -> float:
    """Percent distance of ``level`` from ``price``."""
    return abs(level - price) / price * 100.0


@njit(cache=True)
def nearest_nb(tab: np.ndarray, want_short: bool, min_strength: float, price: float, above: bool) -> int:
    """Row of the active cluster of one side (strength >= min) nearest to ``price`` above/below, or -1."""
    best = -1
    for k in range(tab.shape[0]):
        if tab[k, T_ACTIVE] == 0.0 or (tab[k, T_IS_SHORT] != 0.0) != want_short or tab[k, T_STRENGTH] < min_strength:
            continue
        lv = tab[k, T_LEVEL]
        if above:
            if lv > price and (best < 0 or lv < tab[best, T_LEVEL]):
                best = k
        elif lv < price and (best < 0 or lv > tab[best, T_LEVEL]):
            best = k
    return best


@njit(cache=True)
def target_before_nb(tab: np.ndarray, i: int, long: bool, price: float, buffer_pct: float) -> float:
    """Take-profit just before cluster ``i``: before its near edge, or its level when price is inside."""
    if long:
        edge = tab[i, T_LOW] if tab[i, T_LOW] > price else tab[i, T_LEVEL]
        return edge * (1.0 - buffer_pct / 100.0)
    edge = tab[i, T_HIGH] if tab[i, T_HIGH] < price else tab[i, T_LEVEL]
    return edge * (1.0 + buffer_pct / 100.0)


@njit(cache=True)
def clear_of_clusters_nb(tab: np.ndarray, stop: float, long: bool, buffer_pct: float) -> float:
    """Move ``stop`` beyond every active cluster it sits in (zone widened by ``buffer_pct``)."""
    n = tab.shape[0]
    f = buffer_pct / 100.0
    # each pass jumps past the clusters containing the stop; a jump can land in the next one
    for _ in range(n):
        found = False
        jump = 0.0
        for k in range(n):
            if tab[k, T_ACTIVE] == 0.0:
                continue
            lo = tab[k, T_LOW] * (1.0 - f)
            hi = tab[k, T_HIGH] * (1.0 + f)
            if lo <= stop and stop <= hi:
                edge = lo if long else hi
                if not found or (edge < jump if long else edge > jump):
                    jump = edge
                found = True
        if not found:
            break
        stop = np.nextafter(jump, -np.inf) if long else np.nextafter(jump, np.inf)
    return stop


@njit(cache=True)
def emit(out: np.ndarray, k: int, strategy: int, long: bool, i: int, j: int, price: float, stop: float,
          target: float, confidence: float) -> int:
    """Write candidate row ``k`` (prices on the tick: target toward the entry, stop away from it)."""
    d = price_decimals_nb(price)
    mode = -1 if long else 1
    out[k, C_STRATEGY] = strategy
    out[k, C_DIRECTION] = D_LONG if long else D_SHORT
    out[k, C_CLUSTER] = i
    out[k, C_TARGET_CLUSTER] = j
    entry = round_price_nb(price, d, 0)
    sl = round_price_nb(stop, d, mode)
    tp = round_price_nb(target, d, mode)
    out[k, C_ENTRY] = entry
    out[k, C_STOP] = sl
    out[k, C_TARGET] = tp
    conf = confidence if confidence > 0.0 else 0.0  # NaN reads as 0
    out[k, C_CONFIDENCE] = round_decimals(conf if conf < 1.0 else 1.0, CONFIDENCE_DECIMALS)
    sign = 1.0 if long else -1.0
    risk = sign * (entry - sl)
    out[k, C_RR] = sign * (tp - entry) / risk if risk > 0 else -np.inf
    out[k, C_RULE] = R_PASS
    out[k, C_OUTCOME] = O_NONE
    out[k, C_RANK] = -1
    out[k, C_MULT] = 1.0
    out[k, C_MULT_RAW] = 1.0
    return k + 1


