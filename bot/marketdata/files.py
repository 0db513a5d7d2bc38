"""Load market series from files: candles, open interest, long/short ratio, funding, liquidations.

Files are recognised by content (``bot.marketdata.formats`` reads them, ``bot.marketdata.detect``
tells what they hold) and validated strictly (``bot.marketdata.validate``): a ``DataError`` names
the file, the column and the row. Every frame has a UTC ``DatetimeIndex`` named ``ts`` and float64
columns, and ``attrs``: ``kind``, ``source``, ``source_format`` (``<layout>/<container>``),
``timeframe`` (modal spacing, e.g. "5min"; None for events), ``index`` (what ``ts`` means),
``repairs`` (what was fixed, e.g. dropped exact duplicates), ``gaps`` (number of gaps) and
``missing_bars``.

What ``ts`` means, per format (point-in-time: a value is indexed by when it was KNOWN, except
bar aggregates, which are indexed by bar open like candles):

====================================  =======================================================
candles (any format)                  bar open
freqtrade funding feather             funding time (``date``); the rate is in ``open``
CoinGlass funding OHLC                bar open + bar length (the close is the rate settled at
                                      the end of the interval); CoinGlass gives PERCENT:
                                      '0.01' means 0.01 % = 0.0001, converted to a fraction
``funding_rate`` column               as given (a fraction, as Binance's fundingRate)
CoinGlass OI OHLC                     bar open + bar length (``close`` in USD known at close)
CoinGlass per-exchange OI chart       as given (point values: they equal the OHLC ``open``)
Binance ``metrics`` / named OI        as given (``create_time`` = when sampled)
CoinGlass long/short ratio            bar open + bar length (conservative: never early)
named ``long_short_ratio``            as given
liquidation / taker volume bars       bar open (the bar's total is known at its close)
Binance forceOrder events             trade time
====================================  =======================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.inputs.series import check_funding, check_prices
from bot.marketdata import validate as v
from bot.marketdata.detect import (OHLC, OI_COIN, OI_USD, QUOTE_VOLUME, TAKER_BUY_VOLUME, Layout, SeriesKind,
                                   Sniffed, exchange_columns, first_present, liquidation_columns,
                                   ratio_column, sniff, taker_columns)
from bot.marketdata.events import forceorder_events, liquidations_to_bars
from bot.marketdata.formats import RawTable, parse_time, read_table
from bot.marketdata.validate import find_gaps

__all__ = ["SeriesKind", "load_candles", "load_open_interest", "load_long_short_ratio", "load_funding",
           "load_liquidations", "load_taker_volume", "load_series", "find_gaps", "liquidations_to_bars"]

BAR_OPEN, KNOWN_AT, EVENT_TIME = "bar_open", "known_at", "event_time"


def load_candles(path: Path) -> pd.DataFrame:
    """OHLCV candles indexed by bar open: open, high, low, close, volume (base units; 0.0 when
    the file has none, recorded in repairs), and quote_volume / taker_buy_volume when present."""
    return _candles(*_open(path, SeriesKind.CANDLES))


def load_open_interest(path: Path, *, price: pd.Series | None = None) -> pd.DataFrame:
    """Open interest: ``oi_usd`` and, when the file has it, ``oi_coin``, indexed by the time the
    value became known (see the module table). ``price`` converts coin-only files to USD: it must
    be indexed by the time each price was known (for candles: ``close`` shifted by one bar); the
    last price at or before each timestamp is used."""
    return _open_interest(*_open(path, SeriesKind.OPEN_INTEREST), price=price)


def load_long_short_ratio(path: Path) -> pd.DataFrame:
    """Column ``long_short_ratio`` (> 0), indexed by when it was known; ``attrs["ratio_column"]``
    names the source column (the global account ratio when a file carries several)."""
    return _long_short(*_open(path, SeriesKind.LONG_SHORT))


def load_funding(path: Path) -> pd.DataFrame:
    """Column ``funding_rate`` as a fraction (0.0001 = 0.01 %), indexed by funding time."""
    return _funding(*_open(path, SeriesKind.FUNDING))


def load_liquidations(path: Path) -> pd.DataFrame:
    """Realized liquidations. Bar files: ``long_usd``, ``short_usd`` per bar (index = bar open).
    Binance forceOrder records: one row per event with ``side`` ("long" = a long was liquidated,
    i.e. a SELL order), ``price``, ``qty``, ``usd`` (= price * qty, recomputed), ``symbol``; turn
    them into bars with :func:`liquidations_to_bars`."""
    return _liquidations(*_open(path, SeriesKind.LIQUIDATIONS))


def load_taker_volume(path: Path) -> pd.DataFrame:
    """Taker ``buy_usd`` and ``sell_usd`` per bar (index = bar open)."""
    return _taker(*_open(path, SeriesKind.TAKER_VOLUME))


def load_series(path: Path, kind: SeriesKind | None = None) -> tuple[SeriesKind, pd.DataFrame]:
    """Load ``path`` as ``kind``, or as what its content holds when ``kind`` is None."""
    raw, sn = _open(path, kind)
    chosen = SeriesKind(kind) if kind is not None else sn.kinds[0]
    return chosen, _LOADERS[chosen](raw, sn)


def _open(path: Path | str, kind: SeriesKind | None) -> tuple[RawTable, Sniffed]:
    raw = read_table(path)
    sn = sniff(raw)
    if kind is not None and kind not in sn.kinds:
        raise DataError(f"holds {sn.kinds[0]} data ({sn.layout}), not {SeriesKind(kind)}", source=raw.source)
    return raw, sn


def _batch(raw: RawTable, sn: Sniffed, columns: dict[str, str]) -> v.Batch:
    """Parse the time column and the value columns (output name -> file column)."""
    ts = parse_time(raw.frame[sn.time_column], column=sn.time_column, source=raw.source)
    values = {out: v.numeric(raw.frame, col, raw.source) for out, col in columns.items()}
    return v.Batch(ts, values, np.arange(len(ts)), raw.source, sn.time_column, list(raw.repairs),
                   labels=dict(columns))


def _checked(batch: v.Batch, *, nonneg: tuple[str, ...] = ()) -> v.Batch:
    v.drop_duplicates(batch)
    v.check_order(batch)
    v.check_finite(batch)
    for name in nonneg:
        v.check_min(batch, name, 0.0)
    return batch


def _frame(batch: v.Batch, raw: RawTable, sn: Sniffed, kind: SeriesKind, columns: tuple[str, ...], *,
           index: str, shift_by_bar: bool = False) -> pd.DataFrame:
    timeframe = v.infer_timeframe(batch.ts)
    shift = None
    if shift_by_bar:
        if timeframe is None:
            raise DataError("a single bar: its length, hence when its close was known, is unknown",
                            field=sn.time_column, source=raw.source)
        shift = v.timedelta(timeframe)
    frame = v.to_frame(batch, columns, shift=shift)
    gaps = find_gaps(frame.index, timeframe) if timeframe else []
    frame.attrs.update(kind=str(kind), source=raw.source, source_format=f"{sn.layout}/{raw.container}",
                       timeframe=timeframe, index=index, gaps=len(gaps),
                       missing_bars=int(sum(g[2] for g in gaps)))
    return frame


def _candles(raw: RawTable, sn: Sniffed) -> pd.DataFrame:
    cols = list(raw.frame.columns)
    mapping = {k: k for k in OHLC}
    extra = {"volume": first_present(cols, ("volume",)) if sn.layout is not Layout.COINGLASS_OHLC else None,
             "quote_volume": first_present(cols, QUOTE_VOLUME),
             "taker_buy_volume": first_present(cols, TAKER_BUY_VOLUME)}
    mapping.update({k: c for k, c in extra.items() if c})
    batch = _batch(raw, sn, mapping)
    volume = batch.values.get("volume")
    if volume is None or np.isnan(volume).all():
        # Mark-price candles carry no volume (absent, or a column of NaN): 0.0 by contract.
        batch.values["volume"] = np.zeros(len(batch.ts))
        batch.repairs.append("volume absent: set to 0.0" if volume is None else "volume all NaN: set to 0.0")
    _checked(batch, nonneg=tuple(k for k in ("volume", "quote_volume", "taker_buy_volume") if k in batch.values))
    v.check_ohlc(batch)
    columns = (*OHLC, "volume", *(k for k in ("quote_volume", "taker_buy_volume") if k in batch.values))
    frame = _frame(batch, raw, sn, SeriesKind.CANDLES, columns, index=BAR_OPEN)
    check_prices(frame)
    return frame


def _open_interest(raw: RawTable, sn: Sniffed, *, price: pd.Series | None = None) -> pd.DataFrame:
    kind = SeriesKind.OPEN_INTEREST
    if sn.layout is Layout.COINGLASS_OHLC:
        batch = _checked(_batch(raw, sn, {"oi_usd": "close"}), nonneg=("oi_usd",))
        return _frame(batch, raw, sn, kind, ("oi_usd",), index=KNOWN_AT, shift_by_bar=True)
    if sn.layout is Layout.COINGLASS_EXCHANGE_OI:
        venues = exchange_columns(raw.frame.columns, sn.time_column)
        batch = _checked(_batch(raw, sn, {c: c for c in venues}), nonneg=tuple(venues))
        batch.values = {"oi_usd": np.sum([batch.values[c] for c in venues], axis=0)}
        return _frame(batch, raw, sn, kind, ("oi_usd",), index=KNOWN_AT)
    cols = list(raw.frame.columns)
    usd, coin = first_present(cols, OI_USD), first_present(cols, OI_COIN)
    mapping = {k: c for k, c in (("oi_usd", usd), ("oi_coin", coin)) if c}
    batch = _checked(_batch(raw, sn, mapping), nonneg=tuple(mapping))
    if usd is None:
        if price is None:
            raise DataError("open interest in coin units only: pass price= to convert it to USD",
                            field=coin, source=raw.source)
        batch.values["oi_usd"] = batch.values["oi_coin"] * _price_at(price, batch)
    columns = ("oi_usd", "oi_coin") if "oi_coin" in batch.values else ("oi_usd",)
    return _frame(batch, raw, sn, kind, columns, index=KNOWN_AT)


def _price_at(price: pd.Series, batch: v.Batch) -> np.ndarray:
    """The last price known at or before each timestamp of ``batch``."""
    if not isinstance(price.index, pd.DatetimeIndex):
        raise DataError("price must be indexed by time", field="price")
    idx = price.index.tz_localize("UTC") if price.index.tz is None else price.index.tz_convert("UTC")
    stamps = idx.as_unit("ns").asi8
    if np.any(np.diff(stamps) < 0):
        raise DataError("price index must be sorted", field="price")
    pos = np.searchsorted(stamps, batch.ts.asi8, side="right") - 1
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise batch.error(f"no price known at or before {batch.ts[i].isoformat()}", "price", i)
    out = price.to_numpy(dtype=np.float64)[pos]
    if not np.isfinite(out).all():
        i = int(np.flatnonzero(~np.isfinite(out))[0])
        raise batch.error("the price known at this time is NaN or infinite", "price", i)
    return out


def _long_short(raw: RawTable, sn: Sniffed) -> pd.DataFrame:
    col = ratio_column(list(raw.frame.columns))
    if col is None:
        raise DataError("missing required column", field="long_short_ratio", source=raw.source)
    batch = _checked(_batch(raw, sn, {"long_short_ratio": col}))
    v.check_min(batch, "long_short_ratio", 0.0, inclusive=False)
    frame = _frame(batch, raw, sn, SeriesKind.LONG_SHORT, ("long_short_ratio",), index=KNOWN_AT,
                   shift_by_bar=sn.layout is Layout.COINGLASS_RATIO)
    frame.attrs["ratio_column"] = col
    return frame


def _funding(raw: RawTable, sn: Sniffed) -> pd.DataFrame:
    if sn.layout is Layout.FREQTRADE_FUNDING:
        batch, percent = _batch(raw, sn, {"funding_rate": "open"}), False
    elif sn.layout is Layout.COINGLASS_OHLC:
        batch, percent = _batch(raw, sn, {"funding_rate": "close"}), True
    else:
        col = first_present(list(raw.frame.columns), ("funding_rate", "funding"))
        batch, percent = _batch(raw, sn, {"funding_rate": col or "funding_rate"}), False
    _checked(batch)
    if percent:
        batch.values["funding_rate"] = batch.values["funding_rate"] / 100.0
    frame = _frame(batch, raw, sn, SeriesKind.FUNDING, ("funding_rate",), index=KNOWN_AT, shift_by_bar=percent)
    frame.attrs["source_unit"] = "percent" if percent else "fraction"
    check_funding(frame)
    return frame


def _liquidations(raw: RawTable, sn: Sniffed) -> pd.DataFrame:
    if sn.layout is Layout.BINANCE_FORCEORDER:
        frame = forceorder_events(raw)
        frame.attrs.update(source_format=f"{sn.layout}/{raw.container}")
        return frame
    long_, short = liquidation_columns(list(raw.frame.columns)) or ("long_usd", "short_usd")
    batch = _checked(_batch(raw, sn, {"long_usd": long_, "short_usd": short}), nonneg=("long_usd", "short_usd"))
    return _frame(batch, raw, sn, SeriesKind.LIQUIDATIONS, ("long_usd", "short_usd"), index=BAR_OPEN)


def _taker(raw: RawTable, sn: Sniffed) -> pd.DataFrame:
    buy, sell = taker_columns(list(raw.frame.columns)) or ("buy_usd", "sell_usd")
    batch = _checked(_batch(raw, sn, {"buy_usd": buy, "sell_usd": sell}), nonneg=("buy_usd", "sell_usd"))
    return _frame(batch, raw, sn, SeriesKind.TAKER_VOLUME, ("buy_usd", "sell_usd"), index=BAR_OPEN)


_LOADERS: dict[SeriesKind, Callable[[RawTable, Sniffed], pd.DataFrame]] = {
    SeriesKind.CANDLES: _candles,
    SeriesKind.OPEN_INTEREST: _open_interest,
    SeriesKind.LONG_SHORT: _long_short,
    SeriesKind.FUNDING: _funding,
    SeriesKind.LIQUIDATIONS: _liquidations,
    SeriesKind.TAKER_VOLUME: _taker,
}
