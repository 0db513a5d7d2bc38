"""``liqbot bench --only optimize_trials_14m``: what one optimiser trial costs on 14 months of BTC 5m.

The history is the backtest benchmark's (``backtest.bench_backtest.files``: the shared BTC 5m
candles, CoinGlass OI where it exists, Binance funding). After one warm-up backtest (numba
compiled, heatmap rows built and cached), ``TRIALS`` random trials over the ``strategies`` space
run through the optimiser's own objective: each is a full backtest of the 14 months that reuses
the cached heatmap rows. One more trial changes a synthetic-model parameter, so it builds its
rows (what a ``--space model`` trial pays). Figures: seconds per trial, trials per second, the
split of a cached trial into replay (tracker + engine, the fused loop) and portfolio, and the
target (a strategy-only trial well under a second).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import numpy as np

TRIALS = 5
TARGET_TRIAL_S = 1.0


def optimize_trials_14m() -> dict[str, Any]:
    """Seconds per strategy-only trial (heatmap rows reused) and per model trial, on 14 months."""
    import optuna

    from backtest.bench_backtest import SYMBOL, files
    from backtest.run import BacktestSpec
    from config.settings import load_settings
    from backtest.research.evaluate import RowsCache, evaluate
    from backtest.research.metrics import Objective
    from backtest.research.sampler import SamplerKind
    from backtest.research.space import apply_params, select_space
    from backtest.research.study import StudySetup, TrialObjective
    from backtest.research.walkforward import history_span

    settings = load_settings(None, env_file=None)
    spec = BacktestSpec(symbol=SYMBOL, files=files(), warmup=timedelta(days=1))
    start, end = history_span(settings, spec)
    space = select_space("strategies", "combined", list(settings.strategies.enabled))
    setup = StudySetup(space=space, objective=Objective.EXPECTANCY_R, column="combined", min_trades=0,
                       sampler=SamplerKind.RANDOM, trials=TRIALS, seed=0)
    cache = RowsCache(spec)
    t = time.perf_counter()
    _, warm = evaluate(settings, spec, start, end, "combined", cache)
    warmup_s = time.perf_counter() - t
    objective = TrialObjective(settings, setup, spec, start, end, cache)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    t = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS, catch=(optuna.TrialPruned,))
    study_s = time.perf_counter() - t
    _, cached = evaluate(settings, spec, start, end, "combined", cache)
    model = apply_params(settings, {"synthetic.half_life_h": 48.0})
    t = time.perf_counter()
    _, built = evaluate(model, spec, start, end, "combined", cache)
    model_s = time.perf_counter() - t
    secs = objective.seconds
    med = float(np.median(secs))
    keys = ("load_s", "heatmaps_s", "replay_s", "portfolio_s", "total_s")
    return {"bars": len(warm.data), "trials": len(secs), "trial_s": [round(s, 3) for s in secs],
            "trial_s_median": round(med, 3), "trials_per_s": round(len(secs) / study_s, 3),
            "target_trial_s": TARGET_TRIAL_S, "met": med < TARGET_TRIAL_S,
            "first_run_s": round(warmup_s, 3),
            "cached_trial_split_s": {k: cached.timings.get(k) for k in keys},
            "model_trial_s": round(model_s, 3), "model_trial_split_s": {k: built.timings.get(k) for k in keys},
            "cache_hits": cache.hits, "cache_misses": cache.misses}
