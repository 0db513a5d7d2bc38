"""``magnets.touch``: are strong clusters near price reached more often than any level as far away?

At each sampled row (price P known at t) every active strong cluster (strength >= 0.6) on its
magnet side (a short cluster above P, a long cluster below) closer than 2 % is touched within h
(4 h, 24 h) when a bar opening in ``[t, t + h)`` reaches its level. Two controls:

- ``excess``: touched minus the unconditional touch rate of a level at the same distance on the
  same side, i.e. the share of all samples of the same part whose excursion that way reached
  that distance (the curve is computed once per part and held fixed in the bootstrap);
- ``excess_mirror``: touched minus whether the mirror level (same distance, other side of P, the
  same sample) was reached.

Samples whose horizon runs past the candles are left out. CIs: day-block bootstrap over the
cluster-samples. ``curve`` (for the report): touch rate by distance bin for strong clusters,
weak clusters and empty levels (no active cluster on that side within the bin).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.validation.bootstrap import block_ci
from bot.validation.history import ClusterHistory
from bot.validation.numbers import ci_pair, rnd
from bot.validation.outcomes import excursions

HORIZONS = {"4h": 4 * 3600 * 10**9, "24h": 24 * 3600 * 10**9}
STRONG = 0.6
NEAR = 0.02
CURVE_EDGES = np.linspace(0.0, NEAR, 9)  # 0.25 % bins


def _rate_at(sorted_exc: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Share of the excursions >= each distance."""
    if sorted_exc.size == 0:
        return np.full(d.shape, np.nan)
    return 1.0 - np.searchsorted(sorted_exc, d, side="left") / sorted_exc.size


def touch_section(hist: ClusterHistory, open_ns: np.ndarray, high: np.ndarray, low: np.ndarray,
                  split_ns: int | None, *, strong: float = STRONG, near: float = NEAR,
                  n_boot: int = 1000) -> dict[str, Any]:
    """The ``magnets.touch`` block: per horizon, train and test."""
    rows = np.flatnonzero(hist.sampled)
    ts, price = hist.ts[rows], hist.price[rows]
    rec = hist.records
    slot = np.searchsorted(rows, rec["row"])          # record -> sample index
    p = price[slot]
    above = (rec["side"] == 1) & (rec["level"] > p)
    below = (rec["side"] == 0) & (rec["level"] < p)
    dist = np.where(above, rec["level"] / p - 1.0, 1.0 - rec["level"] / p)
    candidate = rec["active"] & (above | below) & (dist < near)
    out: dict[str, Any] = {"strength_min": strong, "distance_max_pct": 100 * near}
    for name, h in HORIZONS.items():
        hi, lo, covered = excursions(open_ns, high, low, ts, h)
        up_exc, dn_exc = hi / price - 1.0, 1.0 - lo / price
        block: dict[str, Any] = {}
        for part, in_part in _parts(ts, split_ns, covered):
            samples = np.flatnonzero(in_part)
            cu, cd = np.sort(up_exc[samples]), np.sort(dn_exc[samples])
            sel = candidate & in_part[slot]
            exc_same = np.where(above, up_exc[slot], dn_exc[slot])
            exc_mirror = np.where(above, dn_exc[slot], up_exc[slot])
            touched = (exc_same >= dist).astype(np.float64)
            control = np.where(above, _rate_at(cu, dist), _rate_at(cd, dist))
            mirror = (exc_mirror >= dist).astype(np.float64)
            st = sel & (rec["strength"] >= strong)
            idx = np.flatnonzero(st)
            t_rec = ts[slot[idx]]
            d_ctrl, d_mirror = touched[idx] - control[idx], touched[idx] - mirror[idx]
            block[part] = {
                "n": int(idx.size), "touch_rate": rnd(touched[idx].mean()) if idx.size else None,
                "control_rate": rnd(control[idx].mean()) if idx.size else None,
                "excess": rnd(d_ctrl.mean()) if idx.size else None,
                "ci": ci_pair(block_ci(t_rec, lambda i, a=d_ctrl: float(a[i].mean()), n_boot=n_boot)),
                "excess_mirror": rnd(d_mirror.mean()) if idx.size else None,
                "mirror_ci": ci_pair(block_ci(t_rec, lambda i, a=d_mirror: float(a[i].mean()), n_boot=n_boot)),
                "curve": _curve(rec, slot, samples, sel, touched, dist, above, up_exc, dn_exc, strong)}
        out[name] = block
    return out


def _parts(ts: np.ndarray, split_ns: int | None, covered: np.ndarray):
    if split_ns is None:
        return [("test", covered)]
    return [("train", covered & (ts < split_ns)), ("test", covered & (ts >= split_ns))]


def _curve(rec: dict[str, np.ndarray], slot: np.ndarray, samples: np.ndarray, sel: np.ndarray,
           touched: np.ndarray, dist: np.ndarray, above: np.ndarray, up_exc: np.ndarray, dn_exc: np.ndarray,
           strong: float) -> list[dict[str, Any]]:
    """Touch rate per distance bin: strong clusters, weak clusters, empty levels."""
    edges = CURVE_EDGES
    k = np.digitize(dist, edges) - 1
    out = []
    # bins of each side that hold an active cluster, per sample: ``occupied[side][sample, bin]``
    occupied = np.zeros((2, up_exc.size, edges.size - 1), np.bool_)
    ok = sel & (k >= 0) & (k < edges.size - 1)
    occupied[np.where(above[ok], 1, 0), slot[ok], k[ok]] = True
    for b in range(edges.size - 1):
        centre = 0.5 * (edges[b] + edges[b + 1])
        in_bin = ok & (k == b)
        s_mask, w_mask = in_bin & (rec["strength"] >= strong), in_bin & (rec["strength"] < strong)
        empty_hits, empty_n = 0.0, 0
        for side, exc in ((1, up_exc), (0, dn_exc)):
            free = samples[~occupied[side, samples, b]]
            empty_hits += float((exc[free] >= centre).sum())
            empty_n += int(free.size)
        out.append({"distance_pct": round(100 * centre, 4),
                    "strong": rnd(touched[s_mask].mean()) if s_mask.any() else None, "strong_n": int(s_mask.sum()),
                    "weak": rnd(touched[w_mask].mean()) if w_mask.any() else None, "weak_n": int(w_mask.sum()),
                    "empty": rnd(empty_hits / empty_n) if empty_n else None, "empty_n": empty_n})
    return out
