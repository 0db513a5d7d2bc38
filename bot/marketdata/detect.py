"""Tell what a raw table holds from its column names and values (never from the file name).

Rules, first match wins:

1. headerless Binance ``forceOrder`` records -> liquidation events;
2. ``sum_open_interest``/``sum_open_interest_value`` (Binance archive ``metrics``) -> open
   interest, and the long/short ratio when ``count_long_short_ratio`` is there;
3. ``*long_liquidation_usd`` + ``*short_liquidation_usd`` (or ``long_usd`` + ``short_usd``)
   -> liquidation bars (CoinGlass aggregated liquidations);
4. ``*buy_volume_usd`` + ``*sell_volume_usd`` -> taker buy/sell volume bars;
5. a ``*long_short_ratio`` column -> long/short ratio (CoinGlass names ``*_account_*``/
   ``*_position_*`` are 4h-style bars, anything else a value known at its timestamp);
6. ``funding_rate`` -> funding (a fraction); 7. named open-interest columns -> open interest;
8. ``price`` + exchange-named columns (``BINANCE``, ``OKX``, ...) -> CoinGlass per-exchange OI;
9. ``open/high/low/close``: all of high, low and close zero -> freqtrade funding (rate in
   ``open``); with a volume column -> candles; without one -> a CoinGlass OHLC series: funding in
   percent when the values look like rates (median |close| < 0.5), else open
   interest in USD. Volume-less candles can still be loaded with ``load_candles``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.marketdata.formats import RawLayout, RawTable, find_time_column


class SeriesKind(StrEnum):
    """The kind of market series a file holds."""

    CANDLES = "candles"
    OPEN_INTEREST = "oi"
    LONG_SHORT = "ls_ratio"
    FUNDING = "funding"
    LIQUIDATIONS = "liquidations"
    TAKER_VOLUME = "taker_volume"


class Layout(StrEnum):
    """The recognised content layouts; ``attrs["source_format"]`` is ``<layout>/<container>``."""

    FREQTRADE_OHLCV = "freqtrade-ohlcv"
    FREQTRADE_FUNDING = "freqtrade-funding"
    BINANCE_KLINE = "binance-kline"
    BINANCE_METRICS = "binance-metrics"
    BINANCE_FORCEORDER = "binance-forceorder"
    OHLCV = "ohlcv"
    COINGLASS_OHLC = "coinglass-ohlc"
    COINGLASS_EXCHANGE_OI = "coinglass-exchange-oi"
    COINGLASS_RATIO = "coinglass-ratio"
    LIQUIDATION_BARS = "liquidation-bars"
    TAKER_VOLUME_BARS = "taker-volume-bars"
    NAMED = "named-columns"


OHLC = ("open", "high", "low", "close")
VOLUME = ("volume",)
QUOTE_VOLUME = ("quote_volume", "volume_usd", "quote_asset_volume")
TAKER_BUY_VOLUME = ("taker_buy_volume", "taker_buy_base_asset_volume")
FUNDING_RATE = ("funding_rate", "funding")
OI_USD = ("oi_usd", "open_interest_usd", "sum_open_interest_value", "open_interest_value", "oi_value")
# Bare "open_interest"/"oi" are coin units, as Binance's openInterest and ccxt's openInterestAmount.
OI_COIN = ("oi_coin", "sum_open_interest", "open_interest_amount", "open_interest", "oi")
# Preference when a file carries several ratios: the global account ratio is "the" ratio.
RATIO = ("long_short_ratio", "global_account_long_short_ratio", "count_long_short_ratio",
         "top_account_long_short_ratio", "count_toptrader_long_short_ratio",
         "top_position_long_short_ratio", "sum_toptrader_long_short_ratio")
EXCHANGES = frozenset({"binance", "bitmex", "bybit", "cme", "okx", "deribit", "kraken", "bitfinex", "htx",
                       "huobi", "bitget", "dydx", "bingx", "coinex", "coinbase", "crypto.com", "gate.io",
                       "gate", "hyperliquid", "bitunix", "mexc", "whitebit", "kucoin", "bitstamp"})


@dataclass(frozen=True)
class Sniffed:
    """What a raw table holds: its layout, the kinds it can give (the first one is what
    auto-detection picks), and its time column."""

    layout: Layout
    kinds: tuple[SeriesKind, ...]
    time_column: str


def first_present(columns: pd.Index | list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that is a column, else None."""
    present = set(columns)
    return next((n for n in names if n in present), None)


def with_suffix(columns: pd.Index | list[str], suffix: str, exact: str) -> str | None:
    """The column named ``exact`` or else the first one ending in ``suffix``."""
    if exact in set(columns):
        return exact
    return next((c for c in columns if c.endswith(suffix)), None)


def ratio_column(columns: pd.Index | list[str]) -> str | None:
    """The long/short ratio column (see ``RATIO``), or any other ``*long_short_ratio``."""
    return first_present(columns, RATIO) or with_suffix(columns, "_long_short_ratio", "long_short_ratio")


def liquidation_columns(columns: pd.Index | list[str]) -> tuple[str, str] | None:
    """(long, short) USD liquidation columns, if both are there."""
    long_ = with_suffix(columns, "long_liquidation_usd", "long_usd")
    short = with_suffix(columns, "short_liquidation_usd", "short_usd")
    return (long_, short) if long_ and short else None


def taker_columns(columns: pd.Index | list[str]) -> tuple[str, str] | None:
    """(buy, sell) taker volume USD columns, if both are there."""
    buy = with_suffix(columns, "buy_volume_usd", "buy_usd")
    sell = with_suffix(columns, "sell_volume_usd", "sell_usd")
    return (buy, sell) if buy and sell else None


def exchange_columns(columns: pd.Index | list[str], time_column: str) -> list[str]:
    """The per-exchange value columns of a CoinGlass exchange chart (all but time and price)."""
    return [c for c in columns if c not in (time_column, "price")]


def sniff(raw: RawTable) -> Sniffed:
    """Decide layout and kinds of ``raw`` by content (rules in the module docstring)."""
    K = SeriesKind
    if raw.layout is RawLayout.BINANCE_FORCEORDER:
        return Sniffed(Layout.BINANCE_FORCEORDER, (K.LIQUIDATIONS,), "trade_time_ms")
    cols = list(raw.frame.columns)
    tcol = find_time_column(cols, raw.source)
    if first_present(cols, ("sum_open_interest", "sum_open_interest_value")):
        kinds = (K.OPEN_INTEREST, K.LONG_SHORT) if ratio_column(cols) else (K.OPEN_INTEREST,)
        return Sniffed(Layout.BINANCE_METRICS, kinds, tcol)
    if liquidation_columns(cols):
        return Sniffed(Layout.LIQUIDATION_BARS, (K.LIQUIDATIONS,), tcol)
    if taker_columns(cols):
        return Sniffed(Layout.TAKER_VOLUME_BARS, (K.TAKER_VOLUME,), tcol)
    ratio = ratio_column(cols)
    if ratio:
        bars = ratio.endswith(("_account_long_short_ratio", "_position_long_short_ratio"))
        return Sniffed(Layout.COINGLASS_RATIO if bars else Layout.NAMED, (K.LONG_SHORT,), tcol)
    if first_present(cols, FUNDING_RATE):
        return Sniffed(Layout.NAMED, (K.FUNDING,), tcol)
    if first_present(cols, OI_USD + OI_COIN):
        return Sniffed(Layout.NAMED, (K.OPEN_INTEREST,), tcol)
    if "price" in cols and len(EXCHANGES.intersection(cols)) >= 2:
        return Sniffed(Layout.COINGLASS_EXCHANGE_OI, (K.OPEN_INTEREST,), tcol)
    if set(OHLC) <= set(cols):
        return _sniff_ohlc(raw, cols, tcol)
    for group in (OHLC, ("long_usd", "short_usd"), ("buy_usd", "sell_usd")):
        missing = [c for c in group if c not in cols]
        if len(missing) < len(group):  # part of a known group: name what is missing
            raise DataError("missing required column", field=missing[0], source=raw.source)
    raise DataError(f"unrecognised content: no known value columns among {', '.join(cols)}",
                    field="columns", source=raw.source)


def _sniff_ohlc(raw: RawTable, cols: list[str], tcol: str) -> Sniffed:
    K = SeriesKind
    num = {c: pd.to_numeric(raw.frame[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
           for c in ("high", "low", "close")}
    if all(np.all(num[c] == 0.0) for c in num):
        return Sniffed(Layout.FREQTRADE_FUNDING, (K.FUNDING,), tcol)
    if first_present(cols, VOLUME + QUOTE_VOLUME):
        if raw.layout is RawLayout.BINANCE_KLINE or {"close_time", "taker_buy_volume"} <= set(cols):
            layout = Layout.BINANCE_KLINE
        elif tcol == "date":
            layout = Layout.FREQTRADE_OHLCV
        else:
            layout = Layout.OHLCV
        return Sniffed(layout, (K.CANDLES,), tcol)
    close = num["close"][np.isfinite(num["close"])]
    # by magnitude only: one negative value in an open-interest file is a bad OI value, not funding
    rates = close.size > 0 and float(np.median(np.abs(close))) < 0.5
    kinds = (K.FUNDING, K.CANDLES) if rates else (K.OPEN_INTEREST, K.CANDLES)
    return Sniffed(Layout.COINGLASS_OHLC, kinds, tcol)
