"""The strategy engine as numba kernels: one implementation for the paper path and the fused backtest.

``Engine.run`` (one bar) and the backtester's fused loop (all bars) call the same compiled
functions, so they agree bit for bit. Inputs are plain arrays:

* ``tab``: float64 ``(n, N_TAB)`` C-contiguous, one row per cluster in canonical order (price,
  side, id), columns ``T_*`` below; built by :func:`zone_kernel` from the raw cluster numbers.
* ``price``, ``atr`` (NaN = none), ``bias`` (``BIAS_BEARISH`` -1, ``BIAS_NEUTRAL`` 0,
  ``BIAS_BULLISH`` 1), ``total_oi`` and ``ls_ratio`` of the market context.
* ``params``: float64 ``(N_PARAMS,)`` from :func:`strategies.kernel_params.engine_params`.

Output of :func:`engine_kernel`: float64 ``(k, N_COL)``, one row per candidate in generation
order (registry order, then each strategy's own order), columns ``C_*``; plus a flag set when two
kept candidates tie on (confidence, rr, strategy) and only the signal id (a hash the kernel
cannot compute) can order them: the caller then re-resolves with ids.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from strategies.kernel_round import price_decimals_nb, round_decimals, round_price_nb

# --- cluster table columns (canonical order of the ClusterTable arrays)
T_LEVEL, T_LOW, T_HIGH, T_STRENGTH, T_USD, T_IS_SHORT, T_ACTIVE, T_AGE_S, T_PEAK_USD, T_PEAK_STRENGTH = range(10)
N_TAB = 10

# --- parameter array indices (values from StrategySettings; flags are 0/1)
(P_HUNT_ON, P_SR_ON, P_BO_ON, P_SIZING_ON,
 P_HUNT_MIN_STRENGTH, P_HUNT_MAX_DISTANCE_PCT, P_HUNT_MIN_USD, P_HUNT_ATR_MULT, P_HUNT_ATR_FALLBACK_PCT,
 P_HUNT_AGAINST_BIAS, P_HUNT_SL_BUFFER_PCT, P_HUNT_TP_BUFFER_PCT,
 P_SR_MIN_STRENGTH, P_SR_BAND_PCT, P_SR_SL_BUFFER_PCT, P_SR_TP_BUFFER_PCT, P_SR_TARGET_MIN_STRENGTH,
 P_BO_LOOKBACK_BARS, P_BO_BAR_MINUTES, P_BO_MIN_USD, P_BO_MIN_STRENGTH, P_BO_SL_BUFFER_PCT, P_BO_TP_BUFFER_PCT,
 P_BO_TARGET_MIN_STRENGTH,
 P_MIN_RR, P_MIN_CONFIDENCE, P_MAX_STOP_PCT, P_MIN_TARGET_PCT,
 P_OI_HIGH_USD, P_OI_MID_USD, P_HIGH_MULT, P_MID_MULT, P_LOW_MULT, P_CROWDED_LONG_RATIO, P_CROWDED_SHORT_RATIO,
 P_FAVOURED_MULT,
 P_LEVELS_COUNT, P_LEVELS_MIN_STRENGTH, P_LEVELS_MAX_DISTANCE_PCT, P_ZONE_PCT) = range(40)
N_PARAMS = 40

# --- output columns
(C_STRATEGY, C_DIRECTION, C_CLUSTER, C_TARGET_CLUSTER, C_ENTRY, C_STOP, C_TARGET, C_CONFIDENCE, C_RR, C_RULE,
 C_OUTCOME, C_RANK, C_MULT, C_MULT_RAW) = range(14)
N_COL = 14

# strategy codes = registry order; directions; bias codes
S_HUNT, S_SR, S_BREAKOUT = 0, 1, 2
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
def hunt_stop_nb(tab: np.ndarray, long: bool, price: float, atr_value: float, atr_mult: float,
                 buffer_pct: float) -> float:
    """k x ATR stop; beyond the nearest opposite-side cluster if inside that distance; never in a cluster."""
    stop = price - atr_mult * atr_value if long else price + atr_mult * atr_value
    j = nearest_nb(tab, not long, -np.inf, price, not long)  # LONG: long clusters below; SHORT: short above
    if j >= 0:
        f = buffer_pct / 100.0
        if long and tab[j, T_HIGH] >= stop:
            edge = tab[j, T_LOW] * (1.0 - f)
            if edge < stop:
                stop = edge
        elif not long and tab[j, T_LOW] <= stop:
            edge = tab[j, T_HIGH] * (1.0 + f)
            if edge > stop:
                stop = edge
    return clear_of_clusters_nb(tab, stop, long, buffer_pct)


@njit(cache=True)
def _emit(out: np.ndarray, k: int, strategy: int, long: bool, i: int, j: int, price: float, stop: float,
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


@njit(cache=True)
def _hunt(tab: np.ndarray, price: float, atr: float, bias: int, p: np.ndarray, out: np.ndarray, k: int) -> int:
    atr_value = atr if (np.isfinite(atr) and atr > 0) else price * p[P_HUNT_ATR_FALLBACK_PCT] / 100.0
    for i in range(tab.shape[0]):
        level = tab[i, T_LEVEL]
        above = level > price
        if not (tab[i, T_ACTIVE] != 0.0 and tab[i, T_STRENGTH] >= p[P_HUNT_MIN_STRENGTH]
                and distance_pct_nb(level, price) < p[P_HUNT_MAX_DISTANCE_PCT] and tab[i, T_USD] >= p[P_HUNT_MIN_USD]
                and (tab[i, T_IS_SHORT] != 0.0) == above):
            continue
        long = above
        target = target_before_nb(tab, i, long, price, p[P_HUNT_TP_BUFFER_PCT])
        stop = hunt_stop_nb(tab, long, price, atr_value, p[P_HUNT_ATR_MULT], p[P_HUNT_SL_BUFFER_PCT])
        opposed = (long and bias == BIAS_BEARISH) or (not long and bias == BIAS_BULLISH)
        conf = tab[i, T_STRENGTH] * (p[P_HUNT_AGAINST_BIAS] if opposed else 1.0)
        k = _emit(out, k, S_HUNT, long, i, -1, price, stop, target, conf)
    return k


@njit(cache=True)
def _support_resistance(tab: np.ndarray, price: float, p: np.ndarray, out: np.ndarray, k: int) -> int:
    f = p[P_SR_SL_BUFFER_PCT] / 100.0
    for long in (True, False):
        # LONG: support = long clusters below; SHORT: resistance = short clusters above
        i = nearest_nb(tab, not long, p[P_SR_MIN_STRENGTH], price, not long)
        if i < 0 or distance_pct_nb(tab[i, T_LEVEL], price) > p[P_SR_BAND_PCT]:
            continue
        j = nearest_nb(tab, long, p[P_SR_TARGET_MIN_STRENGTH], price, long)
        if j < 0:
            continue
        stop = tab[i, T_LOW] * (1.0 - f) if long else tab[i, T_HIGH] * (1.0 + f)
        stop = clear_of_clusters_nb(tab, stop, long, p[P_SR_SL_BUFFER_PCT])
        target = target_before_nb(tab, j, long, price, p[P_SR_TP_BUFFER_PCT])
        k = _emit(out, k, S_SR, long, i, j, price, stop, target, tab[i, T_STRENGTH])
    return k


@njit(cache=True)
def _breakout(tab: np.ndarray, price: float, p: np.ndarray, out: np.ndarray, k: int) -> int:
    window_s = p[P_BO_LOOKBACK_BARS] * p[P_BO_BAR_MINUTES] * 60.0
    f = p[P_BO_SL_BUFFER_PCT] / 100.0
    for i in range(tab.shape[0]):
        age = tab[i, T_AGE_S]
        short = tab[i, T_IS_SHORT] != 0.0
        level = tab[i, T_LEVEL]
        # broken recently, with the fuel, and price still beyond the level
        beyond = (level < price) if short else (level > price)
        if not (tab[i, T_ACTIVE] == 0.0 and age >= 0 and age <= window_s and tab[i, T_PEAK_USD] >= p[P_BO_MIN_USD]
                and tab[i, T_PEAK_STRENGTH] >= p[P_BO_MIN_STRENGTH] and beyond):
            continue
        long = short
        j = nearest_nb(tab, long, p[P_BO_TARGET_MIN_STRENGTH], price, long)
        if j < 0:
            continue
        stop = level * (1.0 - f) if long else level * (1.0 + f)
        stop = clear_of_clusters_nb(tab, stop, long, p[P_BO_SL_BUFFER_PCT])
        target = target_before_nb(tab, j, long, price, p[P_BO_TP_BUFFER_PCT])
        k = _emit(out, k, S_BREAKOUT, long, i, j, price, stop, target, tab[i, T_PEAK_STRENGTH])
    return k


@njit(cache=True)
def candidates_kernel(tab: np.ndarray, price: float, atr: float, bias: int, params: np.ndarray) -> np.ndarray:
    """Candidate rows of the enabled strategies, generation order; filters and outcome not applied."""
    n = tab.shape[0]
    if n == 0 or not (np.isfinite(price) and price > 0):
        return np.empty((0, N_COL))
    out = np.empty((2 * n + 2, N_COL))  # hunt <= n, support/resistance <= 2, breakout <= n
    k = 0
    if params[P_HUNT_ON] != 0.0:
        k = _hunt(tab, price, atr, bias, params, out, k)
    if params[P_SR_ON] != 0.0:
        k = _support_resistance(tab, price, params, out, k)
    if params[P_BO_ON] != 0.0:
        k = _breakout(tab, price, params, out, k)
    return out[:k]


@njit(cache=True)
def stop_inside_cluster_nb(tab: np.ndarray, stop: float) -> bool:
    """Whether ``stop`` lies within an active cluster's zone."""
    for k in range(tab.shape[0]):
        if tab[k, T_ACTIVE] != 0.0 and tab[k, T_LOW] <= stop and stop <= tab[k, T_HIGH]:
            return True
    return False


@njit(cache=True)
def rule_nb(row: np.ndarray, tab: np.ndarray, params: np.ndarray) -> int:
    """The first filter rule the candidate ``row`` fails (``R_PASS`` if none)."""
    entry, sl, tp = row[C_ENTRY], row[C_STOP], row[C_TARGET]
    ordered = (sl < entry and entry < tp) if row[C_DIRECTION] == D_LONG else (tp < entry and entry < sl)
    finite = np.isfinite(entry) and np.isfinite(sl) and np.isfinite(tp) and entry > 0 and sl > 0 and tp > 0
    if not (ordered and finite):
        return R_GEOMETRY
    # compared on the value the signal will carry, so an emitted signal never shows rr < min_rr
    if round_decimals(row[C_RR], RR_DECIMALS) < params[P_MIN_RR]:
        return R_MIN_RR
    if row[C_CONFIDENCE] < params[P_MIN_CONFIDENCE]:
        return R_MIN_CONFIDENCE
    if abs(entry - sl) / entry * 100.0 > params[P_MAX_STOP_PCT]:
        return R_MAX_STOP
    if abs(tp - entry) / entry * 100.0 < params[P_MIN_TARGET_PCT]:
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
def oi_multiplier_nb(total_oi: float, ls_ratio: float, long: bool, params: np.ndarray) -> float:
    """OI-tier multiplier x the favoured-side multiplier (unknown OI is the low tier; NaN ratio favours none)."""
    oi = total_oi if np.isfinite(total_oi) else 0.0
    if oi > params[P_OI_HIGH_USD]:
        tier = params[P_HIGH_MULT]
    elif oi > params[P_OI_MID_USD]:
        tier = params[P_MID_MULT]
    else:
        tier = params[P_LOW_MULT]
    favoured = (ls_ratio < params[P_CROWDED_SHORT_RATIO]) if long else (ls_ratio > params[P_CROWDED_LONG_RATIO])
    return tier * (params[P_FAVOURED_MULT] if favoured else 1.0)


@njit(cache=True)
def filter_kernel(rows: np.ndarray, tab: np.ndarray, params: np.ndarray) -> None:
    """``C_RULE`` of every candidate row (the first filter it fails, 0 if none), in place."""
    for r in range(rows.shape[0]):
        rows[r, C_RULE] = rule_nb(rows[r], tab, params)


@njit(cache=True)
def oi_multipliers_kernel(total_oi: np.ndarray, ls_ratio: np.ndarray, is_long: np.ndarray,
                          params: np.ndarray) -> np.ndarray:
    """``oi_multiplier_nb`` over arrays (``is_long`` as float64 0/1)."""
    out = np.empty(total_oi.shape[0])
    for k in range(total_oi.shape[0]):
        out[k] = oi_multiplier_nb(total_oi[k], ls_ratio[k], is_long[k] != 0.0, params)
    return out


@njit(cache=True)
def decide_kernel(rows: np.ndarray, tab: np.ndarray, total_oi: float, ls_ratio: float, params: np.ndarray) -> bool:
    """Filters, conflict resolution and the winner's size multiplier, in place on candidate ``rows``."""
    filter_kernel(rows, tab, params)
    tie = conflict_kernel(rows)
    if params[P_SIZING_ON] != 0.0:
        for r in range(rows.shape[0]):
            if rows[r, C_OUTCOME] == O_WINNER:
                raw = oi_multiplier_nb(total_oi, ls_ratio, rows[r, C_DIRECTION] == D_LONG, params)
                rows[r, C_MULT_RAW] = raw
                rows[r, C_MULT] = round_decimals(raw, 4)
    return tie


@njit(cache=True)
def engine_kernel(tab: np.ndarray, price: float, atr: float, bias: int, total_oi: float, ls_ratio: float,
                  params: np.ndarray) -> tuple[np.ndarray, bool]:
    """One bar of the engine: candidate rows with rule, outcome, rank and multiplier; the id-tie flag."""
    rows = candidates_kernel(tab, price, atr, bias, params)
    if rows.shape[0] == 0:
        return rows, False
    return rows, decide_kernel(rows, tab, total_oi, ls_ratio, params)


@njit(cache=True)
def levels_kernel(tab: np.ndarray, price: float, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Support (active long clusters below, nearest first) and resistance (active short above) levels."""
    n = tab.shape[0]
    sup = np.empty(n)
    res = np.empty(n)
    ns = 0
    nr = 0
    for k in range(n):
        lv = tab[k, T_LEVEL]
        if not (tab[k, T_ACTIVE] != 0.0 and tab[k, T_STRENGTH] >= params[P_LEVELS_MIN_STRENGTH]
                and distance_pct_nb(lv, price) <= params[P_LEVELS_MAX_DISTANCE_PCT]):
            continue
        if tab[k, T_IS_SHORT] == 0.0 and lv < price:
            sup[ns] = lv
            ns += 1
        elif tab[k, T_IS_SHORT] != 0.0 and lv > price:
            res[nr] = lv
            nr += 1
    count = int(params[P_LEVELS_COUNT])
    sup = np.sort(sup[:ns])[::-1][:count].copy()
    res = np.sort(res[:nr])[:count].copy()
    return sup, res
