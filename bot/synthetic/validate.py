"""Measured skill of the synthetic model against realized liquidations.

For every bar of the liquidation series ``[t, t + D)`` fully covered by candles, the model
predicts the USD it would liquidate inside the bar from the state known at ``t`` (the snapshot of
the candle closing at ``t``): longs priced at or above the bar's low, shorts at or below its high.
Cohorts the bar itself opens are not counted. Two baselines use the same bars and the same OI
known at ``t``:

- ``range``: OI x (high - low) / price (one value for both sides);
- ``static_tiers``: OI split 50/50 and across the tier prior, liquidation prices recomputed
  around the price at ``t`` (the naive "levels at fixed distances" model);
- ``range_side`` (extra, a stricter baseline): OI x the excursion below (longs) / above (shorts)
  the price at ``t``.

Skill is the Spearman rank correlation per side (ranks: OI is all exchanges, liquidations one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from bot.domain import iso
from bot.errors import DataError
from bot.synthetic.inputs import BarInputs, align
from bot.synthetic.liqprice import tier_factors
from bot.synthetic.model import SyntheticParams, build_from_bars
from bot.synthetic.series import HeatmapSeries


@dataclass(frozen=True, slots=True)
class SideSkill:
    """Spearman rank correlation of predicted against realized liquidations, per side."""

    spearman_long: float
    spearman_short: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready (NaN -> None)."""
        return {k: (None if not np.isfinite(x) else round(float(x), 4))
                for k, x in (("spearman_long", self.spearman_long), ("spearman_short", self.spearman_short))}


@dataclass(frozen=True, slots=True)
class SkillReport:
    """Skill of the model and the baselines over ``bars`` liquidation bars in ``[start, end]``."""

    bars: int
    model: SideSkill
    baselines: dict[str, SideSkill]
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        """The ``liqbot validate --json`` document."""
        return {"bars": self.bars, "model": self.model.to_dict(),
                "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
                "from": iso(self.start.to_pydatetime()) if self.start is not None else None,
                "to": iso(self.end.to_pydatetime()) if self.end is not None else None}


@dataclass(frozen=True, slots=True)
class Predictions:
    """Per scored bar: its open, realized and predicted USD per side (columns ``<name>_long``/``_short``)."""

    frame: pd.DataFrame


def _skill(pred_long: np.ndarray, pred_short: np.ndarray, real_long: np.ndarray, real_short: np.ndarray) -> SideSkill:
    def rho(a: np.ndarray, b: np.ndarray) -> float:
        if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
            return float("nan")
        return float(spearmanr(a, b).statistic)
    return SideSkill(rho(pred_long, real_long), rho(pred_short, real_short))


def _liq_bars(liquidations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    if not isinstance(liquidations.index, pd.DatetimeIndex):
        raise DataError("needs a DatetimeIndex of bar opens", field="liquidations")
    for col in ("long_usd", "short_usd"):
        if col not in liquidations.columns:
            raise DataError("missing column", field=f"liquidations.{col}")
    idx = liquidations.index
    ns = (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns").asi8
    if ns.size < 2:
        raise DataError("need at least two liquidation bars", field="liquidations")
    step = int(np.median(np.diff(ns)))
    return (ns, liquidations["long_usd"].to_numpy(np.float64), liquidations["short_usd"].to_numpy(np.float64), step)


def predictions(candles: pd.DataFrame, oi: pd.DataFrame, liquidations: pd.DataFrame, params: SyntheticParams, *,
                ls_ratio: pd.DataFrame | None = None, funding: pd.DataFrame | None = None,
                symbol: str = "BTC/USDT:USDT", warmup_h: float = 72.0, bars: BarInputs | None = None,
                series: HeatmapSeries | None = None) -> Predictions:
    """Realized vs predicted USD per side for every liquidation bar the candles fully cover.

    ``bars``/``series``: the aligned inputs and a series built over them with every bar emitted
    (the report card builds them once for all its sections); built here when not given.
    """
    bars = bars if bars is not None else align(candles, oi, ls_ratio=ls_ratio, funding=funding)
    liq_ns, real_l, real_s, step = _liq_bars(liquidations)
    i0 = np.searchsorted(bars.open_ns, liq_ns)
    i1 = np.searchsorted(bars.open_ns, liq_ns + step)
    per_bar = step // bars.bar_ns
    first_ok = bars.open_ns[0] + int(warmup_h * 3600 * 1e9)
    ok = (i0 >= 1) & (i1 - i0 == per_bar) & (liq_ns >= first_ok) & np.isfinite(real_l) & np.isfinite(real_s)
    ok[ok] &= np.isfinite(bars.oi[i0[ok] - 1])
    if oi is not None and len(oi):
        # the last OI value is carried forward by ``align``; past its age limit it is not known any more
        last_oi = _utc(pd.DatetimeIndex(oi.index).max()).value
        ok &= liq_ns <= last_oi + int(params.oi_max_age_h * 3600 * 1e9)
    if not ok.any():
        raise DataError("no liquidation bar is fully covered by the candles with open interest known "
                        f"(liquidations {_span(liq_ns)}, candles {_span(bars.open_ns)}"
                        + (f", open interest {_span(_utc_ns(oi.index))})" if oi is not None and len(oi) else ")"),
                        field="liquidations")
    liq_ns, real_l, real_s, i0, i1 = liq_ns[ok], real_l[ok], real_s[ok], i0[ok], i1[ok]
    high = _reduce(bars.high, i0, i1, np.max)
    low = _reduce(bars.low, i0, i1, np.min)
    if series is None:
        emit = np.zeros(len(bars), np.bool_)
        emit[i0 - 1] = True
        series = build_from_bars(bars, params, emit, symbol)
    rows = np.searchsorted(series.ts, liq_ns)
    model_l, model_s = series.window_sums(rows, low, high)
    base = _baselines(bars, i0 - 1, high, low, params, symbol)
    frame = pd.DataFrame({"real_long": real_l, "real_short": real_s, "model_long": model_l, "model_short": model_s,
                          **base}, index=pd.DatetimeIndex(liq_ns, tz="UTC", name="ts"))
    return Predictions(frame)


def _utc_ns(index: pd.Index) -> np.ndarray:
    idx = pd.DatetimeIndex(index)
    return (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns").asi8


def _span(ns: np.ndarray) -> str:
    """``first..last`` of UTC nanoseconds, minutes precision (for error messages)."""
    fmt = "%Y-%m-%dT%H:%M"
    lo, hi = (pd.Timestamp(int(x), tz="UTC").strftime(fmt) for x in (ns.min(), ns.max()))
    return f"{lo}..{hi}"


def _reduce(values: np.ndarray, i0: np.ndarray, i1: np.ndarray, fn: Any) -> np.ndarray:
    # Bars are contiguous equal-length runs, so a 2-D view does the reduction without a Python loop.
    width = int(i1[0] - i0[0])
    idx = i0[:, None] + np.arange(width)[None, :]
    return fn(values[idx], axis=1)


def _baselines(bars: BarInputs, at: np.ndarray, high: np.ndarray, low: np.ndarray, params: SyntheticParams,
               symbol: str) -> dict[str, np.ndarray]:
    oi, price = bars.oi[at], bars.close[at]
    fl, fs = tier_factors(np.array(params.tier_leverages), params.position_usd, params.bracket_table(symbol))
    w = np.array(params.tier_weights) / sum(params.tier_weights)
    hit_l = (price[:, None] * fl[None, :]) >= low[:, None]
    hit_s = (price[:, None] * fs[None, :]) <= high[:, None]
    rng = oi * (high - low) / price
    return {"range_long": rng, "range_short": rng,
            "static_tiers_long": 0.5 * oi * (hit_l * w).sum(axis=1),
            "static_tiers_short": 0.5 * oi * (hit_s * w).sum(axis=1),
            "range_side_long": oi * np.maximum(price - low, 0.0) / price,
            "range_side_short": oi * np.maximum(high - price, 0.0) / price}


def _utc(ts: pd.Timestamp | str | None) -> pd.Timestamp | None:
    if ts is None:
        return None
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def skill(pred: Predictions, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
          ) -> SkillReport:
    """Spearman per side of the model and each baseline over the bars opening in ``[start, end)``."""
    f = pred.frame
    lo, hi = _utc(start), _utc(end)
    mask = np.ones(len(f), np.bool_)
    if lo is not None:
        mask &= f.index >= lo
    if hi is not None:
        mask &= f.index < hi
    f = f[mask]
    rl, rs = f["real_long"].to_numpy(), f["real_short"].to_numpy()

    def side(name: str) -> SideSkill:
        return _skill(f[f"{name}_long"].to_numpy(), f[f"{name}_short"].to_numpy(), rl, rs)
    return SkillReport(bars=len(f), model=side("model"),
                       baselines={k: side(k) for k in ("range", "static_tiers", "range_side")
                                  if f"{k}_long" in f.columns},
                       start=f.index[0] if len(f) else lo, end=f.index[-1] if len(f) else hi)
