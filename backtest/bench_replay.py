"""``liqbot bench`` figures of the batched replay (``paper --feed replay --speed max``).

``replay_14m`` runs the command a user runs, in a fresh process, on the shared data's 14 months
of BTC 5m candles (CoinGlass OI, long/short ratio, Binance funding, one day of warmup) and reports
its wall and CPU time, steps and time per step next to the target. ``replay_1m_per_step`` runs one
month twice, committing every step (``feed.commit_every_bars = 1``, what every replay did before)
and in batches (the default), so the gain of batching is measured on the same machine and moment.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_14M_S = 180.0
ROOT = Path(__file__).resolve().parents[1]


def _replay(start: str | None, end: str | None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``liqbot paper --feed replay --speed max`` in a fresh process: wall, CPU, steps, trades."""
    from backtest.bench_backtest import files
    f = files()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "bot.cli.main", "paper", "--feed", "replay", "--speed", "max",
               "--candles", str(f.candles), "--oi", str(f.oi), "--ls-ratio", str(f.ls_ratio),
               "--funding", str(f.funding), "--warmup", "1d", "--state", str(Path(tmp) / "state"),
               "--json", "--no-status"]
        cmd += ["--from", start] if start else []
        cmd += ["--to", end] if end else []
        child_env = {**os.environ, "LIQBOT_LOGGING__CONSOLE": "false",
                     "LIQBOT_LOGGING__FILE": str(Path(tmp) / "bot.log"), **(env or {})}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"replay failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    summary = json.loads(done.stdout)
    steps = int(summary["run"]["steps"])
    return {"wall_s": round(wall, 2), "cpu_s": round((after.ru_utime - before.ru_utime)
                                                     + (after.ru_stime - before.ru_stime), 2),
            "steps": steps, "ms_per_step": round(1000 * wall / steps, 3) if steps else None,
            "trades": summary["trades"], "signals": summary["signals"]["total"], "net_pnl": summary["net_pnl"]}


def replay_14m() -> dict[str, Any]:
    """The whole shared BTC history through ``paper --feed replay --speed max`` (batched commits)."""
    figures = _replay(None, None)
    figures.update(target_s=TARGET_14M_S, meets_target=figures["wall_s"] < TARGET_14M_S)
    return figures


def replay_1m_per_step() -> dict[str, Any]:
    """One month replayed committing every step and in batches: the same result, and the times of both."""
    span = ("2025-03-01", "2025-04-01")
    per_step = _replay(*span, env={"LIQBOT_FEED__COMMIT_EVERY_BARS": "1"})
    batched = _replay(*span)
    same = all(per_step[k] == batched[k] for k in ("steps", "trades", "signals", "net_pnl"))
    return {"per_step": per_step, "batched": batched, "same_result": same,
            "speedup": round(per_step["wall_s"] / batched["wall_s"], 2) if batched["wall_s"] else None}


def store_backtest_14m(every: str = "1h") -> dict[str, Any]:
    """``backtest --heatmaps STORE`` over the 14 months: a store of the synthetic model's maps (one per
    ``every``, built here with ``liqbot heatmap build``'s writer), replayed on the fused loop.

    ``warm_s``: the median of three runs in this process after a first one (kernels compiled and
    loaded, nothing else kept between runs); ``bar_by_bar_s``: the same backtest through
    ``Decider.step`` bar by bar (what every store-backed backtest did before), one run.
    """
    import statistics
    from datetime import timedelta

    from backtest.bench_backtest import SYMBOL, files
    from backtest.run import BacktestSpec, run_backtest
    from bot.heatmap.store import SnapshotStore
    from bot.marketdata.files import load_candles, load_open_interest
    from bot.synthetic.model import SyntheticParams, build_heatmaps
    from config.settings import Settings
    settings = Settings()
    f = files()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        candles = load_candles(f.candles)
        oi = load_open_interest(f.oi, price=candles["close"])
        series = build_heatmaps(candles, oi, SyntheticParams.from_settings(settings.synthetic), every=every,
                                symbol=SYMBOL)
        SnapshotStore(Path(tmp)).write_series(series, SYMBOL)
        build_s = time.perf_counter() - t
        spec = BacktestSpec(SYMBOL, f, warmup=timedelta(days=1), heatmaps_dir=Path(tmp))
        first = run_backtest(settings, spec)
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            result = run_backtest(settings, spec)
            runs.append(time.perf_counter() - t)
        fused_path = "fused_loop_s" in result.replay.timings
        t = time.perf_counter()
        slow = run_backtest(settings, spec, wrap_rows=_BarByBar)  # rows the fused loop does not take
        bar_by_bar = time.perf_counter() - t
    warm = statistics.median(runs)
    same = [s.id for _, s in slow.replay.signals] == [s.id for _, s in result.replay.signals]
    return {"snapshots": len(series), "every": every, "bars": len(result.data), "signals": len(result.replay.signals),
            "store_build_s": round(build_s, 2), "first_s": round(first.timings["total_s"], 2),
            "warm_s": round(warm, 2), "warm_runs_s": [round(r, 2) for r in runs], "fused_path": fused_path,
            "warm_breakdown": result.timings, "bar_by_bar_s": round(bar_by_bar, 2), "same_signals": same,
            "target_warm_s": 10.0, "meets_target": warm < 10.0}


class _BarByBar:
    """Heatmap rows passed through unchanged, in a wrapper the fused loop does not take (``Decider.step`` per bar)."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def snapshot(self, j: int) -> Any:
        """The wrapped rows' snapshot of bar ``j``."""
        return self.rows.snapshot(j)
