"""``liqbot backtest``: historical heatmaps through the paper bot's decision step into vectorbt.

``liqbot backtest --candles F --oi F [--ls-ratio F] [--funding F] [--heatmaps DIR]
[--strategies a,b] [--from T] [--to T] [--warmup D] [--fine-candles F] [--json [OUT]]
[--report OUT.html] [--signals OUT.jsonl] [--check-lookahead]`` prints the stats per strategy
and for the combined book; ``--json`` without a file prints one JSON document on stdout (stats,
trades, signal counts, timings), with a file writes it there. ``--signals`` writes the same JSON
lines as the paper bot's signal log (``liqbot signals review`` reads it). ``--check-lookahead``
reruns on the data cut at several times and exits 1 if any earlier signal or trade changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``backtest``."""
    p = sub.add_parser("backtest", help="backtest the strategies on historical heatmaps (vectorbt)",
                       description="Replay history through the same cluster tracker and engine as the paper bot, "
                                   "then simulate the signals with vectorbt: one column per strategy plus the "
                                   "combined book.")
    p.add_argument("--candles", type=Path, required=True, help="candles file (freqtrade feather, parquet, CSV, JSON)")
    p.add_argument("--oi", type=Path, default=None, help="open interest file (volume mode where it has no data)")
    p.add_argument("--ls-ratio", type=Path, default=None, help="long/short ratio file")
    p.add_argument("--funding", type=Path, default=None, help="funding rate file")
    p.add_argument("--heatmaps", type=Path, default=None,
                   help="snapshot store (built, imported or recorded); default: the synthetic model on the candles")
    p.add_argument("--strategies", default=None, help="comma-separated strategies (default: strategies.enabled)")
    p.add_argument("--symbol", default=None,
                   help="symbol of the files (ETHUSDT, ETH/USDT:USDT, ...; default: the one the file names spell, "
                        "else the first of symbols); files naming another symbol are refused")
    p.add_argument("--from", dest="from_", default=None, help="start (ISO-8601 or epoch); the warmup follows it")
    p.add_argument("--to", default=None, help="end (ISO-8601 or epoch)")
    p.add_argument("--warmup", default=None, help="model-only history after --from, e.g. 1d (default: backtest.warmup)")
    p.add_argument("--fine-candles", type=Path, default=None,
                   help="finer candles (e.g. 1m) to tell whether stop or target came first in a bar touching both")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="OUT",
                   help="JSON result: to stdout without OUT, else to the file OUT")
    p.add_argument("--report", type=Path, default=None, metavar="OUT.html", help="write the HTML report")
    p.add_argument("--signals", type=Path, default=None, metavar="OUT.jsonl",
                   help="write the signal log (signals and rejected candidates, JSON lines)")
    p.add_argument("--check-lookahead", action="store_true",
                   help="rerun on data cut at several times; exit 1 if an earlier signal or trade changes")
    p.set_defaults(func=run)


def spec_from(args: argparse.Namespace, settings: Any) -> Any:
    """The ``BacktestSpec`` of the command line (the paths are checked before the backtester is imported)."""
    from bot.feeds.base import parse_span
    from bot.cli.timeargs import parse_time

    for name in ("candles", "oi", "ls_ratio", "funding", "fine_candles"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise DataError("no such file", field=f"--{name.replace('_', '-')}", position=str(path))
    if args.heatmaps is not None and not args.heatmaps.is_dir():
        raise DataError("no such snapshot store", field="--heatmaps", position=str(args.heatmaps))
    now = datetime.now().astimezone()
    start = parse_time(args.from_, now, field="--from") if args.from_ else None
    end = parse_time(args.to, now, field="--to") if args.to else None
    if start is not None and end is not None and end <= start:
        raise DataError("--to must be after --from", field="--to")
    names = tuple(n.strip() for n in args.strategies.split(",") if n.strip()) if args.strategies else None
    from bot.marketdata.symbols import resolve
    symbol = resolve(args.symbol, [("--candles", args.candles), ("--oi", args.oi), ("--ls-ratio", args.ls_ratio),
                                   ("--funding", args.funding), ("--fine-candles", args.fine_candles)],
                     settings.symbols)
    warmup: timedelta = parse_span(args.warmup or settings.backtest.warmup, "--warmup")
    from backtest.run import BacktestSpec  # pandas, vectorbt: only once the input is known good
    from bot.feeds.replay import ReplayFiles
    return BacktestSpec(symbol=symbol, files=ReplayFiles(args.candles, args.oi, args.ls_ratio, args.funding),
                        start=start, end=end, warmup=warmup, strategies=names, heatmaps_dir=args.heatmaps,
                        fine_candles=args.fine_candles)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot backtest``."""
    spec = spec_from(args, settings)  # bad input is a one-line error before the heavy imports
    from backtest.run import run_backtest, summary, trade_records
    from bot.atomic import atomic_output, check_output_file, write_text_atomic
    from bot.signallog import SignalLogWriter

    # every output path is checked before any work; each is written to a temporary file and renamed
    for flag, out in (("--signals", args.signals), ("--report", args.report),
                      ("--json", None if args.json in (None, "-") else Path(args.json))):
        if out is not None:
            check_output_file(out, flag)
    if spec.fine_candles is not None:  # checked before any work, not after the whole replay
        from bot.inputs.series import check_fine_candles
        from bot.marketdata.files import load_candles
        check_fine_candles(load_candles(spec.files.candles), load_candles(spec.fine_candles))
    days = settings.backtest.report_days if args.report else None
    with atomic_output(args.signals) if args.signals is not None else nullcontext() as signals_tmp:
        log = SignalLogWriter(signals_tmp, fsync="close") if signals_tmp is not None else None
        try:
            with BarProgress(enabled=sys.stderr.isatty()) as progress:
                result = run_backtest(settings, spec, log=log, keep_clusters_days=days, progress=progress,
                                      fingerprints=args.check_lookahead)
        finally:
            if log is not None:
                log.close()
    for note in result.notes:
        print(f"liqbot: note: {note}", file=sys.stderr)
    doc = summary(result)
    doc["trades"] = trade_records(result)
    code = 0
    if args.check_lookahead:
        from backtest.lookahead import check_lookahead
        report = check_lookahead(settings, spec, result, settings.backtest.lookahead_cuts)
        doc["lookahead"] = report.to_dict()
        code = 0 if report.ok else 1
    doc["files"] = {"signals": str(args.signals) if args.signals else None,
                    "report": str(args.report) if args.report else None,
                    "json": args.json if args.json not in (None, "-") else None}
    if args.report is not None:
        from backtest.report import write_report
        write_report(result, args.report, settings, days=settings.backtest.report_days,
                     lookahead=doc.get("lookahead"))
    if args.json == "-":
        print(json.dumps(doc, default=str))
    else:
        if args.json is not None:
            write_text_atomic(Path(args.json), json.dumps(doc, default=str, indent=1))
        print_stats(doc)
    if code:
        first = next(p for c in doc["lookahead"]["cuts"] for p in c["problems"])
        print(f"liqbot: lookahead check failed: {first}", file=sys.stderr)
    return code


class BarProgress:
    """A rich progress bar over the replayed bars on stderr (a no-op when disabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "BarProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self._progress = Progress(TextColumn("[bold]backtest"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("bars"), TimeElapsedColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("backtest", total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        """Progress callback of ``backtest.replay.replay``."""
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_stats(doc: dict[str, Any]) -> None:
    """The stats table and the signal counts on stdout (rich)."""
    from bot.cli.console import stdout_console
    from rich.table import Table

    run = doc["run"]
    table = Table(title=f"backtest {run['symbol']} {run['from']} to {run['to']} ({run['trading_bars']:,} trading bars)")
    cols = [("column", "column"), ("trades", "trades"), ("win_rate_pct", "win %"), ("profit_factor", "PF"),
            ("expectancy_r", "exp. R"), ("return_pct", "return %"), ("max_drawdown_pct", "max DD %"),
            ("sharpe", "Sharpe"), ("total_pnl_usd", "P&L $"), ("fees_usd", "fees $")]
    for _, label in cols:
        table.add_column(label, justify="left" if label == "column" else "right")
    for s in doc["stats"]:
        cells = []
        for key, _ in cols:
            v = s[key]
            if key == "profit_factor" and s.get("profit_factor_inf"):
                cells.append("inf")
            elif v is None:
                cells.append("-")
            elif isinstance(v, float):
                cells.append(f"{v:,.3f}" if key in ("expectancy_r", "profit_factor", "sharpe") else f"{v:,.2f}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console = stdout_console()  # a pipe gets the whole table
    console.print(table)
    if doc.get("coverage"):
        from bot.marketdata.coverage import coverage_line
        console.print(coverage_line(doc["coverage"]))
    sig = doc["signals"]
    console.print(f"signals {sig['emitted']:,} emitted, {sig['suppressed_by_cooldown']:,} suppressed by the cooldown, "
                  f"{sig['rejected_candidates']:,} candidates rejected; engine ran on {sig['engine_bars']:,} bars; "
                  f"{doc['timings']['total_s']:.1f} s")
    if "lookahead" in doc:
        la = doc["lookahead"]
        console.print(f"lookahead check: {'ok' if la['ok'] else 'FAILED'} at {len(la['cuts'])} cut times (the run "
                      "repeated on data ending at each cut; its signals up to the cut and its trades closed before "
                      "the cut's last bar must equal the full run's):")
        for c in la["cuts"]:
            console.print(f"  cut {c['cut']}: {c['signals_compared']:,} signals and {c['trades_compared']:,} trades "
                          f"compared, {len(c['problems'])} differences")
    a = doc.get("analysis")
    if a:
        bh = a["buy_and_hold"]
        comb = a["columns"][-1]
        dd = comb["drawdown_duration"]
        console.print(f"combined: Sortino {_num(comb['sortino'])}, Calmar {_num(comb['calmar'])}, longest drawdown "
                      f"{_num(dd['days'])} days; long {comb['long']['trades']} trades "
                      f"{_num(comb['long']['pnl_usd'])} $, "
                      f"short {comb['short']['trades']} trades {_num(comb['short']['pnl_usd'])} $; median holding "
                      f"{_num(comb['holding_hours']['median'])} h; buy and hold {_num(bh['return_pct'])} % "
                      f"(max DD {_num(bh['max_drawdown_pct'])} %)")
    written = [f"{k} {v}" for k, v in doc.get("files", {}).items() if v]
    if written:
        console.print("wrote " + ", ".join(written))


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:,.2f}"
