"""The simulator's path kernel (numba): GARCH volatility, jumps, and liquidation cascades.

Leveraged open interest lives on a log-price grid of liquidation prices, one array per side,
with a lazy global decay factor (positions closed unseen) so a bar costs O(bins crossed),
not O(cohorts). Per bar, in this order:

1. the bar's move: GARCH(1,1) variance x Student-t innovation, plus a jump when one is due;
2. cascade: long cohorts at or above the bar's low and short cohorts at or below its high
   are liquidated; their USD pushes the low (high) and the close further, which may reach
   more cohorts: repeat until nothing new is hit;
3. open interest loses what was liquidated and what decayed, and new cohorts open at the
   bar's typical price (never liquidated by the bar that creates them), split long/short by a
   slowly wandering long/short ratio and across leverage tiers.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _grid_index(price: float, grid_lo: float, step: float, n: int) -> int:
    i = int(np.floor((np.log(price) - grid_lo) / step))
    return min(max(i, 0), n - 1)


@njit(cache=True)
def simulate_path(p0: float, z: np.ndarray, jump: np.ndarray, wick_up: np.ndarray, wick_dn: np.ndarray,
                  create_noise: np.ndarray, ls_noise: np.ndarray, var0: float, omega: float, alpha: float,
                  beta: float, cascade_k: float, close_share: float, oi_background: float, oi_leveraged: float,
                  churn: float, refill: float, leverage: np.ndarray, tier_weight: np.ndarray, maint: float,
                  grid_step: float, grid_half_range: float, ls_phi: float, ls_sigma: float,
                  ) -> tuple[np.ndarray, ...]:
    """Simulate ``z.size`` bars from price ``p0``; returns o, h, l, c, oi_usd, ls_ratio, liq_long, liq_short."""
    n = z.size
    o = np.empty(n)
    h = np.empty(n)
    lo_ = np.empty(n)
    c = np.empty(n)
    oi = np.empty(n)
    lsr = np.empty(n)
    liq_long = np.zeros(n)
    liq_short = np.zeros(n)
    grid_lo = np.log(p0) - grid_half_range
    n_grid = int(2.0 * grid_half_range / grid_step) + 1
    long_usd = np.zeros(n_grid)   # stored / scale = true USD
    short_usd = np.zeros(n_grid)
    long_top = -1                 # highest long bin that may hold USD
    short_bot = n_grid            # lowest short bin that may hold USD
    scale = 1.0
    lev_oi = 0.0
    var = var0
    x = 0.0                       # log long/short ratio, AR(1)
    prev = p0
    for i in range(n):
        scale *= 1.0 - churn
        lev_oi *= 1.0 - churn
        if scale < 1e-100:        # renormalize before the lazy factor underflows
            long_usd *= scale
            short_usd *= scale
            scale = 1.0
        sig = np.sqrt(var)
        op = prev
        cl = op * np.exp(sig * z[i] + jump[i])
        hi = max(op, cl) * np.exp(sig * wick_up[i])
        lw = min(op, cl) * np.exp(-sig * wick_dn[i])
        total_oi = oi_background + lev_oi
        for _ in range(64):
            new_long = 0.0
            new_short = 0.0
            li = _grid_index(lw, grid_lo, grid_step, n_grid)
            if long_top >= li:
                for j in range(li, long_top + 1):
                    new_long += long_usd[j]
                    long_usd[j] = 0.0
                long_top = li - 1
            si = _grid_index(hi, grid_lo, grid_step, n_grid)
            if short_bot <= si:
                for j in range(short_bot, si + 1):
                    new_short += short_usd[j]
                    short_usd[j] = 0.0
                short_bot = si + 1
            new_long *= scale
            new_short *= scale
            if new_long <= 0.0 and new_short <= 0.0:
                break
            liq_long[i] += new_long
            liq_short[i] += new_short
            # forced selling (long liquidations) pushes price down, forced buying up
            down = cascade_k * new_long / total_oi
            up = cascade_k * new_short / total_oi
            lw *= np.exp(-down)
            hi *= np.exp(up)
            cl *= np.exp(close_share * (up - down))
            cl = min(max(cl, lw), hi)
        lev_oi = max(lev_oi - liq_long[i] - liq_short[i], 0.0)
        r = np.log(cl / op)
        var = omega + alpha * r * r + beta * var
        x = ls_phi * x + ls_sigma * ls_noise[i]
        ratio = np.exp(x)
        long_share = ratio / (1.0 + ratio)
        opened = churn * oi_leveraged * np.exp(0.5 * create_noise[i] - 0.125)
        opened += refill * max(oi_leveraged - lev_oi, 0.0)
        opened *= 1.0 + 20.0 * abs(r)  # activity follows the move
        entry = (hi + lw + cl) / 3.0
        for t in range(leverage.size):
            lev = leverage[t]
            lj = _grid_index(entry * (1.0 - 1.0 / lev + maint), grid_lo, grid_step, n_grid)
            long_usd[lj] += opened * long_share * tier_weight[t] / scale
            long_top = max(long_top, lj)
            sj = _grid_index(entry * (1.0 + 1.0 / lev - maint), grid_lo, grid_step, n_grid)
            short_usd[sj] += opened * (1.0 - long_share) * tier_weight[t] / scale
            short_bot = min(short_bot, sj)
        lev_oi += opened
        o[i] = op
        h[i] = hi
        lo_[i] = lw
        c[i] = cl
        oi[i] = oi_background + lev_oi
        lsr[i] = ratio
        prev = cl
    return o, h, lo_, c, oi, lsr, liq_long, liq_short
