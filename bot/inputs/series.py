"""Checks of loaded market series, alone and against each other (kind, range, timeframe, coverage).

The loaders in ``bot.marketdata.files`` call the single-series checks; the replay feed and the
backtest call the cross-file ones before any work. Every refusal is a ``DataError`` naming the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.inputs import bounds

_PRICE_COLUMNS = ("open", "high", "low", "close")


def _source(frame: pd.DataFrame) -> str | None:
    return frame.attrs.get("source")


def check_prices(frame: pd.DataFrame) -> None:
    """Candle prices must be coin prices: > 0, and above ``bounds.MAX_PRICE`` they are dirt or another series."""
    for col in _PRICE_COLUMNS:
        if col not in frame:
            continue
        arr = frame[col].to_numpy(np.float64)
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            i = int(bad[0])
            raise DataError(f"price {arr[i]:g} must be > 0", field=col, position=f"row {i}", source=_source(frame))
        bad = np.flatnonzero(arr > bounds.MAX_PRICE)
        if bad.size:
            i = int(bad[0])
            hint = " (open interest in USD passed as candles?)" if float(np.median(arr)) > bounds.MAX_PRICE else ""
            raise DataError(f"price {arr[i]:g} is above {bounds.MAX_PRICE:g}, not a coin price{hint}",
                            field=col, position=f"row {i}", source=_source(frame))


def check_funding(frame: pd.DataFrame) -> None:
    """Funding rates are a fraction per interval: refuse percent files and values past the sanity bound."""
    rates = frame["funding_rate"].to_numpy(np.float64)
    if rates.size == 0:
        return
    median = float(np.median(np.abs(rates)))
    if median >= bounds.PERCENT_FUNDING_MEDIAN:
        raise DataError(f"rates look like percent, not a fraction per interval (median |rate| {median:g}; "
                        f"0.0001 means 0.01 %): divide them by 100", field="funding_rate", source=_source(frame))
    bad = np.flatnonzero(np.abs(rates) > bounds.MAX_FUNDING_RATE)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"rate {rates[i]:g} per interval is beyond +-{bounds.MAX_FUNDING_RATE:g} (5 %): "
                        "not a real funding rate", field="funding_rate", position=f"row {i}", source=_source(frame))


def check_candle_rows(frame: pd.DataFrame, flag: str = "--candles") -> None:
    """A candle file too short to warm a model and trade is refused, not replayed into nothing."""
    if len(frame) < bounds.MIN_CANDLE_ROWS:
        raise DataError(f"{len(frame)} candles: at least {bounds.MIN_CANDLE_ROWS} are needed", field=flag,
                        source=_source(frame))


def check_trading_bars(open_ns: np.ndarray, trade_from_ns: int, warmup_s: float) -> None:
    """The warmup must leave at least one bar to trade in the window."""
    if not (open_ns >= trade_from_ns).any():
        span_h = (open_ns[-1] - open_ns[0]) / 3.6e12 if open_ns.size else 0.0
        raise DataError(f"the warmup ({warmup_s / 3600:g} h) covers the whole window ({span_h:g} h of candles): "
                        "no bar is left to trade; shorten --warmup or widen --from/--to", field="--warmup")


def check_covers(candles_open_ns: np.ndarray, candles_close_ns: np.ndarray, other: pd.DataFrame | None,
                 flag: str) -> None:
    """A side file (OI, funding, long/short) must hold values inside the candles' window."""
    if other is None:
        return
    if other.empty:
        raise DataError("holds no rows", field=flag, source=_source(other))
    first, last = int(other.index.asi8[0]), int(other.index.asi8[-1])
    lo, hi = int(candles_open_ns[0]), int(candles_close_ns[-1])
    if last < lo or first > hi:
        fmt = lambda ns: pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")  # noqa: E731
        raise DataError(f"covers {fmt(first)} to {fmt(last)}, the candles {fmt(lo)} to {fmt(hi)}: no overlap "
                        "(another period or another file?)", field=flag, source=_source(other))


def check_fine_candles(candles: pd.DataFrame, fine: pd.DataFrame) -> None:
    """``--fine-candles`` must be a finer timeframe of the same market over the same period."""
    from bot.marketdata.validate import timedelta as tf_delta
    coarse_tf, fine_tf = candles.attrs.get("timeframe"), fine.attrs.get("timeframe")
    if coarse_tf is None or fine_tf is None:
        raise DataError("timeframe unknown (a single candle?)", field="--fine-candles", source=_source(fine))
    c, f = tf_delta(coarse_tf), tf_delta(fine_tf)
    if f >= c or c % f != pd.Timedelta(0):
        raise DataError(f"{fine_tf} candles are not finer than the {coarse_tf} candles (nor divide them)",
                        field="--fine-candles", source=_source(fine))
    common = candles.index.intersection(fine.index)
    if common.empty:
        check_covers(candles.index.asi8, candles.index.asi8 + c.value, fine, "--fine-candles")
        raise DataError("no candle opens at the time of a coarse candle", field="--fine-candles", source=_source(fine))
    ratio = fine.loc[common, "open"].to_numpy(np.float64) / candles.loc[common, "open"].to_numpy(np.float64)
    off = float(np.median(np.abs(ratio - 1.0)))
    if off > 0.01:
        raise DataError(f"prices differ from the candles' by {off * 100:.1f} % (median at common bar opens): "
                        "another market?", field="--fine-candles", source=_source(fine))
