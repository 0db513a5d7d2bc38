"""``liqbot heatmap import``: provider heatmap history into the snapshot store.

``--provider kiyotaka``: pages ``/v1/points`` over ``[--since, --to)`` in windows of at most
5,000 points (``--interval`` MINUTE|HOUR|DAY, ``--flatten``, ``--units coin|usd``, ``--max-depth``);
each snapshot's reference price is the close of the last candle closed at or before it
(``--price-from exchange``, the default, fetches those candles through ccxt; ``--price-from
FILE`` reads a candles file; ``--price-from mid`` estimates it from the levels), see
``bot.heatmap.providers.kiyotaka``. ``--provider coinglass``: one request with the smallest
``range`` reaching back to ``--since`` (``--model``, ``--cg-exchange`` for one exchange's pair).
Each page is written to the store (``--out DIR``) as it arrives, so an interrupted import keeps
what it fetched and re-running it rewrites the same time ranges without duplicates. The report
lists the snapshots written and the gaps between them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bot.cli.progress import ProgressBar
from bot.cli.timeargs import from_ms, parse_time, to_ms
from bot.domain import HeatmapSnapshot, iso
from bot.errors import DataError
from bot.logs import get_logger
from bot.retry import RetryPolicy

PROVIDERS = ("kiyotaka", "coinglass")


def add(subparsers: argparse._SubParsersAction) -> None:
    """Add ``heatmap import`` (discovered by ``bot.cli.commands.heatmap``)."""
    from bot.heatmap.parsers import Units
    from bot.heatmap.providers.coinglass import Model
    from bot.heatmap.providers.kiyotaka import MAX_POINTS_PER_REQUEST, Interval

    p = subparsers.add_parser("import", help="import provider heatmap history into the snapshot store")
    p.add_argument("--provider", required=True, choices=PROVIDERS)
    p.add_argument("--symbol", required=True, help="BTC, BTCUSDT or BTC/USDT:USDT")
    p.add_argument("--since", required=True, help="start: ISO-8601, epoch s/ms, or a duration back (7d)")
    p.add_argument("--to", default="now", help="end, exclusive (default now)")
    p.add_argument("--out", type=Path, required=True, help="snapshot store folder")
    p.add_argument("--interval", default=Interval.HOUR.value, choices=[i.value for i in Interval],
                   help="kiyotaka: point interval (default HOUR)")
    p.add_argument("--flatten", action="store_true", help="kiyotaka: ask for flat_points")
    p.add_argument("--units", default=Units.COIN.value, choices=[u.value for u in Units],
                   help="kiyotaka: coin volumes (default) or USD-normalized")
    p.add_argument("--max-depth", type=int, default=None, help="kiyotaka: price levels per point (default 1500)")
    p.add_argument("--points-per-request", type=int, default=MAX_POINTS_PER_REQUEST,
                   help=f"kiyotaka: page size in points (max {MAX_POINTS_PER_REQUEST})")
    p.add_argument("--price-from", default="exchange",
                   help="kiyotaka reference prices: exchange (ccxt candles, default), mid, or a candles FILE")
    p.add_argument("--exchange", default=None, help="ccxt exchange for --price-from exchange (default setting)")
    p.add_argument("--model", default=Model.MODEL2.value, choices=[m.value for m in Model],
                   help="coinglass: heatmap model (default model2)")
    p.add_argument("--cg-exchange", default=None, help="coinglass: one exchange's pair (e.g. Binance) "
                                                       "instead of the coin across exchanges")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=import_heatmaps)


def import_heatmaps(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot heatmap import``."""
    from bot.heatmap.parsers import unified_symbol
    from bot.heatmap.store import SnapshotStore

    now = datetime.now(timezone.utc)
    since = parse_time(args.since, now, field="--since")
    until = min(parse_time(args.to, now, field="--to"), now)
    if since >= until:
        raise DataError(f"--since ({iso(since)}) must be before --to ({iso(until)})", field="--since")
    try:
        symbol = unified_symbol(args.symbol)
    except ValueError as exc:
        raise DataError(str(exc), field="--symbol") from None
    from bot.atomic import check_output_dir
    store = SnapshotStore(check_output_dir(args.out, "--out"))
    policy = RetryPolicy.from_settings(settings.download)
    show = not (args.json or args.no_progress) and sys.stderr.isatty()  # no bar frames in logs/pipes
    runner = _kiyotaka if args.provider == "kiyotaka" else _coinglass
    summary = runner(args, settings, symbol, since, until, now, store, policy, show)
    get_logger("liqbot.import").info("heatmap.imported", provider=args.provider, symbol=symbol,
                                     store=str(args.out), snapshots=summary["snapshots"],
                                     requests=summary["requests"])
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        _print_report(summary)
    return 0


def _kiyotaka(args: argparse.Namespace, settings: Any, symbol: str, since: datetime, until: datetime,
              now: datetime, store: Any, policy: RetryPolicy, show: bool) -> dict[str, Any]:
    from bot.heatmap.parsers import Units
    from bot.heatmap.providers.kiyotaka import Interval, KiyotakaClient, priced_snapshots, windows

    if args.max_depth is not None and args.max_depth < 1:
        raise DataError(f"must be >= 1, got {args.max_depth}", field="--max-depth")
    interval = Interval(args.interval)
    start_s, end_s = int(since.timestamp()), int(until.timestamp())
    plan = windows(start_s, end_s, interval, args.points_per_request)
    client = KiyotakaClient(settings.providers.kiyotaka_base_url, settings.providers.kiyotaka_api_key,
                            timeout_s=settings.download.timeout_s, policy=policy)
    price_at, price_from = _price_source(args, settings, symbol, since, until, interval, policy)
    coin = symbol.split("/")[0]
    written: list[int] = []
    with ProgressBar(f"kiyotaka {coin} {interval.value}", len(plan), enabled=show, unit="pages") as bar:
        for i, (window, raw) in enumerate(client.pages(coin, start_s, end_s, interval=interval,
                                                       points_per_request=args.points_per_request,
                                                       flatten=args.flatten, units=Units(args.units),
                                                       max_depth=args.max_depth), 1):
            snaps = priced_snapshots(raw, symbol=symbol, units=Units(args.units), price_at=price_at,
                                     price_from=price_from, source_name=f"kiyotaka page from={window.start_s}")
            snaps = _inside(snaps, since, until)
            store.write(snaps)
            written.extend(int(s.ts.timestamp() * 1000) for s in snaps)
            bar.update(i, rows=len(snaps), requests=client.requests)
    return _summary("kiyotaka", symbol, args.out, since, until, written, client, interval.seconds * 1000,
                    {"interval": interval.value, "price_from": price_from, "units": args.units}, edges=True)


def _coinglass(args: argparse.Namespace, settings: Any, symbol: str, since: datetime, until: datetime,
               now: datetime, store: Any, policy: RetryPolicy, show: bool) -> dict[str, Any]:
    from bot.heatmap.parsers import HeatmapFormat, parse_heatmap
    from bot.heatmap.providers.coinglass import CoinglassClient, choose_range

    for flag, default in (("flatten", False), ("max_depth", None)):
        if getattr(args, flag) != default:
            raise DataError("applies to --provider kiyotaka only", field="--" + flag.replace("_", "-"))
    range_ = choose_range(since, now)
    client = CoinglassClient(settings.providers.coinglass_base_url, settings.providers.coinglass_api_key,
                             timeout_s=settings.download.timeout_s, policy=policy)
    base, quote = symbol.split("/")[0], symbol.split("/")[1].split(":")[0]
    with ProgressBar(f"coinglass {base} {range_}", 1, enabled=show, unit="pages") as bar:
        raw = client.fetch(base + quote if args.cg_exchange else base, range_, model=args.model,
                           exchange=args.cg_exchange)
        snaps = _inside(parse_heatmap(raw, HeatmapFormat.COINGLASS, symbol=symbol,
                                      source_name=f"coinglass range={range_}"), since, until)
        store.write(snaps)
        bar.update(1, rows=len(snaps), requests=client.requests)
    ts = [int(s.ts.timestamp() * 1000) for s in snaps]
    step = int(np.median(np.diff(ts))) if len(ts) > 1 else 0
    # columns are not on a known grid: only spacings inside the imported span are checked
    return _summary("coinglass", symbol, args.out, since, until, ts, client, step,
                    {"range": range_, "model": args.model, "exchange": args.cg_exchange or "aggregated"},
                    edges=False)


def _price_source(args: argparse.Namespace, settings: Any, symbol: str, since: datetime, until: datetime,
                  interval: Any, policy: RetryPolicy) -> tuple[Any, str]:
    """(price lookup or None for mid, description) for Kiyotaka snapshots."""
    from bot.heatmap.providers.kiyotaka import candle_price_lookup

    choice = args.price_from
    if choice == "mid":
        return None, "estimated: USD-weighted mean level price (no candles)"
    if choice == "exchange":
        from bot.marketdata.fetch import MarketFetcher, MarketSeries, make_exchange
        exchange_id = args.exchange or settings.exchange.id
        exchange = make_exchange(exchange_id, timeout_ms=settings.exchange.timeout_ms,
                                 api_base=settings.download.exchange_api_base or None)
        fetcher = MarketFetcher(exchange, policy)
        step = fetcher.timeframe_ms(interval.timeframe)
        candles = fetcher.fetch(MarketSeries.CANDLES, symbol, to_ms(since) - step, to_ms(until),
                                timeframe=interval.timeframe)
        what = f"close of the last closed {interval.timeframe} candle ({exchange_id})"
        return candle_price_lookup(candles, step), what
    from bot.marketdata.files import load_candles
    path = Path(choice)
    if not path.is_file():
        raise DataError("no such file (or use exchange / mid)", field="--price-from", position=choice)
    candles = load_candles(path)
    tf_ms = int(np.median(np.diff(candles.index.as_unit("ms").asi8))) if len(candles) > 1 else 60_000
    return candle_price_lookup(candles, tf_ms), f"close of the last closed candle in {path.name}"


def _inside(snaps: list[HeatmapSnapshot], since: datetime, until: datetime) -> list[HeatmapSnapshot]:
    return [s for s in snaps if since <= s.ts < until]  # --to is exclusive


def _summary(provider: str, symbol: str, out: Path, since: datetime, until: datetime, ts: list[int],
             client: Any, step_ms: int, extra: dict[str, Any], *, edges: bool) -> dict[str, Any]:
    from bot.marketdata.resume import find_gaps

    ts_arr = np.unique(np.asarray(ts, dtype=np.int64))
    bounds = (to_ms(since), to_ms(until)) if edges else (None, None)
    gaps = find_gaps(ts_arr, step_ms, *bounds) if step_ms > 0 else []
    return {
        "provider": provider, "symbol": symbol, "store": str(out), **extra,
        "since": iso(since), "until": iso(until), "snapshots": int(ts_arr.size),
        "first": iso(from_ms(int(ts_arr[0]))) if ts_arr.size else None,
        "last": iso(from_ms(int(ts_arr[-1]))) if ts_arr.size else None,
        "requests": client.requests, "retries": client.retries,
        "gaps": [{"from": iso(from_ms(g.start_ms)), "to": iso(from_ms(g.end_ms)), "missing": g.missing}
                 for g in gaps],
    }


def _print_report(summary: dict[str, Any]) -> None:
    from bot.cli.console import stdout_console

    console = stdout_console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{summary['provider']}[/] {summary['symbol']} -> {summary['store']}")
    span = f"{summary['first']} .. {summary['last']}" if summary["first"] else "nothing in range"
    console.print(f"wrote {summary['snapshots']} snapshots ({span}) in {summary['requests']} requests "
                  f"({summary['retries']} retries)")
    if summary["gaps"]:
        console.print(f"gaps: {len(summary['gaps'])}")
        for g in summary["gaps"]:
            console.print(f"  {g['from']} .. {g['to']}  {g['missing']} missing")
    else:
        console.print("gaps: none")
