"""Benchmark ``paper_loop_latency``: from a new bar to a decided order with a 1,500-level heatmap.

The runner processes simulated 5m bars with a heatmap provider that serves a busy 1,500-level
map per bar (the same shape ``backtest.bench`` uses for the cluster benchmark, re-centred on
the bar and wobbling between bars). Measured per trading bar: snapshot, cluster tracker,
magnets, market context, engine, risk guard -> intents decided (``decide``; the paper venue's
simulation of the bar runs before it and is not part of deciding), and the whole step including
the simulated venue, the write-ahead order commits and the SQLite step commit (``step``).
Target: decide p99 < 5 ms.
"""

from __future__ import annotations

import math
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.feeds.base import Bar

LEVELS = 1500


class BusyHeatmaps:
    """A 1,500-level map per bar: a fixed busy shape scaled to the bar's close, wobbling 5 % per level."""

    def __init__(self, seed: int = 7, maps: int = 32) -> None:
        from backtest.bench import synthetic_levels
        rng = np.random.default_rng(seed)
        self.ref = 96_000.0
        prices, long_usd, short_usd = synthetic_levels(rng, LEVELS, self.ref)
        self.rel = prices / self.ref
        self.maps = [(long_usd * rng.lognormal(0.0, 0.05, LEVELS), short_usd * rng.lognormal(0.0, 0.05, LEVELS))
                     for _ in range(maps)]
        self.i = 0

    def snapshot(self, bar: Bar) -> HeatmapSnapshot:
        """The next map, centred on ``bar.close`` (longs below, shorts above)."""
        long_usd, short_usd = self.maps[self.i % len(self.maps)]
        self.i += 1
        prices = self.rel * bar.close
        below = prices < bar.close
        return HeatmapSnapshot(bar.symbol, bar.close_ts, bar.close, prices, np.where(below, long_usd, 0.0),
                               np.where(below, 0.0, short_usd), HeatmapSource.RECORDED, {"levels": LEVELS})

    def keys(self) -> list[str]:
        """No state."""
        return []

    def state(self) -> dict[str, bytes]:
        """No state."""
        return {}

    def restore(self, blobs: dict[str, bytes | None]) -> None:
        """No state."""


def paper_loop_latency(bars: int = 1500, warmup: int = 300) -> dict[str, Any]:
    """p50/p99 of bar -> decided order (and of the whole step) over ``bars`` trading bars."""
    from bot.clock import FakeClock, FakeSleeper, monotonic_ms
    from bot.execution.paper import PaperBroker
    from bot.feeds.sim import SimFeed
    from bot.logs import configure_logging
    from bot.runner import Runner
    from bot.store import Store
    from config.settings import load_settings
    from strategies.engine import Engine

    settings = load_settings(env_file=None)
    start = datetime(2025, 1, 6, tzinfo=timezone.utc)
    feed = SimFeed(("BTC/USDT:USDT",), start, timedelta(minutes=5), warmup, bars, seed=7, speed=math.inf)
    with tempfile.TemporaryDirectory() as tmp:
        configure_logging(level="WARNING", file=Path(tmp) / "bench.log", console=False)
        store = Store.open(Path(tmp) / "state")
        clock = FakeClock(start)
        runner = Runner(settings=settings, feed=feed, broker=PaperBroker(settings.paper), store=store,
                        heatmaps=BusyHeatmaps(), engine=Engine(settings.strategies), clock=clock,
                        sleeper=FakeSleeper(clock), historic=True)
        runner.start()
        decide, step = [], []
        while True:
            poll = feed.poll(clock.now())
            if poll.done:
                break
            for batch in poll.batches:
                t0 = monotonic_ms()
                info = runner.step(batch, batch.close_ts)
                if not batch.warmup:
                    step.append(monotonic_ms() - t0)
                    decide.append(info.latency_ms)
        orders = len(store.orders())
        signals = len(store.decisions())
        store.close()
    d, s = np.asarray(decide), np.asarray(step)
    return {"levels": LEVELS, "bars": len(d), "signals": signals, "orders": orders,
            "decide_p50_ms": round(float(np.percentile(d, 50)), 3),
            "decide_p99_ms": round(float(np.percentile(d, 99)), 3),
            "decide_max_ms": round(float(d.max()), 3),
            "step_p50_ms": round(float(np.percentile(s, 50)), 3),
            "step_p99_ms": round(float(np.percentile(s, 99)), 3),
            "target_decide_p99_ms": 5.0, "meets_target": bool(np.percentile(d, 99) < 5.0)}


if __name__ == "__main__":  # python -m backtest.bench_latency
    import json
    print(json.dumps(paper_loop_latency(), indent=2))
