"""Kiyotaka ``HYPERLIQUID_LIQUIDATION_AGG`` history: paged requests and priced snapshots.

``GET {base}/v1/points?type=HYPERLIQUID_LIQUIDATION_AGG&coin=BTC&interval=HOUR&from=<s>&period=<s>``
with the ``X-Kiyotaka-Key`` header. One request may return at most 5,000 points, so a time
range is cut into windows of ``points_per_request x interval`` seconds (``from``/``period``).
``flatten=true`` asks for ``flat_points``; ``transform.normalize.quote=USD`` for USD volumes;
``maxDepth`` above 1500 costs more weight (the provider's rule), so it is passed only when asked.

Reference price. The payload carries none, yet the price decides each level's side (below:
long liquidations, above: short). DECISION: every snapshot gets the price KNOWN at its
timestamp: the close of the last candle that closed at or before it, from a candles file
(``--price-from FILE``) or fetched through ccxt (the default). Binance's perpetual stands in
for Hyperliquid's mark here; the basis is a few basis points, far below the level spacing. When
no candles can be had, ``mid`` (explicit) takes the USD-weighted mean level price, an estimate
that can put levels near the price on the wrong side; the snapshot's ``assumptions`` say which
was used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.errors import DataError
from bot.heatmap.parsers import HeatmapFormat, Units, parse_heatmap
from bot.heatmap.parsers.checks import split_sides
from bot.heatmap.parsers.kiyotaka import KIYOTAKA_TYPE
from bot.heatmap.providers.base import ProviderClient
from bot.heatmap.providers.budget import RequestBudget
from bot.heatmap.providers.sources import coin_of, published

MAX_POINTS_PER_REQUEST = 5_000
DEFAULT_MAX_DEPTH = 1_500


class Interval(StrEnum):
    """Kiyotaka point intervals (as the API spells them) and their length in seconds."""

    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def seconds(self) -> int:
        return {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}[self.value]

    @property
    def timeframe(self) -> str:
        """The ccxt candle timeframe of the same length (for reference prices)."""
        return {"MINUTE": "1m", "HOUR": "1h", "DAY": "1d"}[self.value]


@dataclass(frozen=True, slots=True)
class Window:
    """One request's time range: ``from`` (epoch s) and ``period`` (s)."""

    start_s: int
    period_s: int


def windows(start_s: int, end_s: int, interval: Interval, points_per_request: int = MAX_POINTS_PER_REQUEST,
            ) -> list[Window]:
    """Cut ``[start_s, end_s)`` into request windows of at most ``points_per_request`` points."""
    if not 1 <= points_per_request <= MAX_POINTS_PER_REQUEST:
        raise DataError(f"must be 1..{MAX_POINTS_PER_REQUEST} (the provider's limit), got {points_per_request}",
                        field="--points-per-request")
    step = points_per_request * interval.seconds
    return [Window(a, min(step, end_s - a)) for a in range(start_s, end_s, step)]


class KiyotakaClient(ProviderClient):
    """Fetches raw ``/v1/points`` payloads page by page."""

    provider = "kiyotaka"
    key_header = "X-Kiyotaka-Key"
    key_setting = "providers.kiyotaka_api_key"

    def fetch(self, coin: str, window: Window, *, interval: Interval = Interval.HOUR, flatten: bool = False,
              units: Units = Units.COIN, max_depth: int | None = None) -> bytes:
        """One page: the raw JSON bytes for ``window``."""
        params: dict[str, object] = {"type": KIYOTAKA_TYPE, "coin": coin, "interval": interval.value,
                                     "from": window.start_s, "period": window.period_s}
        if max_depth is not None:
            params["maxDepth"] = max_depth
        if flatten:
            params["flatten"] = "true"
        if units is Units.USD:
            params["transform.normalize.quote"] = "USD"
        return self.get("/v1/points", params, f"points {coin} from={window.start_s} period={window.period_s}")

    def pages(self, coin: str, start_s: int, end_s: int, *, interval: Interval = Interval.HOUR,
              points_per_request: int = MAX_POINTS_PER_REQUEST, flatten: bool = False,
              units: Units = Units.COIN, max_depth: int | None = None) -> Iterator[tuple[Window, bytes]]:
        """Every window of ``[start_s, end_s)`` with its raw payload, in time order."""
        for window in windows(start_s, end_s, interval, points_per_request):
            yield window, self.fetch(coin, window, interval=interval, flatten=flatten, units=units,
                                     max_depth=max_depth)


PriceLookup = Callable[[np.ndarray], np.ndarray]  # epoch ms -> price known then (NaN: none)


def candle_price_lookup(candles: pd.DataFrame, timeframe_ms: int) -> PriceLookup:
    """Price known at each time: the close of the last candle that CLOSED at or before it.

    ``candles``: a ``ts`` column (bar open, epoch ms) or a UTC DatetimeIndex, and ``close``.
    """
    if "ts" in candles.columns:
        opens = candles["ts"].to_numpy(dtype=np.int64)
    else:
        opens = candles.index.as_unit("ms").asi8 if isinstance(candles.index, pd.DatetimeIndex) else \
            np.asarray(candles.index, dtype=np.int64)
    closes_at = opens + timeframe_ms
    close = candles["close"].to_numpy(dtype=float)

    def lookup(ts_ms: np.ndarray) -> np.ndarray:
        i = np.searchsorted(closes_at, np.asarray(ts_ms, dtype=np.int64), side="right") - 1
        out = np.full(i.shape, np.nan)
        known = i >= 0
        out[known] = close[i[known]]
        return out

    return lookup


def priced_snapshots(raw: bytes, *, symbol: str, units: Units, price_at: PriceLookup | None,
                     price_from: str, source_name: str) -> list[HeatmapSnapshot]:
    """Parse one page and give every snapshot its own reference price (see module docstring).

    ``price_at`` None means ``mid``: the USD-weighted mean level price of each snapshot.
    A snapshot without a known price is a ``DataError`` naming its time.
    """
    # the parser needs one price for the whole payload; sides are re-split per snapshot below
    parsed = parse_heatmap(raw, HeatmapFormat.KIYOTAKA, price=1.0, symbol=symbol, units=units,
                           source_name=source_name)
    if not parsed:
        return []
    ts_ms = np.array([int(s.ts.timestamp() * 1000) for s in parsed], dtype=np.int64)
    if price_at is not None:
        prices = price_at(ts_ms)
    else:
        prices = np.array([_weighted_mid(s) for s in parsed])
    out = []
    for snap, _ts, price in zip(parsed, ts_ms, prices):
        if not (np.isfinite(price) and price > 0):
            raise DataError(f"no reference price known at {snap.ts.isoformat()} from {price_from}",
                            field="--price-from", source="kiyotaka")
        total = snap.long_usd + snap.short_usd
        long_usd, short_usd = split_sides(snap.prices, total, float(price))
        assumptions = {**snap.assumptions, "reference_price": price_from}
        out.append(HeatmapSnapshot(symbol=snap.symbol, ts=snap.ts, price=float(price), prices=snap.prices,
                                   long_usd=long_usd, short_usd=short_usd, source=snap.source,
                                   assumptions=assumptions))
    return out


def _weighted_mid(snapshot: HeatmapSnapshot) -> float:
    usd = snapshot.long_usd + snapshot.short_usd
    total = float(usd.sum())
    return float((snapshot.prices * usd).sum() / total) if total > 0 else float(np.median(snapshot.prices))


REQUEST_WEIGHT = 5.0  # HYPERLIQUID_LIQUIDATION_AGG: "Weight: 5x"
HISTORY_POINTS = 1_000  # points per history request in a replay (well under the 5,000 cap)


def depth_multiplier(max_depth: int) -> float:
    """Kiyotaka's rule: +20% weight for each 1,500-level band above the first, never below 1.0."""
    return 1.0 + 0.2 * max(0, -(-max_depth // DEFAULT_MAX_DEPTH) - 1)


class KiyotakaSource:
    """``HYPERLIQUID_LIQUIDATION_AGG`` points as a runner heatmap source (USD levels, priced at use).

    A point of interval I stamped T is taken as published at T + I (the interval has closed); the
    payload has no price, so :meth:`priced` splits the sides at the market price known then.
    """

    kind = HeatmapSource.KIYOTAKA
    has_history = True

    def __init__(self, client: KiyotakaClient, interval: Interval, budget: RequestBudget, *,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.client = client
        self.interval = interval
        self.budget = budget
        self.max_depth = max_depth
        self.cadence_s = float(interval.seconds)
        self.weight = REQUEST_WEIGHT * depth_multiplier(max_depth)
        self.history_chunk = timedelta(seconds=HISTORY_POINTS * interval.seconds)

    def _points(self, symbol: str, start_s: int, end_s: int) -> list[HeatmapSnapshot]:
        raw = self.client.fetch(coin_of(symbol), Window(start_s, max(1, end_s - start_s)), interval=self.interval,
                                units=Units.USD,
                                max_depth=self.max_depth if self.max_depth != DEFAULT_MAX_DEPTH else None)
        parsed = parse_heatmap(raw, HeatmapFormat.KIYOTAKA, price=1.0, symbol=symbol, units=Units.USD,
                               source_name="kiyotaka")
        step = timedelta(seconds=self.interval.seconds)
        return [published(s, s.ts + step, reference_price="market close known at publish time") for s in parsed]

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """The last point whose interval has closed by ``now``."""
        end = int(now.timestamp())
        done = [s for s in self._points(symbol, end - 3 * self.interval.seconds, end) if s.ts <= now]
        return done[-1] if done else None

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """Points published in ``[start, end]`` (one request per ``history_chunk``)."""
        step = self.interval.seconds
        a = int(start.timestamp()) - step
        b = int(min(end, now).timestamp())
        out: list[HeatmapSnapshot] = []
        for window in windows(a, max(a + 1, b), self.interval, HISTORY_POINTS):
            out += self._points(symbol, window.start_s, window.start_s + window.period_s)
        return [s for s in out if start <= s.ts <= end and s.ts <= now]

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """Sides split at ``price`` (levels below: longs, above: shorts)."""
        if price is None:
            return None
        long_usd, short_usd = split_sides(snapshot.prices, snapshot.long_usd + snapshot.short_usd, float(price))
        return replace(snapshot, price=float(price), long_usd=long_usd, short_usd=short_usd)
