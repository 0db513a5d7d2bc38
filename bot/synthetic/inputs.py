"""Market data -> aligned per-bar arrays for the ledger kernel, strictly point in time.

Every optional series is indexed by the time its value became KNOWN. Bar ``i`` (open ``t_i``,
close ``t_i + bar``) sees the latest value known at its close: ``known <= close``. Funding is
the sum of the rates settled in ``(close_{i-1}, close_i]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.errors import DataError

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
TAKER_COLUMNS = ("taker_buy_volume", "taker_buy_base", "taker_buy_base_volume")
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BarInputs:
    """Aligned inputs: one entry per candle (``open_ns`` = bar open, ``close_ns`` = known-at)."""

    open_ns: np.ndarray
    close_ns: np.ndarray
    bar_ns: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    taker_share: np.ndarray  # NaN: unknown
    oi: np.ndarray           # open interest USD known at the bar's close, NaN before the first
    ls_ratio: np.ndarray     # long/short ratio known at the bar's close, NaN if unknown
    funding: np.ndarray      # funding rate settled during the bar (0 if none)

    def __len__(self) -> int:
        return int(self.open_ns.size)

    @property
    def ts_seconds(self) -> np.ndarray:
        """Bar opens in seconds (float64), the kernel's clock."""
        return self.open_ns / NS


def _indexed(frame: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame | pd.Series:
    """The frame with a UTC DatetimeIndex (taken from a ``ts``/``date``/``time`` column if need be)."""
    if not isinstance(frame.index, pd.DatetimeIndex) and isinstance(frame, pd.DataFrame):
        col = next((c for c in ("ts", "date", "time", "timestamp") if c in frame.columns), None)
        if col is not None:
            frame = frame.set_index(col)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError("needs a DatetimeIndex (or a ts/date column)", field=name)
    return frame


def _time_index(frame: pd.DataFrame | pd.Series, name: str) -> np.ndarray:
    """UTC nanoseconds of the frame's index, strictly increasing."""
    idx = frame.index
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    ns = idx.as_unit("ns").asi8
    bad = np.flatnonzero(np.diff(ns) <= 0)
    if bad.size:
        raise DataError("timestamps must be strictly increasing", field=f"{name}.index", position=int(bad[0]) + 1)
    return ns


def _values(frame: pd.DataFrame | pd.Series, name: str, columns: tuple[str, ...]) -> np.ndarray:
    if isinstance(frame, pd.Series):
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        col = next((c for c in columns if c in frame.columns), None)
        if col is None:
            raise DataError(f"needs one of the columns {list(columns)}", field=name)
        values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        raise DataError("infinite value", field=name, position=int(bad[0]))
    return values


def known_at(known_ns: np.ndarray, values: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
    """The latest value with known time <= each ``at`` (NaN before the first; NaNs are skipped)."""
    keep = ~np.isnan(values)
    known_ns, values = known_ns[keep], values[keep]
    idx = np.searchsorted(known_ns, at_ns, side="right") - 1
    out = np.full(at_ns.shape, np.nan)
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def align(candles: pd.DataFrame, oi: pd.DataFrame | pd.Series | None = None, *,
          ls_ratio: pd.DataFrame | pd.Series | None = None, funding: pd.DataFrame | pd.Series | None = None,
          bar: str | None = None) -> BarInputs:
    """Validate candles and align the optional series to their bar closes (point in time)."""
    candles = _indexed(candles, "candles")
    open_ns = _time_index(candles, "candles")
    if open_ns.size == 0:
        raise DataError("no candles", field="candles")
    cols = {}
    for name in CANDLE_COLUMNS:
        if name not in candles.columns:
            raise DataError("missing column", field=f"candles.{name}")
        arr = candles[name].to_numpy(dtype=np.float64, na_value=np.nan)
        lower_ok = arr >= 0 if name == "volume" else arr > 0
        bad = np.flatnonzero(~np.isfinite(arr) | ~lower_ok)
        if bad.size:
            raise DataError(f"must be finite and {'>= 0' if name == 'volume' else '> 0'}, got {arr[bad[0]]!r}",
                            field=f"candles.{name}", position=int(bad[0]))
        cols[name] = arr
    top = np.maximum(cols["low"], np.maximum(cols["open"], cols["close"]))
    bad = np.flatnonzero((cols["high"] < top) | (cols["low"] > np.minimum(cols["open"], cols["close"])))
    if bad.size:
        raise DataError("high/low do not bracket open/close", field="candles", position=int(bad[0]))
    if bar is not None:
        bar_ns = int(pd.Timedelta(bar).value)
    elif open_ns.size > 1:
        bar_ns = int(np.median(np.diff(open_ns)))
    else:
        raise DataError("one candle: pass the bar interval", field="candles")
    close_ns = open_ns + bar_ns
    taker_col = next((c for c in TAKER_COLUMNS if c in candles.columns), None)
    taker = np.full(open_ns.shape, np.nan)
    if taker_col is not None:
        buy = candles[taker_col].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            taker = np.where(cols["volume"] > 0, buy / cols["volume"], np.nan)
    return BarInputs(
        open_ns=open_ns, close_ns=close_ns, bar_ns=bar_ns, **cols, taker_share=taker,
        oi=_aligned(oi, "oi", ("oi_usd", "open_interest_usd"), close_ns, positive=True),
        ls_ratio=_aligned(ls_ratio, "ls_ratio", ("long_short_ratio", "ratio", "global_account_long_short_ratio"),
                          close_ns, positive=True),
        funding=_funding(funding, close_ns, bar_ns))


def _aligned(frame: pd.DataFrame | pd.Series | None, name: str, columns: tuple[str, ...], close_ns: np.ndarray,
             positive: bool) -> np.ndarray:
    if frame is None:
        return np.full(close_ns.shape, np.nan)
    frame = _indexed(frame, name)
    known = _time_index(frame, name)
    values = _values(frame, name, columns)
    bad = np.flatnonzero(values <= 0) if positive else np.array([], dtype=np.int64)
    if bad.size:
        raise DataError(f"must be > 0, got {values[bad[0]]!r}", field=name, position=int(bad[0]))
    return known_at(known, values, close_ns)


def _funding(frame: pd.DataFrame | pd.Series | None, close_ns: np.ndarray, bar_ns: int) -> np.ndarray:
    if frame is None:
        return np.zeros(close_ns.shape)
    frame = _indexed(frame, "funding")
    known = _time_index(frame, "funding")
    rate = np.nan_to_num(_values(frame, "funding", ("rate", "funding_rate", "fundingRate", "open")))
    cum = np.concatenate(([0.0], np.cumsum(rate)))
    upto = np.searchsorted(known, close_ns, side="right")
    since = np.searchsorted(known, close_ns - bar_ns, side="right")
    since[1:] = upto[:-1]
    return cum[upto] - cum[since]
