"""The ``liqbot optimize`` command: search parameters with Optuna, walk forward, and say honestly what held up.

``liqbot optimize --candles F [--oi F] [--ls-ratio F] [--funding F] [--heatmaps STORE] [--symbol S]
[--from T] [--to T] [--space strategies|model|all|key,key] [--objective expectancy_r|profit_factor|
sharpe|sortino|calmar] [--min-trades N] [--strategy S|combined] [--sampler tpe|random|grid]
[--trials N] [--jobs N] [--seed N] [--walk-forward train=90d,test=30d[,step=30d][,anchored]]
[--storage URL] [--study NAME] [--json [OUT]] [--report OUT.html] [--best OUT.toml]``

Per train window one Optuna study (``--trials`` trials, ``--jobs`` processes sharing the
storage); its best parameters are backtested once on the test window after it. Prints the
per-window table, the stitched out-of-sample figures, DSR and PBO, trials per second and the
verdict; ``--best`` writes the last window's choice as a TOML file ``--config`` accepts. The
logic lives in ``backtest.research``; this module (the command line is the top layer) parses,
checks and writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``optimize``."""
    from backtest.research.metrics import Objective
    from backtest.research.sampler import SamplerKind

    p = sub.add_parser("optimize", help="search parameters (Optuna) with an honest walk-forward",
                       description="Optimise the declared parameter spaces on train windows only, score the "
                                   "choice on the test window after each, and report the stitched out-of-sample "
                                   "record with the deflated Sharpe ratio and the probability of backtest "
                                   "overfitting.")
    p.add_argument("--candles", type=Path, required=True, help="candles file (freqtrade feather, parquet, CSV, JSON)")
    p.add_argument("--oi", type=Path, default=None, help="open interest file")
    p.add_argument("--ls-ratio", type=Path, default=None, help="long/short ratio file")
    p.add_argument("--funding", type=Path, default=None, help="funding rate file")
    p.add_argument("--heatmaps", type=Path, default=None, help="snapshot store (default: the synthetic model)")
    p.add_argument("--symbol", default=None, help="ccxt symbol of the files (default: the first of symbols)")
    p.add_argument("--from", dest="from_", default=None, help="start of the history (ISO-8601 or epoch)")
    p.add_argument("--to", default=None, help="end of the history (ISO-8601 or epoch)")
    p.add_argument("--warmup", default=None, help="model-only history before each span (default: backtest.warmup)")
    p.add_argument("--space", default="strategies",
                   help="strategies | model | all | comma-separated dotted keys or sections (default: strategies)")
    p.add_argument("--objective", default=Objective.EXPECTANCY_R.value, choices=[o.value for o in Objective])
    p.add_argument("--min-trades", type=int, default=20, help="trials with fewer train trades are pruned (20)")
    p.add_argument("--strategy", default="combined", help="a strategy alone, or the combined book (default)")
    p.add_argument("--sampler", default=SamplerKind.TPE.value, choices=[s.value for s in SamplerKind])
    p.add_argument("--trials", type=int, default=50, help="trials per window (grid: about this many points)")
    p.add_argument("--jobs", type=int, default=1, help="local processes sharing the study (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--walk-forward", default=None, metavar="SPEC",
                   help="train=90d,test=30d[,step=30d][,anchored]; without it: one in-sample study")
    p.add_argument("--pbo-blocks", type=int, default=8, help="even number of CSCV blocks for PBO (default 8)")
    p.add_argument("--storage", default="sqlite:///study.db",
                   help="Optuna RDB storage URL (default sqlite:///study.db; postgresql://... for many machines)")
    p.add_argument("--study", default=None, help="study name (default: optimize-<strategy>-<objective>)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="OUT",
                   help="JSON result: to stdout without OUT, else to the file OUT")
    p.add_argument("--report", type=Path, default=None, metavar="OUT.html", help="write the HTML report")
    p.add_argument("--best", type=Path, default=None, metavar="OUT.toml",
                   help="write the last window's chosen parameters as a --config TOML file")
    p.set_defaults(func=run)


def plan_from(args: argparse.Namespace, settings: Any) -> Any:
    """The research plan of the command line (every bad value is a ``DataError`` naming its option)."""
    from bot.cli.commands.backtest import spec_from
    from backtest.research.metrics import Objective
    from backtest.research.space import COMBINED, select_space
    from backtest.research.sampler import SamplerKind
    from backtest.research.study import StudySetup
    from backtest.research.walkforward import Plan
    from backtest.research.windows import WalkForward
    from strategies.registry import OI_SIZING, params_class

    for name, low in (("trials", 1), ("jobs", 1), ("min_trades", 0)):
        if getattr(args, name) < low:
            raise DataError(f"must be >= {low}", field=f"--{name.replace('_', '-')}")
    if args.pbo_blocks < 2 or args.pbo_blocks % 2:
        raise DataError("must be an even number >= 2", field="--pbo-blocks")
    strategy = args.strategy.strip()
    if strategy != COMBINED:
        try:
            params_class(strategy)
        except ValueError as exc:
            raise DataError(str(exc), field="--strategy") from None
        if strategy == OI_SIZING:
            raise DataError("oi_sizing sizes trades; name a directional strategy or combined", field="--strategy")
    ns = argparse.Namespace(**vars(args))
    ns.strategies = None if strategy == COMBINED else strategy
    ns.fine_candles = None
    spec = spec_from(ns, settings)
    space = select_space(args.space, strategy, list(settings.strategies.enabled))
    setup = StudySetup(space=space, objective=Objective(args.objective), column=strategy, min_trades=args.min_trades,
                       sampler=SamplerKind(args.sampler), trials=args.trials, seed=args.seed)
    wf = WalkForward.parse(args.walk_forward) if args.walk_forward else None
    study = args.study or f"optimize-{strategy}-{args.objective}"
    return Plan(spec=spec, setup=setup, walk_forward=wf, storage=args.storage, study=study, jobs=args.jobs,
                config_file=args.config, pbo_blocks=args.pbo_blocks)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot optimize``."""
    from backtest.research.walkforward import run as run_research

    for out in (args.report, args.best, None if args.json in (None, "-") else Path(args.json)):
        if out is not None and not out.parent.is_dir():
            raise DataError("no such folder", field=str(out))
    plan = plan_from(args, settings)
    with TrialProgress(enabled=sys.stderr.isatty()) as progress:
        doc = run_research(settings, plan, progress)
    if args.report is not None:
        from backtest.research.report import write_report
        write_report(doc, args.report)
    if args.json == "-":
        print(json.dumps(doc, default=str))
    else:
        if args.json is not None:
            _write(Path(args.json), json.dumps(doc, default=str, indent=1))
        print_summary(doc)
    if args.best is not None:  # last: a run without a best choice still leaves its JSON and report
        write_best(args.best, doc)
    return 0


def write_best(path: Path, doc: dict[str, Any]) -> None:
    """The last window's chosen parameters as a ``--config`` TOML file (with the trials behind them)."""
    from backtest.research.space import to_toml
    best = doc["best"]
    if best is None:
        raise DataError("no trial met --min-trades, so there are no best parameters to write", field="--best")
    r = doc["run"]
    header = [f"liqbot optimize: {r['column']} {r['symbol']}, objective {r['objective']}",
              f"chosen on the train span {best['train'][0]} to {best['train'][1]} (window {best['window']}) "
              f"from {best['trials']} trials ({best['complete_trials']} complete); in-sample value {best['is_value']}",
              f"walk-forward verdict: {doc['verdict']}"]
    _write(path, to_toml(best["params"], header))


def _write(path: Path, text: str) -> None:
    from bot.heatmap.partition import atomic_write_bytes
    atomic_write_bytes(path, text.encode("utf-8"))


class TrialProgress:
    """A rich progress bar on stderr: trials done, best so far, time left (a no-op when disabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._done: dict[int, int] = {}

    def __enter__(self) -> "TrialProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self._progress = Progress(TextColumn("[bold]optimize[/] {task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn("trials, best {task.fields[best]}"),
                                      TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=None, best="-")
        return self

    def __call__(self, window: int, windows: int, done: int, per_window: int, best: float | None) -> None:
        """Progress callback of ``research.walkforward.run`` (the total makes rich estimate the time left)."""
        self._done[window] = done
        if self._progress is not None:
            self._progress.update(self._task, completed=sum(self._done.values()), total=windows * per_window,
                                  description=f"window {window + 1}/{windows}",
                                  best="-" if best is None else f"{best:.4g}")

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_summary(doc: dict[str, Any]) -> None:
    """The per-window table, the stitched out-of-sample figures, the overfitting figures and the verdict."""
    from rich.table import Table

    from bot.cli.console import stdout_console

    r = doc["run"]
    console = stdout_console()
    table = Table(title=f"optimize {r['column']} {r['symbol']} {r['from']} to {r['to']}, objective {r['objective']}, "
                        f"{r['sampler']} x {r['trials_per_window']} trials per window")
    for label in ("window", "train", "test", "trials", "IS value", "IS trades", "OOS value", "OOS trades",
                  "OOS PF", "OOS exp. R", "OOS return %", "DSR", "PBO"):
        table.add_column(label, justify="left" if label in ("train", "test") else "right")
    obj = r["objective"]
    for w in doc["windows"]:
        oos = (w["oos"] or {}).get("figures") or {}
        table.add_row(str(w["index"]), f"{w['train'][0][:10]}..{w['train'][1][:10]}",
                      f"{w['test'][0][:10]}..{w['test'][1][:10]}", f"{w['complete_trials']}/{w['trials']}",
                      _f(w["is_value"]), _f((w["is"] or {}).get("trades")), _f(oos.get(obj)), _f(oos.get("trades")),
                      _f(oos.get("profit_factor")), _f(oos.get("expectancy_r")), _f(oos.get("return_pct")),
                      _f((w["dsr"] or {}).get("dsr")), _f((w["pbo"] or {}).get("pbo")))
    console.print(table)
    st = doc["stitched"]
    if st is not None:
        f = st["figures"]
        console.print(f"stitched out of sample: {f['trades']} trades, expectancy {_f(f['expectancy_r'])} R, "
                      f"PF {_f(f['profit_factor'])}, Sharpe {_f(f['sharpe'])}, Sortino {_f(f['sortino'])}, "
                      f"Calmar {_f(f['calmar'])}, return {_f(f['return_pct'])} %, max DD {_f(f['max_drawdown_pct'])} %"
                      f", PSR(SR>0) {_f(st['psr_vs_zero'])}")
    o, s = doc["overfitting"], doc["speed"]
    console.print(f"overfitting: median DSR {_f(o['dsr_median'])}, median PBO {_f(o['pbo_median'])}; "
                  f"IS mean {_f(o['is_mean'])} vs OOS mean {_f(o['oos_mean'])}")
    console.print(f"speed: {s['trials']} trials in {s['study_s']:.1f} s of studies = {_f(s['trials_per_s'])} "
                  f"trials/s (median {_f(s['trial_s_median'])} s per trial in this process; heatmap cache "
                  f"{s['cache_hits']} hits, {s['cache_misses']} builds)")
    console.print(f"verdict: {doc['verdict']}")


def _f(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}"
    return str(v)
