"""The cohort ledger kernel (numba): consume, create, reduce, decay, one bar after another.

Cohorts live on a log-price grid: bin ``g`` (a global integer) covers ``[e^(g w), e^((g+1) w))``
and stands for its centre ``e^((g + 1/2) w)``. Each side keeps one float64 row of USD per bin over
a window of ``G`` bins starting at global bin ``origin``; the window re-centres (in whole bins)
when price drifts toward an edge. Per-side decay and proportional reduction are a lazy scale
factor, so a bar costs O(bins crossed + cohorts created + output window), never O(all cohorts).

The state is a handful of arrays (``LedgerState``). The batch path and the incremental path run
the very same ``run_bars`` on it, one call over many bars or one call per bar, so they agree
bit for bit; nothing in it looks past the bar being processed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

# Scalar state slots.
S_ORIGIN, S_SCALE_L, S_SCALE_S, S_HI_L, S_LO_S, S_LAST_OI, S_LAST_OI_TS, S_PREV_TS = range(8)
S_FUND, S_SHIFT, S_LS_AT_OI, S_RING_POS, S_SINCE_OI, S_SINCE_SPIKE, S_NBARS = range(8, 15)
S_ZPOS, S_ZN = 15, 17  # two slots each: stream 0 = OI deltas, stream 1 = bar USD volume
NS = 19

# Parameter slots.
(P_BINW, P_HALF_LIFE_S, P_MODE, P_SPIKE, P_SPIKE_Z, P_SPIKE_MIN_OBS, P_SPIKE_GAP, P_SPLIT_GAIN, P_VOL_RATIO,
 P_VOL_MIN_BODY, P_OI_SPREAD, P_OI_MAX_AGE_S, P_ENTRY, P_FUNDING, P_WIN_LO, P_WIN_HI, P_CHURN) = range(17)
NP = 17

MODE_AUTO, MODE_OI, MODE_VOL = 0, 1, 2
ENTRY_TYPICAL, ENTRY_CLOSE = 0, 1
RENORM_BELOW = 1e-100
# Ring columns: high, low, entry price, USD volume, long share.
R_HIGH, R_LOW, R_ENTRY, R_USD, R_SHARE = range(5)


@dataclass(slots=True)
class LedgerState:
    """Mutable kernel state: grid (2, G), scalars (NS,), bar ring (R, 5), spike rings (2, Z)."""

    grid: np.ndarray
    scal: np.ndarray
    ring: np.ndarray
    zring: np.ndarray

    @classmethod
    def empty(cls, grid_bins: int, ring_bars: int, spike_obs: int) -> "LedgerState":
        """A fresh ledger with nothing in it."""
        scal = np.zeros(NS, dtype=np.float64)
        scal[S_SCALE_L] = scal[S_SCALE_S] = 1.0
        scal[S_HI_L] = -1.0
        scal[S_LO_S] = float(grid_bins)
        scal[S_LAST_OI] = scal[S_LAST_OI_TS] = scal[S_PREV_TS] = scal[S_LS_AT_OI] = np.nan
        return cls(grid=np.zeros((2, grid_bins)), scal=scal, ring=np.zeros((max(ring_bars, 1), 5)),
                   zring=np.zeros((2, max(spike_obs, 1))))

    def copy(self) -> "LedgerState":
        """An independent copy."""
        return LedgerState(self.grid.copy(), self.scal.copy(), self.ring.copy(), self.zring.copy())


@njit(cache=True)
def _bin(price: float, w: float) -> int:
    return int(math.floor(math.log(price) / w))


@njit(cache=True)
def _shift(grid: np.ndarray, sc: np.ndarray, d: int) -> None:
    """Move every bin's content from local j to j + d (content pushed off the window is dropped)."""
    g = grid.shape[1]
    if d == 0:
        return
    if abs(d) >= g:
        grid[:, :] = 0.0
    elif d > 0:
        for side in range(2):
            for j in range(g - 1, d - 1, -1):
                grid[side, j] = grid[side, j - d]
            grid[side, :d] = 0.0
    else:
        for side in range(2):
            for j in range(0, g + d):
                grid[side, j] = grid[side, j - d]
            grid[side, g + d:] = 0.0
    sc[S_HI_L] = min(max(sc[S_HI_L] + d, -1.0), g - 1.0)
    sc[S_LO_S] = max(min(sc[S_LO_S] + d, float(g)), 0.0)


@njit(cache=True)
def _consume(grid: np.ndarray, sc: np.ndarray, high: float, low: float, w: float, ev: np.ndarray) -> None:
    """Remove longs whose bin centre is >= low and shorts whose centre is <= high; record the breaks."""
    g = grid.shape[1]
    origin = int(sc[S_ORIGIN])
    jl = int(math.ceil(math.log(low) / w - 0.5)) - origin
    hi = int(sc[S_HI_L])
    tot = 0.0
    pw = 0.0
    for j in range(max(jl, 0), hi + 1):
        x = grid[0, j]
        if x != 0.0:
            tot += x
            pw += x * math.exp((origin + j + 0.5) * w)
            grid[0, j] = 0.0
    if jl <= hi:
        sc[S_HI_L] = max(jl - 1, -1)
    if tot > 0.0:
        ev[0] = tot * sc[S_SCALE_L]
        ev[1] = pw / tot
    js = int(math.floor(math.log(high) / w - 0.5)) - origin
    lo = int(sc[S_LO_S])
    tot = 0.0
    pw = 0.0
    for j in range(lo, min(js, g - 1) + 1):
        x = grid[1, j]
        if x != 0.0:
            tot += x
            pw += x * math.exp((origin + j + 0.5) * w)
            grid[1, j] = 0.0
    if js >= lo:
        sc[S_LO_S] = min(js + 1, g)
    if tot > 0.0:
        ev[2] = tot * sc[S_SCALE_S]
        ev[3] = pw / tot


@njit(cache=True)
def _create(grid: np.ndarray, sc: np.ndarray, entry: float, usd: float, share: float, w: float,
            tw: np.ndarray, fl: np.ndarray, fs: np.ndarray, cut_l: int, cut_s: int) -> float:
    """Open cohorts at ``entry`` across tiers; skip any whose bin is at/over the cut (already crossed).

    ``cut_l``/``cut_s`` are global bins: a long at bin >= cut_l or a short at bin <= cut_s would
    have been liquidated by a later bar of the window. Returns the USD actually added.
    """
    g = grid.shape[1]
    origin = int(sc[S_ORIGIN])
    added = 0.0
    for t in range(tw.size):
        for side in range(2):
            part = usd * tw[t] * (share if side == 0 else 1.0 - share)
            lp = entry * (fl[t] if side == 0 else fs[t])
            if part <= 0.0 or not (lp > 0.0):
                continue
            b = _bin(lp, w)
            if (side == 0 and b >= cut_l) or (side == 1 and b <= cut_s):
                continue
            j = b - origin
            if j < 0 or j >= g:
                continue
            grid[side, j] += part / sc[S_SCALE_L + side]
            added += part
            if side == 0:
                sc[S_HI_L] = max(sc[S_HI_L], float(j))
            else:
                sc[S_LO_S] = min(sc[S_LO_S], float(j))
    return added


@njit(cache=True)
def _spike(zring: np.ndarray, sc: np.ndarray, stream: int, x: float, p: np.ndarray) -> bool:
    """Z-score of ``x`` against the stream's past observations, then remember ``x``."""
    z_cap = zring.shape[1]
    n = int(sc[S_ZN + stream])
    ok = False
    if n >= p[P_SPIKE_MIN_OBS]:
        mean = 0.0
        for k in range(n):
            mean += zring[stream, k]
        mean /= n
        var = 0.0
        for k in range(n):
            var += (zring[stream, k] - mean) ** 2
        std = math.sqrt(var / n)
        z = (x - mean) / std if std > 0.0 else (math.inf if x > mean else 0.0)
        ok = z >= p[P_SPIKE_Z] and sc[S_SINCE_SPIKE] >= p[P_SPIKE_GAP]
    pos = int(sc[S_ZPOS + stream])
    zring[stream, pos] = x
    sc[S_ZPOS + stream] = (pos + 1) % z_cap
    sc[S_ZN + stream] = min(n + 1, z_cap)
    return ok


@njit(cache=True)
def _bar_share(o: float, h: float, low: float, c: float, taker: float, gain: float) -> float:
    if taker == taker:  # not NaN: taker buy share of the bar's volume
        return min(max(taker, 0.0), 1.0)
    if h > low:
        return min(max(0.5 + 0.5 * gain * (c - o) / (h - low), 0.0), 1.0)
    return 0.5


@njit(cache=True)
def _spread_oi(grid: np.ndarray, sc: np.ndarray, ring: np.ndarray, d: float, ls_share: float, p: np.ndarray,
               tw: np.ndarray, fl: np.ndarray, fs: np.ndarray) -> float:
    """Open ``d`` USD over the bars since the last OI value, by USD volume, at each bar's entry price."""
    r = ring.shape[0]
    pos = int(sc[S_RING_POS])
    n_w = min(int(sc[S_SINCE_OI]), r) if p[P_OI_SPREAD] > 0 else 1
    n_w = max(n_w, 1)
    w = p[P_BINW]
    total = 0.0
    for q in range(n_w):
        total += ring[(pos - 1 - q) % r, R_USD]
    big = 1 << 60
    cut_l, cut_s = big, -big
    added = 0.0
    for q in range(n_w):
        k = (pos - 1 - q) % r
        wgt = ring[k, R_USD] / total if total > 0.0 else 1.0 / n_w
        share = ls_share if ls_share == ls_share else ring[k, R_SHARE]
        added += _create(grid, sc, ring[k, R_ENTRY], d * wgt, share, w, tw, fl, fs, cut_l, cut_s)
        # Older bars' cohorts must also survive this bar's range.
        cut_l = min(cut_l, int(math.ceil(math.log(ring[k, R_LOW]) / w - 0.5)))
        cut_s = max(cut_s, int(math.floor(math.log(ring[k, R_HIGH]) / w - 0.5)))
    return added


@njit(cache=True)
def run_bars(ts: np.ndarray, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray,
             taker: np.ndarray, oi: np.ndarray, lsp: np.ndarray, fund: np.ndarray, emit: np.ndarray,
             p: np.ndarray, tw: np.ndarray, fl: np.ndarray, fs: np.ndarray,
             grid: np.ndarray, sc: np.ndarray, ring: np.ndarray, zring: np.ndarray,
             out_base: np.ndarray, out_l: np.ndarray, out_s: np.ndarray, row0: int,
             ev: np.ndarray, info: np.ndarray) -> int:
    """Advance the ledger over the bars; write snapshots for ``emit`` bars from row ``row0``.

    ``ts`` is the bar open in seconds; ``oi`` the open interest known at the bar's close (NaN:
    nothing new); ``lsp`` the long fraction r/(1+r) of the long/short ratio (NaN: unknown);
    ``fund`` the funding rate settled in the bar; ``taker`` the taker-buy share (NaN: unknown).
    ``ev[i]`` = (long USD, long price, short USD, short price) liquidated in bar i;
    ``info[i]`` = (source used: 1 OI / 2 volume / 0 none, USD created). Returns rows written.
    """
    g = grid.shape[1]
    r = ring.shape[0]
    w = p[P_BINW]
    mode = int(p[P_MODE])
    win_lo = int(p[P_WIN_LO])
    width = out_l.shape[1]
    row = row0
    for i in range(ts.size):
        t = ts[i]
        gc = _bin(c[i], w)
        if sc[S_NBARS] == 0:
            sc[S_ORIGIN] = gc - g // 2
        else:
            jc = gc - int(sc[S_ORIGIN])
            if jc < g // 4 or jc > g - g // 4:
                _shift(grid, sc, int(sc[S_ORIGIN]) - (gc - g // 2))
                sc[S_ORIGIN] = gc - g // 2
        # 1. consume: what this bar crossed, before anything it opens.
        _consume(grid, sc, h[i], low[i], w, ev[i])
        # 2./3. create or reduce.
        entry = (h[i] + low[i] + c[i]) / 3.0 if p[P_ENTRY] == ENTRY_TYPICAL else c[i]
        usd_vol = v[i] * entry
        share = _bar_share(o[i], h[i], low[i], c[i], taker[i], p[P_SPLIT_GAIN])
        pos = int(sc[S_RING_POS])
        ring[pos, R_HIGH] = h[i]
        ring[pos, R_LOW] = low[i]
        ring[pos, R_ENTRY] = entry
        ring[pos, R_USD] = usd_vol
        ring[pos, R_SHARE] = share
        sc[S_RING_POS] = (pos + 1) % r
        sc[S_SINCE_OI] = min(sc[S_SINCE_OI] + 1.0, float(r))
        last = sc[S_LAST_OI]
        x = oi[i]
        arrival = x == x and x != last
        fresh = last == last and t - sc[S_LAST_OI_TS] <= p[P_OI_MAX_AGE_S]
        use_oi = mode == MODE_OI or (mode == MODE_AUTO and (arrival or fresh))
        created = 0.0
        if use_oi:
            info[i, 0] = 1.0
            if arrival:
                if last == last and (mode == MODE_OI or fresh):
                    d = x - last
                    ok = True
                    if p[P_SPIKE] > 0:
                        ok = _spike(zring, sc, 0, d, p)
                    if d > 0.0 and ok:
                        ls_share = np.nan
                        p1 = lsp[i]
                        if p1 == p1:
                            p0 = sc[S_LS_AT_OI] if sc[S_LS_AT_OI] == sc[S_LS_AT_OI] else p1
                            ls_share = min(max((p1 * x - p0 * last) / d, 0.0), 1.0)
                        created = _spread_oi(grid, sc, ring, d, ls_share, p, tw, fl, fs)
                        if p[P_SPIKE] > 0:
                            sc[S_SINCE_SPIKE] = 0.0
                    elif d < 0.0:
                        keep = 1.0 - min(-d / last, 1.0)
                        sc[S_SCALE_L] *= keep
                        sc[S_SCALE_S] *= keep
                sc[S_LAST_OI] = x
                sc[S_LAST_OI_TS] = t
                sc[S_SINCE_OI] = 0.0
                if lsp[i] == lsp[i]:
                    sc[S_LS_AT_OI] = lsp[i]
            if p[P_CHURN] > 0.0 and usd_vol > 0.0 and sc[S_LAST_OI] == sc[S_LAST_OI]:
                # Gross turnover under a flat OI: this share of the bar's volume closes old
                # positions pro rata and reopens at the bar's price.
                amount = p[P_CHURN] * usd_vol
                keep = 1.0 - min(amount / sc[S_LAST_OI], 1.0)
                sc[S_SCALE_L] *= keep
                sc[S_SCALE_S] *= keep
                big = 1 << 60
                created += _create(grid, sc, entry, amount, share, w, tw, fl, fs, big, -big)
        elif mode != MODE_OI:
            info[i, 0] = 2.0
            body = abs(c[i] - o[i]) / (h[i] - low[i]) if h[i] > low[i] else 0.0
            ok = True
            if p[P_SPIKE] > 0:
                ok = _spike(zring, sc, 1, usd_vol, p)
            if ok and body >= p[P_VOL_MIN_BODY] and usd_vol > 0.0:
                big = 1 << 60
                created = _create(grid, sc, entry, usd_vol * p[P_VOL_RATIO], share, w, tw, fl, fs, big, -big)
                if p[P_SPIKE] > 0:
                    sc[S_SINCE_SPIKE] = 0.0
        info[i, 1] = created
        # 4. decay: funding erodes isolated margin (liquidation prices follow the funding index),
        # and positions close unseen with a half-life.
        if p[P_FUNDING] > 0 and fund[i] == fund[i] and fund[i] != 0.0:
            sc[S_FUND] += fund[i]
            target = float(round(sc[S_FUND] / w))
            if target != sc[S_SHIFT]:
                _shift(grid, sc, int(target - sc[S_SHIFT]))
                sc[S_SHIFT] = target
        prev = sc[S_PREV_TS]
        if p[P_HALF_LIFE_S] > 0 and prev == prev and t > prev:
            k = 0.5 ** ((t - prev) / p[P_HALF_LIFE_S])
            sc[S_SCALE_L] *= k
            sc[S_SCALE_S] *= k
        for side in range(2):
            if sc[S_SCALE_L + side] < RENORM_BELOW:
                for j in range(g):
                    grid[side, j] *= sc[S_SCALE_L + side]
                sc[S_SCALE_L + side] = 1.0
        sc[S_PREV_TS] = t
        sc[S_NBARS] += 1.0
        sc[S_SINCE_SPIKE] += 1.0
        if emit[i]:
            base = gc - win_lo
            out_base[row] = base
            origin = int(sc[S_ORIGIN])
            for k in range(width):
                j = base + k - origin
                if 0 <= j < g:
                    out_l[row, k] = grid[0, j] * sc[S_SCALE_L]
                    out_s[row, k] = grid[1, j] * sc[S_SCALE_S]
                else:
                    out_l[row, k] = 0.0
                    out_s[row, k] = 0.0
            row += 1
    return row - row0
