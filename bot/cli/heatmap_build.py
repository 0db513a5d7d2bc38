"""``liqbot heatmap build``: synthetic heatmaps from market data into the snapshot store.

``liqbot heatmap build --candles F --oi F [--ls-ratio F] [--funding F] [--every 5m|1h]
[--symbol S] [--from T] [--to T] --out DIR [--json]`` runs the cohort ledger
(``[synthetic]`` settings) from the first candle (point in time: the model always starts at the
beginning of the data; ``--from``/``--to`` only choose the snapshots written) and writes one
snapshot per ``--every`` into the Parquet store at ``--out`` (``bot.heatmap.store``). Re-running
over the same span replaces it: no duplicates. ``heatmap show DIR``, ``heatmap plot --store DIR``
and the backtester (``--heatmaps DIR``) read it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.errors import DataError

_FREQTRADE_NAME = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)(?:_([A-Z0-9]+))?-\d+[mhdw]")


def add(subparsers: argparse._SubParsersAction) -> None:
    """Add ``heatmap build`` (discovered by ``bot.cli.commands.heatmap``)."""
    p = subparsers.add_parser("build", help="build synthetic heatmaps from market data into a snapshot store")
    add_model_inputs(p, required=True)
    p.add_argument("--out", type=Path, required=True, help="snapshot store folder (created if missing)")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.set_defaults(func=build)


def add_model_inputs(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The market-data options shared by ``build`` and ``plot``."""
    p.add_argument("--candles", type=Path, required=required, help="candles file (feather, parquet, CSV, JSON)")
    p.add_argument("--oi", type=Path, default=None, required=required, help="open interest file")
    p.add_argument("--ls-ratio", type=Path, default=None, help="long/short ratio file (splits new positions)")
    p.add_argument("--funding", type=Path, default=None, help="funding rate file (erodes isolated margin)")
    p.add_argument("--every", default="5m", help="one snapshot per this interval: 5m (default), 15m, 1h, ...")
    p.add_argument("--symbol", default=None,
                   help="symbol (BTC, BTCUSDT, BTC/USDT:USDT); default: from a freqtrade file name, "
                        "else the only configured symbol")
    p.add_argument("--from", dest="start", default=None, help="first snapshot time (ISO-8601 or epoch)")
    p.add_argument("--to", dest="end", default=None, help="last snapshot time, inclusive")


def build(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot heatmap build``."""
    from bot.heatmap.store import SnapshotStore
    from bot.logs import get_logger

    from bot.atomic import check_output_dir
    check_output_dir(args.out, "--out")  # before the model runs, not after
    t0 = time.perf_counter()
    series, symbol, inputs = synthetic_series(args, settings)
    t_model = time.perf_counter()
    store = SnapshotStore(args.out)
    written = store.write_series(series, symbol)
    t_write = time.perf_counter()
    summary = {
        "store": str(args.out), "symbol": symbol, "snapshots": written, "every": args.every,
        "from": _iso_ns(series.ts[0]) if written else None, "to": _iso_ns(series.ts[-1]) if written else None,
        "nonzero_levels_per_snapshot": float(np.count_nonzero((series.long_usd > 0) | (series.short_usd > 0)) / written)
        if written else 0.0,
        "inputs": inputs, "store_bytes": store.size_bytes(symbol),
        "seconds": {"model": round(t_model - t0, 3), "write": round(t_write - t_model, 3),
                    "total": round(t_write - t0, 3)},
    }
    summary["coverage"] = inputs_coverage(args, symbol, settings)
    get_logger("liqbot.heatmap").info("heatmap.built", symbol=symbol, store=str(args.out), snapshots=written,
                                      seconds=summary["seconds"]["total"])
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        from bot.marketdata.coverage import coverage_line
        _print_summary(summary)
        print(coverage_line(summary["coverage"]))
    return 0


def inputs_coverage(args: argparse.Namespace, symbol: str, settings: Any) -> dict[str, Any]:
    """``bot.marketdata.coverage`` of the build's files, read as a replay reads them (OI known at each close)."""
    from datetime import timedelta

    from bot.feeds.replay import ReplayFeed, ReplayFiles
    from bot.marketdata.coverage import coverage
    from bot.cli.timeargs import parse_time
    now = datetime.now(timezone.utc)
    feed = ReplayFeed(symbol, ReplayFiles(args.candles, args.oi, args.ls_ratio, args.funding), speed=math.inf,
                      start=parse_time(args.start, now, field="--from") if args.start else None,
                      end=parse_time(args.end, now, field="--to") if args.end else None,
                      max_age=timedelta(hours=settings.synthetic.oi_max_age_h))
    return coverage(feed.open_ns, feed.close_ns, feed.oi, feed.funding)


def synthetic_series(args: argparse.Namespace, settings: Any) -> tuple[Any, str, dict[str, Any]]:
    """Load the files named by ``add_model_inputs`` and run the model; rows cut to --from/--to.

    Returns (the model's ``HeatmapSeries``, the symbol, a description of the inputs).
    """
    from bot.cli.timeargs import parse_time
    from bot.marketdata import files
    from bot.synthetic.model import SyntheticParams, build_heatmaps

    now = datetime.now(timezone.utc)
    start = pd.Timestamp(parse_time(args.start, now, field="--from")) if args.start else None
    end = pd.Timestamp(parse_time(args.end, now, field="--to")) if args.end else None
    if start is not None and end is not None and start > end:
        raise DataError(f"--from ({start}) is after --to ({end})", field="--from")
    if args.oi is None:
        raise DataError("is required to build synthetic heatmaps", field="--oi")
    symbol = resolve_symbol(args.symbol, args.candles, settings)
    from bot.inputs.series import check_candle_rows, check_covers
    candles = files.load_candles(args.candles)
    check_candle_rows(candles)
    every = _every(args.every, candles)
    if end is not None:
        # snapshots up to --to only need bars closed by then; the model never looks further
        candles = candles[candles.index < end]
    if candles.empty:
        raise DataError("no candles before --to", field="--to")
    optional = {name: loader(path) if path else None for name, loader, path in (
        ("ls_ratio", files.load_long_short_ratio, args.ls_ratio), ("funding", files.load_funding, args.funding))}
    oi = files.load_open_interest(args.oi)
    close_ns = candles.index.asi8 + pd.Timedelta(candles.attrs["timeframe"]).value
    for flag, frame in (("--oi", oi), ("--ls-ratio", optional["ls_ratio"]), ("--funding", optional["funding"])):
        check_covers(candles.index.asi8, close_ns, frame, flag)  # a side file of another period feeds nothing
    series = build_heatmaps(candles, oi, SyntheticParams.from_settings(settings.synthetic),
                            every=every, symbol=symbol, **optional)
    ts = pd.DatetimeIndex(series.ts, tz="UTC")
    keep = np.ones(len(ts), dtype=bool)
    if start is not None:
        keep &= ts >= start
    if end is not None:
        keep &= ts <= end
    lo, hi = (int(np.argmax(keep)), int(len(keep) - np.argmax(keep[::-1]))) if keep.any() else (0, 0)
    if hi <= lo:
        raise DataError("no snapshot falls between --from and --to", field="--from")
    if (lo, hi) != (0, len(ts)):
        series = _rows(series, slice(lo, hi))
    inputs = {"candles": str(args.candles), "oi": str(args.oi), "ls_ratio": _opt(args.ls_ratio),
              "funding": _opt(args.funding), "bars": int(len(candles))}
    return series, symbol, inputs


def resolve_symbol(raw: str | None, candles: Path | None, settings: Any) -> str:
    """``--symbol``, else the one a freqtrade file name spells, else the only configured symbol."""
    from bot.heatmap.parsers import unified_symbol

    if raw:
        try:
            return unified_symbol(raw)
        except ValueError as exc:
            raise DataError(str(exc), field="--symbol") from None
    m = _FREQTRADE_NAME.match(candles.name) if candles is not None else None
    if m:
        base, quote, settle = m.groups()
        return f"{base}/{quote}:{settle or quote}"
    if len(settings.symbols) == 1:
        return str(settings.symbols[0])
    raise DataError("cannot tell the symbol from the file name; pass --symbol", field="--symbol")


def _every(text: str, candles: pd.DataFrame) -> str:
    try:
        step = pd.Timedelta(text)
    except ValueError:
        raise DataError(f"not a duration: {text!r} (use 5m, 15m, 1h, ...)", field="--every") from None
    bar = pd.Timedelta(candles.attrs.get("timeframe") or candles.index.to_series().diff().median())
    if step <= pd.Timedelta(0) or step % bar != pd.Timedelta(0):
        raise DataError(f"must be a positive multiple of the candle interval {bar}, got {text!r}", field="--every")
    return f"{int(step.total_seconds())}s"


def _rows(series: Any, rows: slice) -> Any:
    """The model's series restricted to ``rows`` (views, no copy of the level matrices)."""
    return dataclasses.replace(series, ts=series.ts[rows], bar_open=series.bar_open[rows],
                               price=series.price[rows], base=series.base[rows],
                               long_usd=series.long_usd[rows], short_usd=series.short_usd[rows])


def _opt(path: Path | None) -> str | None:
    return str(path) if path else None


def _iso_ns(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat().replace("+00:00", "Z")


def _print_summary(s: dict[str, Any]) -> None:
    from bot.cli.console import stdout_console
    from rich.table import Table

    table = Table(title=f"heatmap build: {s['symbol']} -> {s['store']}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [("snapshots", f"{s['snapshots']:,}"), ("every", s["every"]), ("from", s["from"]), ("to", s["to"]),
            ("non-empty levels / snapshot", f"{s['nonzero_levels_per_snapshot']:.0f}"),
            ("store size", f"{s['store_bytes'] / 1e6:,.1f} MB"),
            ("model", f"{s['seconds']['model']:.2f} s"), ("write", f"{s['seconds']['write']:.2f} s"),
            ("total", f"{s['seconds']['total']:.2f} s")]
    for name, value in rows:
        table.add_row(name, str(value))
    stdout_console().print(table)
