"""``scale``: how many USD the map says a bar liquidates, against what was liquidated.

Per liquidation bar ``[t, t + D)`` the prediction is the USD of the snapshot known at t whose
level the bar crossed (longs priced at or above the bar's low, shorts at or below its high):
``bot.synthetic.validate.predictions`` for the synthetic model, ``store_predictions`` for any
snapshot store. ``ratio`` = sum predicted / sum realized per side on the part; ``calibrated_ratio``
applies the factor sum realized / sum predicted fitted on the train part only (1.0 = a
calibration that carries over). CIs: day-block bootstrap of the ratio of sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.validation.bootstrap import block_ci
from bot.validation.numbers import ci_pair, rnd


def store_predictions(stored: Any, candles: pd.DataFrame, liquidations: pd.DataFrame) -> pd.DataFrame:
    """``real_long/short`` and ``model_long/short`` per liquidation bar from a ``StoredSeries``."""
    snap_ns = stored.ts.astype("datetime64[ns]").view(np.int64)
    liq_idx = liquidations.index
    liq_ns = (liq_idx.tz_localize("UTC") if liq_idx.tz is None else liq_idx.tz_convert("UTC")).as_unit("ns").asi8
    if liq_ns.size < 2:
        raise DataError("need at least two liquidation bars", field="liquidations")
    step = int(np.median(np.diff(liq_ns)))
    c_idx = candles.index
    c_ns = (c_idx.tz_localize("UTC") if c_idx.tz is None else c_idx.tz_convert("UTC")).as_unit("ns").asi8
    bar_ns = int(np.median(np.diff(c_ns)))
    high, low = candles["high"].to_numpy(np.float64), candles["low"].to_numpy(np.float64)
    rows = np.searchsorted(snap_ns, liq_ns, side="right") - 1
    i0, i1 = np.searchsorted(c_ns, liq_ns), np.searchsorted(c_ns, liq_ns + step)
    ok = (rows >= 0) & (i1 - i0 == step // bar_ns) & (i1 > i0)
    out = {k: [] for k in ("ts", "real_long", "real_short", "model_long", "model_short")}
    rl, rs = liquidations["long_usd"].to_numpy(np.float64), liquidations["short_usd"].to_numpy(np.float64)
    for k in np.flatnonzero(ok):
        a, b = int(stored.offsets[rows[k]]), int(stored.offsets[rows[k] + 1])
        p = stored.level_prices[a:b]
        lo, hi = low[i0[k]:i1[k]].min(), high[i0[k]:i1[k]].max()
        out["ts"].append(liq_ns[k])
        out["real_long"].append(rl[k])
        out["real_short"].append(rs[k])
        out["model_long"].append(float(stored.long_usd[a:b][p >= lo].sum()))
        out["model_short"].append(float(stored.short_usd[a:b][p <= hi].sum()))
    if not out["ts"]:
        raise DataError("no liquidation bar is covered by both snapshots and candles", field="liquidations")
    ts = pd.DatetimeIndex(np.array(out.pop("ts"), np.int64), tz="UTC", name="ts")
    return pd.DataFrame(out, index=ts)


def _ratio(model: np.ndarray, real: np.ndarray) -> float:
    r = float(real.sum())
    return float(model.sum()) / r if r > 0 else float("nan")


def scale_section(frame: pd.DataFrame, split: pd.Timestamp | None, *, n_boot: int = 1000) -> dict[str, Any]:
    """The ``scale`` block: per side, raw and train-calibrated ratios on the test part, and per month."""
    ts = frame.index.as_unit("ns").asi8
    train = ts < split.value if split is not None else np.ones(ts.size, np.bool_)
    test = ts >= split.value if split is not None else np.ones(ts.size, np.bool_)
    out: dict[str, Any] = {"bars_train": int(train.sum()), "bars_test": int(test.sum())}
    for side in ("long", "short"):
        model, real = frame[f"model_{side}"].to_numpy(), frame[f"real_{side}"].to_numpy()
        train_ratio = _ratio(model[train], real[train])
        factor = 1.0 / train_ratio if np.isfinite(train_ratio) and train_ratio > 0 else float("nan")
        m_t, r_t = model[test], real[test]
        out[side] = {
            "predicted_usd": rnd(m_t.sum(), 0), "realized_usd": rnd(r_t.sum(), 0),
            "ratio": rnd(_ratio(m_t, r_t), 4),
            "ci": ci_pair(block_ci(ts[test], lambda i, m=m_t, r=r_t: _ratio(m[i], r[i]), n_boot=n_boot), 4),
            "train_ratio": rnd(_ratio(model[train], real[train]), 4),
            "calibration_factor": rnd(factor, 8),
            "calibrated_ratio": rnd(factor * _ratio(m_t, r_t), 4),
            "calibrated_ci": ci_pair(block_ci(ts[test], lambda i, m=m_t, r=r_t, k=factor: k * _ratio(m[i], r[i]),
                                              n_boot=n_boot), 4)}
    month = frame.index.tz_convert("UTC").strftime("%Y-%m")
    out["per_month"] = [{"month": m, **{f"ratio_{s}": rnd(_ratio(g[f"model_{s}"].to_numpy(), g[f"real_{s}"].to_numpy()),
                                                           4) for s in ("long", "short")}}
                        for m, g in frame.groupby(month)]
    return out
