"""CoinGlass liquidation heatmap (model 1/2/3) history.

CoinGlass serves a heatmap only as a ``range`` ending now (12h, 24h, 3d, 7d, 30d, 90d, 180d,
1y), never from/to. Importing ``[since, to]`` therefore asks for the SMALLEST range that reaches
back to ``since`` (finest time columns, smallest payload) and keeps the columns inside
``[since, to]``; a ``since`` older than a year cannot be served and is an error. Endpoints (v4,
header ``CG-API-KEY``): coin level across exchanges
``/api/futures/liquidation/aggregated-heatmap/model{n}?symbol=BTC&range=3d``, or one pair on one
exchange ``/api/futures/liquidation/heatmap/model{n}?exchange=Binance&symbol=BTCUSDT&range=3d``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.errors import DataError
from bot.heatmap.parsers import HeatmapFormat, parse_heatmap
from bot.heatmap.providers.base import ProviderClient
from bot.heatmap.providers.budget import RequestBudget
from bot.heatmap.providers.sources import coin_of, published

RANGES: tuple[tuple[str, timedelta], ...] = (
    ("12h", timedelta(hours=12)), ("24h", timedelta(hours=24)), ("3d", timedelta(days=3)),
    ("7d", timedelta(days=7)), ("30d", timedelta(days=30)), ("90d", timedelta(days=90)),
    ("180d", timedelta(days=180)), ("1y", timedelta(days=365)),
)


class Model(StrEnum):
    """CoinGlass heatmap models."""

    MODEL1 = "model1"
    MODEL2 = "model2"
    MODEL3 = "model3"


def choose_range(since: datetime, now: datetime) -> str:
    """The smallest ``range`` value reaching back from ``now`` to ``since``."""
    for name, span in RANGES:
        if now - span <= since:
            return name
    raise DataError(f"CoinGlass serves at most 1y back; {since.isoformat()} is older", field="--since")


class CoinglassClient(ProviderClient):
    """Fetches raw CoinGlass heatmap payloads."""

    provider = "coinglass"
    key_header = "CG-API-KEY"
    key_setting = "providers.coinglass_api_key"

    def fetch(self, symbol: str, range_: str, *, model: Model = Model.MODEL2, exchange: str | None = None) -> bytes:
        """The grid for ``range_`` ending now; ``exchange`` given: that exchange's pair (``BTCUSDT``),
        else the coin (``BTC``) aggregated across exchanges."""
        if range_ not in {name for name, _ in RANGES}:
            raise DataError(f"unknown range {range_!r}", field="range")
        if exchange:
            path = f"/api/futures/liquidation/heatmap/{Model(model).value}"
            params = {"exchange": exchange, "symbol": symbol, "range": range_}
        else:
            path = f"/api/futures/liquidation/aggregated-heatmap/{Model(model).value}"
            params = {"symbol": symbol, "range": range_}
        return self.get(path, params, f"heatmap {model} {symbol} range={range_}")


class CoinglassSource:
    """CoinGlass's heatmap grid as a runner heatmap source (one snapshot per time column).

    Live: the smallest range (12h) ending now, its last CLOSED column. History: the smallest range
    reaching back to the replay's start, fetched once and kept (CoinGlass serves ranges ending now,
    never from/to). A column counts as published when its time step ends; its reference price is
    the close of its own candlestick (in the payload).
    """

    kind = HeatmapSource.COINGLASS
    has_history = True
    weight = 1.0  # the plan limit counts requests

    def __init__(self, client: CoinglassClient, model: Model, cadence_s: float, budget: RequestBudget) -> None:
        self.client = client
        self.model = model
        self.cadence_s = float(cadence_s)
        self.budget = budget
        self.history_chunk = timedelta(days=365)
        self._history: dict[str, tuple[str, list[HeatmapSnapshot]]] = {}

    def _columns(self, symbol: str, range_: str) -> list[HeatmapSnapshot]:
        raw = self.client.fetch(coin_of(symbol), range_, model=self.model)
        cols = parse_heatmap(raw, HeatmapFormat.COINGLASS, symbol=symbol, source_name="coinglass")
        if len(cols) < 2:
            return [published(c, c.ts) for c in cols]
        step = cols[1].ts - cols[0].ts
        return [published(c, c.ts + step, range=range_, interval_s=step.total_seconds()) for c in cols]

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """The last column of the 12h grid that has closed by ``now``."""
        done = [c for c in self._columns(symbol, RANGES[0][0]) if c.ts <= now]
        return done[-1] if done else None

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """Columns published in ``[start, end]`` from one grid reaching back to ``start``."""
        range_ = choose_range(start, now)
        cached = self._history.get(symbol)
        if cached is None or cached[0] != range_ or (cached[1] and cached[1][-1].ts < end <= now):
            cached = (range_, self._columns(symbol, range_))
            self._history[symbol] = cached
        return [c for c in cached[1] if start <= c.ts <= end and c.ts <= now]

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """Columns carry their own price."""
        return snapshot
