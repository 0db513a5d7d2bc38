"""Benchmarks behind ``liqbot bench``: a registry of named callables returning figures.

Add a benchmark by decorating a zero-argument function returning a JSON-ready dict::

    from backtest.bench import register

    @register("my_bench")
    def my_bench() -> dict: ...

and listing its module in ``BENCH_MODULES`` (imported when the registry is read, so a module
registers itself without this file importing heavy code at startup), or, for a function that
must not be imported before it runs, ``BENCHMARKS["name"] = lazy("pkg.module", "function")``.
Performance targets are measured here, never asserted in tests.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

import numpy as np

from bot.errors import DataError

Benchmark = Callable[[], dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {}
# modules that register benchmarks with @register when imported
BENCH_MODULES: tuple[str, ...] = ()


def register(name: str) -> Callable[[Benchmark], Benchmark]:
    """Decorator adding a benchmark under ``name``."""
    def deco(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn
    return deco


def lazy(module: str, attr: str) -> Benchmark:
    """A benchmark that imports ``module.attr`` only when it runs."""
    def run() -> dict[str, Any]:
        return getattr(importlib.import_module(module), attr)()
    run.__name__ = attr
    return run


def registry() -> dict[str, Benchmark]:
    """Every registered benchmark (importing ``BENCH_MODULES`` first)."""
    for module in BENCH_MODULES:
        importlib.import_module(module)
    return dict(sorted(BENCHMARKS.items()))


def run_benchmarks(only: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the selected benchmarks (all when ``only`` is empty): ``{"benchmarks", "machine"}``."""
    table = registry()
    names = list(only) if only else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise DataError(f"unknown benchmark {unknown[0]!r}; known: {', '.join(table) or 'none'}", field="--only")
    return {"benchmarks": {name: table[name]() for name in names}, "machine": machine_info()}


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
            "cpu": cpu, "cpu_count": os.cpu_count(), "usable_cpus": usable}


def timing_figures(samples_ns: Sequence[int], prefix: str) -> dict[str, float]:
    """Median, p99, mean and min of per-call times, in microseconds."""
    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {f"{prefix}_median_us": round(float(np.median(us)), 1),
            f"{prefix}_p99_us": round(float(np.percentile(us, 99)), 1),
            f"{prefix}_mean_us": round(float(us.mean()), 1),
            f"{prefix}_min_us": round(float(us.min()), 1)}


def synthetic_levels(rng: np.random.Generator, n_levels: int = 1500, price: float = 96_000.0,
                     span: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A busy made-up liquidation map: log grid over +-``span`` around ``price``, tier bands
    (100x/50x/25x/10x/5x) of ~40 past entries with a noise floor; longs below, shorts above."""
    prices = price * np.exp(np.linspace(np.log1p(-span), np.log1p(span), n_levels))
    entries = price * np.exp(np.cumsum(rng.normal(0.0, 0.004, 40)))
    dist = np.array([0.006, 0.016, 0.036, 0.096, 0.197])
    share = np.array([0.10, 0.20, 0.25, 0.30, 0.15])
    size = rng.lognormal(16.0, 1.0, 40)
    long_usd = np.zeros(n_levels)
    short_usd = np.zeros(n_levels)
    width = 0.002
    for sign, out in ((-1.0, long_usd), (1.0, short_usd)):  # 2 sides x 40 entries: the map's cohorts
        centers = np.log(entries)[:, None] + np.log1p(sign * dist)[None, :]
        weight = size[:, None] * share[None, :]
        z = (np.log(prices)[None, None, :] - centers[:, :, None]) / width
        out += (weight[:, :, None] * np.exp(-0.5 * z * z)).sum(axis=(0, 1))
    noise = rng.lognormal(10.0, 1.0, n_levels)
    below = prices < price
    long_usd = np.where(below, long_usd + noise, 0.0)
    short_usd = np.where(~below, short_usd + noise, 0.0)
    return prices, long_usd, short_usd


@register("clusters_1500")
def bench_clusters_1500(repeats: int = 2000) -> dict[str, Any]:
    """Clusters of a 1,500-level snapshot: the pure kernel and a full tracker update (target: median < 1 ms)."""
    from bot.clusters.grouping import group_levels
    from bot.clusters.tracker import ClusterTracker
    from bot.domain import HeatmapSnapshot, HeatmapSource
    from config.settings import ClusterSettings

    settings = ClusterSettings()
    rng = np.random.default_rng(7)
    price = 96_000.0
    prices, base_long, base_short = synthetic_levels(rng, 1500, price)
    maps = []
    for _ in range(20):  # the map wobbles between updates (5 % per level), as a live one does
        maps.append((prices, base_long * rng.lognormal(0.0, 0.05, prices.size),
                     base_short * rng.lognormal(0.0, 0.05, prices.size)))
    kernel_ns, update_ns = [], []
    tracker = ClusterTracker(settings, "BTC/USDT:USDT")
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    n_clusters = 0
    for i in range(repeats + 50):
        _, long_usd, short_usd = maps[i % len(maps)]
        start = time.perf_counter_ns()
        arrays = group_levels(prices, long_usd, short_usd, price, settings)
        kernel = time.perf_counter_ns() - start
        snap = HeatmapSnapshot("BTC/USDT:USDT", t0 + timedelta(minutes=5 * i), price, prices, long_usd, short_usd,
                               HeatmapSource.SYNTHETIC)
        start = time.perf_counter_ns()
        clusters = tracker.update(snap)
        update = time.perf_counter_ns() - start
        if i >= 50:  # warm-up excluded
            kernel_ns.append(kernel)
            update_ns.append(update)
            n_clusters = len(arrays)
    figures: dict[str, Any] = {"n_levels": 1500, "n_clusters": n_clusters, "n_returned": len(clusters),
                               "repeats": repeats}
    figures |= timing_figures(kernel_ns, "group_levels")
    figures |= timing_figures(update_ns, "tracker_update")
    figures["target_median_us"] = 1000.0
    figures["meets_target"] = figures["tracker_update_median_us"] < 1000.0
    return figures


# Registered lazily so that listing benchmarks does not import the synthetic model (numba).
BENCHMARKS["synthetic_build_14m"] = lazy("bot.synthetic.bench", "synthetic_build_14m")
BENCHMARKS["paper_decide_1500"] = lazy("backtest.bench_latency", "paper_loop_latency")
BENCHMARKS["serve_latency"] = lazy("bot.serve.bench", "serve_latency")
# The backtester and the paper loop (docs/architecture.md §8 targets); minutes of work, shared data needed.
BENCHMARKS["backtest_14m"] = lazy("backtest.bench_backtest", "backtest_14m")
BENCHMARKS["paper_loop_latency"] = lazy("bot.cli.bench_paper", "paper_loop_latency")
BENCHMARKS["new_process"] = lazy("bot.cli.bench_startup", "new_process")
BENCHMARKS["jit_cache"] = lazy("bot.cli.bench_jit", "jit_cache")
BENCHMARKS["validate_14m"] = lazy("bot.validation.bench", "validate_14m")
BENCHMARKS["optimize_trials_14m"] = lazy("backtest.research.bench", "optimize_trials_14m")
BENCHMARKS["replay_14m"] = lazy("backtest.bench_replay", "replay_14m")
BENCHMARKS["replay_1m_per_step"] = lazy("backtest.bench_replay", "replay_1m_per_step")
BENCHMARKS["store_backtest_14m"] = lazy("backtest.bench_replay", "store_backtest_14m")
