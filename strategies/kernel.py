"""The strategy engine as numba kernels: one implementation for the paper path and the fused backtest.

``Engine.run`` (one bar) and the backtester's fused loop (all bars) call the same compiled
functions, so they agree bit for bit. Inputs are plain arrays and one record:

* ``tab``: the cluster table (``strategies.kernel_lib``, columns ``T_*``).
* ``price``, ``atr`` (NaN = none), ``bias`` (``BIAS_BEARISH`` -1, ``BIAS_NEUTRAL`` 0,
  ``BIAS_BULLISH`` 1), ``total_oi`` and ``ls_ratio`` of the market context.
* ``p``: the engine parameter record (``strategies.engine_params``), read by field name.

Output of :func:`engine_kernel`: float64 ``(k, N_COL)``, one row per candidate in generation
order (registry order, then each strategy's own order), columns ``C_*``; plus a flag set when two
kept candidates tie on (confidence, rr, strategy) and only the signal id (a hash the kernel
cannot compute) can order them: the caller then re-resolves with ids. The strategies themselves
are called through the generated ``strategies.dispatch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from strategies.dispatch import ROWS_FIXED, ROWS_PER_CLUSTER, candidates_all
from strategies.kernel_lib import (BIAS_BEARISH, BIAS_BULLISH, BIAS_NEUTRAL, C_CLUSTER, C_CONFIDENCE,  # noqa: F401
                                   C_DIRECTION, C_ENTRY, C_MULT, C_MULT_RAW, C_OUTCOME, C_RANK, C_RR, C_RULE,
                                   C_STOP, C_STRATEGY, C_TARGET, C_TARGET_CLUSTER, CONFIDENCE_DECIMALS, D_LONG,
                                   D_SHORT, N_COL, N_TAB, O_CANCEL, O_CONFLICT, O_FILTERED, O_NONE, O_WINNER,
                                   R_GEOMETRY, R_MAX_STOP, R_MIN_CONFIDENCE, R_MIN_RR, R_MIN_TARGET, R_PASS,
                                   R_STOP_AT_CLUSTER, RR_DECIMALS, T_ACTIVE, T_AGE_S, T_HIGH, T_IS_SHORT, T_LEVEL,
                                   T_LOW, T_PEAK_STRENGTH, T_PEAK_USD, T_STRENGTH, T_USD, clear_of_clusters_nb,
                                   distance_pct_nb, emit, nearest_nb, target_before_nb, zone_kernel)
from strategies.kernel_round import round_decimals


@njit(cache=True)
def candidates_kernel(tab: np.ndarray, price: float, atr: float, bias: int, params: Any) -> np.ndarray:
    """Candidate rows of the enabled strategies, generation order; filters and outcome not applied."""
    n = tab.shape[0]
    if n == 0 or not (np.isfinite(price) and price > 0):
        return np.empty((0, N_COL))
    out = np.empty((ROWS_PER_CLUSTER * n + ROWS_FIXED, N_COL))  # the registry's bound on each strategy's rows
    k = candidates_all(tab, price, atr, bias, params, out, 0)
    return out[:k]


@njit(cache=True)
def stop_inside_cluster_nb(tab: np.ndarray, stop: float) -> bool:
    """Whether ``stop`` lies within an active cluster's zone."""
    for k in range(tab.shape[0]):
        if tab[k, T_ACTIVE] != 0.0 and tab[k, T_LOW] <= stop and stop <= tab[k, T_HIGH]:
            return True
    return False


@njit(cache=True)
def rule_nb(row: np.ndarray, tab: np.ndarray, params: Any) -> int:
    """The first filter rule the candidate ``row`` fails (``R_PASS`` if none)."""
    entry, sl, tp = row[C_ENTRY], row[C_STOP], row[C_TARGET]
    ordered = (sl < entry and entry < tp) if row[C_DIRECTION] == D_LONG else (tp < entry and entry < sl)
    finite = np.isfinite(entry) and np.isfinite(sl) and np.isfinite(tp) and entry > 0 and sl > 0 and tp > 0
    if not (ordered and finite):
        return R_GEOMETRY
    # compared on the value the signal will carry, so an emitted signal never shows rr < min_rr
    if round_decimals(row[C_RR], RR_DECIMALS) < params.limits.min_rr:
        return R_MIN_RR
    if row[C_CONFIDENCE] < params.limits.min_confidence:
        return R_MIN_CONFIDENCE
    if abs(entry - sl) / entry * 100.0 > params.limits.max_stop_pct:
        return R_MAX_STOP
    if abs(tp - entry) / entry * 100.0 < params.limits.min_target_pct:
        return R_MIN_TARGET
    if stop_inside_cluster_nb(tab, sl):
        return R_STOP_AT_CLUSTER
    return R_PASS


@njit(cache=True)
def _ranks_before(a: np.ndarray, b: np.ndarray) -> int:
    """-1 if row ``a`` ranks before ``b`` (higher confidence, higher rr, registry order), 1 after, 0 tie."""
    if a[C_CONFIDENCE] != b[C_CONFIDENCE]:
        return -1 if a[C_CONFIDENCE] > b[C_CONFIDENCE] else 1
    if a[C_RR] != b[C_RR]:
        return -1 if a[C_RR] > b[C_RR] else 1
    if a[C_STRATEGY] != b[C_STRATEGY]:
        return -1 if a[C_STRATEGY] < b[C_STRATEGY] else 1
    return 0


@njit(cache=True)
def conflict_kernel(rows: np.ndarray) -> bool:
    """Rank the kept rows (``C_RULE`` 0) into ``C_RANK`` and set ``C_OUTCOME``; True if only ids can break a tie.

    One position per symbol: the best-ranked wins; LONG and SHORT at equal top confidence cancel
    (every candidate at that confidence), the rest lose by conflict. Filtered rows get ``O_FILTERED``.
    """
    k = rows.shape[0]
    order = np.empty(k, dtype=np.int64)
    m = 0
    for r in range(k):
        if rows[r, C_RULE] != R_PASS:
            rows[r, C_OUTCOME] = O_FILTERED
            continue
        # stable insertion: a kept row goes after every row it does not beat
        pos = m
        while pos > 0 and _ranks_before(rows[r], rows[order[pos - 1]]) < 0:
            order[pos] = order[pos - 1]
            pos -= 1
        order[pos] = r
        m += 1
    tie = False
    for q in range(m):
        rows[order[q], C_RANK] = q
        if q > 0 and _ranks_before(rows[order[q - 1]], rows[order[q]]) == 0:
            tie = True
    if m == 0:
        return tie
    top = rows[order[0]]
    sides = 0
    for q in range(m):
        if rows[order[q], C_CONFIDENCE] == top[C_CONFIDENCE] and rows[order[q], C_DIRECTION] != top[C_DIRECTION]:
            sides = 2
    for q in range(m):
        r = order[q]
        if sides == 2:
            rows[r, C_OUTCOME] = O_CANCEL if rows[r, C_CONFIDENCE] == top[C_CONFIDENCE] else O_CONFLICT
        else:
            rows[r, C_OUTCOME] = O_WINNER if q == 0 else O_CONFLICT
    return tie


@njit(cache=True)
def oi_tier_nb(total_oi: float, sizing: Any) -> int:
    """The OI tier: 2 high (above ``high_oi_usd``), 1 mid (above ``mid_oi_usd``), 0 low; unknown OI is low."""
    oi = total_oi if np.isfinite(total_oi) else 0.0
    if oi > sizing.high_oi_usd:
        return 2
    if oi > sizing.mid_oi_usd:
        return 1
    return 0


@njit(cache=True)
def favoured_nb(ls_ratio: float, long: bool, sizing: Any) -> bool:
    """Whether the crowd favours the trade: crowded shorts favour a LONG, crowded longs a SHORT (NaN: neither)."""
    return (ls_ratio < sizing.crowded_short_ratio) if long else (ls_ratio > sizing.crowded_long_ratio)


@njit(cache=True)
def oi_multiplier_nb(total_oi: float, ls_ratio: float, long: bool, sizing: Any) -> float:
    """OI-tier multiplier x the favoured-side multiplier (unknown OI is the low tier; NaN ratio favours none)."""
    t = oi_tier_nb(total_oi, sizing)
    tier = sizing.high_mult if t == 2 else (sizing.mid_mult if t == 1 else sizing.low_mult)
    return tier * (sizing.favoured_mult if favoured_nb(ls_ratio, long, sizing) else 1.0)


@njit(cache=True)
def filter_kernel(rows: np.ndarray, tab: np.ndarray, params: Any) -> None:
    """``C_RULE`` of every candidate row (the first filter it fails, 0 if none), in place."""
    for r in range(rows.shape[0]):
        rows[r, C_RULE] = rule_nb(rows[r], tab, params)


@njit(cache=True)
def oi_multipliers_kernel(total_oi: np.ndarray, ls_ratio: np.ndarray, is_long: np.ndarray,
                          sizing: Any) -> np.ndarray:
    """``oi_multiplier_nb`` over arrays (``is_long`` as float64 0/1)."""
    out = np.empty(total_oi.shape[0])
    for k in range(total_oi.shape[0]):
        out[k] = oi_multiplier_nb(total_oi[k], ls_ratio[k], is_long[k] != 0.0, sizing)
    return out


@njit(cache=True)
def decide_kernel(rows: np.ndarray, tab: np.ndarray, total_oi: float, ls_ratio: float, params: Any) -> bool:
    """Filters, conflict resolution and the winner's size multiplier, in place on candidate ``rows``."""
    filter_kernel(rows, tab, params)
    tie = conflict_kernel(rows)
    if params.on.oi_sizing:
        for r in range(rows.shape[0]):
            if rows[r, C_OUTCOME] == O_WINNER:
                raw = oi_multiplier_nb(total_oi, ls_ratio, rows[r, C_DIRECTION] == D_LONG, params.sizing)
                rows[r, C_MULT_RAW] = raw
                rows[r, C_MULT] = round_decimals(raw, 4)
    return tie


@njit(cache=True)
def engine_kernel(tab: np.ndarray, price: float, atr: float, bias: int, total_oi: float, ls_ratio: float,
                  params: Any) -> tuple[np.ndarray, bool]:
    """One bar of the engine: candidate rows with rule, outcome, rank and multiplier; the id-tie flag."""
    rows = candidates_kernel(tab, price, atr, bias, params)
    if rows.shape[0] == 0:
        return rows, False
    return rows, decide_kernel(rows, tab, total_oi, ls_ratio, params)


@njit(cache=True)
def levels_kernel(tab: np.ndarray, price: float, params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Support (active long clusters below, nearest first) and resistance (active short above) levels."""
    n = tab.shape[0]
    sup = np.empty(n)
    res = np.empty(n)
    ns = 0
    nr = 0
    for k in range(n):
        lv = tab[k, T_LEVEL]
        if not (tab[k, T_ACTIVE] != 0.0 and tab[k, T_STRENGTH] >= params.levels.min_strength
                and distance_pct_nb(lv, price) <= params.levels.max_distance_pct):
            continue
        if tab[k, T_IS_SHORT] == 0.0 and lv < price:
            sup[ns] = lv
            ns += 1
        elif tab[k, T_IS_SHORT] != 0.0 and lv > price:
            res[nr] = lv
            nr += 1
    count = params.levels.count
    sup = np.sort(sup[:ns])[::-1][:count].copy()
    res = np.sort(res[:nr])[:count].copy()
    return sup, res
