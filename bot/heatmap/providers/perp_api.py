"""The cluster API over HTTP: ``GET {base}/api/heatmap/{SYMBOL}`` (clusters refresh every 5 s; no history).

The document is the one ``bot.heatmap.parsers.perp_api`` reads (``success``, ``symbol``,
``current_price``, ``clusters[]``, ``timestamp``, ``total_clusters``); ``SYMBOL`` is the exchange
pair (``BTCUSDT``). The seed documents ``/api/heatmap/{SYMBOL}``, ``/api/heatmap/{SYMBOL}/best`` and
``/api/stats`` and nothing with a time parameter, so a replay on these maps replays a store recorded
by a live run. A key is sent as ``X-API-Key`` only when ``providers.perp_api_api_key`` is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.heatmap.parsers import HeatmapFormat, parse_heatmap
from bot.heatmap.providers.base import ProviderClient
from bot.heatmap.providers.budget import RequestBudget
from bot.heatmap.providers.sources import pair_of, published


class PerpApiClient(ProviderClient):
    """GETs cluster-API documents."""

    provider = "perp-api"
    key_header = "X-API-Key"
    key_setting = "providers.perp_api_api_key"
    key_required = False

    def heatmap(self, pair: str) -> bytes:
        """``/api/heatmap/{pair}``: every cluster of ``pair``."""
        return self.get(f"/api/heatmap/{pair}", {}, f"heatmap {pair}")


class PerpApiSource:
    """The cluster API as a runner heatmap source: one snapshot per document, at its ``timestamp``."""

    kind = HeatmapSource.PERP_API
    has_history = False
    weight = 1.0
    history_chunk = timedelta(0)

    def __init__(self, client: PerpApiClient, cadence_s: float, budget: RequestBudget) -> None:
        self.client = client
        self.cadence_s = float(cadence_s)
        self.budget = budget

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """The current clusters of ``symbol``."""
        (snap,) = parse_heatmap(self.client.heatmap(pair_of(symbol)), HeatmapFormat.PERP_API, symbol=symbol,
                                source_name="perp-api")
        return published(snap, snap.ts)

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """The cluster API has no history endpoint."""
        raise NotImplementedError("the cluster API has no history endpoint")

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """Documents carry their own ``current_price``."""
        return snapshot
