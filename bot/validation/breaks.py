"""``magnets.breaks``: does price continue (or reverse) after a cluster breaks, beyond a plain breakout?

A break event is a (row, side) at which the tracker broke at least one cluster: a long cluster
broken means price traded down through it (direction -1), a short cluster up (+1). Its signed
return after h (1 h, 4 h, 24 h) is direction x ln(close at t + h / price at t), t = the
snapshot's time. The price-only control is every candle that makes a new 24 h high (+1) or low
(-1) at whose close no cluster of that direction broke. ``excess_bp`` = mean signed return of the
breaks minus that of the controls, in basis points (> 0: continuation beyond a breakout, < 0:
reversal); CI by the day-block bootstrap over both groups together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.validation.bootstrap import block_ci
from bot.validation.history import ClusterHistory
from bot.validation.numbers import ci_pair, rnd
from bot.validation.outcomes import close_after

HORIZONS = {"1h": 3600 * 10**9, "4h": 4 * 3600 * 10**9, "24h": 24 * 3600 * 10**9}
LOOKBACK_NS = 24 * 3600 * 10**9


def break_events(hist: ClusterHistory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time ns, price, direction) of each (row, side) that broke something, in time order."""
    b = hist.breaks
    if b["row"].size == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    pairs = np.unique(np.stack([b["row"], b["side"]], axis=1), axis=0)
    rows, side = pairs[:, 0], pairs[:, 1]
    return hist.ts[rows], hist.price[rows], np.where(side == 1, 1.0, -1.0)


def breakout_controls(open_ns: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                      break_ts: np.ndarray, break_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time ns, price, direction) of new-24h-high / low candles without a same-direction break at their close."""
    bar_ns = int(np.median(np.diff(open_ns)))
    w = int(LOOKBACK_NS // bar_ns)
    if high.size <= w:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    from numpy.lib.stride_tricks import sliding_window_view
    prev_hi = sliding_window_view(high[:-1], w).max(axis=1)   # bars k-w .. k-1 for k = w .. n-1
    prev_lo = sliding_window_view(low[:-1], w).min(axis=1)
    k = np.arange(w, high.size)
    new_hi, new_lo = high[k] > prev_hi, low[k] < prev_lo
    t = open_ns[k] + bar_ns
    up_breaks = set(break_ts[break_dir > 0].tolist())
    dn_breaks = set(break_ts[break_dir < 0].tolist())
    keep_hi = new_hi & ~np.isin(t, list(up_breaks)) & ~new_lo
    keep_lo = new_lo & ~np.isin(t, list(dn_breaks)) & ~new_hi
    ts = np.concatenate((t[keep_hi], t[keep_lo]))
    px = np.concatenate((close[k][keep_hi], close[k][keep_lo]))
    dr = np.concatenate((np.ones(int(keep_hi.sum())), -np.ones(int(keep_lo.sum()))))
    order = np.argsort(ts, kind="stable")
    return ts[order], px[order], dr[order]


def breaks_section(hist: ClusterHistory, open_ns: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                   split_ns: int | None, *, n_boot: int = 1000) -> dict[str, Any]:
    """The ``magnets.breaks`` block: per horizon, train and test."""
    bt, bp, bd = break_events(hist)
    ct, cp, cd = breakout_controls(open_ns, high, low, close, bt, bd)
    first = hist.ts[np.flatnonzero(hist.sampled)[0]] if hist.sampled.any() else hist.ts[-1] + 1
    ct_ok = ct >= first                      # controls only where the map is scored (settled)
    ct, cp, cd = ct[ct_ok], cp[ct_ok], cd[ct_ok]
    ts = np.concatenate((bt, ct))
    px = np.concatenate((bp, cp))
    dr = np.concatenate((bd, cd))
    is_break = np.concatenate((np.ones(bt.size, np.bool_), np.zeros(ct.size, np.bool_)))
    out: dict[str, Any] = {}
    for name, h in HORIZONS.items():
        ret = dr * np.log(close_after(open_ns, close, ts, h) / px)
        ok = np.isfinite(ret)
        block = {}
        parts = [("test", ok)] if split_ns is None else [("train", ok & (ts < split_ns)),
                                                         ("test", ok & (ts >= split_ns))]
        for part, mask in parts:
            idx = np.flatnonzero(mask)
            r, brk = ret[idx], is_break[idx]

            def excess(i: np.ndarray, r: np.ndarray = r, brk: np.ndarray = brk) -> float:
                a, c = r[i][brk[i]], r[i][~brk[i]]
                return 1e4 * float(a.mean() - c.mean()) if a.size and c.size else float("nan")

            all_i = np.arange(idx.size)
            block[part] = {"n": int(brk.sum()), "n_control": int((~brk).sum()),
                           "break_bp": rnd(1e4 * r[brk].mean(), 3) if brk.any() else None,
                           "control_bp": rnd(1e4 * r[~brk].mean(), 3) if (~brk).any() else None,
                           "excess_bp": rnd(excess(all_i), 3),
                           "ci": ci_pair(block_ci(ts[idx], excess, n_boot=n_boot), 3)}
        out[name] = block
    return out
