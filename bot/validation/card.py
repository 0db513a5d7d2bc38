"""The report card of one heatmap source: every section of ``liqbot validate`` in one document.

Sources: the synthetic model built over the candles (``synthetic_card``) or a snapshot store
(``store_card``). Both replay their snapshots through the cluster tracker once
(``bot.validation.history``) and grade the same way; the split time T makes every fitted number
(the direction tilt b, the scale calibration) come from data before T and every score from data
after it. Point in time: a sample at t uses the snapshot known at t and bars opening at or after t.

JSON (the contract): ``model``/``baselines``/``bars``/``from``/``to`` as before (the timing of the
test part), ``scale.{long,short}.ratio``, ``timing``, ``magnets.direction.test.{n, skill_logloss, ci,
bull_minus_bear, bull_minus_bear_ci}``, ``magnets.touch["4h"|"24h"].test.{n, excess, ci}``,
``magnets.breaks["1h"|"4h"|"24h"].test.{n, excess_bp, ci}``, ``map.*``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.synthetic.inputs import align
from bot.synthetic.model import SyntheticParams, build_from_bars
from bot.synthetic.validate import Predictions, predictions, skill
from bot.validation.breaks import breaks_section
from bot.validation.direction import direction_samples, direction_section
from bot.validation.history import ClusterHistory, SeriesSource, StoredSource, magnets, replay_history, since
from bot.validation.mapstats import map_section
from bot.validation.scale import scale_section, store_predictions
from bot.validation.touch import touch_section

HOUR_NS = 3600 * 10**9


@dataclass(frozen=True, slots=True)
class CardInputs:
    """What every section reads: the candles, the replayed history and the per-bar predictions."""

    open_ns: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    history: ClusterHistory
    pred: Predictions
    total_usd: np.ndarray     # map USD per source row (both sides)
    oi: np.ndarray | None     # open interest per source row, when known


def _hourly(ts: np.ndarray) -> np.ndarray:
    """The first row of every clock hour (rows known exactly on the hour when the source has them)."""
    hour = ts // HOUR_NS
    first = np.ones(ts.size, np.bool_)
    first[1:] = hour[1:] != hour[:-1]
    return first


def synthetic_inputs(candles: pd.DataFrame, oi: pd.DataFrame | None, liquidations: pd.DataFrame,
                     params: SyntheticParams, cluster_settings: Any, *, ls_ratio: pd.DataFrame | None = None,
                     funding: pd.DataFrame | None = None, symbol: str, warmup_h: float = 72.0) -> CardInputs:
    """Build the ledger once over every bar, replay it, and predict every liquidation bar."""
    bars = align(candles, oi, ls_ratio=ls_ratio, funding=funding)
    series = build_from_bars(bars, params, np.ones(len(bars), np.bool_), symbol)
    pred = predictions(candles, oi, liquidations, params, symbol=symbol, warmup_h=warmup_h, bars=bars, series=series)
    settled = bars.open_ns[0] + int(warmup_h * HOUR_NS)
    hist = since(replay_history(SeriesSource(series), cluster_settings, bars.high, bars.low, _hourly(series.ts)),
                 settled)
    total = series.long_usd.sum(axis=1, dtype=np.float64) + series.short_usd.sum(axis=1, dtype=np.float64)
    return CardInputs(open_ns=bars.open_ns, high=bars.high, low=bars.low, close=bars.close, history=hist, pred=pred,
                      total_usd=total, oi=bars.oi)


def store_inputs(stored: Any, candles: pd.DataFrame, oi: pd.DataFrame | None, liquidations: pd.DataFrame,
                 params: SyntheticParams, cluster_settings: Any, *, symbol: str,
                 warmup_h: float = 72.0) -> CardInputs:
    """Replay a ``StoredSeries`` with the range traded between snapshots; predict every liquidation bar.

    The baselines of ``timing`` need open interest: without ``oi`` only the store's own Spearman is given.
    """
    bars = align(candles, oi)
    src = StoredSource(stored)
    if len(src) == 0:
        raise DataError(f"no snapshots of {symbol} in the store", field="--heatmaps")
    # range traded in the bars that closed in (previous snapshot, this snapshot]
    k = np.searchsorted(bars.close_ns, src.ts, side="right")
    hi = np.full(len(src), np.nan)
    lo = np.full(len(src), np.nan)
    prev = np.concatenate(([max(int(k[0]) - 1, 0)], k[:-1]))
    for r in range(len(src)):
        if k[r] > prev[r]:
            hi[r], lo[r] = bars.high[prev[r]:k[r]].max(), bars.low[prev[r]:k[r]].min()
    sample = _hourly(src.ts)
    hist = replay_history(src, cluster_settings, hi, lo, sample)
    frame = store_predictions(stored, candles, liquidations)
    if oi is not None:
        base = predictions(candles, oi, liquidations, params, symbol=symbol, warmup_h=warmup_h, bars=bars).frame
        joined = base.drop(columns=["model_long", "model_short"]).join(
            frame[["model_long", "model_short"]], how="inner")
        frame = joined[frame.columns.tolist() + [c for c in joined.columns if c not in frame.columns]]
    total = np.add.reduceat(stored.long_usd + stored.short_usd, stored.offsets[:-1]) if stored.long_usd.size else (
        np.zeros(len(src)))
    total = np.where(np.diff(stored.offsets) > 0, total, 0.0)
    oi_rows = np.interp(src.ts, bars.close_ns, bars.oi) if oi is not None else None
    return CardInputs(open_ns=bars.open_ns, high=bars.high, low=bars.low, close=bars.close, history=hist,
                      pred=Predictions(frame), total_usd=total, oi=oi_rows)


def report_card(inp: CardInputs, split: pd.Timestamp | None, *, bias_threshold: float, source: str,
                start: pd.Timestamp | None = None, n_boot: int = 1000) -> dict[str, Any]:
    """Every section of the card as one JSON-ready document (samples from ``start`` on)."""
    split_ns = int(split.value) if split is not None else None
    frame = inp.pred.frame
    if start is not None:
        frame = frame[frame.index >= start]
        inp = replace(inp, history=since(inp.history, int(start.value)), pred=Predictions(frame))
    timing: dict[str, Any] = {}
    if split is not None:
        timing["train"] = _timing(inp.pred, None, split)
    timing["test"] = _timing(inp.pred, split, None)
    mags = magnets(inp.history)
    samples = direction_samples(mags, inp.open_ns, inp.high, inp.low)
    in_test = mags.ts >= split_ns if split_ns is not None else np.ones(len(mags), np.bool_)
    test_rows = np.flatnonzero(inp.history.sampled)[in_test]
    card = {**timing["test"], "source": source, "split": _iso(split),
            "scale": scale_section(frame, split, n_boot=n_boot),
            "timing": timing,
            "magnets": {"direction": direction_section(samples, split_ns, bias_threshold, n_boot=n_boot),
                        "touch": touch_section(inp.history, inp.open_ns, inp.high, inp.low, split_ns, n_boot=n_boot),
                        "breaks": breaks_section(inp.history, inp.open_ns, inp.high, inp.low, inp.close, split_ns,
                                                 n_boot=n_boot)},
            "map": map_section(inp.history, mags, in_test, bias_threshold, inp.total_usd,
                               inp.oi if inp.oi is not None else None)}
    card["map"]["sampled_rows_test"] = int(test_rows.size)
    return card


def _timing(pred: Predictions, start: pd.Timestamp | None, end: pd.Timestamp | None) -> dict[str, Any]:
    return skill(pred, start, end).to_dict()


def _iso(ts: pd.Timestamp | None) -> str | None:
    from bot.domain import iso
    return iso(ts.to_pydatetime()) if ts is not None else None
