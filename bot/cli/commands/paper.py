"""``liqbot paper``: run the bot against the paper broker on the simulator, files or live data."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from bot.cli import interrupt
from bot.clock import Clock, Sleeper, SystemClock, SystemSleeper
from bot.errors import ConfigError
from bot.feeds.base import Feed, parse_duration, parse_span, parse_speed
from bot.inputs.values import seed_int

if TYPE_CHECKING:
    from config.settings import Settings  # annotations only: settings load once, in main
    from bot.runner import Runner


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``paper``."""
    p = sub.add_parser("paper", help="paper trading: simulator (default), file replay or live market data",
                       description="Run the bot with the paper broker. State (orders, fills, positions, equity, "
                                   "risk) lives in SQLite under --state; a restarted bot resumes where it stopped.")
    p.add_argument("--feed", choices=["sim", "replay", "live"], default=None, help="market data (default: feed.kind)")
    p.add_argument("--symbols", nargs="+", default=None, metavar="SYMBOL", help="ccxt symbols (default: symbols)")
    p.add_argument("--speed", default=None, help="sim/replay pace: max or N x real time (default: feed.speed)")
    p.add_argument("--duration", default=None,
                   help="market time to run for sim/replay, wall time for live, e.g. 6h, 2d (default: feed.duration; "
                        "replay: the whole file)")
    p.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
    p.add_argument("--seed", type=seed_int, default=None, help="simulator seed (default: feed.sim_seed)")
    p.add_argument("--warmup", default=None,
                   help="history fed to the heatmap model before trading (default: feed.warmup)")
    g = p.add_argument_group("replay")
    g.add_argument("--candles", type=Path, help="candles file")
    g.add_argument("--oi", type=Path, help="open interest file")
    g.add_argument("--ls-ratio", type=Path, help="long/short ratio file")
    g.add_argument("--funding", type=Path, help="funding rate file")
    g.add_argument("--heatmaps", type=Path, help="use recorded snapshots from this snapshot store")
    g.add_argument("--from", dest="from_", default=None, help="replay start (ISO-8601 or epoch)")
    g.add_argument("--to", default=None, help="replay end")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON document")
    p.add_argument("--no-status", action="store_true", help="no status line on the terminal")
    add_heatmap_arg(p)
    p.set_defaults(func=run_paper)


def add_heatmap_arg(p: argparse.ArgumentParser) -> None:
    """``--heatmap SOURCE`` (paper and live)."""
    from bot.heatmap.providers.sources import SOURCES
    p.add_argument("--heatmap", choices=SOURCES, default=None,
                   help="heatmap source (default: providers.heatmap_source); remote maps are recorded in the state")


@dataclass(frozen=True, slots=True)
class PaperPlan:
    """Resolved options of one paper run."""

    feed: str
    symbols: tuple[str, ...]
    speed: float
    duration: timedelta | None
    warmup: timedelta
    state: Path
    seed: int


def plan_from(args: argparse.Namespace, settings: Settings) -> PaperPlan:
    """Merge the command line over the settings."""
    kind = args.feed or settings.feed.kind
    symbols = tuple(args.symbols or settings.symbols)
    if kind == "replay":
        if args.symbols is not None and len(args.symbols) != 1:
            raise ConfigError("--feed replay takes one symbol (the files' market)")
        from bot.marketdata.symbols import hint_of, resolve
        files = [(f"--{n.replace('_', '-')}", getattr(args, n, None)) for n in ("candles", "oi", "ls_ratio", "funding")]
        named = any(hint_of(path, flag) for flag, path in files if path is not None)
        if args.symbols is None and not named and len(settings.symbols) != 1:
            raise ConfigError("--feed replay takes one symbol (the files' market): pass --symbols S")
        symbols = (resolve(args.symbols[0] if args.symbols else None, files, settings.symbols),)
    explicit = args.duration is not None
    duration = parse_duration(args.duration if explicit else settings.feed.duration, "--duration")
    return PaperPlan(feed=kind, symbols=symbols, speed=parse_speed(args.speed or settings.feed.speed),
                     duration=duration if explicit or kind != "replay" else None,
                     warmup=parse_span(args.warmup or settings.feed.warmup, "--warmup"),
                     state=args.state or settings.state_dir,
                     seed=settings.feed.sim_seed if args.seed is None else args.seed)


def build_feed(plan: PaperPlan, settings: Settings, args: argparse.Namespace | None = None,
               clock: Clock | None = None, sleeper: Sleeper | None = None) -> tuple[Feed, dict[str, Any]]:
    """The feed of ``plan`` and the run identity stored with the state (a resumed run must match)."""
    timeframe = parse_duration(settings.feed.timeframe, "feed.timeframe")
    if plan.feed == "sim":
        from bot.cli.timeargs import parse_time
        from bot.feeds.sim import SIM_VERSION, SimFeed
        start = parse_time(settings.feed.sim_start, datetime.now().astimezone(), field="feed.sim_start")
        assert plan.duration is not None
        warm = int(plan.warmup / timeframe)
        end_bar = sim_end_bar(plan.state, start, timeframe, warm + int(plan.duration / timeframe),
                              int(plan.duration / timeframe))
        feed = SimFeed(plan.symbols, start, timeframe, warm, end_bar - warm, plan.seed, plan.speed)
        # everything that shapes the simulated market (the duration does not: a longer run extends it)
        return feed, {"feed": "sim", "seed": plan.seed, "symbols": list(plan.symbols), "start": start.isoformat(),
                      "timeframe": settings.feed.timeframe, "warmup_bars": warm, "sim_version": SIM_VERSION}
    if plan.feed == "replay":
        return _replay_feed(plan, settings, args)
    from bot.feeds.live import LiveFeed
    feed = LiveFeed.from_settings(settings, plan.symbols, timeframe)
    return feed, {"feed": "live", "symbols": list(plan.symbols), "exchange": settings.exchange.id}


SIM_PLAN = "sim_plan"  # kv key: the close time the current sim run is heading for


def sim_end_bar(state: Path, start: datetime, timeframe: timedelta, fresh_end: int, duration_bars: int) -> int:
    """How many bars from ``start`` the simulator runs, given what ``state`` already holds.

    A new state runs ``fresh_end`` bars (warmup + duration). A run that was interrupted (its cursor is
    before the end it planned) finishes that plan, so a kill -9 resumes to exactly the uninterrupted
    result; a finished run is carried on: the same market, ``duration_bars`` more.
    """
    from bot.clock import parse_ts
    from bot.store import Store
    from bot.store.sqlite import DB_NAME
    if not (Path(state) / DB_NAME).is_file():
        return fresh_end
    with Store.open(state, readonly=True) as store:
        cursor, planned = store.kv_get("cursor"), store.kv_get(SIM_PLAN)
    if cursor is None:
        return fresh_end
    done = int((parse_ts(cursor) - start) / timeframe)
    if planned is not None and parse_ts(planned["end"]) > parse_ts(cursor):
        return int((parse_ts(planned["end"]) - start) / timeframe)
    return done + duration_bars


def _replay_feed(plan: PaperPlan, settings: Settings, args: argparse.Namespace | None) -> tuple[Feed, dict[str, Any]]:
    from bot.cli.timeargs import parse_time
    from bot.feeds.replay import ReplayFeed, ReplayFiles
    if args is None or args.candles is None:
        raise ConfigError("--feed replay needs --candles FILE (and usually --oi FILE)")
    now = datetime.now().astimezone()
    start = parse_time(args.from_, now, field="--from") if args.from_ else None
    end = parse_time(args.to, now, field="--to") if args.to else None
    files = ReplayFiles(args.candles, args.oi, args.ls_ratio, args.funding)
    feed = ReplayFeed(plan.symbols[0], files, speed=plan.speed, start=start, end=end, duration=plan.duration,
                      warmup=plan.warmup, max_age=timedelta(hours=settings.synthetic.oi_max_age_h))
    meta = {"feed": "replay", "symbols": list(plan.symbols), "candles": str(Path(args.candles).resolve()),
            "from": start.isoformat() if start else None, "warmup": plan.warmup.total_seconds()}
    return feed, meta


def build_runner(settings: Settings, plan: PaperPlan, *, args: argparse.Namespace | None = None,
                 clock: Clock | None = None, sleeper: Sleeper | None = None,
                 on_step: Callable[[Any], None] | None = None, venue: Callable[[Any], Any] | None = None,
                 feed: tuple[Feed, dict[str, Any]] | None = None, engine: Any = None, lock: Any = None) -> Any:
    """Assemble feed, heatmaps, engine, venue, store and signal log into a started Runner.

    ``venue`` builds the venue from the opened store (default: the paper broker's); ``feed`` is
    a ready feed and its run identity (default: the plan's); ``engine`` defaults to the Engine;
    ``lock`` is the state folder's lock when the caller took it already (``held_lock``).
    Startup reconciliation has run when this returns (``runner.problems``).
    """
    from bot.execution.paper import PaperBroker
    from bot.execution.venue import PaperVenue
    from bot.feeds.heatmap_choice import choose_heatmaps, source_name
    from bot.runner import Runner
    from bot.signallog import SignalLogWriter
    from bot.store import Store
    from bot.store.sqlite import release_lock
    from strategies.engine import Engine

    clock = clock or SystemClock()
    sleeper = sleeper or SystemSleeper()
    heatmaps_dir = getattr(args, "heatmaps", None) if args is not None else None
    # The store first: a busy folder or a damaged store is refused at once, before the feed's heavy
    # work; a folder this run created is removed again when the run fails before it starts.
    created = not plan.state.exists()
    try:
        store = Store.open(plan.state, lock=lock)
    except BaseException:
        if lock is not None:
            release_lock(lock)
        raise
    try:
        feed_, meta = feed or build_feed(plan, settings, args, clock, sleeper)
        name = source_name(getattr(args, "heatmap", None), settings, heatmaps_dir)
        chosen = choose_heatmaps(name, settings, feed_, live=plan.feed == "live", state=plan.state,
                                 store_dir=heatmaps_dir, sleep=sleeper.sleep, backfill=plan.warmup, wall=clock.now)
        feed_, heatmaps = chosen.feed, chosen.heatmaps
        if plan.feed == "live":
            from bot.feeds.liquidation_stream import with_liquidations
            feed_ = with_liquidations(feed_, settings, plan.state)
        if name not in ("synthetic", "store"):
            meta = {**meta, "heatmap": name}  # a resumed run must trade on the same maps
        log_path = settings.strategies.signal_log
        signal_log = SignalLogWriter(log_path if log_path.is_absolute() else plan.state / log_path,
                                     fsync=settings.strategies.log_fsync)
        runner = Runner(settings=settings, feed=feed_, store=store, heatmaps=heatmaps,
                        venue=venue(store) if venue is not None else PaperVenue(PaperBroker(settings.paper)),
                        engine=engine if engine is not None else Engine(settings.strategies), clock=clock,
                        sleeper=sleeper, historic=plan.feed != "live", signal_log=signal_log,
                        snapshots=chosen.recorder,
                        on_step=on_step, run_meta=meta)
        runner.start()
        end = getattr(feed_, "end", None)
        if plan.feed == "sim" and end is not None:  # the plan of this run, durable before its first step
            from bot.store import StepWrite
            store.commit_step(StepWrite(ts=end, kv={SIM_PLAN: {"end": end.isoformat()}}))
    except BaseException:
        store.close()
        if created:
            shutil.rmtree(plan.state, ignore_errors=True)
        raise
    return runner


@contextmanager
def running(runner: "Runner", sleeper: SystemSleeper, line: Any) -> Iterator["Runner"]:
    """SIGINT/SIGTERM stop the runner after its current step; on the way out, whatever happened,
    restore the handlers and close the status line, the signal log and the store."""

    def on_signal(signum: int, frame: Any) -> None:
        interrupt.note(signum)  # Ctrl-C: the command exits 130 after its summary
        runner.stop()
        sleeper.wake()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield runner
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        line.close()
        close_feed = getattr(runner.feed, "close", None)  # a liquidation stream ends with the run
        if callable(close_feed):
            close_feed()
        if runner.signal_log is not None:
            runner.signal_log.close()
        runner.store.close()


def run_paper(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot paper``."""
    from bot.cli.commands.status import print_summary
    from bot.store.summary import summarize

    plan = plan_from(args, settings)
    lock = held_lock(plan.state)
    sleeper = SystemSleeper()
    try:
        line = status_line(args, settings)
        runner = build_runner(settings, plan, args=args, sleeper=sleeper, on_step=line.update, lock=lock)
    except BaseException:
        if lock is not None:
            from bot.store.sqlite import release_lock
            release_lock(lock)  # once: a store that took it over has released it already
        raise
    resumed_at = runner.store.kv_get("cursor")

    with running(runner, sleeper, line):
        until = None
        if plan.feed == "live" and plan.duration is not None:
            until = runner.clock.now() + plan.duration
        result = runner.run(until=until)
        summary = summarize(runner.store)
    summary["run"] = {"feed": plan.feed, "symbols": list(plan.symbols), "steps": result.steps,
                      "stopped": result.stopped, "state": str(plan.state), "resumed_at": resumed_at,
                      "last_bar": result.last_ts.isoformat() if result.last_ts else None}
    if resumed_at is not None and result.steps:
        print(f"liqbot: note: resumed {plan.state} at {resumed_at}; ran {result.steps:,} more bars", file=sys.stderr)
    if result.steps == 0 and not result.stopped:
        print(f"liqbot: note: 0 steps: {plan.state} is already at {resumed_at}, the end of this "
              f"{plan.feed} feed (use another --state, or a later --to)", file=sys.stderr)
    cover = replay_coverage(runner.feed, settings)
    if cover is not None:
        summary["coverage"] = cover
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary, title="paper run")
        if cover is not None:
            from bot.marketdata.coverage import coverage_line
            print(coverage_line(cover))
    return 0


def held_lock(state: Path) -> Any:
    """The lock of an existing state folder, taken before the runner's heavy imports and work: a busy
    folder is refused at once (issue 16.9). A missing folder is locked when ``Store.open`` creates it,
    so a run refused before that leaves no folder behind."""
    from bot.store.sqlite import take_lock
    if state.exists() and not state.is_dir():
        return None  # Store.open names the problem
    return take_lock(state) if state.is_dir() else None


def replay_coverage(feed: Any, settings: Settings) -> dict[str, Any] | None:
    """What a replay's files cover (``bot.marketdata.coverage``); ``None`` for other feeds."""
    from bot.feeds.replay import ReplayFeed
    if not isinstance(feed, ReplayFeed):
        return None
    from bot.marketdata.coverage import coverage
    sizing = settings.strategies.oi_sizing.low_mult if "oi_sizing" in settings.strategies.enabled else None
    return coverage(feed.open_ns, feed.close_ns, feed.oi, feed.funding, feed.trade_from_ns, sizing)


def status_line(args: argparse.Namespace, settings: Settings) -> "StatusLine":
    """The terminal's status line (off with --no-status, --json or no terminal).

    With it on, logs go to the file only.
    """
    line = StatusLine(enabled=not args.no_status and not args.json and sys.stderr.isatty())
    if line.enabled:
        from bot.cli.main import setup_logging
        setup_logging(settings, args, console=False)
    return line


class StatusLine:
    """One self-rewriting line on stderr: bar time, prices, positions, equity, signals, risk state."""

    def __init__(self, enabled: bool, stream: Any = None, min_interval_s: float = 0.1) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._shown = False

    def update(self, info: Any) -> None:
        """Redraw (at most every ``min_interval_s``)."""
        now = time.monotonic()
        if not self.enabled or now - self._last < self.min_interval_s:
            return
        self._last = now
        prices = "  ".join(f"{s.split('/')[0]} {p:,.6g}" for s, p in info.prices.items())
        phase = "warmup" if info.warmup else info.trading_state.value
        text = (f"{info.ts:%Y-%m-%d %H:%M}Z  {prices}  positions {info.open_positions}  "
                f"equity {info.equity:,.2f}  signals {info.signals}  {phase}")
        if info.notice:
            text += f"  [{info.notice}]"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line so later output starts on its own."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
