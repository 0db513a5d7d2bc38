"""Benchmark ``paper_loop_latency``: the paper runner, built as ``liqbot paper`` builds it, on replayed data.

It runs the real paper runner (replay feed, paper broker, SQLite store) on two days of the shared
BTC data with a ~1,500-level heatmap and reports its bar -> decided-order latency, plus the
decision step alone. It lives in the CLI layer because it builds the runner through
``bot.cli.commands.paper``; the data and targets are ``backtest.bench_backtest``'s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from backtest.bench_backtest import SYMBOL, TARGETS, files


def paper_loop_latency(days: float = 2.0) -> dict[str, Any]:
    """The paper runner's bar -> decided-order latency on replayed data with ~1,500-level snapshots."""
    from bot.cli.commands.paper import PaperPlan, build_runner
    from config.settings import Settings
    base = Settings()
    settings = base.model_copy(update={
        "synthetic": base.synthetic.model_copy(update={"grid_bin_pct": 0.02}),  # +-15 % in 0.02 % bins
        "strategies": base.strategies.model_copy(update={"log_fsync": "never"})})
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    f = files()
    args = argparse.Namespace(candles=f.candles, oi=f.oi, ls_ratio=f.ls_ratio, funding=f.funding, heatmaps=None,
                              from_=start.isoformat(), to=(start + timedelta(days=1 + days)).isoformat())
    with tempfile.TemporaryDirectory() as tmp:
        plan = PaperPlan(feed="replay", symbols=(SYMBOL,), speed=float("inf"), duration=None,
                         warmup=timedelta(days=1), state=Path(tmp), seed=0)
        runner = build_runner(settings, plan, args=args)
        try:
            result = runner.run()
        finally:
            runner.signal_log.close()
            runner.store.close()
    lat = np.asarray(result.latencies_ms)
    step = _decide_step_latency(settings)
    return {"bars": int(lat.size),
            "latency_median_ms": round(float(np.median(lat)), 3),
            "latency_p99_ms": round(float(np.percentile(lat, 99)), 3),
            "latency_max_ms": round(float(lat.max()), 3), **step, "target_p99_ms": TARGETS["latency_p99_ms"],
            "meets_target": float(np.percentile(lat, 99)) < TARGETS["latency_p99_ms"]}


def _decide_step_latency(settings: Any, bars: int = 2000) -> dict[str, float]:
    """The shared decision step alone (tracker + magnets + engine + cooldown) on 1,500-level snapshots."""
    from backtest.replay import MarketData, SyntheticRows
    from bot.decide import Decider
    from bot.synthetic.model import SyntheticParams
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    data = MarketData.load(SYMBOL, files(), start=start, end=start + timedelta(minutes=5 * (bars + 288)))
    rows = SyntheticRows(data, SyntheticParams.from_settings(settings.synthetic))
    decider = Decider(settings, SYMBOL, data.bar_seconds)
    h, low, c = data.column("high"), data.column("low"), data.column("close")
    samples = []
    for j in range(len(rows)):
        snap = rows.snapshot(j)
        t = time.perf_counter_ns()
        decider.step(snap, h[j], low[j], c[j], oi_usd=float(data.oi[j]) if np.isfinite(data.oi[j]) else None,
                     trade=j >= 288)
        if j >= 288:
            samples.append(time.perf_counter_ns() - t)
    ms = np.asarray(samples) / 1e6
    return {"decide_step_median_ms": round(float(np.median(ms)), 3),
            "decide_step_p99_ms": round(float(np.percentile(ms, 99)), 3),
            "decide_levels": int(len(rows.snapshot(len(rows) - 1)))}
