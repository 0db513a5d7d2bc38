"""``liqbot status``: what a state folder holds: positions, open orders, trades, equity, risk state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.inputs.values import non_negative_int
from config.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``status``."""
    p = sub.add_parser("status", help="positions, open orders, closed trades, equity and risk state of a state folder")
    p.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--trades", type=non_negative_int, default=10, help="how many recent trades to list (default 10)")
    p.set_defaults(func=run_status)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot status`` (read-only: safe while the bot runs)."""
    from bot.store import Store
    from bot.store.summary import summarize

    state = args.state or settings.state_dir
    with Store.open(state, readonly=True) as store:
        summary = summarize(store, trades_listed=max(args.trades, 0))
    summary["state"] = str(state)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary, title=f"liqbot status: {state}")
    return 0


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def print_summary(s: dict[str, Any], title: str) -> None:
    """Render a summary (``bot.store.summary.summarize``) as tables on stdout."""
    from bot.cli.console import stdout_console
    from rich.table import Table

    console = stdout_console(highlight=False)
    head = Table(title=title, show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    win = "-" if s["win_rate"] is None else f"{s['win_rate'] * 100:.1f}%"
    rows = [("as of", str(s["as_of"])), ("trades", f"{s['trades']} ({s['wins']} won, {s['losses']} lost)"),
            ("win rate", win), ("net PnL", _money(s["net_pnl"])), ("gross PnL", _money(s["gross_pnl"])),
            ("fees", _money(s["fees"])), ("funding", _money(s["funding"])), ("equity", _money(s["equity"])),
            ("max drawdown", f"{s['max_drawdown_pct']:.2f}%"),
            ("signals", ", ".join(f"{k} {v}" for k, v in s["signals"].items())),
            ("risk state", s["risk"]["state"] + (f" ({s['risk']['reason']})" if s["risk"]["reason"] else ""))]
    if s.get("run"):
        rows.insert(0, ("run", f"{s['run']['feed']} {' '.join(s['run']['symbols'])}, {s['run']['steps']} steps"
                               + (" (stopped)" if s["run"]["stopped"] else "")))
    for k, v in rows:
        head.add_row(k, v)
    console.print(head)
    if s["open_positions"]:
        t = Table(title="open positions", title_justify="left")
        for col in ("symbol", "side", "qty", "entry", "stop", "target", "funding"):
            t.add_column(col, justify="right" if col not in ("symbol", "side") else "left")
        for p in s["open_positions"]:
            t.add_row(p["symbol"], p["side"], f"{p['qty']:.6g}", f"{p['entry_price']:,.6g}",
                      f"{p['stop_loss'] or 0:,.6g}", f"{p['take_profit'] or 0:,.6g}", _money(p["funding"]))
        console.print(t)
    else:
        console.print("open positions: none")
    if s["open_orders"]:
        t = Table(title="open orders", title_justify="left")
        for col in ("client_id", "symbol", "leg", "side", "type", "qty", "price", "state"):
            t.add_column(col)
        for o in s["open_orders"]:
            t.add_row(o["client_id"], o["symbol"], o["leg"], o["side"], o["type"], f"{o['qty']:.6g}",
                      "-" if o["price"] is None else f"{o['price']:,.6g}", o["state"])
        console.print(t)
    if s["recent_trades"]:
        t = Table(title="recent trades", title_justify="left")
        for col in ("closed", "symbol", "side", "entry", "exit", "reason", "net PnL"):
            t.add_column(col)
        for tr in s["recent_trades"]:
            t.add_row(tr["closed_at"], tr["symbol"], tr["side"], f"{tr['entry_price']:,.6g}",
                      f"{tr['exit_price']:,.6g}", tr["exit_reason"], _money(tr["net_pnl"]))
        console.print(t)
