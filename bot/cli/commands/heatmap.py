"""``liqbot heatmap``: the heatmap command group, and its ``show`` sub-command.

Adding a sub-command (``build``, ``plot``, ``import``, ``record``, ...)
--------------------------------------------------------------------
Put it in its own module ``bot/cli/heatmap_<name>.py`` that defines::

    def add(subparsers: argparse._SubParsersAction) -> None:
        p = subparsers.add_parser("<name>", help="...")
        p.add_argument(...)
        p.set_defaults(func=handler)          # handler(args, settings) -> int

``register`` below imports every ``bot.cli.heatmap_*`` module (sorted by name) and calls its
``add`` with the ``heatmap`` group's own subparsers object, after the callables already listed in
``HEATMAP_SUBCOMMANDS`` (``show`` is the first). Nothing has to be edited here. Code that builds a
parser without the discovery (a test, a plugin) may also append an ``add`` callable to
``HEATMAP_SUBCOMMANDS`` before ``build_parser()`` runs. The handler contract is the one of
``bot.cli.main``: bad input raises ``DataError`` (one line on stderr, exit 2); ``--json`` prints
exactly one JSON document on stdout.

``show``
--------
``liqbot heatmap show INPUT [--format F] [--price P] [--symbol S] [--units coin|usd] [--top N]
[--json]`` parses a provider payload (format detected by content unless ``--format``), runs the
cluster tracker per symbol over the snapshots in time order (or uses the clusters a perp-api
payload ships ready-made) and prints each snapshot: levels (top N per side), clusters and the
magnet read. ``--json`` prints ``{"snapshots": [{"symbol", "ts", "price", "source", "levels",
"clusters", "magnets"}]}``; a perp-api ``/api/stats`` document (no levels) prints
``{"snapshots": [], "open_interest": {SYMBOL: {...}}}`` instead. It writes nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, iso
from bot.errors import DataError

AddSubcommand = Callable[[argparse._SubParsersAction], None]


def _add_show(subparsers: argparse._SubParsersAction) -> None:
    from bot.heatmap.parsers import HeatmapFormat
    from bot.heatmap.parsers.kiyotaka import Units

    p = subparsers.add_parser("show", help="print the levels, clusters and magnets of a heatmap payload")
    p.add_argument("input", metavar="INPUT",
                   help="payload file (JSON), - for stdin, or a snapshot store folder (its latest snapshot "
                        "per symbol)")
    p.add_argument("--format", dest="fmt", default=HeatmapFormat.AUTO.value,
                   choices=[f.value for f in HeatmapFormat], help="payload shape (default: detect by content)")
    p.add_argument("--price", type=float, default=None,
                   help="reference price (required for payloads that carry none, e.g. kiyotaka)")
    p.add_argument("--symbol", default=None, help="symbol override (BTC, BTCUSDT or BTC/USDT:USDT)")
    p.add_argument("--units", default=None, choices=[u.value for u in Units],
                   help="kiyotaka volume units when the payload does not say (default coin)")
    p.add_argument("--top", type=int, default=5, help="levels shown per side in the table (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.set_defaults(func=show)


HEATMAP_SUBCOMMANDS: list[AddSubcommand] = [_add_show]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``heatmap`` and its sub-commands (``HEATMAP_SUBCOMMANDS`` + ``bot.cli.heatmap_*``)."""
    parser = sub.add_parser("heatmap", help="read, build and inspect liquidation heatmaps")
    heatmap_sub = parser.add_subparsers(dest="heatmap_command", metavar="SUBCOMMAND",
                                        parser_class=type(parser))
    parser.set_defaults(func=_no_subcommand(parser))
    for add in [*HEATMAP_SUBCOMMANDS, *_discovered()]:
        add(heatmap_sub)


def _discovered() -> list[AddSubcommand]:
    import bot.cli as cli_pkg
    found = []
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("heatmap_"):
            module = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
            add = getattr(module, "add", None)
            if add is not None and add not in HEATMAP_SUBCOMMANDS:
                found.append(add)
    return found


def _no_subcommand(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace, object], int]:
    def handler(args: argparse.Namespace, settings: object) -> int:
        from bot.cli.main import need_subcommand
        need_subcommand(parser)
        return 2
    return handler


# --------------------------------------------------------------------------- show

def show(args: argparse.Namespace, settings: Any) -> int:
    """``heatmap show``: parse INPUT, cluster it, print tables or one JSON document."""
    from bot.heatmap.parsers import (HeatmapFormat, detect_format, is_perp_stats, load_payload,
                                     parse_heatmap_doc, parse_perp_stats)

    if args.top < 0:
        raise DataError(f"must be >= 0, got {args.top}", field="--top")
    name = "<stdin>" if args.input == "-" else args.input
    if args.input != "-" and Path(args.input).is_dir():  # a snapshot store folder (bot.heatmap.store)
        from bot.heatmap.store import load_store_snapshots
        return _print_snapshots(args, settings, load_store_snapshots(Path(args.input), symbol=args.symbol))
    doc = load_payload(_read_input(args.input), source_name=name)
    fmt = HeatmapFormat(args.fmt)
    if fmt is HeatmapFormat.AUTO:
        fmt = detect_format(doc)
    if fmt is HeatmapFormat.PERP_API and is_perp_stats(doc):
        stats = parse_perp_stats(doc)
        if args.json:
            _print_json({"snapshots": [], "open_interest": {k: v.to_dict() for k, v in stats.items()}})
        else:
            render_stats(_console(), stats)
        return 0
    snapshots = parse_heatmap_doc(doc, fmt, price=args.price, symbol=args.symbol, units=args.units,
                                  source_name=name)
    return _print_snapshots(args, settings, snapshots)


def _print_snapshots(args: argparse.Namespace, settings: Any, snapshots: Sequence[HeatmapSnapshot]) -> int:
    reads = cluster_snapshots(snapshots, settings.clusters)
    if args.json:
        _print_json({"snapshots": [snapshot_report(s, c, m) for s, (c, m) in zip(snapshots, reads)]})
    else:
        console = _console()
        for snapshot, (clusters, magnets) in zip(snapshots, reads):
            render_snapshot(console, snapshot, clusters, magnets, top=args.top)
    return 0


def cluster_snapshots(snapshots: Sequence[HeatmapSnapshot], cluster_settings: Any,
                      ) -> list[tuple[list[Cluster], MagnetRead]]:
    """Clusters and magnet read of each snapshot, in input order.

    One tracker per symbol, fed in time order (stable for equal times). Snapshots that carry
    ``provided_clusters`` (perp-api) keep those clusters instead of being re-clustered.
    """
    from bot.clusters.magnets import magnet_read
    from bot.clusters.tracker import ClusterTracker

    trackers: dict[str, ClusterTracker] = {}
    out: list[tuple[list[Cluster], MagnetRead] | None] = [None] * len(snapshots)
    for i in sorted(range(len(snapshots)), key=lambda k: snapshots[k].ts):
        snap = snapshots[i]
        if snap.provided_clusters:
            clusters = sorted(snap.provided_clusters, key=lambda c: c.price_level)
        else:
            tracker = trackers.get(snap.symbol)
            if tracker is None:
                tracker = trackers[snap.symbol] = ClusterTracker(cluster_settings, snap.symbol)
            clusters = tracker.update(snap)
        out[i] = (clusters, magnet_read(clusters, snap.price, cluster_settings.bias_threshold,
                                        cluster_settings.cascade_gap_pct))
    return [r for r in out if r is not None]


def snapshot_report(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], magnets: MagnetRead) -> dict[str, Any]:
    """The ``--json`` entry of one snapshot."""
    levels = np.column_stack([snapshot.prices, snapshot.long_usd, snapshot.short_usd]).tolist()
    return {
        "symbol": snapshot.symbol,
        "ts": iso(snapshot.ts),
        "price": snapshot.price,
        "source": snapshot.source.value,
        "levels": [{"price": p, "long_usd": lo, "short_usd": sh} for p, lo, sh in levels],
        "clusters": [c.to_dict() for c in clusters],
        "magnets": magnets.to_dict(),
    }


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    if p.is_dir():
        raise DataError("is a directory, expected a payload file", field="INPUT", position=path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", field="INPUT", position=path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", field="INPUT", position=path) from None


def _print_json(doc: dict[str, Any]) -> None:
    # allow_nan=False: a non-finite number must never leak into the one JSON document
    sys.stdout.write(json.dumps(_finite(doc), allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --------------------------------------------------------------------------- tables

def _console() -> Any:
    from bot.cli.console import stdout_console
    # a pipe or a file gets a fixed width: wrapped cells would make the tables unreadable
    return stdout_console(highlight=False)


def render_snapshot(console: Any, snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], magnets: MagnetRead,
                    *, top: int = 5) -> None:
    """Rich tables of one snapshot: header, top levels per side, clusters, magnet read."""
    from rich.table import Table

    console.print(f"[bold]{snapshot.symbol}[/]  {iso(snapshot.ts)}  price {_price(snapshot.price)}  "
                  f"source {snapshot.source.value}  {len(snapshot)} levels  "
                  f"long {_usd(snapshot.total_long_usd)}  short {_usd(snapshot.total_short_usd)}")
    levels = Table(title=f"top {top} levels per side by USD", title_justify="left")
    for col in ("side", "price", "USD", "distance %"):
        levels.add_column(col, justify="left" if col == "side" else "right")
    for side, usd in (("short", snapshot.short_usd), ("long", snapshot.long_usd)):
        nonzero = np.flatnonzero(usd > 0)
        best = nonzero[np.argsort(-usd[nonzero], kind="stable")[:top]]
        for i in sorted(best, key=lambda k: -snapshot.prices[k]):
            levels.add_row(side, _price(snapshot.prices[i]), _usd(usd[i]),
                           f"{(snapshot.prices[i] / snapshot.price - 1) * 100:+.2f}")
        levels.add_row(f"[dim]({nonzero.size} {side} levels)[/]", "", "", "")
    console.print(levels)
    table = Table(title=f"{len(clusters)} clusters", title_justify="left")
    for col in ("id", "side", "price", "range", "USD", "strength", "distance %", "tier", "active"):
        table.add_column(col, justify="left" if col in ("id", "side", "active") else "right")
    for c in sorted(clusters, key=lambda c: -c.price_level):
        table.add_row(c.cluster_id, c.side.value, _price(c.price_level),
                      f"{_price(c.price_low)}-{_price(c.price_high)}", _usd(c.open_interest), f"{c.strength:.2f}",
                      f"{c.distance_from_price:.2f}", f"{c.leverage_tier:g}x", "yes" if c.active else "[dim]broken[/]")
    console.print(table)
    console.print(f"magnet above: {_magnet(magnets.above)}\nmagnet below: {_magnet(magnets.below)}\n"
                  f"asymmetry {_ratio(magnets.asymmetry)} -> [bold]{magnets.bias.value}[/]\n")


def render_stats(console: Any, stats: dict[str, Any]) -> None:
    """Rich table of a perp-api ``/api/stats`` open-interest summary."""
    from rich.table import Table

    table = Table(title="open interest summary (perp-api /api/stats)", title_justify="left")
    for col in ("symbol", "total OI", "long OI", "short OI", "long/short"):
        table.add_column(col, justify="left" if col == "symbol" else "right")
    for sym, s in stats.items():
        table.add_row(sym, _usd(s.total_oi_usd), _usd(s.long_oi_usd), _usd(s.short_oi_usd), f"{s.long_short_ratio:.3f}")
    console.print(table)


def _magnet(c: Cluster | None) -> str:
    if c is None:
        return "none"
    return f"{c.side.value} {_price(c.price_level)} ({_usd(c.open_interest)}, strength {c.strength:.2f}, " \
           f"{c.distance_from_price:.2f}% away)"


def _price(x: float) -> str:
    return f"{x:,.2f}" if x < 1000 else f"{x:,.0f}"


def _usd(x: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"${x / scale:,.1f}{suffix}"
    return f"${x:,.0f}"


def _ratio(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"
