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

from bot.errors import DataError
from bot.heatmap.providers.base import ProviderClient

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
