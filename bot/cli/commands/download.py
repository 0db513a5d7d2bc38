"""``liqbot download candles|oi|funding|metrics``: history to a file, with progress, resume and a gap report.

``candles``, ``oi`` and ``funding`` come through ccxt (``bot.marketdata.fetch``); ``metrics``
(5-minute open interest and long/short ratios, years back) from the exchange's public daily
archive (``bot.marketdata.archive``). RESUME: when ``--out`` already holds a download of the
same kind, only what lies before its first or after its last timestamp is fetched. Candles stop
at the last CLOSED bar (a still-open bar written now would never be corrected by a resume);
metrics stop at yesterday (the archive publishes a day after it ends). If a request fails for
good (after bounded retries) or the user interrupts, the rows fetched so far are saved first,
and the error says so. The gap report lists every run of missing samples in the asked range;
a day the archive does not have is listed by date.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from bot.cli.progress import ProgressBar
from bot.cli.timeargs import from_ms, parse_time, to_ms
from bot.domain import iso
from bot.errors import DataError, LiqbotError, RetryableError
from bot.logs import get_logger
from bot.marketdata import resume
from bot.marketdata.series import FUNDING_STEP_MS, MarketSeries, PriceType
from bot.retry import RetryPolicy

KINDS = ("candles", "oi", "funding", "metrics")
METRICS_STEP_MS = 5 * 60_000
ARCHIVE_EXCHANGES = ("binanceusdm", "binance")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``download``."""
    p = sub.add_parser("download", help="download candles, open interest, funding (ccxt) or metrics (archive)",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("kind", choices=KINDS, help="what to download")
    p.add_argument("--exchange", default=None, help="ccxt exchange id (default: exchange.id setting)")
    p.add_argument("--symbol", default=None, help="ccxt symbol, e.g. BTC/USDT:USDT (default: first of symbols)")
    p.add_argument("--since", required=True, help="start: ISO-8601, epoch s/ms, or a duration back from now (30d)")
    p.add_argument("--to", default="now", help="end (exclusive), same forms as --since (default: now)")
    p.add_argument("--timeframe", default="5m", help="candle size / open-interest period (default 5m)")
    p.add_argument("--price", default=PriceType.LAST.value, choices=[p.value for p in PriceType],
                   help="candles of the last (traded), mark or index price (default last)")
    p.add_argument("--out", required=True, help="output file (.csv or .parquet) or folder (existing, or ending in /)")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead of text")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=download)


@dataclass
class Outcome:
    """What a download did, for the report."""

    kind: str
    symbol: str
    exchange: str
    path: Path
    since_ms: int
    until_ms: int
    step_ms: int
    frame: pd.DataFrame
    rows_before: int
    rows_fetched: int = 0
    requests: int = 0
    retries: int = 0
    missing_days: list[date] = field(default_factory=list)

    def gaps(self) -> list[resume.Gap]:
        ts = self.frame["ts"].to_numpy(dtype=np.int64) if len(self.frame) else np.empty(0, np.int64)
        ts = ts[(ts >= self.since_ms) & (ts <= self.until_ms)]
        return resume.find_gaps(ts, self.step_ms, self.since_ms, self.until_ms)


def download(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot download``."""
    now = datetime.now(timezone.utc)
    since = to_ms(parse_time(args.since, now, field="--since"))
    now_ms = to_ms(now)
    to = parse_time(args.to, now, field="--to")
    until = min(to_ms(to) - 1, now_ms)  # --to is exclusive
    if since >= until:
        raise DataError(f"--since ({iso(from_ms(since))}) must be before --to ({iso(to)})", field="--since")
    exchange_id = args.exchange or settings.exchange.id
    symbol = args.symbol or settings.symbols[0]
    timeframe = args.timeframe if args.kind in ("candles", "oi") else None
    path = resume.resolve_output(args.out, args.kind, symbol, timeframe)
    existing = resume.read_existing(path, args.kind)
    policy = RetryPolicy.from_settings(settings.download)
    show = not (args.json or args.no_progress) and sys.stderr.isatty()  # no bar frames in logs/pipes
    if args.kind == "metrics":
        outcome = _metrics(settings, exchange_id, symbol, since, until, now, path, existing, policy, show)
    else:
        outcome = _ccxt(settings, args, exchange_id, symbol, since, until, now_ms, path, existing, policy, show)
    gaps = outcome.gaps()
    get_logger("liqbot.download").info("download.done", kind=outcome.kind, symbol=symbol, file=str(path),
                                       rows=len(outcome.frame), fetched=outcome.rows_fetched,
                                       requests=outcome.requests, gaps=len(gaps))
    if args.json:
        sys.stdout.write(json.dumps(_summary(outcome, gaps)) + "\n")
    else:
        _print_report(outcome, gaps)
    return 0


# --------------------------------------------------------------------------- ccxt kinds

def _ccxt(settings: Any, args: argparse.Namespace, exchange_id: str, symbol: str, since: int, until: int,
          now_ms: int, path: Path, existing: pd.DataFrame | None, policy: RetryPolicy, show: bool) -> Outcome:
    from bot.marketdata.fetch import MarketFetcher, make_exchange  # ccxt loads only when downloading

    kind = MarketSeries(args.kind)
    exchange = make_exchange(exchange_id, timeout_ms=settings.exchange.timeout_ms,
                             api_base=settings.download.exchange_api_base or None)
    fetcher = MarketFetcher(exchange, policy)
    step = FUNDING_STEP_MS if kind is MarketSeries.FUNDING else fetcher.timeframe_ms(args.timeframe)
    if kind is MarketSeries.CANDLES:
        until = min(until, now_ms - step)  # closed bars only
    ts = existing["ts"].to_numpy(dtype=np.int64) if existing is not None else None
    ranges = resume.missing_ranges(ts, since, until, step)
    outcome = Outcome(kind.value, symbol, exchange_id, path, since, until, step, existing if existing is not None
                      else pd.DataFrame(), len(existing) if existing is not None else 0)
    label = f"{kind.value} {symbol}" + (f" {args.timeframe}" if kind is not MarketSeries.FUNDING else "")
    total = sum(b - a + 1 for a, b in ranges)

    def pages(bar: ProgressBar) -> Iterator[pd.DataFrame]:
        done = 0
        for a, b in ranges:
            for page in fetcher.pages(kind, symbol, a, b, timeframe=args.timeframe, price=PriceType(args.price)):
                bar.update(done + page.covered_ms, rows=len(page.frame), requests=fetcher.stats.requests)
                yield page.frame
            done += b - a + 1

    _collect(outcome, existing, pages, ProgressBar(label, total, enabled=show))
    outcome.requests, outcome.retries = fetcher.stats.requests, fetcher.stats.retries
    if kind is MarketSeries.FUNDING and len(outcome.frame) > 1:
        outcome.step_ms = resume.modal_step(outcome.frame["ts"].to_numpy(), FUNDING_STEP_MS)
    return outcome


# --------------------------------------------------------------------------- archive metrics

def _metrics(settings: Any, exchange_id: str, symbol: str, since: int, until: int, now: datetime, path: Path,
             existing: pd.DataFrame | None, policy: RetryPolicy, show: bool) -> Outcome:
    from bot.marketdata.archive import MetricsArchive

    if exchange_id not in ARCHIVE_EXCHANGES:
        raise DataError(f"the metrics archive is Binance's; got {exchange_id!r} (use binanceusdm)", field="--exchange")
    # the archive publishes a day once it is over: nothing newer than yesterday exists yet
    last_day = min(from_ms(until).date(), now.date() - timedelta(days=1))
    until = min(until, to_ms(datetime.combine(last_day, datetime.min.time(), timezone.utc)) + 86_400_000 - 1)
    if since > until:
        raise DataError(f"the archive has no day after {last_day.isoformat()} yet", field="--since")
    ts = existing["ts"].to_numpy(dtype=np.int64) if existing is not None else None
    days = sorted({from_ms(a).date() + timedelta(days=i)
                   for a, b in resume.missing_ranges(ts, since, until, METRICS_STEP_MS)
                   for i in range((from_ms(b).date() - from_ms(a).date()).days + 1)})
    archive = MetricsArchive(settings.download.archive_base_url, timeout_s=settings.download.timeout_s,
                             policy=policy)
    outcome = Outcome("metrics", symbol, exchange_id, path, since, until, METRICS_STEP_MS,
                      existing if existing is not None else pd.DataFrame(),
                      len(existing) if existing is not None else 0)

    def pages(bar: ProgressBar) -> Iterator[pd.DataFrame]:
        for i, day in enumerate(days, 1):
            got = archive.fetch_day(symbol, day)
            bar.update(i, rows=0 if got.frame is None else len(got.frame), requests=archive.requests)
            if got.frame is None:
                outcome.missing_days.append(day)
                continue
            yield got.frame[(got.frame["ts"] >= since) & (got.frame["ts"] <= until)]

    _collect(outcome, existing, pages, ProgressBar(f"metrics {symbol}", len(days), enabled=show, unit="days"))
    outcome.requests = archive.requests
    return outcome


# --------------------------------------------------------------------------- shared shell

def _collect(outcome: Outcome, existing: pd.DataFrame | None, pages: Any, bar: ProgressBar) -> None:
    """Run ``pages(bar)``, merge with ``existing`` and write atomically; on failure save what came."""
    new: list[pd.DataFrame] = []
    try:
        with bar:
            for frame in pages(bar):
                new.append(frame)
    except (LiqbotError, KeyboardInterrupt) as exc:
        note = _save(outcome, existing, new)
        if isinstance(exc, KeyboardInterrupt):
            if note:
                print(f"liqbot: {note}", file=sys.stderr)
            raise
        if isinstance(exc, RetryableError):  # the network gave up: bad input of the network kind, exit 2
            from bot.unreachable import unreachable
            raise unreachable("the exchange", exc, note=note) from exc
        raise type(exc)(f"{exc} ({note})" if note else str(exc)) from exc
    _save(outcome, existing, new)


def _save(outcome: Outcome, existing: pd.DataFrame | None, new: list[pd.DataFrame]) -> str:
    fetched = sum(len(f) for f in new)
    outcome.rows_fetched = fetched
    if fetched == 0 and existing is not None:
        outcome.frame = existing
        return ""
    outcome.frame = resume.merge(existing, new)
    if fetched == 0 and len(outcome.frame) == 0:
        return ""
    resume.write_atomic(outcome.frame, outcome.path, outcome.kind)
    last = iso(from_ms(int(outcome.frame["ts"].iat[-1])))
    return f"saved {len(outcome.frame)} rows to {outcome.path} up to {last}; run the same command again to resume"


def _summary(outcome: Outcome, gaps: list[resume.Gap]) -> dict[str, Any]:
    ts = outcome.frame["ts"] if len(outcome.frame) else None
    return {
        "kind": outcome.kind, "symbol": outcome.symbol, "exchange": outcome.exchange, "file": str(outcome.path),
        "since": iso(from_ms(outcome.since_ms)), "until": iso(from_ms(outcome.until_ms)),
        "rows_before": outcome.rows_before, "rows_fetched": outcome.rows_fetched, "rows": len(outcome.frame),
        "first": iso(from_ms(int(ts.iat[0]))) if ts is not None else None,
        "last": iso(from_ms(int(ts.iat[-1]))) if ts is not None else None,
        "requests": outcome.requests, "retries": outcome.retries, "step_ms": outcome.step_ms,
        "gaps": [{"from": iso(from_ms(g.start_ms)), "to": iso(from_ms(g.end_ms)), "missing": g.missing} for g in gaps],
        "missing_samples": sum(g.missing for g in gaps),
        "missing_days": [d.isoformat() for d in outcome.missing_days],
    }


def _print_report(outcome: Outcome, gaps: list[resume.Gap]) -> None:
    from bot.cli.console import stdout_console
    from rich.table import Table

    doc = _summary(outcome, gaps)
    console = stdout_console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{outcome.kind}[/] {outcome.symbol} from {outcome.exchange} -> {outcome.path}")
    console.print(f"fetched {doc['rows_fetched']} new rows in {doc['requests']} requests ({doc['retries']} retries); "
                  f"file has {doc['rows']} rows" + (f", {doc['first']} .. {doc['last']}" if doc["first"] else ""))
    span = f"{doc['since']} .. {doc['until']}"
    if not gaps:
        console.print(f"gap report for {span}: no gaps")
    else:
        console.print(f"gap report for {span}: {len(gaps)} gaps, {doc['missing_samples']} missing samples "
                      f"(step {outcome.step_ms // 60_000} min)")
        table = Table("from", "to", "missing", box=None, pad_edge=False)
        for g in doc["gaps"]:
            table.add_row(g["from"], g["to"], str(g["missing"]))
        console.print(table)
    if outcome.missing_days:
        console.print("days the archive does not have: " + ", ".join(doc["missing_days"]))
