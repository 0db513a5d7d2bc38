"""``liqbot heatmap plot``: draw the heatmap as people know it, to HTML or an image.

``liqbot heatmap plot (--store DIR | --candles F --oi F [--ls-ratio F] [--funding F] [--every 5m])
[--candles F] [--symbol S] [--from T] [--to T] [--bins N] [--columns N] [--sides] [--log] [--min-strength X]
[--no-clusters] --out F.html|F.png|F.svg|F.pdf [--json]``

Time runs across, price up, colour is USD (``backtest.plots``). Candles (``--candles``) are drawn
on top; without them the snapshots' reference price is drawn as a line. Clusters come from the
cluster tracker run over the drawn snapshots (``[clusters]`` settings): active ones as solid
lines, broken ones faded and dashed, ending in an x where price traded through them.
``.html`` is interactive and self-contained (plotly.js inlined, works offline); ``.png``,
``.svg`` and ``.pdf`` are drawn with matplotlib (no browser needed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.cli.heatmap_build import add_model_inputs, resolve_symbol, synthetic_series
from bot.domain import Cluster
from bot.errors import DataError

MAX_TRACKED = 20_000  # guard: clusters are tracked over the drawn columns only (--columns)


def add(subparsers: argparse._SubParsersAction) -> None:
    """Add ``heatmap plot`` (discovered by ``bot.cli.commands.heatmap``)."""
    p = subparsers.add_parser("plot", help="draw a heatmap (time x price, colour = USD) to HTML or PNG")
    p.add_argument("--store", type=Path, default=None, help="snapshot store folder to read (else build from files)")
    add_model_inputs(p, required=False)
    p.add_argument("--out", type=Path, required=True, help="output file: .html (interactive) or .png/.svg/.pdf")
    p.add_argument("--bins", type=int, default=300, help="price rows (log-spaced; default 300)")
    p.add_argument("--columns", type=int, default=2000, help="most time columns drawn (default 2000)")
    p.add_argument("--sides", action="store_true", help="long and short liquidations in two colour scales (HTML)")
    p.add_argument("--log", action="store_true",
                   help="log colour scale: for long spans where the USD at risk varies by orders of magnitude")
    p.add_argument("--min-strength", type=float, default=0.25,
                   help="draw clusters whose peak strength reached this (default 0.25)")
    p.add_argument("--no-clusters", action="store_true", help="do not track and draw clusters")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.set_defaults(func=plot)


def plot(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot heatmap plot``."""
    from backtest.plots import heatmap_figure, sample_rows, write_html
    from backtest.plots_png import IMAGE_SUFFIXES, heatmap_image
    from bot.heatmap.stored_series import as_stored_series
    from bot.marketdata.files import load_candles

    suffix = args.out.suffix.lower()
    if suffix not in (".html", *IMAGE_SUFFIXES):
        raise DataError(f"must end in .html, {', '.join(IMAGE_SUFFIXES)}", field="--out", position=str(args.out))
    if args.bins < 10 or args.columns < 2:
        raise DataError("--bins must be >= 10 and --columns >= 2", field="--bins")
    from bot.atomic import check_output_file
    check_output_file(args.out, "--out")
    t0 = time.perf_counter()
    if args.store is not None:
        series, total = _from_store(args, settings)
    elif args.candles is not None and args.oi is not None:
        series = synthetic_series(args, settings)[0]
        total = len(series)
    else:
        raise DataError("give --store DIR, or --candles F and --oi F to build the heatmap", field="--store")
    # Only the drawn columns are converted and tracked: a 14-month series draws as fast as a week.
    drawn = as_stored_series(series, rows=sample_rows(len(series), args.columns))
    candles = load_candles(args.candles) if args.candles is not None else None
    clusters = None if args.no_clusters else track_clusters(drawn, candles, settings.clusters)
    options = {"bins": args.bins, "max_columns": args.columns, "min_strength": args.min_strength,
               "log_scale": args.log}
    if suffix == ".html":  # both writers are atomic (temporary file + rename)
        write_html(heatmap_figure(drawn, candles, clusters, sides=args.sides, **options), args.out)
    else:
        heatmap_image(args.out, drawn, candles, clusters, **options)
    summary = {"out": str(args.out), "symbol": drawn.symbol, "snapshots": total, "columns": len(drawn),
               "from": _iso(drawn.ts[0]), "to": _iso(drawn.ts[-1]),
               "clusters": len({c.cluster_id for c in clusters or ()}), "bytes": args.out.stat().st_size,
               "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        print(f"wrote {summary['out']} ({summary['bytes'] / 1e6:.1f} MB): {summary['symbol']} "
              f"{summary['from']} to {summary['to']}, {summary['columns']} columns of {summary['snapshots']} "
              f"snapshots, {summary['clusters']} clusters, {summary['seconds']:.1f} s")
    return 0


def track_clusters(series: Any, candles: pd.DataFrame | None, cluster_settings: Any) -> list[Cluster]:
    """Run the cluster tracker over the snapshots; a compact history for ``cluster_segments``.

    Each update gets the high and low of the candles that closed since the previous snapshot,
    so a cluster breaks when price traded through it between two drawn columns. Returned per
    cluster id: its strongest state, then its latest state (all the plot needs of the history).
    """
    from bot.clusters.tracker import ClusterTracker

    n = min(len(series), MAX_TRACKED)
    tracker = ClusterTracker(cluster_settings, series.symbol)
    highs, lows = bar_ranges(series.ts[:n], candles)
    latest: dict[str, Cluster] = {}
    strongest: dict[str, Cluster] = {}
    for i in range(n):
        high = float(highs[i]) if np.isfinite(highs[i]) else None
        low = float(lows[i]) if np.isfinite(lows[i]) else None
        for cluster in tracker.update(series.snapshot(i), high, low):
            latest[cluster.cluster_id] = cluster
            best = strongest.get(cluster.cluster_id)
            if best is None or cluster.strength > best.strength:
                strongest[cluster.cluster_id] = cluster
    return [c for cid, last in latest.items() for c in (strongest[cid], last)]


def bar_ranges(ts: np.ndarray, candles: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """High and low of the candles closing in (previous ts, ts] for each ts (NaN where none)."""
    n = len(ts)
    highs, lows = np.full(n, np.nan), np.full(n, np.nan)
    if candles is None or candles.empty or n == 0:
        return highs, lows
    index = candles.index.tz_convert("UTC").tz_localize(None) if candles.index.tz else candles.index
    step = pd.Timedelta(candles.attrs.get("timeframe") or index.to_series().diff().median())
    close = (index + step).to_numpy().astype("datetime64[us]")
    hi, lo = candles["high"].to_numpy(float), candles["low"].to_numpy(float)
    ends = np.searchsorted(close, ts.astype("datetime64[us]"), side="right")
    starts = np.concatenate([[max(int(ends[0]) - 1, 0)], ends[:-1]])
    valid = ends > starts
    if valid.any():
        # consecutive windows touch (start[i+1] == end[i]), so reduceat over the valid starts
        # sums exactly each window; the cut ends the last one
        cut = int(ends[-1])
        highs[valid] = np.maximum.reduceat(hi[:cut], starts[valid])
        lows[valid] = np.minimum.reduceat(lo[:cut], starts[valid])
    return highs, lows


def _from_store(args: argparse.Namespace, settings: Any) -> tuple[Any, int]:
    from bot.cli.timeargs import parse_time
    from bot.heatmap.store import SnapshotStore

    store = SnapshotStore(args.store)
    if not SnapshotStore.is_store(args.store):
        raise DataError("not a snapshot store (no symbol folders)", field="--store", position=str(args.store))
    symbols = store.symbols()
    if args.symbol:
        symbol = resolve_symbol(args.symbol, None, settings)
        if symbol not in symbols:
            raise DataError(f"{symbol} not in the store (has {', '.join(symbols)})", field="--symbol")
    elif len(symbols) == 1:
        symbol = symbols[0]
    else:
        raise DataError(f"the store holds {', '.join(symbols)}; pass --symbol", field="--symbol")
    now = datetime.now(timezone.utc)
    start = parse_time(args.start, now, field="--from") if args.start else None
    end = parse_time(args.end, now, field="--to") if args.end else None
    # only the drawn columns are read: a 14-month store plots in the memory of a week
    stamps = store.read_table(symbol, start, end, columns=["ts"])
    if not stamps.num_rows:
        raise DataError("no snapshots in that time range", field="--from")
    return store.read_columns(symbol, start, end, max_snapshots=args.columns), stamps.num_rows


def _iso(ts: np.datetime64) -> str:
    return str(np.datetime_as_string(ts, unit="s")) + "Z"
