"""Benchmarks of the backtester and the paper loop (DESIGN section 8), run by ``liqbot bench``.

``backtest_14m`` measures, on the shared data's 14 months of BTC 5m candles (CoinGlass OI where it
exists, volume mode after it ends, Binance funding):

- ``cold_s``: the first run ever, in a fresh Python process with an empty numba cache (imports and
  every JIT compile included: what a fresh clone pays once), and the child's peak resident memory;
- ``cold_cached_s``: a second fresh process reusing that cache (what every later run pays);
- ``warm_s``: the median of ``WARM_RUNS`` more runs inside this process after one warm-up run
  (numba compiled, nothing cached between runs: data, heatmaps, replay and portfolio are all
  redone); ``warm_runs_s`` lists them;
- ``one_by_one_s``: the same bars pushed one at a time through the reference Python path (feed
  bars -> quality gate -> incremental heatmap model -> ``Decider.step``), as the paper runner does;
- the speed-up of the batched path over it, and every figure next to its target.

``paper_loop_latency`` (in ``bot.cli.bench_paper``: it builds the runner as ``liqbot paper`` does)
runs the real paper runner on two days with a ~1,500-level heatmap.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any


WARM_RUNS = 3
TARGETS = {"warm_s": 3.0, "cold_s": 15.0, "speedup": 10.0, "peak_mb": 1536.0, "latency_p99_ms": 5.0}
SYMBOL = "BTC/USDT:USDT"


def data_dir() -> Path:
    """The shared data folder (``LIQBOT_SHARED_DATA`` or ``../shared/data`` beside the repository)."""
    env = os.environ.get("LIQBOT_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def files() -> Any:
    """The BTC replay files of the shared data."""
    from bot.errors import DataError
    from bot.feeds.replay import ReplayFiles
    root = data_dir()
    candles = root / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"
    if not candles.is_file():
        raise DataError("the shared data folder is needed for this benchmark", field="LIQBOT_SHARED_DATA",
                        position=str(root))
    return ReplayFiles(candles=candles,
                       oi=root / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet",
                       ls_ratio=root / "coinglass-btc" / "api_futures_global_long_short_account_ratio_history.parquet",
                       funding=root / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")


def full_backtest() -> dict[str, Any]:
    """One full backtest with the default settings; its timings and counts."""
    from backtest.run import BacktestSpec, run_backtest
    from backtest.signal_rows import signal_rows
    from config.settings import Settings
    settings = Settings()
    t = time.perf_counter()
    result = run_backtest(settings, BacktestSpec(SYMBOL, files(), warmup=timedelta(days=1)))
    wall = time.perf_counter() - t
    return {"wall_s": round(wall, 3), "bars": len(result.data), "signals": len(result.replay.signals),
            "signal_ids": [r.id for r in signal_rows(result.replay.signals)],
            "trades_combined": int((result.portfolio.trades["strategy"] == "combined").sum()),
            "timings": result.timings}


def _child(cache_dir: str) -> tuple[float, dict[str, Any]]:
    """Wall time and report of a fresh Python process running one backtest with its JIT cache in ``cache_dir``."""
    code = "import json; from backtest.bench_backtest import full_backtest; print(json.dumps(full_backtest()))"
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1], env=env)
    wall = time.perf_counter() - t
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def backtest_14m() -> dict[str, Any]:
    """Cold, warm and one-by-one wall times of the 14-month backtest, memory, against the targets.

    ``cold_s``: a fresh process with an EMPTY numba cache (every kernel compiled: the first run on
    a fresh clone); ``cold_cached_s``: a second fresh process reusing that cache (every later run);
    ``warm_s``: the second run inside this process (imports done, kernels compiled).
    """
    from backtest.replay import replay_python
    from bot.synthetic.model import SyntheticParams
    from config.settings import Settings
    with tempfile.TemporaryDirectory() as cache:
        cold, child = _child(cache)
        cold_cached, _ = _child(cache)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    full_backtest()  # imports, cache loads
    runs = sorted((full_backtest() for _ in range(WARM_RUNS)), key=lambda r: r["wall_s"])
    warm = runs[len(runs) // 2]  # the median run: this shared 2-core machine's noise is +-0.5 s
    settings = Settings()
    t = time.perf_counter()
    one = replay_python(SYMBOL, files(), settings, warmup=timedelta(days=1),
                        synthetic_params=SyntheticParams.from_settings(settings.synthetic))
    one_s = time.perf_counter() - t
    # the reference path covers heatmaps + decisions only; compare it with the same part of the batch run
    batch_part = warm["timings"]["heatmaps_s"] + warm["timings"]["replay_s"]
    figures = {"bars": warm["bars"], "signals": warm["signals"], "trades_combined": warm["trades_combined"],
               "cold_s": round(cold, 2), "cold_breakdown": child["timings"], "cold_cached_s": round(cold_cached, 2),
               "warm_s": warm["wall_s"], "warm_runs_s": [r["wall_s"] for r in runs], "warm_breakdown": warm["timings"],
               "one_by_one_s": round(one_s, 2),
               "one_by_one_signals": len(one.signals),
               "one_by_one_signal_ids_equal": [s.id for _, s in one.signals] == warm["signal_ids"],
               "speedup": round(one_s / batch_part, 2) if batch_part > 0 else None,
               "peak_mb": round(peak_mb, 1), "targets": TARGETS}
    figures["meets"] = {k: (figures[k] is not None and (figures[k] >= v if k == "speedup" else figures[k] < v))
                        for k, v in TARGETS.items() if k in figures}
    return figures
