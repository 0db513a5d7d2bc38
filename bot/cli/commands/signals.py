"""``liqbot signals``: review signal logs and show one signal.

``liqbot signals review LOG... [--strategy S] [--symbol S] [--side LONG|SHORT] [--since T]
[--until T] [--candles F] [--limit N] [--json] [--csv F]`` prints the selected signals (rich
table), per-strategy counts and averages, the rejected candidates per rule, and with
``--candles`` each signal's outcome (take-profit first, stop first, or open) with its R multiple.
Bad lines (torn, malformed, invalid) are reported on stderr with their line numbers and the
review goes on. ``liqbot signals show ID [LOG...]`` prints one record in full (an unambiguous id
prefix is enough; without LOG the configured signal log is read).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from bot.errors import DataError
from bot.inputs.values import non_negative_int
from bot.review import (OUTCOME_COLUMNS, Bars, Costs, ReviewFilter, candle_warnings, outcome_stats, outcomes,
                        parse_time, select, signals_frame, strategy_stats, with_outcomes)
from bot.signallog import LogRead, read_logs
from strategies.signal import Direction, StrategyName


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``signals review`` and ``signals show``."""
    parser = sub.add_parser("signals", help="review signal logs")
    group = parser.add_subparsers(dest="signals_command", metavar="SUBCOMMAND", parser_class=type(parser))
    parser.set_defaults(func=lambda args, settings: _usage(parser))

    r = group.add_parser("review", help="table, per-strategy stats and outcomes of logged signals")
    r.add_argument("logs", nargs="+", metavar="LOG", type=Path, help="signal log files (JSONL)")
    r.add_argument("--strategy", choices=[s.value for s in StrategyName], help="only this strategy")
    r.add_argument("--symbol", help="only this symbol (ccxt unified, e.g. BTC/USDT:USDT)")
    r.add_argument("--side", type=str.upper, choices=[d.value for d in Direction], help="only LONG or SHORT")
    r.add_argument("--since", help="from this time (ISO-8601, UTC unless a zone is given)")
    r.add_argument("--until", help="before this time (ISO-8601, exclusive)")
    r.add_argument("--candles", type=Path, help="candles of the symbol: adds each signal's outcome")
    r.add_argument("--limit", type=non_negative_int, default=50, help="rows in the table, latest first kept (0: all)")
    r.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    r.add_argument("--csv", type=Path, metavar="F", help="also write the selected signals to this CSV")
    r.set_defaults(func=review)

    s = group.add_parser("show", help="print one logged signal (or rejected candidate) in full")
    s.add_argument("id", metavar="ID", help="signal id (an unambiguous prefix is enough)")
    s.add_argument("logs", nargs="*", metavar="LOG", type=Path, help="signal logs (default: the configured one)")
    s.add_argument("--state", type=Path, default=None,
                   help="state folder whose store says what the bot did with the signal (default: the log's "
                        "folder when it holds one, else state_dir)")
    s.add_argument("--json", action="store_true", help="same output; accepted for symmetry")
    s.set_defaults(func=show)


def _usage(parser: argparse.ArgumentParser) -> int:
    from bot.cli.main import need_subcommand
    need_subcommand(parser)
    return 2


def _report_problems(read: LogRead) -> None:
    for p in read.problems:
        print(f"liqbot: warning: {p}", file=sys.stderr)


def load_bars(path: Path) -> Bars:
    """Candles from a file, through the market-data loader (content-detected formats)."""
    if not path.is_file():
        raise DataError("no such file", field="--candles", source=str(path))
    from bot.marketdata.files import load_candles
    return Bars.from_frame(load_candles(path))


def review(args: argparse.Namespace, settings: Any) -> int:
    """``signals review``: exit 0 even when some lines were bad (they are reported)."""
    criteria = ReviewFilter(strategy=args.strategy, symbol=args.symbol, side=args.side,
                            since=parse_time(args.since, "--since") if args.since else None,
                            until=parse_time(args.until, "--until") if args.until else None)
    read = read_logs(args.logs)
    _report_problems(read)
    chosen = select([ls.signal for ls in read.signals], criteria)
    results, warnings = None, []
    if args.candles:
        from bot.marketdata.symbols import hint_of
        bars = load_bars(args.candles)
        hint = hint_of(args.candles, "--candles")
        warnings = candle_warnings(chosen, bars, hint.symbol if hint is not None and not hint.base_only else None)
        for w in warnings:
            print(f"liqbot: warning: {w}", file=sys.stderr)
        results = outcomes(chosen, bars, Costs.from_settings(settings))
    frame = signals_frame(chosen)
    if results is not None:
        frame = with_outcomes(frame, results)
    if args.csv:
        from bot.atomic import atomic_output, check_output_file
        check_output_file(args.csv, "--csv")
        with atomic_output(args.csv) as tmp:
            frame.to_csv(tmp, index=False)
    rules = Counter(r.record["rule"] for r in read.rejected)
    doc: dict[str, Any] = {
        "lines": read.lines, "signals_read": len(read.signals), "rejected_read": len(read.rejected),
        "selected": len(chosen), "problems": [p.to_dict() for p in read.problems],
        "rejected_by_rule": dict(sorted(rules.items())), "stats": strategy_stats(chosen),
        "outcomes": outcome_stats(chosen, results) if results is not None else None,
        "r_units": {"r_multiple": "gross: price move over the signal's risk (entry to stop)",
                    "r_net": "after the paper venue's fees and slippage (taker entry and stop, maker target), "
                             "no funding"} if results is not None else None,
        "warnings": warnings,
        "signals": json.loads(frame.to_json(orient="records")),
    }
    if args.json:
        print(json.dumps(doc, indent=2, allow_nan=False))
        return 0
    _print_tables(doc, frame, args.limit)
    return 0


def _print_tables(doc: dict[str, Any], frame: Any, limit: int) -> None:
    from bot.cli.console import stdout_console
    from rich.table import Table

    console = stdout_console()
    shown = frame if limit <= 0 else frame.tail(limit)
    t = Table(title=f"signals ({len(shown)} of {doc['selected']} selected shown)")
    cols = ["id", "timestamp", "strategy", "signal", "entry_price", "stop_loss", "take_profit", "risk_reward",
            "confidence", "multiplier"] + (["result", "r_multiple", "r_net"] if "result" in frame.columns else [])
    labels = {"r_multiple": "R gross", "r_net": "R net"}
    for c in cols:
        t.add_column(labels.get(c, c),
                     justify="right" if c not in ("id", "timestamp", "strategy", "signal", "result") else "left")
    for rec in shown[cols].itertuples(index=False):
        t.add_row(*[_cell(v) for v in rec])
    console.print(t)
    st = Table(title="per strategy")
    for c in ("strategy", "count", "longs", "shorts", "avg_rr", "avg_confidence", "avg_multiplier",
              "min_multiplier", "max_multiplier", "avg_notional_usd"):
        st.add_column(c)
    for row in doc["stats"]:
        st.add_row(*[_cell(row[c]) for c in (c.header for c in st.columns)])
    console.print(st)
    if doc["outcomes"] is not None:
        ot = Table(title="outcomes (stop wins a bar that touches both; R gross = price move over the risk, "
                         "R net = after fees and slippage, no funding)")
        keys = OUTCOME_COLUMNS
        names = {"avg_r_closed": "avg R gross", "total_r_closed": "total R gross", "avg_r_net_closed": "avg R net",
                 "total_r_net_closed": "total R net"}
        for k in keys:
            ot.add_column(names.get(k, k))
        for row in doc["outcomes"]:
            ot.add_row(*[_cell(row[k]) for k in keys])
        console.print(ot)
    rejected = ", ".join(f"{k} {v}" for k, v in doc["rejected_by_rule"].items()) or "none"
    console.print(f"lines {doc['lines']}, signals {doc['signals_read']}, rejected candidates "
                  f"{doc['rejected_read']} ({rejected}), bad lines {len(doc['problems'])}")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.2f}"
    return str(v)


def show(args: argparse.Namespace, settings: Any) -> int:
    """``signals show``: print the one record whose id starts with ID."""
    logs: Sequence[Path] = args.logs or [Path(settings.state_dir) / settings.strategies.signal_log]
    read = read_logs(logs)
    _report_problems(read)
    found: dict[str, dict[str, Any]] = {}
    for ls in read.signals:
        if ls.signal.id.startswith(args.id):
            found.setdefault(ls.signal.id, ls.signal.to_json_dict())
    if not found:
        for lr in read.rejected:
            cid = str(lr.record.get("candidate", {}).get("id", ""))
            if cid.startswith(args.id):
                found.setdefault(cid, lr.record)
    if not found:
        raise DataError(f"no signal with id {args.id!r} in {len(read.signals)} signals", field="ID")
    if len(found) > 1:
        raise DataError(f"id prefix {args.id!r} matches {len(found)} signals: {', '.join(sorted(found)[:5])}",
                        field="ID")
    sid, record = next(iter(found.items()))
    state = args.state or next((Path(p).parent for p in logs if (Path(p).parent / "liqbot.sqlite").is_file()),
                               Path(settings.state_dir))
    print(json.dumps({**record, "bot": what_the_bot_did(sid, state)}, indent=2, allow_nan=False, default=str))
    return 0


def what_the_bot_did(signal_id: str, state: Path) -> dict[str, Any]:
    """From the state store: traded, skipped or denied, why, and the order and trade it led to."""
    from bot.store import Decision, Store
    from bot.store.sqlite import DB_NAME
    if not (state / DB_NAME).is_file():
        return {"decision": None, "why": f"no liqbot store in {state} (a backtest log, or pass --state)"}
    with Store.open(state, readonly=True) as store:
        decision = next((d for d in store.decisions() if d.signal_id == signal_id), None)
        if decision is None:
            return {"decision": None, "state": str(state), "why": "the store holds no decision on this signal "
                                                                  "(emitted by another run)"}
        out: dict[str, Any] = {"decision": decision.decision.value, "state": str(state),
                               "why": decision.reason, "at": decision.ts.isoformat()}
        if decision.decision is Decision.SUBMITTED and decision.client_id:
            order = store.get_order(decision.client_id)
            trade = next((t for t in store.trades() if t.signal_id == signal_id), None)
            out["order"] = None if order is None else {"client_id": order.client_id, "state": order.state.value,
                                                       "filled_qty": order.filled_qty, "avg_price": order.avg_price,
                                                       "reason": order.reason}
            out["trade"] = None if trade is None else {"net_pnl": trade.net_pnl, "exit_reason": trade.exit_reason.value,
                                                       "closed_at": trade.closed_at.isoformat()}
            filled = order is not None and order.filled_qty > 0
            out["traded"] = filled
            if not filled:
                out["why"] = f"submitted; the entry order is {order.state.value if order else 'missing'}"
        else:
            out["traded"] = False
    return out
