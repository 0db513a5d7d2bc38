"""``liqbot validate``: measured skill of the synthetic heatmap against realized liquidations.

``liqbot validate --candles F --oi F --liquidations F [--funding F] [--ls-ratio F] [--from T]
[--to T] [--warmup-h H] [--json]`` builds the cohort ledger (``[synthetic]`` settings) over the
candles and, for each liquidation bar fully covered by candles, compares the USD the model
predicted inside the bar (state at the bar's start) with the realized long and short
liquidations: Spearman per side, next to the range and static-tier baselines. ``--from``/``--to``
only choose the bars scored; the model always runs from the first candle (point in time).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    p = sub.add_parser("validate", help="skill of the synthetic heatmap against realized liquidations")
    p.add_argument("--candles", type=Path, required=True, help="candles file (mark price candles where available)")
    p.add_argument("--oi", type=Path, required=True, help="open interest file")
    p.add_argument("--liquidations", type=Path, required=True, help="realized liquidations per bar")
    p.add_argument("--funding", type=Path, default=None, help="funding rate file (erodes isolated margin)")
    p.add_argument("--ls-ratio", type=Path, default=None, help="long/short ratio file (splits new OI)")
    p.add_argument("--from", dest="start", default=None, help="first liquidation bar scored (ISO-8601 or epoch)")
    p.add_argument("--to", dest="end", default=None, help="score bars opening before this time")
    p.add_argument("--warmup-h", type=float, default=72.0, help="skip bars this soon after the first candle")
    p.add_argument("--symbol", default=None, help="symbol (picks the bracket table; default: first of settings)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Load the files, score the model and the baselines, print the report."""
    from bot.cli.timeargs import parse_time
    from bot.inputs import bounds
    from bot.inputs.series import check_candle_rows, check_covers
    from bot.inputs.values import check_window, finite_number
    from bot.marketdata import files
    from bot.synthetic.model import SyntheticParams
    from bot.synthetic.validate import predictions, skill

    now = datetime.now(timezone.utc)
    start = pd.Timestamp(parse_time(args.start, now, field="--from")) if args.start else None
    end = pd.Timestamp(parse_time(args.end, now, field="--to")) if args.end else None
    check_window(start, end)
    finite_number(args.warmup_h, "--warmup-h", low=0, high=bounds.MAX_SPAN.total_seconds() / 3600)
    params = SyntheticParams.from_settings(settings.synthetic)
    symbol = args.symbol or settings.symbols[0]
    candles = files.load_candles(args.candles)
    check_candle_rows(candles)
    oi = files.load_open_interest(args.oi)
    liquidations = files.load_liquidations(args.liquidations)
    if "long_usd" not in liquidations:  # exchange liquidation orders (events): summed into the candles' bars
        liquidations = files.liquidations_to_bars(liquidations, candles.attrs["timeframe"],
                                                  symbol=symbol.split("/")[0])
    close_ns = candles.index.asi8 + pd.Timedelta(candles.attrs["timeframe"]).value
    check_covers(candles.index.asi8, close_ns, oi, "--oi")
    check_covers(candles.index.asi8, close_ns, liquidations, "--liquidations")
    pred = predictions(candles, oi, liquidations, params,
                       funding=files.load_funding(args.funding) if args.funding else None,
                       ls_ratio=files.load_long_short_ratio(args.ls_ratio) if args.ls_ratio else None,
                       symbol=symbol, warmup_h=args.warmup_h)
    report = skill(pred, start, end).to_dict()
    if args.json:
        print(json.dumps(report))
        return 0
    _print_table(report)
    return 0


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Spearman, {report['bars']} bars", caption=f"{report['from']} .. {report['to']}")
    table.add_column("predictor")
    table.add_column("long", justify="right")
    table.add_column("short", justify="right")
    rows = [("model", report["model"]), *report["baselines"].items()]
    for name, sk in rows:
        table.add_row(name, *(f"{x:.3f}" if x is not None else "n/a"
                              for x in (sk["spearman_long"], sk["spearman_short"])))
    Console().print(table)
