"""``map``: shape diagnostics of a heatmap's magnets (what defects 2-4 and 7 of issue 11 measured).

On the sampled rows of the test part (all rows without a split):

- ``strength_saturated_share``: share of rows with a magnet whose strongest magnet reads 1.0;
  ``both_saturated_share``: of the rows with both magnets, share where both do;
- ``tier_offset_share``: share of magnets within 1 percentage point of the liquidation distance of
  a tier farther than 2 pp (closer tiers' bands would cover every level near price), per tier in
  ``tier_offset_share_by_tier`` (the source's ``liquidation_distance_pct``; null when it has none);
- ``neutral_share``: share of rows whose bias is NEUTRAL (asymmetry within the threshold);
- ``asym_vs_past_72h_spearman``: Spearman of ln(asymmetry) against the 72 h return before the row
  (strongly negative: the map echoes recent entries);
- ``window_truncated_share``: share of active clusters touching the window edge while it holds USD;
- ``magnet_usd_median``: median USD of one magnet;
- ``break_remnant_share_median``: median share of its peak USD a cluster still holds when it breaks
  (near 1: clusters break whole; small: price ate them level by level first);
- ``settled_from``: the first row whose map USD (per USD of open interest when given) reaches 90 %
  of its median over the run: before it the ledger is still filling.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.stats import spearmanr

from bot.domain import iso
from bot.validation.history import ClusterHistory, Magnets
from bot.validation.numbers import rnd

SATURATED = 1.0 - 1e-9
PAST_NS = 72 * 3600 * 10**9
TIER_BAND_PP = 1.0


def tier_distances(assumptions: Mapping[str, Any]) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(tier names, long %, short %) liquidation distances of the source's tiers, or None."""
    table = assumptions.get("liquidation_distance_pct") if assumptions else None
    if not isinstance(table, Mapping) or not table:
        return None
    try:
        pairs = np.array([[float(v[0]), float(v[1])] for v in table.values()], np.float64)
    except (TypeError, ValueError, IndexError):
        return None
    return [str(k) for k in table], pairs[:, 0], pairs[:, 1]


def map_section(hist: ClusterHistory, m: Magnets, in_part: np.ndarray, bias_threshold: float,
                total_usd: np.ndarray, oi: np.ndarray | None) -> dict[str, Any]:
    """The ``map`` block over the magnet rows selected by ``in_part`` (a mask over ``m``)."""
    sa, sb = m.above_strength[in_part], m.below_strength[in_part]
    has_any = np.isfinite(sa) | np.isfinite(sb)
    both = np.isfinite(sa) & np.isfinite(sb)
    top = np.fmax(sa, sb)
    ua, ub = m.above_usd[in_part], m.below_usd[in_part]
    asym = np.where(both, ua / np.where(both, ub, 1.0), np.nan)
    neutral = both & (asym <= bias_threshold) & (asym >= 1.0 / bias_threshold)
    price = m.price[in_part]
    out: dict[str, Any] = {
        "rows": int(in_part.sum()),
        "strength_saturated_share": rnd((top[has_any] >= SATURATED).mean(), 4) if has_any.any() else None,
        "both_saturated_share": rnd(((sa >= SATURATED) & (sb >= SATURATED))[both].mean(), 4) if both.any() else None,
        "neutral_share": rnd(((~both) | neutral).mean(), 4) if in_part.any() else None,
        "magnet_usd_median": rnd(np.nanmedian(np.concatenate((ua, ub))), 0) if has_any.any() else None}
    tiers = tier_distances(hist.assumptions)
    if tiers is not None:
        d_dn = 100 * (1 - m.below_level[in_part] / price)
        d_up = 100 * (m.above_level[in_part] / price - 1)
        fin_l, fin_s = np.isfinite(d_dn), np.isfinite(d_up)
        n = int(fin_l.sum() + fin_s.sum())
        near_l = np.abs(d_dn[fin_l][:, None] - tiers[1][None, :]) <= TIER_BAND_PP
        near_s = np.abs(d_up[fin_s][:, None] - tiers[2][None, :]) <= TIER_BAND_PP
        by_tier = (near_l.sum(axis=0) + near_s.sum(axis=0)) / max(n, 1)
        far = (tiers[1] > 2 * TIER_BAND_PP) & (tiers[2] > 2 * TIER_BAND_PP)
        hit = near_l[:, far].any(axis=1).sum() + near_s[:, far].any(axis=1).sum()
        out["tier_offset_share"] = rnd(hit / n, 4) if n else None
        out["tier_offset_share_by_tier"] = {name: rnd(x, 4) for name, x in zip(tiers[0], by_tier)} if n else None
    else:
        out["tier_offset_share"] = None
    past = np.interp(m.ts[in_part] - PAST_NS, hist.ts, hist.price, left=np.nan)
    ok = both & np.isfinite(past) & (asym > 0) & np.isfinite(asym)
    ok &= bool(ok.any()) and np.ptp(asym[ok]) > 0 and np.ptp(price[ok] / past[ok]) > 0
    out["asym_vs_past_72h_spearman"] = (rnd(float(spearmanr(np.log(asym[ok]), np.log(price[ok] / past[ok])).statistic),
                                            4) if ok.sum() > 10 else None)
    rec = hist.records
    rows = np.flatnonzero(hist.sampled)
    rec_in = np.isin(rec["row"], rows[np.flatnonzero(in_part)]) & rec["active"]
    out["window_truncated_share"] = rnd(rec["truncated"][rec_in].mean(), 4) if rec_in.any() else None
    brk = hist.breaks
    part_ts = m.ts[in_part]
    brk_ts = hist.ts[brk["row"]]
    in_brk = (brk["peak_usd"] > 0) & (brk_ts >= part_ts.min()) & (brk_ts <= part_ts.max()) if part_ts.size else (
        np.zeros(brk["row"].size, np.bool_))
    out["break_remnant_share_median"] = rnd(np.median(brk["usd"][in_brk] / brk["peak_usd"][in_brk]), 4) if (
        in_brk.any()) else None
    out["settled_from"] = settled_from(hist.ts, total_usd, oi)
    return out


def settled_from(ts: np.ndarray, total_usd: np.ndarray, oi: np.ndarray | None, frac: float = 0.9) -> str | None:
    """ISO time of the first row whose USD (per OI when known) reaches ``frac`` of its run median."""
    r = np.asarray(total_usd, np.float64)
    if oi is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = r / np.asarray(oi, np.float64)
    ok = np.isfinite(r)
    if not ok.any():
        return None
    med = float(np.median(r[ok]))
    hit = np.flatnonzero(ok & (r >= frac * med))
    if hit.size == 0:
        return None
    import pandas as pd
    return iso(pd.Timestamp(int(ts[hit[0]]), tz="UTC").to_pydatetime())
