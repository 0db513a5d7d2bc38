"""``liqbot jit warm``: compile (or load) every kernel up front by running the real commands on a tiny market.

numba compiles a kernel for the argument types of its first call, so the only faithful way to
fill the cache is to make the calls a real run makes. ``warm`` runs, in a temporary folder, a
simulated ``liqbot paper`` (the per-bar decision path) and a ``liqbot backtest`` on a simulated
market written to CSV (the fused loop, the heatmap model on candles with and without open
interest, vectorbt's portfolio): the same code paths with the same types as real data. Then
``kernel_coverage`` lists liqbot's cached kernels that none of it reached (their first real use
compiles them, with the compile notice).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.jitcache import is_ours

WARM_START = datetime(2025, 1, 1, tzinfo=timezone.utc)
WARM_DAYS = 3
OI_DAYS = 2  # the last day has no open interest: volume mode compiles too
SYMBOL = "BTC/USDT:USDT"


@dataclass(frozen=True, slots=True)
class Coverage:
    """liqbot's cached kernels after a run: how many hold machine code, which ones do not."""

    kernels: int
    ready: int  # called, or called by a kernel that was
    loaded: int
    compiled: int
    unused: tuple[str, ...]


def write_market(folder: Path, days: int = WARM_DAYS) -> dict[str, Path]:
    """A simulated 5m market written as CSV files the loaders read: candles, OI (partial), funding."""
    import numpy as np
    import pandas as pd

    from bot.feeds.sim import simulate

    bars = days * 288
    s = simulate(SYMBOL, bars, WARM_START, timedelta(minutes=5), seed=7)
    ts = pd.to_datetime(s.ts).tz_localize("UTC")
    paths = {"candles": folder / "candles.csv", "oi": folder / "oi.csv", "funding": folder / "funding.csv"}
    pd.DataFrame({"date": ts, "open": s.open, "high": s.high, "low": s.low, "close": s.close,
                  "volume": s.volume}).to_csv(paths["candles"], index=False)
    known = ts + pd.Timedelta(minutes=5)  # an OI value is known at its bar's close
    cut = OI_DAYS * 288
    pd.DataFrame({"timestamp": known[:cut], "oi_usd": s.oi_usd[:cut]}).to_csv(paths["oi"], index=False)
    every = np.arange(0, bars, 96)  # 8-hourly funding
    pd.DataFrame({"timestamp": ts[every], "funding_rate": s.funding_rate[every]}).to_csv(paths["funding"],
                                                                                     index=False)
    return paths


def _run(argv: list[str], settings: Any) -> None:
    """One liqbot command in this process, its stdout discarded (its kernels are what is wanted)."""
    from bot.cli.main import build_parser

    args = build_parser().parse_args(argv)
    with contextlib.redirect_stdout(io.StringIO()):
        code = int(args.func(args, settings) or 0)
    if code != 0:
        raise RuntimeError(f"warm-up command failed with exit {code}: liqbot {' '.join(argv)}")


def warm(settings: Any) -> dict[str, Any]:
    """Run the warm-up commands; seconds per step and the kernel coverage."""
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="liqbot-warm-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        _run(["paper", "--state", str(root / "state"), "--duration", "1d", "--warmup", "1d", "--speed", "max",
              "--no-status", "--json"], settings)
        steps["paper_sim_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        files = write_market(root)
        _run(["backtest", "--candles", str(files["candles"]), "--oi", str(files["oi"]),
              "--funding", str(files["funding"]), "--symbol", SYMBOL, "--warmup", "1d", "--json",
              str(root / "bt.json")], settings)
        steps["backtest_s"] = round(time.perf_counter() - t, 2)
    cov = kernel_coverage()
    return {"steps": steps, "kernels": cov.kernels, "ready": cov.ready, "loaded_from_cache": cov.loaded,
            "compiled": cov.compiled, "unused": list(cov.unused)}


def kernel_coverage() -> Coverage:
    """liqbot's ``cache=True`` kernels in the loaded modules: reached (called, or called by a reached kernel) or not.

    A kernel loaded from the cache carries its callees' machine code, so their own dispatchers stay
    empty; they count as reached through the caller (``callees``).
    """
    from numba.core.registry import CPUDispatcher

    def ours(value: Any) -> bool:
        return (isinstance(value, CPUDispatcher) and type(getattr(value, "_cache", None)).__name__ == "FunctionCache"
                and is_ours(value.py_func.__code__.co_filename))

    seen: dict[int, Any] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and is_ours(file):
            seen.update((id(v), v) for v in list(vars(module).values()) if ours(v))
    reached: dict[int, Any] = {}
    todo = [d for d in seen.values() if d.signatures]
    while todo:
        d = todo.pop()
        if id(d) not in reached:
            reached[id(d)] = d
            todo.extend(c for c in callees(d) if ours(c))
    loaded = sum(sum(d.stats.cache_hits.values()) for d in seen.values())
    compiled = sum(sum(d.stats.cache_misses.values()) for d in seen.values())
    unused = sorted(f"{d.py_func.__module__}.{d.py_func.__qualname__}" for k, d in seen.items() if k not in reached)
    return Coverage(len(seen), len(reached), loaded, compiled, tuple(unused))


def callees(dispatcher: Any) -> list[Any]:
    """The objects a kernel's code names: its globals, and attributes of the modules among them (``K.kernel``)."""
    import types

    names: set[str] = set()
    codes = [dispatcher.py_func.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    scope = dispatcher.py_func.__globals__
    found = [scope[n] for n in names if n in scope]
    found += [getattr(m, n) for m in list(found) if isinstance(m, types.ModuleType) for n in names if hasattr(m, n)]
    return found


def run_warm(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot jit warm``."""
    import json

    from bot.cli.main import setup_logging
    from bot.jitprogress import compile_notice

    setup_logging(settings, args, console=False)  # the warm-up's trades are no news: the log file only
    t = time.perf_counter()
    with compile_notice() as log:
        report = warm(settings)
    report["wall_s"] = round(time.perf_counter() - t, 2)
    report["compile_s"] = round(log.seconds, 2)
    report["compiles"] = [{"kernel": k, "seconds": round(s, 2), "callees": c} for k, s, c in log.kernels]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"jit warm: {report['ready']} of {report['kernels']} liqbot kernels ready "
          f"({report['compiled']} compiled, {report['loaded_from_cache']} loaded from the cache) "
          f"in {report['wall_s']:.1f} s")
    if report["unused"]:
        print(f"not reached by the warm-up (they compile on first use): {', '.join(report['unused'])}")
    return 0
