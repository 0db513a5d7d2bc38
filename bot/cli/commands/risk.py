"""``liqbot risk show|reset``: read or clear the persisted trading state (a trip needs a human)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings  # annotations only: settings load once, in main


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``risk``."""
    p = sub.add_parser("risk", help="show or reset the risk guard's trading state")
    actions = p.add_subparsers(dest="risk_action", metavar="ACTION")
    for name, text in (("show", "print the trading state"),
                       ("reset", "set the trading state back to ACTIVE (stop the bot first)")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
        a.add_argument("--json", action="store_true", help="print one JSON document")
        a.set_defaults(func=run_risk, risk_action=name)


def run_risk(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot risk``."""
    from bot.clock import parse_ts
    from bot.risk import RiskState, reset
    from bot.store import Store
    from datetime import datetime

    state_dir = args.state or settings.state_dir
    if args.risk_action == "show":
        with Store.open(state_dir, readonly=True) as store:
            record = RiskState.from_record(store.risk_state()).to_record()
    else:
        Store.open(state_dir, readonly=True).close()  # a missing store is a DataError, not a new folder
        with Store.open(state_dir) as store:  # takes the folder lock: refuses while the bot runs
            curve = store.equity_curve()
            cursor = store.kv_get("cursor")
            ts = parse_ts(cursor) if cursor else datetime.now().astimezone()
            old = RiskState.from_record(store.risk_state())
            new = reset(old, ts, curve[-1][3] if curve else None)
            store.write_risk(ts, new.to_record())
            record = new.to_record()
            record["previous"] = old.to_record()
    if args.json:
        print(json.dumps(record))
    else:
        reason = f" ({record['reason']})" if record.get("reason") else ""
        prefix = "reset: " if args.risk_action == "reset" else ""
        print(f"{prefix}trading state {record['state']}{reason}")
    return 0
