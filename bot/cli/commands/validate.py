"""``liqbot validate``: the report card of a heatmap source against realized liquidations and price.

``liqbot validate --candles F --liquidations F (--oi F | --heatmaps STORE) [--oi F] [--funding F]
[--ls-ratio F] [--split T] [--from T] [--to T] [--warmup-h H] [--symbol S] [--json] [--report F.html]``

Source: the synthetic model (``[synthetic]`` settings) built over the candles and OI, or, with
``--heatmaps``, the snapshots of a snapshot store (``liqbot heatmap import`` / ``build``). Both
get the same card (``bot.validation.card``): ``scale``, ``timing`` (per-bar Spearman against the
baselines, the old ``model``/``baselines`` keys), ``magnets.direction|touch|breaks`` and ``map``.
``--split T`` fits on data before T and scores after it. ``--from`` starts the samples (the model
still runs from the first candle); candles after ``--to`` are not read. Liquidations: per-bar files
(CoinGlass) or Binance forceOrder event records (summed into ``--liquidation-bar`` bars of the
symbol).
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
    p = sub.add_parser("validate", help="report card of a heatmap source against realized liquidations and price")
    p.add_argument("--candles", type=Path, required=True, help="candles file (mark price candles where available)")
    p.add_argument("--oi", type=Path, action="append", default=None,
                   help="open interest file (required without --heatmaps); repeat to join files into one series")
    p.add_argument("--liquidations", type=Path, required=True,
                   help="realized liquidations: per-bar file or Binance forceOrder records")
    p.add_argument("--heatmaps", type=Path, default=None, help="grade this snapshot store instead of the model")
    p.add_argument("--funding", type=Path, default=None, help="funding rate file (erodes isolated margin)")
    p.add_argument("--ls-ratio", type=Path, default=None, help="long/short ratio file (splits new OI)")
    p.add_argument("--split", default=None, help="fit before this time, score after it (ISO-8601 or epoch)")
    p.add_argument("--from", dest="start", default=None, help="first sample scored (ISO-8601 or epoch)")
    p.add_argument("--to", dest="end", default=None, help="ignore candles opening at or after this time")
    p.add_argument("--warmup-h", type=float, default=None,
                   help="skip samples this soon after the first candle (default: synthetic.settle_h)")
    p.add_argument("--liquidation-bar", default="5min", help="bar length forceOrder events are summed into")
    p.add_argument("--symbol", default=None, help="symbol (picks the bracket table; default: first of settings)")
    p.add_argument("--bootstrap", type=int, default=1000, help="day-block bootstrap draws per CI")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--report", type=Path, default=None, help="write an HTML report (plotly) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Load the files, build the card, print it (and write the report)."""
    from bot.cli.timeargs import parse_time
    from bot.errors import DataError
    from bot.inputs import bounds
    from bot.inputs.series import check_candle_rows, check_covers
    from bot.inputs.values import check_window, finite_number
    from bot.marketdata import files
    from bot.synthetic.model import SyntheticParams
    from bot.validation.card import report_card, store_inputs, synthetic_inputs

    now = datetime.now(timezone.utc)
    stamp = lambda v, f: pd.Timestamp(parse_time(v, now, field=f)) if v else None  # noqa: E731
    start, end, split = stamp(args.start, "--from"), stamp(args.end, "--to"), stamp(args.split, "--split")
    check_window(start, end)
    if args.warmup_h is not None:
        finite_number(args.warmup_h, "--warmup-h", low=0, high=bounds.MAX_SPAN.total_seconds() / 3600)
    if args.heatmaps is None and args.oi is None:
        raise DataError("the synthetic model needs --oi (or grade a store with --heatmaps)", field="--oi")
    if args.bootstrap < 10:
        raise DataError(f"must be >= 10, got {args.bootstrap}", field="--bootstrap")
    params = SyntheticParams.from_settings(settings.synthetic)
    if args.warmup_h is None:
        args.warmup_h = params.settle_h
    symbol = args.symbol or settings.symbols[0]
    candles = files.load_candles(args.candles)
    check_candle_rows(candles)
    if end is not None:
        candles = candles[candles.index < end]
        if candles.empty:
            raise DataError("no candle opens before --to", field="--to")
    from bot.synthetic.oi_series import load_open_interest_files
    oi = load_open_interest_files(args.oi) if args.oi else None
    liquidations = _liquidation_bars(files.load_liquidations(args.liquidations), args, symbol)
    close_ns = candles.index.asi8 + pd.Timedelta(candles.attrs["timeframe"]).value
    if oi is not None:
        check_covers(candles.index.asi8, close_ns, oi, "--oi")
    check_covers(candles.index.asi8, close_ns, liquidations, "--liquidations")
    if args.heatmaps is not None:
        from bot.heatmap.store import SnapshotStore
        store = SnapshotStore(args.heatmaps)
        if symbol not in set(store.symbols()):
            raise DataError(f"no snapshots of {symbol} in the store", field="--heatmaps", position=str(args.heatmaps))
        stored = store.read_columns(symbol, None, end.to_pydatetime() if end is not None else None)
        inputs = store_inputs(stored, candles, oi, liquidations, params, settings.clusters, symbol=symbol,
                              warmup_h=args.warmup_h)
        source = f"store:{args.heatmaps}"
    else:
        inputs = synthetic_inputs(candles, oi, liquidations, params, settings.clusters, symbol=symbol,
                                  funding=files.load_funding(args.funding) if args.funding else None,
                                  ls_ratio=files.load_long_short_ratio(args.ls_ratio) if args.ls_ratio else None,
                                  warmup_h=args.warmup_h)
        source = "synthetic"
    card = report_card(inputs, split, bias_threshold=settings.clusters.bias_threshold, source=source, start=start,
                       n_boot=args.bootstrap)
    if args.report is not None:
        from bot.validation.report_html import write_report
        write_report(card, args.report)
    if args.json:
        print(json.dumps(card))
        return 0
    _print_tables(card)
    return 0


def _liquidation_bars(liq: pd.DataFrame, args: argparse.Namespace, symbol: str) -> pd.DataFrame:
    """Per-bar liquidations as they are; forceOrder events summed into bars of the symbol's base coin."""
    from bot.errors import DataError
    from bot.marketdata.files import liquidations_to_bars

    if "side" not in liq.columns:
        return liq
    base = symbol.split("/")[0]
    if "symbol" in liq.columns and not (liq["symbol"] == base).any():
        held = ", ".join(sorted(set(liq["symbol"]))[:5])
        raise DataError(f"forceOrder records hold no {base} events (symbols: {held}...): pass --symbol or a file "
                        "of that symbol", field="--liquidations")
    return liquidations_to_bars(liq, args.liquidation_bar, symbol=base if "symbol" in liq.columns else None)


def _print_tables(card: dict[str, Any]) -> None:
    from bot.cli.console import stdout_console
    from rich.table import Table

    console = stdout_console()
    table = Table(title=f"Spearman, {card['bars']} bars", caption=f"{card['from']} .. {card['to']}")
    table.add_column("predictor")
    table.add_column("long", justify="right")
    table.add_column("short", justify="right")
    for name, sk in [("model", card["model"]), *card["baselines"].items()]:
        table.add_row(name, *(f"{x:.3f}" if x is not None else "n/a"
                              for x in (sk["spearman_long"], sk["spearman_short"])))
    console.print(table)
    card_t = Table(title=f"report card ({card['source']}, split {card['split']})")
    for col in ("section", "n", "value", "95 % CI"):
        card_t.add_column(col)
    from bot.validation.summary import card_rows

    for row in card_rows(card):
        card_t.add_row(*row)
    console.print(card_t)
