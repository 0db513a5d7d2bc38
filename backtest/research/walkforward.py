"""The walk-forward research loop: per window a study on the train span, its best parameters scored
once on the test span after it, then the stitched out-of-sample record and the overfitting figures.

Honesty, by construction: the study of a window only ever backtests that window's train span;
the test span is backtested once, after the study, with the chosen parameters, by the same
``run_backtest`` a plain ``liqbot backtest --from/--to`` runs (so its figures equal that
command's); every best figure carries the number of trials behind it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from backtest.replay import MarketData
from backtest.run import BacktestSpec
from backtest.research.evaluate import Evaluation, evaluate
from backtest.research.metrics import figures, skew_kurtosis
from backtest.research.overfit import deflated_sharpe, pbo_cscv, period_sharpe, probabilistic_sharpe
from backtest.research.space import apply_params
from backtest.research.study import StudyOutcome, StudySetup, mask_url, run_study, trial_returns
from backtest.research.windows import WalkForward, Window, cut

# (window, windows, trials done in the window, trials per window, best value so far in the window)
Progress = Callable[[int, int, int, int, float | None], None]
# a positive out-of-sample record "holds up" only when it is unlikely to be luck: the probabilistic
# Sharpe ratio of the stitched daily returns (P[true SR > 0]) at this level, and the in-sample
# winners ranking above the out-of-sample median in most CSCV splits (median PBO below this)
PSR_LEVEL = 0.95
PBO_LEVEL = 0.5


@dataclass(frozen=True)
class Plan:
    """A whole optimisation run."""

    spec: BacktestSpec            # files, symbol, warmup, strategies, heatmap source (start/end: the history)
    setup: StudySetup
    walk_forward: WalkForward | None
    storage: str
    study: str
    jobs: int
    config_file: Path | None
    pbo_blocks: int = 8


def history_span(settings: Any, spec: BacktestSpec) -> tuple[datetime, datetime]:
    """First trading time (history start + warmup) and the last bar close of the history."""
    data = MarketData.load(spec.symbol, spec.files, start=spec.start, end=spec.end, warmup=spec.warmup,
                           max_age=timedelta(hours=settings.synthetic.oi_max_age_h),
                           resume_after=settings.feed.resume_after_bars)
    if len(data) == 0:
        from bot.errors import DataError
        raise DataError("no bars in the chosen span", field="--from")
    start = _dt(int(data.open_ns[0])) + spec.warmup
    return start, _dt(int(data.close_ns[-1]))


def windows_of(plan: Plan, start: datetime, end: datetime) -> list[Window]:
    """The walk-forward windows, or one train-only window over the whole span without ``--walk-forward``."""
    if plan.walk_forward is None:
        return [Window(0, start, end, end, end)]
    return cut(start, end, plan.walk_forward)


def run(settings: Any, plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Run every window's study and test; the JSON document of the whole run."""
    t0 = time.perf_counter()
    start, end = history_span(settings, plan.spec)
    wins = windows_of(plan, start, end)
    rows: list[dict[str, Any]] = []
    oos: list[Evaluation] = []
    outcomes: list[StudyOutcome] = []
    chosen: list[dict[str, Any] | None] = []
    for w in wins:
        name = f"{plan.study}.w{w.index:02d}" if plan.walk_forward is not None else plan.study
        cb = None if progress is None else (
            lambda done, best, k=w.index: progress(k, len(wins), done, plan.setup.trials, best))
        outcome = run_study(settings, plan.config_file, plan.storage, name, plan.setup, plan.spec,
                            w.train_start, w.train_end, plan.jobs, cb)
        outcomes.append(outcome)
        row = window_row(w, outcome, plan)
        best = outcome.best
        chosen.append(None if best is None else dict(best.params))
        if best is not None and w.test_end > w.test_start:
            ev, _ = evaluate(apply_params(settings, best.params), plan.spec, w.test_start, w.test_end,
                             plan.setup.column, None)
            oos.append(ev)
            row["oos"] = {"figures": ev.figures.to_dict(), "backtest": ev.stats.to_dict(),
                          "same_as": plain_backtest_args(plan, w)}
            is_v, oos_v = best.value, ev.figures.value(plan.setup.objective)
            row["degradation"] = {"is": _num(is_v), "oos": _num(oos_v),
                                  "oos_minus_is": _num(None if oos_v is None else oos_v - is_v)}
        rows.append(row)
    last = next(((w, p, o) for w, p, o in zip(reversed(wins), reversed(chosen), reversed(outcomes)) if p), None)
    doc: dict[str, Any] = {
        "run": run_info(plan, start, end, len(wins)),
        "windows": rows,
        "stitched": stitched(oos, wins, rows) if plan.walk_forward is not None else None,
        "overfitting": overfitting_summary(rows),
        "speed": speed(outcomes, time.perf_counter() - t0),
        "best": None if last is None else {
            "window": last[0].index, "params": last[1], "trials": len(last[2].trials),
            "complete_trials": len(last[2].complete), "is_value": _num(last[2].best.value),
            "train": last[0].to_dict()["train"]},
    }
    doc["verdict"] = verdict(doc)
    return doc


def plain_backtest_args(plan: Plan, w: Window) -> str:
    """The ``liqbot backtest`` arguments whose figures equal a window's out-of-sample ones (with that
    window's parameters in the ``--config`` file): trading starts at the test start after the warmup."""
    col = plan.setup.column
    out = (f"--from {_iso_dt(w.test_start - plan.spec.warmup)} --to {_iso_dt(w.test_end)} "
           f"--warmup {plan.spec.warmup.total_seconds():g}s")
    return out + ("" if col == "combined" else f" --strategies {col}")


def window_row(w: Window, outcome: StudyOutcome, plan: Plan) -> dict[str, Any]:
    """The per-window table row before the test: trials, best in-sample figures, DSR and PBO of its trials."""
    complete = outcome.complete
    best = outcome.best
    row: dict[str, Any] = {**w.to_dict(), "study": outcome.name, "trials": len(outcome.trials),
                           "complete_trials": len(complete), "pruned_trials": len(outcome.trials) - len(complete),
                           "study_s": round(outcome.seconds, 3),
                           "params": None if best is None else dict(best.params),
                           "is": None if best is None else best.user_attrs.get("figures"),
                           "is_value": None if best is None else _num(best.value),
                           "oos": None, "degradation": None, "dsr": None, "pbo": None,
                           "importance": outcome.importance}
    m = trial_returns(complete)
    if best is not None and m.size and m.shape[0] >= 3:
        srs = period_sharpe(m)
        b = np.asarray(best.user_attrs["daily_returns"], np.float64)
        skew, kurt = skew_kurtosis(b)
        sr = float(period_sharpe(b[:, None])[0])
        var = float(np.var(srs, ddof=1)) if srs.size > 1 else 0.0
        d = deflated_sharpe(sr, len(complete), var, b.size, skew, kurt)
        row["dsr"] = {"dsr": _num(d.dsr), "sharpe_daily": _num(d.sharpe), "sr0_daily": _num(d.sr0),
                      "n_trials": d.n_trials, "n_obs": d.n_obs, "skew": _num(skew), "kurtosis": _num(kurt),
                      "var_trial_sharpe": _num(var)}
    if m.size and m.shape[1] >= 2 and m.shape[0] >= 2 * plan.pbo_blocks:
        p = pbo_cscv(m, plan.pbo_blocks)
        row["pbo"] = {"pbo": p.pbo, "n_splits": p.n_splits, "n_blocks": p.n_blocks, "n_trials": p.n_trials,
                      "logit_median": _num(float(np.median(p.logits)))}
    return row


def stitched(oos: list[Evaluation], wins: list[Window], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The out-of-sample record of all test spans end to end (a window without a choice stays flat)."""
    days: list[np.ndarray] = []
    rets: list[np.ndarray] = []
    it = iter(oos)
    for w, row in zip(wins, rows):
        if row["oos"] is not None:
            ev = next(it)
            days.append(ev.day_ns)
            rets.append(ev.day_returns)
        else:
            n = int((w.test_end - w.test_start) / timedelta(days=1))
            first = int(w.test_start.timestamp()) // 86400 * 86400 * 10**9
            days.append(first + np.arange(n, dtype=np.int64) * 86400 * 10**9)
            rets.append(np.zeros(n))
    r = np.concatenate(rets) if rets else np.empty(0)
    d = np.concatenate(days) if days else np.empty(0, np.int64)
    rm = np.concatenate([e.r_multiples for e in oos]) if oos else np.empty(0)
    pnl = np.concatenate([e.pnl for e in oos]) if oos else np.empty(0)
    fig = figures(rm, pnl, r)
    skew, kurt = skew_kurtosis(r)
    sr = float(period_sharpe(r[:, None])[0]) if r.size > 1 else 0.0
    return {"figures": fig.to_dict(), "windows_traded": len(oos), "windows": len(wins),
            "psr_vs_zero": _num(probabilistic_sharpe(sr, 0.0, r.size, skew, kurt)) if r.size > 2 else None,
            "equity": {"day": [_iso(int(x)) for x in d], "value": [round(float(v), 8) for v in np.cumprod(1 + r)]},
            "start": _iso_dt(wins[0].test_start) if wins else None}


def overfitting_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """DSR and PBO across windows: each window's figure and their median."""
    dsr = [r["dsr"]["dsr"] for r in rows if r["dsr"] and r["dsr"]["dsr"] is not None]
    pbo = [r["pbo"]["pbo"] for r in rows if r["pbo"]]
    deg = [r["degradation"] for r in rows if r["degradation"] and r["degradation"]["oos"] is not None]
    is_v = [x["is"] for x in deg if x["is"] is not None]
    oos_v = [x["oos"] for x in deg]
    return {"dsr_per_window": dsr, "dsr_median": _num(float(np.median(dsr))) if dsr else None,
            "pbo_per_window": pbo, "pbo_median": _num(float(np.median(pbo))) if pbo else None,
            "is_mean": _num(float(np.mean(is_v))) if is_v else None,
            "oos_mean": _num(float(np.mean(oos_v))) if oos_v else None,
            "oos_beats_zero_windows": sum(1 for v in oos_v if v is not None and v > 0) if oos_v else 0}


def speed(outcomes: list[StudyOutcome], total_s: float) -> dict[str, Any]:
    """Trials, wall time, trials per second (all workers), this process's seconds per trial, cache use."""
    n = sum(len(o.trials) for o in outcomes)
    study_s = sum(o.seconds for o in outcomes)
    own = [s for o in outcomes for s in o.trial_seconds]
    return {"trials": n, "study_s": round(study_s, 3), "total_s": round(total_s, 3),
            "trials_per_s": round(n / study_s, 4) if study_s > 0 else None,
            "trial_s_median": round(float(np.median(own)), 4) if own else None,
            "cache_hits": sum(o.cache_hits for o in outcomes), "cache_misses": sum(o.cache_misses for o in outcomes)}


def run_info(plan: Plan, start: datetime, end: datetime, n_windows: int) -> dict[str, Any]:
    """What was run (the storage URL with any password masked)."""
    s = plan.setup
    wf = plan.walk_forward
    return {"symbol": plan.spec.symbol, "from": _iso_dt(start), "to": _iso_dt(end), "column": s.column,
            "objective": s.objective.value, "min_trades": s.min_trades, "sampler": s.sampler.value,
            "trials_per_window": s.trials, "seed": s.seed, "jobs": plan.jobs, "space": sorted(s.space),
            "walk_forward": None if wf is None else {"train_days": wf.train / timedelta(days=1),
                                                     "test_days": wf.test / timedelta(days=1),
                                                     "step_days": wf.step / timedelta(days=1),
                                                     "anchored": wf.anchored},
            "windows": n_windows, "storage": mask_url(plan.storage), "study": plan.study,
            "heatmaps": "store" if plan.spec.heatmaps_dir is not None else "synthetic"}


def verdict(doc: dict[str, Any]) -> str:
    """The result in plain words, with the number of trials behind it."""
    st = doc["stitched"]
    n = doc["speed"]["trials"]
    if st is None:
        b = doc["best"]
        if b is None:
            return f"No trial of {n} met the minimum number of trades; nothing to recommend."
        return (f"In-sample only (no --walk-forward): the best of {b['trials']} trials scored {b['is_value']}; "
                "an in-sample best says nothing about the future.")
    f = st["figures"]
    pbo = doc["overfitting"]["pbo_median"]
    dsr = doc["overfitting"]["dsr_median"]
    pf = f["profit_factor"]
    psr = st["psr_vs_zero"]
    positive = (f["expectancy_r"] is not None and f["expectancy_r"] > 0 and pf is not None
                and (pf == "inf" or pf > 1) and f["return_pct"] > 0)
    significant = (isinstance(psr, float) and psr >= PSR_LEVEL and pbo is not None and pbo < PBO_LEVEL)
    if positive and significant:
        words = "holds up"
    elif positive:
        words = (f"is positive but not distinguishable from luck (needs PSR >= {PSR_LEVEL} and median PBO < "
                 f"{PBO_LEVEL}; has PSR {_g(psr)}, PBO {_g(pbo)})")
    else:
        words = "does not hold up"
    return (f"Out of sample after costs the walk-forward {words}: stitched over {st['windows']} test windows "
            f"({st['windows_traded']} traded) it made {f['trades']} trades, expectancy {_g(f['expectancy_r'])} R, "
            f"profit factor {_g(pf)}, return {_g(f['return_pct'])} %, max drawdown "
            f"{_g(f['max_drawdown_pct'])} %; chosen from {n} trials in all (median DSR {_g(dsr)}, "
            f"median PBO {_g(pbo)}).")


def _g(v: Any) -> str:
    """A figure in a sentence: three decimals, n/a when undefined."""
    if v is None:
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _num(v: float | None) -> float | str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, float) and math.isnan(v):
        return None
    return round(float(v), 6)


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def _iso(ns: int) -> str:
    return _dt(ns).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_dt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
