"""``liqbot live --confirm-live [--sandbox]``: trade a real account through ccxt.

Refuses to start without ``--confirm-live``, without keys, or with placeholder keys. Keys come
from the environment or ``.env`` (``LIQBOT_EXCHANGE__API_KEY`` / ``__API_SECRET``) as secrets:
never printed, logged or stored. On start the store is reconciled with the exchange (orders,
fills, positions) before anything else; a mismatch halts and is printed. Then the session
keeps the book in step every ``live.reconcile_interval_s`` (fills, protective legs, UNKNOWN
orders) until Ctrl-C; ``--once`` stops after the startup check and one step.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from config.settings import Settings

EXIT_HALTED = 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``live``."""
    p = sub.add_parser("live", help="trade a real exchange account through ccxt (needs --confirm-live and keys)",
                       description="Live trading through ccxt. Keys are read from LIQBOT_EXCHANGE__API_KEY and "
                                   "LIQBOT_EXCHANGE__API_SECRET (environment or .env), never from a flag.")
    p.add_argument("--confirm-live", action="store_true", help="required: you mean to trade real money")
    p.add_argument("--sandbox", action="store_true", help="use the exchange's test environment (ccxt's switch)")
    p.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
    p.add_argument("--once", action="store_true", help="reconcile, run one step, print the status and exit")
    p.add_argument("--json", action="store_true", help="print the status as one JSON document")
    p.set_defaults(func=run_live)


def run_live(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot live``: 0 when trading is ACTIVE at the end, 1 when halted."""
    from bot.clock import SystemClock, SystemSleeper
    from bot.live.ccxt_broker import CcxtBroker
    from bot.live.exchange import check_keys, make_live_exchange
    from bot.live.session import LiveSession
    from bot.store import Store

    if not args.confirm_live:
        raise ConfigError("live trading places real orders: add --confirm-live to confirm")
    if args.sandbox:
        settings = settings.model_copy(update={"exchange": settings.exchange.model_copy(update={"sandbox": True})})
    check_keys(settings.exchange)
    exchange = make_live_exchange(settings.exchange, settings.live)
    state = args.state or settings.state_dir
    store = Store.open(state)
    sleeper = SystemSleeper()
    try:
        clock = SystemClock()
        broker = CcxtBroker(exchange, settings.live, settings.symbols, known=store, clock=clock,
                            sleep=sleeper.sleep)
        session = LiveSession(broker, store, settings, clock, sleeper)
        problems = session.start()
        stop = {"now": False}

        def on_signal(signum: int, frame: Any) -> None:
            stop["now"] = True
            sleeper.wake()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            session.run(steps=1 if args.once or problems else None, stop=lambda: stop["now"])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        report = _report(session, problems, state, sandbox=settings.exchange.sandbox)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, default=str))
    else:
        _print(report)
    return 0 if report["trading_state"] == "ACTIVE" else EXIT_HALTED


def _report(session: Any, problems: list[str], state: Path, sandbox: bool) -> dict[str, Any]:
    guard = session.guard.state
    return {"exchange": session.broker.exchange.id, "sandbox": sandbox, "state": str(state),
            "trading_state": guard.state.value, "reason": guard.reason, "problems": problems,
            "positions": [{"symbol": p.symbol, "side": p.side.value, "qty": p.qty, "entry_price": p.entry_price}
                          for p in session.manager.book.values()],
            "working_orders": [{"client_id": o.client_id, "symbol": o.intent.symbol, "leg": o.intent.leg.value,
                                "state": o.state.value} for o in session.manager.working.values()]}


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
