"""What the downloader fetches and the columns it writes: kept free of ccxt so that the CLI,
the resume logic and the file formats can name them without importing ccxt (~0.35 s)."""

from __future__ import annotations

from enum import StrEnum


class MarketSeries(StrEnum):
    """What ``MarketFetcher.fetch`` can download through ccxt."""

    CANDLES = "candles"
    OPEN_INTEREST = "oi"
    FUNDING = "funding"


class PriceType(StrEnum):
    """Which candles: traded (last) price, mark price (liquidations trigger on it) or index."""

    LAST = "last"
    MARK = "mark"
    INDEX = "index"


COLUMNS: dict[MarketSeries, tuple[str, ...]] = {
    MarketSeries.CANDLES: ("open", "high", "low", "close", "volume"),
    MarketSeries.OPEN_INTEREST: ("oi_coin", "oi_usd"),
    MarketSeries.FUNDING: ("funding_rate",),
}
# Rows per request: Binance serves at most 1500 klines (ccxt caps at 1000), 500 OI samples,
# 1000 funding records.
PAGE_LIMIT: dict[MarketSeries, int] = {
    MarketSeries.CANDLES: 1000, MarketSeries.OPEN_INTEREST: 500, MarketSeries.FUNDING: 1000}
FUNDING_STEP_MS = 8 * 3600 * 1000  # nominal; denser funding simply takes more pages
