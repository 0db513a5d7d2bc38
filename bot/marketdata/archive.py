"""Daily ``metrics`` files from Binance's public data archive (data.binance.vision).

Binance's REST API serves open interest and long/short history for the last 30 days only; the
archive keeps every day since 2021 as ``{base}/data/futures/um/daily/metrics/{SYMBOL}/
{SYMBOL}-metrics-{YYYY-MM-DD}.zip``: a zip holding one CSV with 5-minute rows of
``create_time, symbol, sum_open_interest, sum_open_interest_value,
count_toptrader_long_short_ratio, sum_toptrader_long_short_ratio, count_long_short_ratio,
sum_taker_long_short_vol_ratio``. A day the archive does not have (HTTP 404) is a gap, reported
by the caller, never an error. Rows are kept as the archive's text, so a downloaded file is the
daily CSVs concatenated under one header, plus an int64 ``ts`` (epoch ms of ``create_time``,
UTC) in memory.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.httpclient import NotFoundError, get_with_retry
from bot.retry import RetryPolicy

DEFAULT_ARCHIVE_URL = "https://data.binance.vision"
METRICS_COLUMNS = ("create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
                   "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio",
                   "count_long_short_ratio", "sum_taker_long_short_vol_ratio")
_REQUIRED_NUMERIC = ("sum_open_interest", "sum_open_interest_value")


def archive_symbol(symbol: str) -> str:
    """The archive's symbol id: ``BTC/USDT:USDT`` or ``BTC/USDT`` -> ``BTCUSDT``; ``btcusdt`` -> ``BTCUSDT``."""
    text = symbol.strip().upper()
    if "/" in text:
        base, _, rest = text.partition("/")
        quote = rest.partition(":")[0]
        text = base + quote
    if not text.isalnum():
        raise DataError(f"cannot map {symbol!r} to an archive symbol like BTCUSDT", field="--symbol")
    return text


def metrics_url(base_url: str, symbol: str, day: date) -> str:
    """URL of one day's metrics zip."""
    sym = archive_symbol(symbol)
    return f"{base_url.rstrip('/')}/data/futures/um/daily/metrics/{sym}/{sym}-metrics-{day.isoformat()}.zip"


def parse_metrics_zip(data: bytes, source: str) -> pd.DataFrame:
    """The rows of one archive zip: ``ts`` (int64 ms) + the archive's columns as text.

    Strict: not a zip, not exactly one CSV inside, a missing column, an unparseable
    ``create_time`` or a non-numeric open interest are ``DataError`` naming ``source``.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1 or not names[0].lower().endswith(".csv"):
                raise DataError(f"expected one CSV in the zip, found {names}", source=source)
            text = zf.read(names[0])
    except zipfile.BadZipFile:
        raise DataError("not a zip archive (malformed body)", source=source) from None
    return parse_metrics_csv(text, source)


def parse_metrics_csv(text: bytes | str, source: str) -> pd.DataFrame:
    """Parse archive metrics CSV text (see ``parse_metrics_zip``)."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable CSV: {str(exc).splitlines()[0]}", source=source) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in METRICS_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError("missing column", field=missing[0], source=source)
    frame = frame[list(METRICS_COLUMNS)]
    stamps = pd.to_datetime(frame["create_time"], utc=True, errors="coerce", format="mixed")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        raise DataError(f"unparseable time {frame['create_time'].iat[bad[0]]!r}", field="create_time",
                        position=int(bad[0]) + 2, source=source)  # +2: 1-based line after the header
    for column in _REQUIRED_NUMERIC:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            raise DataError(f"not a finite number >= 0: {frame[column].iat[bad[0]]!r}", field=column,
                            position=int(bad[0]) + 2, source=source)
    ts = ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)
    return frame.assign(ts=ts)[["ts", *METRICS_COLUMNS]].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class ArchiveDay:
    """One day's result: its rows, or ``None`` when the archive has no file for it (a gap)."""

    day: date
    frame: pd.DataFrame | None


class MetricsArchive:
    """Reads daily metrics zips over HTTP (stdlib urllib), retrying transient failures."""

    def __init__(self, base_url: str = DEFAULT_ARCHIVE_URL, *, timeout_s: float = 10.0,
                 policy: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.policy = policy
        self.sleep = sleep
        self.requests = 0

    def fetch_day(self, symbol: str, day: date) -> ArchiveDay:
        """One day's rows; a 404 gives ``ArchiveDay(day, None)``."""
        url = metrics_url(self.base_url, symbol, day)
        what = f"archive {archive_symbol(symbol)} metrics {day.isoformat()}"
        self.requests += 1
        try:
            data = get_with_retry(url, timeout_s=self.timeout_s, policy=self.policy, what=what, sleep=self.sleep)
        except NotFoundError:
            return ArchiveDay(day, None)
        return ArchiveDay(day, parse_metrics_zip(data, what))

    def days(self, symbol: str, first: date, last: date) -> Iterator[ArchiveDay]:
        """Each day from ``first`` to ``last`` inclusive, in order."""
        day = first
        while day <= last:
            yield self.fetch_day(symbol, day)
            day += timedelta(days=1)
