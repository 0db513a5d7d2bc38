"""Benchmark ``synthetic_build_14m``: 5m snapshots of the cohort ledger over 14 months of BTC.

Reads the shared data folder (``LIQBOT_SHARED_DATA`` or ``../shared/data`` beside the
repository): Binance BTC 5m candles, CoinGlass OI (AUTO mode: OI where known, volume after it
ends) and Binance funding. Without that folder it builds on a generated market of the same size
and says so. Target: warm build < 1.5 s; the series must stay well under 1 GB.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.synthetic.model import SyntheticParams, build_heatmaps

TARGET_S = 1.5
CANDLES = "binance-usdm/BTC_USDT_USDT-5m-futures.feather"
OI = "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"
FUNDING = "binance-usdm/BTC_USDT_USDT-1h-funding_rate.feather"


def _data_dir() -> Path:
    env = os.environ.get("LIQBOT_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str]:
    root = _data_dir()
    if (root / CANDLES).is_file():
        from bot.marketdata import files
        return (files.load_candles(root / CANDLES), files.load_open_interest(root / OI),
                files.load_funding(root / FUNDING), "shared")
    rng = np.random.default_rng(0)
    n = 119_724
    close = 95_000.0 * np.exp(np.cumsum(rng.normal(0, 0.0015, n)))
    open_ = np.concatenate(([95_000.0], close[:-1]))
    candles = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                            "low": np.minimum(open_, close) * 0.999, "close": close,
                            "volume": rng.gamma(2.0, 300.0, n)},
                           index=pd.date_range("2024-12-31", periods=n, freq="5min", tz="UTC"))
    return candles, None, None, "generated (shared data folder missing)"


def synthetic_build_14m(repeats: int = 3) -> dict[str, Any]:
    """Wall time (first and warm) and peak memory of ``build_heatmaps`` over ~120k 5m bars."""
    candles, oi, funding, source = _inputs()
    params = SyntheticParams()
    start = time.perf_counter()
    series = build_heatmaps(candles, oi, params, funding=funding, every="5min")
    first = time.perf_counter() - start
    del series
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        series = build_heatmaps(candles, oi, params, funding=funding, every="5min")
        times.append(time.perf_counter() - start)
        del series
    tracemalloc.start()
    series = build_heatmaps(candles, oi, params, funding=funding, every="5min")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    inputs = series.assumptions["inputs"]
    warm = float(np.median(times))
    return {"data": source, "bars": len(candles), "snapshots": len(series), "levels_per_snapshot": series.width,
            "bars_oi_source": inputs["bars_oi_source"], "bars_volume_source": inputs["bars_volume_source"],
            "break_events": len(series.breaks), "first_run_s": round(first, 3), "warm_s": round(warm, 3),
            "warm_min_s": round(min(times), 3), "series_mb": round(series.nbytes / 1e6, 1),
            "peak_traced_mb": round(peak / 1e6, 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "target_s": TARGET_S, "meets_target": warm < TARGET_S}
