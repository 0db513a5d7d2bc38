"""Replay feed: candles (+ open interest, long/short ratio, funding) from files, fast-forwarded.

Files are read with ``bot.marketdata.files`` (format detected by content, validated strictly).
Every series is aligned point-in-time to the candle closes: a value is used from the moment it
was known, and open interest or a ratio older than ``max_age`` counts as missing rather than
being carried forward for months. ``funding_rate`` on a bar is the rate settled inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from bot.domain import utc
from bot.errors import DataError
from bot.feeds.base import Bar, BarBatch, HistoricFeed


@dataclass(frozen=True, slots=True)
class ReplayFiles:
    """The files of one symbol's replay."""

    candles: Path
    oi: Path | None = None
    ls_ratio: Path | None = None
    funding: Path | None = None


def _known(frame: pd.DataFrame | None, column: str, close_ns: np.ndarray, max_age_ns: int) -> np.ndarray:
    """Latest value known at each close, NaN when none or older than ``max_age_ns``."""
    out = np.full(close_ns.shape, np.nan)
    if frame is None or frame.empty:
        return out
    known = frame.index.asi8 if frame.index.tz is not None else frame.index.tz_localize("UTC").asi8
    values = frame[column].to_numpy(np.float64)
    idx = np.searchsorted(known, close_ns, side="right") - 1
    ok = (idx >= 0)
    ok[ok] &= close_ns[ok] - known[idx[ok]] <= max_age_ns
    out[ok] = values[idx[ok]]
    return out


def _settled(frame: pd.DataFrame | None, open_ns: np.ndarray, close_ns: np.ndarray) -> np.ndarray:
    """Sum of funding rates settled in each bar's (open, close], NaN where none was."""
    out = np.full(close_ns.shape, np.nan)
    if frame is None or frame.empty:
        return out
    known = frame.index.asi8
    rate = np.nan_to_num(frame["funding_rate"].to_numpy(np.float64))
    cum = np.concatenate(([0.0], np.cumsum(rate)))
    upto = np.searchsorted(known, close_ns, side="right")
    since = np.searchsorted(known, open_ns, side="right")
    has = upto > since
    out[has] = (cum[upto] - cum[since])[has]
    return out


class ReplayFeed(HistoricFeed):
    """One symbol's bars from files, ``warmup`` first (model only), then the trading span."""

    def __init__(self, symbol: str, files: ReplayFiles, *, speed: float, start: datetime | None = None,
                 end: datetime | None = None, duration: timedelta | None = None, warmup: timedelta = timedelta(0),
                 max_age: timedelta = timedelta(hours=8)) -> None:
        super().__init__(speed)
        from bot.inputs.series import check_candle_rows, check_covers, check_trading_bars
        from bot.marketdata.files import load_candles, load_funding, load_long_short_ratio, load_open_interest
        self.symbols = (symbol,)
        candles = load_candles(files.candles)
        check_candle_rows(candles)
        if start is not None:
            candles = candles[candles.index >= pd.Timestamp(utc(start))]
        if candles.empty:
            raise DataError("no candles in the requested range", field="--from")
        open_ns = candles.index.asi8
        step = int(np.median(np.diff(open_ns))) if open_ns.size > 1 else 300_000_000_000
        self.timeframe = timedelta(microseconds=step // 1000)
        first = int(open_ns[0])
        self.trade_from_ns = first + int(warmup.total_seconds() * 1e9)
        stop = np.full(open_ns.shape, True)
        if end is not None:
            stop &= open_ns + step <= pd.Timestamp(utc(end)).value
        if duration is not None:
            stop &= open_ns + step <= self.trade_from_ns + int(duration.total_seconds() * 1e9)
        candles = candles[stop]
        if candles.empty:
            raise DataError("no candles in the requested range", field="--to")
        check_trading_bars(candles.index.asi8, self.trade_from_ns, warmup.total_seconds())
        self.open_ns = candles.index.asi8
        self.close_ns = self.open_ns + step
        self.ohlcv = candles[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
        age = int(max_age.total_seconds() * 1e9)
        oi = load_open_interest(files.oi, price=candles["close"]) if files.oi else None
        check_covers(candles.index.asi8, candles.index.asi8 + step, oi, "--oi")
        self.oi = _known(oi, "oi_usd", self.close_ns, age) if oi is not None and "oi_usd" in oi else \
            np.full(self.close_ns.shape, np.nan)
        ls = load_long_short_ratio(files.ls_ratio) if files.ls_ratio else None
        check_covers(candles.index.asi8, candles.index.asi8 + step, ls, "--ls-ratio")
        self.ls = _known(ls, "long_short_ratio", self.close_ns, age)
        funding = load_funding(files.funding) if files.funding else None
        check_covers(candles.index.asi8, candles.index.asi8 + step, funding, "--funding")
        self.funding = _settled(funding, self.open_ns, self.close_ns)

    def __len__(self) -> int:
        return int(self.open_ns.size)

    def batches(self) -> Iterator[BarBatch]:
        """One single-symbol batch per candle."""
        symbol = self.symbols[0]
        opt = lambda x: None if np.isnan(x) else float(x)  # noqa: E731
        for i in range(self.open_ns.size):
            o, h, low, c, v = (float(x) for x in self.ohlcv[i])
            ts = pd.Timestamp(int(self.open_ns[i]), tz="UTC").to_pydatetime()
            bar = Bar(symbol, ts, ts + self.timeframe, o, h, low, c, v, oi_usd=opt(self.oi[i]),
                      long_short_ratio=opt(self.ls[i]), funding_rate=opt(self.funding[i]))
            yield BarBatch(bar.close_ts, (bar,), warmup=int(self.open_ns[i]) < self.trade_from_ns)
