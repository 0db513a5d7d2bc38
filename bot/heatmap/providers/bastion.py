"""Bastion ``get_heatmap`` over HTTP: the latest liquidation heatmap of a coin (public; no history).

``GET {base}/v1/heatmap?symbol=BTC`` answers the document ``bot.heatmap.parsers.bastion`` reads
(``symbol``, ``current_price``, ``heatmap.levels``, ``timestamp``). The documented tool takes only
``symbol`` and has no time parameter, so there is no history endpoint: a replay on Bastion's
maps replays a store recorded by a live run (``--heatmap store``). A key is sent as
``X-API-Key`` only when ``providers.bastion_api_key`` is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.heatmap.parsers import HeatmapFormat, parse_heatmap
from bot.heatmap.providers.base import ProviderClient
from bot.heatmap.providers.budget import RequestBudget
from bot.heatmap.providers.sources import coin_of, published

HEATMAP_PATH = "/v1/heatmap"


class BastionClient(ProviderClient):
    """GETs Bastion heatmap documents."""

    provider = "bastion"
    key_header = "X-API-Key"
    key_setting = "providers.bastion_api_key"
    key_required = False

    def fetch(self, coin: str) -> bytes:
        """The current heatmap document of ``coin``."""
        return self.get(HEATMAP_PATH, {"symbol": coin}, f"heatmap {coin}")


class BastionSource:
    """Bastion as a runner heatmap source: one snapshot per document, at its ``timestamp``."""

    kind = HeatmapSource.BASTION
    has_history = False
    weight = 1.0
    history_chunk = timedelta(0)

    def __init__(self, client: BastionClient, cadence_s: float, budget: RequestBudget) -> None:
        self.client = client
        self.cadence_s = float(cadence_s)
        self.budget = budget

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """The current document (its own ``timestamp`` is its publish time)."""
        (snap,) = parse_heatmap(self.client.fetch(coin_of(symbol)), HeatmapFormat.BASTION, symbol=symbol,
                                source_name="bastion")
        return published(snap, snap.ts)

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """Bastion has no history endpoint."""
        raise NotImplementedError("bastion has no history endpoint")

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """Documents carry their own ``current_price``."""
        return snapshot
