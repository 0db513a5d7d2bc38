"""``liqbot live --confirm-live [--sandbox]``: run the strategy loop on a real account through ccxt.

The same Runner as ``liqbot paper --feed live`` (one loop for paper and live): the exchange's
public market data through ccxt feeds the heatmap model and the strategies, and entries go to
the exchange through the ccxt broker, with their reduce-only stop and target placed as soon as
they fill. Refuses to start without ``--confirm-live``, without keys, or with placeholder keys.
Keys come from the environment or ``.env`` (``LIQBOT_EXCHANGE__API_KEY`` / ``__API_SECRET``) as
secrets: never printed, logged or stored.

On start the store is reconciled with the exchange (orders, fills, positions) before anything
else; a mismatch halts, is printed, and the command exits 1 after one more check. Between bars
the exchange is re-read every ``live.reconcile_interval_s``. ``--once`` stops after the startup
check and one such re-read; ``--duration`` after that much wall time; Ctrl-C after the step.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
if TYPE_CHECKING:
    from config.settings import Settings  # annotations only: settings load once, in main

EXIT_HALTED = 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``live``."""
    p = sub.add_parser("live", help="trade a real exchange account through ccxt (needs --confirm-live and keys)",
                       description="Live trading through ccxt. Keys are read from LIQBOT_EXCHANGE__API_KEY and "
                                   "LIQBOT_EXCHANGE__API_SECRET (environment or .env), never from a flag.")
    p.add_argument("--confirm-live", action="store_true", help="required: you mean to trade real money")
    p.add_argument("--sandbox", action="store_true", help="use the exchange's test environment (ccxt's switch)")
    p.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
    p.add_argument("--symbols", nargs="+", default=None, metavar="SYMBOL", help="ccxt symbols (default: symbols)")
    p.add_argument("--duration", default=None, help="wall time to run, e.g. 6h, 2d (default: until Ctrl-C)")
    p.add_argument("--warmup", default=None, help="history fed to the heatmap model before trading "
                                                  "(default: feed.warmup)")
    p.add_argument("--once", action="store_true", help="reconcile, re-read the exchange once, print the status, exit")
    p.add_argument("--json", action="store_true", help="print the status as one JSON document")
    p.add_argument("--no-status", action="store_true", help="no status line on the terminal")
    from bot.cli.commands.paper import add_heatmap_arg
    add_heatmap_arg(p)
    p.set_defaults(func=run_live)


def live_plan(args: argparse.Namespace, settings: Settings) -> Any:
    """The run plan of ``liqbot live``: the live feed, the symbols, the wall time to run."""
    from bot.cli.commands.paper import PaperPlan
    from bot.feeds.base import parse_duration, parse_span
    return PaperPlan(feed="live", symbols=tuple(args.symbols or settings.symbols), speed=math.inf,
                     duration=parse_duration(args.duration, "--duration") if args.duration else None,
                     warmup=parse_span(args.warmup or settings.feed.warmup, "--warmup"),
                     state=args.state or settings.state_dir, seed=settings.feed.sim_seed)


def live_feed(settings: Settings, plan: Any) -> tuple[Any, dict[str, Any]]:
    """The public market data of the traded exchange (same host, same test environment) and the run identity."""
    from bot.cli.commands.paper import build_feed
    from bot.live.exchange import use_testnet
    api_base = settings.live.api_base or settings.download.exchange_api_base
    feed_settings = settings.model_copy(update={"download": settings.download.model_copy(
        update={"exchange_api_base": api_base})})
    feed, meta = build_feed(plan, feed_settings)
    if settings.exchange.sandbox and not api_base:
        use_testnet(feed.exchange)  # signals from the prices the test account trades at
    return feed, meta | {"broker": "ccxt", "sandbox": settings.exchange.sandbox}


def run_live(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot live``: 0 when trading is ACTIVE at the end, 1 when halted."""
    from bot.cli.commands.paper import build_runner, running, status_line
    from bot.clock import SystemClock, SystemSleeper
    from bot.live.exchange import check_keys, make_live_exchange
    from bot.live.venue import ccxt_venue

    if not args.confirm_live:
        raise ConfigError("live trading places real orders: add --confirm-live to confirm")
    if args.sandbox:
        settings = settings.model_copy(update={"exchange": settings.exchange.model_copy(update={"sandbox": True})})
    check_keys(settings.exchange)
    plan = live_plan(args, settings)
    exchange = make_live_exchange(settings.exchange, settings.live)
    clock, sleeper = SystemClock(), SystemSleeper()
    line = status_line(args, settings)
    runner = build_runner(settings, plan, args=args, clock=clock, sleeper=sleeper, on_step=line.update,
                          feed=live_feed(settings, plan),
                          venue=ccxt_venue(exchange, settings.live, plan.symbols, clock, sleeper))

    with running(runner, sleeper, line):
        if args.once or runner.problems:  # halted at start: one more look, then a person decides
            runner.tend(clock.now())
        else:
            runner.run(until=clock.now() + plan.duration if plan.duration is not None else None)
        report = live_report(runner, sandbox=settings.exchange.sandbox)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        _print(report)
    return 0 if report["trading_state"] == "ACTIVE" else EXIT_HALTED


def live_report(runner: Any, sandbox: bool) -> dict[str, Any]:
    """The end-of-run status: trading state, startup mismatches, positions and working orders."""
    guard = runner.guard.state
    manager = runner.manager
    return {"exchange": runner.broker.exchange.id, "sandbox": sandbox, "state": str(runner.store.path.parent),
            "trading_state": guard.state.value, "reason": guard.reason, "problems": runner.problems,
            "signals": runner.signals,
            "positions": [{"symbol": p.symbol, "side": p.side.value, "qty": p.qty, "entry_price": p.entry_price}
                          for p in manager.book.values()],
            "working_orders": [{"client_id": o.client_id, "symbol": o.intent.symbol, "leg": o.intent.leg.value,
                                "state": o.state.value} for o in manager.working.values()]}


def _print(report: dict[str, Any]) -> None:
    mode = " (sandbox)" if report["sandbox"] else ""
    print(f"live {report['exchange']}{mode}: trading {report['trading_state']}"
          + (f" - {report['reason']}" if report["reason"] else ""))
    for problem in report["problems"]:
        print(f"  mismatch: {problem}")
    for p in report["positions"]:
        print(f"  position {p['symbol']} {p['side']} {p['qty']:g} @ {p['entry_price']:g}")
    for o in report["working_orders"]:
        print(f"  order {o['client_id']} {o['symbol']} {o['leg']} {o['state']}")
