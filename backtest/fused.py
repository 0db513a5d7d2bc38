"""The fused decision loop: every bar's tracker update, magnet read, ATR and engine in one numba call.

``Decider.step`` does, per bar, tracker -> magnets -> context -> engine -> cooldown gate, with the
numbers computed by njit kernels (``bot.clusters.kernel*``, ``strategies.kernel``, ``bot.decide.
atr_kernel``). This module runs those very kernels for all bars of a synthetic heatmap series
inside one compiled loop (no Python object per bar), and records only what the Python side needs
afterwards: each candidate row the engine produced, with the state row of its cluster and the
table rows its reason reads, the per-bar context of candidate bars (bias, asymmetry, ATR, OI,
L/S, support/resistance levels), the full cluster state of bars the kernel cannot settle alone
(two clusters at one price and side, or a conflict only a signal id can break) and of the bars
kept for the report, and an optional per-bar fingerprint. ``backtest.fusedpost`` turns that into
signals through the engine's own Python tail and the cooldown gate, exactly as the runner does.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numba import njit

from bot.clusters.kernel import (F_DIST, F_HIGH, F_LEVEL, F_LOW, F_PEAK_STRENGTH, F_PEAK_USD, F_STRENGTH, F_USD,
                                 I_ACTIVE, I_BROKEN_AT, I_FIRST_SEEN, I_KEY, I_SIDE, NF, NI)
from bot.clusters.kernel_group import NG, group_kernel_lp, level_prices_kernel, log_kernel
from bot.clusters.kernel_track import track_apply
from bot.clusters.magnets import cascade_nb, magnets_nb
from bot.decide import ATR_BARS, atr_kernel
from strategies import kernel as K

CASCADE_DT = np.dtype([("clusters", np.int64), ("usd", np.float64), ("first_price", np.float64),
                       ("end_price", np.float64)])
"""A side's cascade read (``bot.domain.CascadeRead``; ``clusters`` 0: none)."""
BAR_DT = np.dtype([("bar", np.int64), ("bias", np.int64), ("asym", np.float64), ("atr", np.float64),
                   ("oi", np.float64), ("ls", np.float64), ("fallback", np.int64), ("first", np.int64),
                   ("count", np.int64), ("winner", np.int64), ("cascade_up", CASCADE_DT),
                   ("cascade_down", CASCADE_DT)])
"""One candidate bar's record: its bar, magnet read (bias code, asymmetry, cascades), ATR, OI, L/S,
fallback flags, its first candidate row, their count and the winner's row (-1: none)."""
# flags of a fallback bar (``fallback``)
FB_TIE_LEVEL, FB_TIE_ID = 1, 2


@njit(cache=True)
def table_kernel(cf: np.ndarray, ci: np.ndarray, n: int, ts_ns: int, zone_pct: float) -> np.ndarray:
    """The engine's cluster table (``strategies.levels._build_table``) from state rows, in row order."""
    raw = np.empty((n, K.N_TAB))
    for r in range(n):
        raw[r, K.T_LEVEL] = cf[r, F_LEVEL]
        raw[r, K.T_LOW] = cf[r, F_LOW]
        raw[r, K.T_HIGH] = cf[r, F_HIGH]
        raw[r, K.T_STRENGTH] = cf[r, F_STRENGTH]
        raw[r, K.T_USD] = cf[r, F_USD]
        raw[r, K.T_IS_SHORT] = 1.0 if ci[r, I_SIDE] == 1 else 0.0
        raw[r, K.T_ACTIVE] = 1.0 if ci[r, I_ACTIVE] == 1 else 0.0
        broken = ci[r, I_BROKEN_AT]
        raw[r, K.T_AGE_S] = (ts_ns - broken) / 1e9 if broken >= 0 else np.nan
        raw[r, K.T_PEAK_USD] = cf[r, F_PEAK_USD]
        raw[r, K.T_PEAK_STRENGTH] = cf[r, F_PEAK_STRENGTH]
    return K.zone_kernel(raw, zone_pct)


@njit(cache=True)
def cascade_into(rec: Any, tab: np.ndarray, price: float, up: bool, gap_pct: float) -> None:
    """Write the cascade read of one side of ``price`` over the engine's table into ``rec`` (``CASCADE_DT``)."""
    first, last, count, usd = cascade_nb(tab[:, K.T_LEVEL], tab[:, K.T_USD], tab[:, K.T_IS_SHORT], tab[:, K.T_ACTIVE],
                                         price, up, gap_pct)
    rec.clusters = count
    rec.usd = usd
    rec.first_price = tab[first, K.T_LEVEL] if count > 0 else np.nan
    rec.end_price = tab[last, K.T_LEVEL] if count > 0 else np.nan


@njit(cache=True)
def _grow_records(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` when it has ``need`` records, else a copy with at least twice as many."""
    if need <= a.shape[0]:
        return a
    out = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _grow(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` when it has ``need`` rows, else a copy with at least twice the rows (numba compiles one
    version per dtype)."""
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _mix(h: np.int64, x: np.int64) -> np.int64:
    # a 64-bit multiply-xorshift step (wrapping); only equality between two runs matters
    h = (h ^ x) * np.int64(0x100000001B3)
    return h ^ (h >> np.int64(29))


@njit(cache=True)
def _fingerprint(cf: np.ndarray, ci: np.ndarray, n: int, rows: np.ndarray) -> np.int64:
    """Hash of a bar's cluster rows (key, state, level, USD, strength) and engine rows (their float bits)."""
    h = np.int64(n)
    bits = np.ascontiguousarray(cf[:n]).view(np.int64)
    for r in range(n):
        h = _mix(h, ci[r, I_KEY])
        h = _mix(h, ci[r, I_ACTIVE])
        for c in (F_LEVEL, F_USD, F_STRENGTH):
            h = _mix(h, bits[r, c])
    row_bits = np.ascontiguousarray(rows).view(np.int64)
    for r in range(rows.shape[0]):
        for c in range(rows.shape[1]):
            h = _mix(h, row_bits[r, c])
    return h


@njit(cache=True, nogil=True)
def group_rows(base, long32, short32, snap_price, grid, grid_lp, grid_base, cparams, tier_lev, tier_long, tier_short,
               dist_lev, dist_logd, j0, j1):  # pragma: no cover - numba
    """``group_kernel`` of series rows ``[j0, j1)``: the rows stacked and each row's offsets.

    The snapshot exactly as ``make_snapshot`` trims it: zero bins cut at both ends, prices from
    ``grid`` (``level_prices_kernel`` over every global bin from ``grid_base``: the same doubles,
    since (base + k) + 0.5 is exact for integer bins, without an exp per level and bar) and their
    logs from ``grid_lp`` (``log_kernel``: the logs ``group_kernel`` would take). Needs
    nothing but the snapshots, so it runs ahead of the decisions on the other core.
    """
    off = np.zeros(j1 - j0 + 1, np.int64)
    out = np.empty((64 * (j1 - j0) + 64, NG))
    k = 0
    for j in range(j0, j1):
        row_l, row_s = long32[j], short32[j]
        lo, hi = 0, 0
        for b in range(row_l.size):
            if row_l[b] > 0 or row_s[b] > 0:
                lo = b
                break
        for b in range(row_l.size - 1, -1, -1):
            if row_l[b] > 0 or row_s[b] > 0:
                hi = b + 1
                break
        a, b = base[j] + lo - grid_base, base[j] + hi - grid_base
        g = group_kernel_lp(grid[a:b], grid_lp[a:b], row_l[lo:hi].astype(np.float64), row_s[lo:hi].astype(np.float64), snap_price[j],
                         cparams, tier_lev, tier_long, tier_short, dist_lev, dist_logd)
        out = _grow(out, k + g.shape[0])
        for r in range(g.shape[0]):
            out[k + r] = g[r]
        k += g.shape[0]
        off[j - j0 + 1] = k
    return out[:k], off


@njit(cache=True, nogil=True)
def decide_rows(cf, ci, meta, meta_f, ring, cparams, eparams, groups, g_off, j0, j1, snap_price, snap_ts, high, low,
                close, trade, oi, ls, bias_threshold, cascade_gap_pct, keep_from, want_fp, recent, n_recent,
                nc_base, fps):  # pragma: no cover - numba
    """Bars ``[j0, j1)``: tracker (``track_apply`` on the grouped rows), magnets, ATR, engine; see
    the module docstring for what is recorded. ``recent`` (3, ATR_BARS + 1) and ``n_recent`` (1,)
    carry the ATR window across calls; ``nc_base`` is the number of candidate rows recorded before."""
    zone_pct = eparams.zone_pct
    n_lev = eparams.levels.count
    rh, rl, rc = recent[0], recent[1], recent[2]
    info = np.empty(256, BAR_DT)
    levels = np.full((256, 2 * max(n_lev, 1)), np.nan)
    cand = np.empty((1024, K.N_COL))
    cand_tab = np.empty((1024, 2 * K.N_TAB))
    cand_f = np.empty((1024, NF))
    cand_i = np.empty((1024, NI), np.int64)
    dump_f = np.empty((256, NF))
    dump_i = np.empty((256, NI), np.int64)
    dump_bar = np.empty((256, 1), np.int64)  # the bar of each dumped row
    nb = nc = nd = 0
    engine_bars = 0
    no_rows = np.empty((0, K.N_COL))
    for j in range(j0, j1):
        if n_recent[0] == ATR_BARS + 1:  # the runner's deque(maxlen=ATR_BARS + 1)
            for k in range(ATR_BARS):
                rh[k], rl[k], rc[k] = rh[k + 1], rl[k + 1], rc[k + 1]
            n_recent[0] -= 1
        q = n_recent[0]
        rh[q], rl[q], rc[q] = high[j], low[j], close[j]
        n_recent[0] += 1
        price, ts = snap_price[j], snap_ts[j]
        g = groups[g_off[j - j0]:g_off[j - j0 + 1]]
        n, cf, ci = track_apply(cf, ci, meta, meta_f, ring, cparams, g, price, ts, high[j], low[j])
        rows = no_rows
        fallback = 0
        if trade[j]:
            engine_bars += 1
            tab = table_kernel(cf, ci, n, ts, zone_pct)
            for r in range(1, n):
                # rows are in (level, side, key) order and keys grow with birth, so only a full tie
                # on (level, side, birth) needs the string id that orders the Python table
                if (cf[r, F_LEVEL] == cf[r - 1, F_LEVEL] and ci[r, I_SIDE] == ci[r - 1, I_SIDE]
                        and ci[r, I_FIRST_SEEN] == ci[r - 1, I_FIRST_SEEN]):
                    fallback = FB_TIE_LEVEL
            above, below, asym, bias = magnets_nb(cf[:n, F_LEVEL], cf[:n, F_USD], cf[:n, F_DIST], ci[:n, I_SIDE],
                                                  ci[:n, I_ACTIVE], price, bias_threshold)
            atr = atr_kernel(rh, rl, rc, n_recent[0])
            oi_v = oi[j] if np.isfinite(oi[j]) and oi[j] != 0 else 0.0
            ls_v = ls[j] if np.isfinite(ls[j]) and ls[j] != 0 else 1.0
            rows, tie = K.engine_kernel(tab, price, atr, bias, oi_v, ls_v, eparams)
            if tie and fallback == 0:
                fallback = FB_TIE_ID
            if rows.shape[0] > 0 or fallback:
                info = _grow_records(info, nb + 1)
                levels = _grow(levels, nb + 1)
                winner = -1
                for r in range(rows.shape[0]):
                    if rows[r, K.C_OUTCOME] == K.O_WINNER:
                        winner = r
                rec = info[nb]
                rec.bar, rec.bias, rec.asym, rec.atr = j, bias, asym, atr
                rec.oi, rec.ls, rec.fallback = oi_v, ls_v, fallback
                rec.first, rec.count, rec.winner = nc_base + nc, rows.shape[0], winner
                cascade_into(rec.cascade_up, tab, price, True, cascade_gap_pct)
                cascade_into(rec.cascade_down, tab, price, False, cascade_gap_pct)
                levels[nb, :] = np.nan
                if winner >= 0 and fallback == 0:
                    sup, res = K.levels_kernel(tab, price, eparams)
                    levels[nb, : sup.size] = sup
                    levels[nb, n_lev: n_lev + res.size] = res
                need = nc + rows.shape[0]
                cand, cand_tab = _grow(cand, need), _grow(cand_tab, need)
                cand_f, cand_i = _grow(cand_f, need), _grow(cand_i, need)
                for r in range(rows.shape[0]):
                    i, t = int(rows[r, K.C_CLUSTER]), int(rows[r, K.C_TARGET_CLUSTER])
                    cand[nc] = rows[r]
                    cand_tab[nc, : K.N_TAB] = tab[i]
                    if t >= 0:
                        cand_tab[nc, K.N_TAB:] = tab[t]
                    else:
                        cand_tab[nc, K.N_TAB:] = np.nan
                    cand_f[nc], cand_i[nc] = cf[i], ci[i]
                    nc += 1
                nb += 1
        if fallback or j >= keep_from:
            dump_f, dump_i, dump_bar = _grow(dump_f, nd + n), _grow(dump_i, nd + n), _grow(dump_bar, nd + n)
            for r in range(n):
                dump_f[nd], dump_i[nd] = cf[r], ci[r]
                dump_bar[nd, 0] = j
                nd += 1
        if want_fp:
            fps[j] = _fingerprint(cf, ci, n, rows)
    return (cf, ci, info[:nb], levels[:nb], cand[:nc], cand_tab[:nc], cand_f[:nc], cand_i[:nc], dump_f[:nd],
            dump_i[:nd], dump_bar[:nd], engine_bars)


CHUNK_BARS = 4096  # bars grouped per step of the pipeline


def fused_synthetic(state: Any, cparams: np.ndarray, eparams: np.ndarray, series: Any, tiers: tuple[np.ndarray, ...],
                    high: np.ndarray, low: np.ndarray, close: np.ndarray, trade: np.ndarray, oi: np.ndarray,
                    ls: np.ndarray, bias_threshold: float, cascade_gap_pct: float, keep_from: int,
                    want_fp: bool) -> tuple[Any, ...]:
    """Every bar of ``series`` (row j = valid bar j) through the decision kernels, on two cores.

    A pipeline of chunks: a worker thread groups chunk k+1 (``group_rows``) while this thread decides
    chunk k (``decide_rows``); all release the GIL. The decisions run strictly in bar
    order on one thread, so the result is the same as one loop's. Returns (cf, ci, info, levels,
    cand, cand_tab, cand_f, cand_i, dump_f, dump_i, dump_bar, fingerprints, engine_bars).
    """
    n = len(series)
    cf, ci, meta, meta_f, ring = state
    price = np.ascontiguousarray(series.price, dtype=np.float64)
    ts = np.ascontiguousarray(series.ts, dtype=np.int64)
    own = getattr(series, "group_rows", None)  # a series that groups its own rows (stored snapshots)
    if own is None:
        base = np.ascontiguousarray(series.base, dtype=np.int64)
        long32, short32 = np.ascontiguousarray(series.long_usd), np.ascontiguousarray(series.short_usd)
        bw = float(series.bin_width)
        grid_base = int(base.min()) if n else 0
        grid = level_prices_kernel(grid_base, (int(base.max()) - grid_base + long32.shape[1]) if n else 0, bw)
        grid_lp = log_kernel(grid)
    recent, n_recent = np.zeros((3, ATR_BARS + 1)), np.zeros(1, np.int64)
    fps = np.zeros(n if want_fp else 0, np.int64)
    bounds = [(a, min(a + CHUNK_BARS, n)) for a in range(0, n, CHUNK_BARS)] or [(0, 0)]  # (0, 0): empty outputs
    parts: list[tuple[np.ndarray, ...]] = []
    engine_bars = nc = 0

    def group(j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
        if own is not None:
            return own(j0, j1, cparams, tiers)
        return group_rows(base, long32, short32, price, grid, grid_lp, grid_base, cparams, *tiers, j0, j1)

    # one worker: grouping with two workers (three threads on two cores) measured no faster
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="liqbot-group") as pool:
        ahead = pool.submit(group, *bounds[0])
        for k, (j0, j1) in enumerate(bounds):
            groups, offsets = ahead.result()
            if k + 1 < len(bounds):
                ahead = pool.submit(group, *bounds[k + 1])
            out = decide_rows(cf, ci, meta, meta_f, ring, cparams, eparams, groups, offsets, j0, j1, price, ts, high,
                              low, close, trade, oi, ls, bias_threshold, cascade_gap_pct, keep_from, want_fp, recent,
                              n_recent, nc, fps)
            cf, ci = out[0], out[1]
            parts.append(out[2:11])
            nc += out[4].shape[0]
            engine_bars += int(out[11])
    cols = [np.concatenate([p[c] for p in parts]) for c in range(9)]
    return (cf, ci, *cols, fps, engine_bars)
