"""One Optuna study per train span, run by one or several processes sharing an RDB storage.

Every trial is a plain backtest of the train span (``research.evaluate``): the objective never
receives any other span, and records the span it scored in the trial's ``span`` attribute so a
test (or a reader of the storage) can check it. Trials with fewer than ``min_trades`` trades, or
whose objective is undefined, or whose values the settings reject, are pruned with the reason in
``pruned``. The best trial is the completed one with the highest value, ties broken by its
parameters (so 1 and N workers that evaluated the same points pick the same one).

Several processes (``--jobs``) or machines join a study through the same storage URL (SQLite
file by default; ``postgresql://user:pass@host/db`` for several machines): Optuna hands each
worker the next trial, and re-running with the same storage and study name continues it.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import multiprocessing as mp
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from backtest.run import BacktestSpec
from bot.errors import ConfigError, DataError
from bot.search_space import Dimension
from backtest.research.evaluate import RowsCache, evaluate
from backtest.research.metrics import Objective
from backtest.research.sampler import SamplerKind, sampler_of
from backtest.research.space import suggest


@dataclass(frozen=True)
class StudySetup:
    """Everything that defines a study of one window (also what a resumed study must match)."""

    space: Mapping[str, Dimension]
    objective: Objective
    column: str
    min_trades: int
    sampler: SamplerKind
    trials: int
    seed: int

    def fingerprint(self, span: tuple[datetime, datetime]) -> str:
        """A JSON identity stored with the study; resuming with another setup is an error."""
        return json.dumps({"space": sorted(self.space), "objective": self.objective.value, "column": self.column,
                           "min_trades": self.min_trades, "sampler": self.sampler.value,
                           "span": [span[0].isoformat(), span[1].isoformat()]}, sort_keys=True)


@dataclass(frozen=True)
class WorkerJob:
    """What a worker process needs to join a study (picklable: the settings are re-loaded from their file)."""

    storage: str
    study_name: str
    setup: StudySetup
    config_file: Path | None
    spec: BacktestSpec
    start: datetime
    end: datetime


def storage_of(url: str) -> Any:
    """An Optuna RDB storage; SQLite waits for its file lock instead of failing when workers write at once.

    A storage that cannot be opened (bad URL, no driver, server down) is a ``DataError`` on
    ``--storage`` whose text never carries the password."""
    import optuna
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 120}
    try:
        with _creation_lock(url):
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as exc:  # sqlalchemy's and the drivers' errors have no common base worth naming
        detail = mask_url(" ".join(str(exc).split()))[:200]
        raise DataError(f"cannot open {mask_url(url)}: {type(exc).__name__}: {detail}", field="--storage") from None


@contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """Serialise the opening of one SQLite study file between local processes.

    Optuna creates the schema of a new file on first open; two workers opening a fresh file at
    the same moment both try to, and the loser fails with "table alembic_version already exists".
    A server database (PostgreSQL, MySQL) serialises that itself, so only SQLite files take the lock.
    """
    path = url.partition(":///")[2] if url.startswith("sqlite") else ""
    if not path or path.startswith(":memory:"):
        yield
        return
    import fcntl
    lock = Path(path).with_name(Path(path).name + ".open-lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def mask_url(text: str) -> str:
    """``scheme://user:***@host/db``: a storage password is never printed."""
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def open_study(storage: Any, name: str, setup: StudySetup, span: tuple[datetime, datetime]) -> Any:
    """Create the study or load it; a stored study with another setup is refused."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize",
                                sampler=sampler_of(setup.sampler, setup.space, setup.trials, setup.seed),
                                load_if_exists=True)
    mine = setup.fingerprint(span)
    stored = study.user_attrs.get("setup")
    if stored is None:
        study.set_user_attr("setup", mine)
    elif stored != mine:
        raise DataError(f"study '{name}' exists in the storage with another setup; pick another --study",
                        field="--study")
    return study


class TrialObjective:
    """The objective of a study: one backtest of the train span per trial."""

    def __init__(self, settings: Any, setup: StudySetup, spec: BacktestSpec, start: datetime, end: datetime,
                 cache: RowsCache) -> None:
        self.settings = settings
        self.setup = setup
        self.spec = spec
        self.start = start
        self.end = end
        self.cache = cache
        self.seconds: list[float] = []

    def __call__(self, trial: Any) -> float:
        import optuna

        from backtest.research.space import apply_params
        t0 = time.perf_counter()
        params = suggest(trial, self.setup.space)
        trial.set_user_attr("span", [self.start.isoformat(), self.end.isoformat()])
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            settings = apply_params(self.settings, params)
        except ConfigError as exc:
            trial.set_user_attr("pruned", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        ev, _ = evaluate(settings, self.spec, self.start, self.end, self.setup.column, self.cache)
        trial.set_user_attr("figures", ev.figures.to_dict())
        trial.set_user_attr("daily_returns", [float(x) for x in ev.day_returns])
        self.seconds.append(time.perf_counter() - t0)
        value = ev.figures.value(self.setup.objective)
        if ev.figures.trades < self.setup.min_trades:
            reason = f"{ev.figures.trades} trades < --min-trades {self.setup.min_trades}"
        elif value is None or math.isnan(value):
            reason = f"{self.setup.objective.value} undefined"
        else:
            return float(value)
        trial.set_user_attr("pruned", reason)
        raise optuna.TrialPruned(reason)


def run_trials(study: Any, objective: TrialObjective, setup: StudySetup,
               callback: Callable[[Any, Any], None] | None = None) -> None:
    """Run this process's share of the study until it holds ``setup.trials`` finished trials (or the grid is done)."""
    import optuna
    from optuna.trial import TrialState
    callbacks: list[Any] = []
    n_trials: int | None = None
    if setup.sampler is not SamplerKind.GRID:  # a grid stops the study itself once every point is scored
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                             TrialState.FAIL)))
        n_trials = max(setup.trials - done, 0)
        if n_trials == 0:
            return
        callbacks.append(optuna.study.MaxTrialsCallback(setup.trials, states=(TrialState.COMPLETE,
                                                                              TrialState.PRUNED, TrialState.FAIL)))
    if callback is not None:
        callbacks.append(callback)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks, catch=())


def worker_main(job: WorkerJob) -> int:
    """Entry point of a worker process: join the study and run trials; returns how many it ran."""
    from config.settings import load_settings
    settings = load_settings(job.config_file)
    study = open_study(storage_of(job.storage), job.study_name, job.setup, (job.start, job.end))
    objective = TrialObjective(settings, job.setup, job.spec, job.start, job.end, RowsCache(job.spec))
    run_trials(study, objective, job.setup)
    return len(objective.seconds)


@dataclass
class StudyOutcome:
    """What a finished study of one window holds."""

    name: str
    trials: list[Any]                  # finished trials (complete and pruned), by number
    best: Any | None                   # the best complete trial, None when none completed
    seconds: float                     # wall time of the study
    trial_seconds: list[float] = field(default_factory=list)  # this process's trials
    cache_hits: int = 0
    cache_misses: int = 0
    importance: dict[str, float] = field(default_factory=dict)  # optuna.importance (fANOVA) of the parameters

    @property
    def complete(self) -> list[Any]:
        """Completed trials."""
        from optuna.trial import TrialState
        return [t for t in self.trials if t.state == TrialState.COMPLETE]


def best_trial(trials: list[Any]) -> Any | None:
    """Highest value; on a tie the trial whose parameters sort first (independent of trial numbers)."""
    from optuna.trial import TrialState
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not done:
        return None
    return min(done, key=lambda t: (-t.value, json.dumps(t.params, sort_keys=True)))


def run_study(settings: Any, config_file: Path | None, storage_url: str, name: str, setup: StudySetup,
              spec: BacktestSpec, start: datetime, end: datetime, jobs: int,
              on_trial: Callable[[int, float | None], None] | None = None) -> StudyOutcome:
    """The study of one train span ``[start, end)``: ``jobs`` processes (this one included) share it."""
    import optuna
    from optuna.trial import TrialState
    t0 = time.perf_counter()
    storage = storage_of(storage_url)
    study = open_study(storage, name, setup, (start, end))
    cache = RowsCache(spec)
    objective = TrialObjective(settings, setup, spec, start, end, cache)

    def callback(st: Any, _trial: Any) -> None:
        if on_trial is not None:
            fin = st.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
            best = best_trial(fin)
            on_trial(len(fin), None if best is None else float(best.value))

    pool = None
    futures: list[Any] = []
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(max_workers=jobs - 1, mp_context=mp.get_context("spawn"))
        job = WorkerJob(storage_url, name, setup, config_file, spec, start, end)
        futures = [pool.submit(worker_main, job) for _ in range(jobs - 1)]
    try:
        run_trials(study, objective, setup, callback)
        for f in futures:
            f.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = [t for t in study.get_trials(deepcopy=False)
              if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    seconds = time.perf_counter() - t0
    return StudyOutcome(name=name, trials=trials, best=best_trial(trials), seconds=seconds,
                        trial_seconds=objective.seconds, cache_hits=cache.hits, cache_misses=cache.misses,
                        importance=importance_of(study))


def importance_of(study: Any) -> dict[str, float]:
    """fANOVA importance of each parameter over the completed trials (empty when there are too few)."""
    import optuna
    from optuna.trial import TrialState
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        got = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError):  # no parameter varied among the completed trials
        return {}
    return {k: round(float(v), 6) for k, v in got.items()}


def trial_returns(trials: list[Any]) -> np.ndarray:
    """T x N daily returns of the completed trials (the columns of the PBO matrix)."""
    cols = [np.asarray(t.user_attrs["daily_returns"], np.float64) for t in trials if "daily_returns" in t.user_attrs]
    if not cols:
        return np.empty((0, 0))
    n = min(c.size for c in cols)
    return np.column_stack([c[-n:] for c in cols])
