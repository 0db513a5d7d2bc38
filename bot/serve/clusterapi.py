"""The cluster API documents (``perp-strategies`` shape) built from liqbot's own clusters.

``/api/heatmap/{SYMBOL}`` -> :func:`heatmap_doc`, ``/best`` -> :func:`best_cluster`, ``/api/stats`` ->
:func:`stats_doc`: exactly what :mod:`bot.heatmap.parsers.perp_api` reads, so one liqbot can trade on
another's map. A cluster carries the documented fields (``open_interest``) and the code's
(``total_notional``, the same number), plus liqbot's state fields (``active``, ``first_seen``,
``last_seen``, ``broken_at``, the price span). Pure functions: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from bot.domain import Cluster, Side, iso


@dataclass(frozen=True, slots=True)
class ClusterFilter:
    """The query filters of ``/api/heatmap/{SYMBOL}``; ``None`` = no filter."""

    min_strength: float | None = None
    max_distance: float | None = None   # percent from the current price
    side: Side | None = None
    active: bool | None = None

    def keep(self, c: Cluster) -> bool:
        """True when ``c`` passes every filter."""
        return ((self.min_strength is None or c.strength >= self.min_strength)
                and (self.max_distance is None or c.distance_from_price <= self.max_distance)
                and (self.side is None or c.side is self.side)
                and (self.active is None or c.active is self.active))


def exchange_id(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT`` (the id the cluster API names symbols by)."""
    base, _, rest = symbol.partition("/")
    return base + rest.partition(":")[0]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def cluster_doc(c: Cluster) -> dict[str, Any]:
    """One cluster object of the API."""
    return {"cluster_id": c.cluster_id, "price_level": c.price_level, "side": c.side.value,
            "leverage_tier": _finite(c.leverage_tier), "open_interest": c.open_interest,
            "total_notional": c.open_interest, "liquidation_count": c.liquidation_count, "strength": c.strength,
            "distance_from_price": c.distance_from_price, "last_updated": iso(c.last_updated), "active": c.active,
            "first_seen": iso(c.first_seen), "last_seen": iso(c.last_seen),
            "broken_at": iso(c.broken_at) if c.broken_at else None, "price_low": c.price_low,
            "price_high": c.price_high}


def heatmap_doc(symbol: str, ts: datetime, price: float, clusters: Sequence[Cluster],
                flt: ClusterFilter) -> dict[str, Any]:
    """``/api/heatmap/{SYMBOL}``: the filtered clusters of the newest frame, by price."""
    kept = sorted((c for c in clusters if flt.keep(c)), key=lambda c: (c.price_level, c.side.value))
    kept = _one_per_price(kept)
    return {"success": True, "symbol": exchange_id(symbol), "current_price": price,
            "clusters": [cluster_doc(c) for c in kept], "timestamp": iso(ts), "total_clusters": len(kept)}


def _one_per_price(clusters: list[Cluster]) -> list[Cluster]:
    """The API keys clusters by price: of two at one price (a long and a short), the active and larger stays."""
    out: list[Cluster] = []
    for c in clusters:
        if out and out[-1].price_level == c.price_level:
            if (c.active, c.open_interest) > (out[-1].active, out[-1].open_interest):
                out[-1] = c
            continue
        out.append(c)
    return out


def best_cluster(clusters: Sequence[Cluster], flt: ClusterFilter) -> Cluster | None:
    """``/best``: the strongest active cluster passing the filters (ties: more USD, then nearer)."""
    pool = [c for c in clusters if c.active and flt.keep(c)]
    return max(pool, key=lambda c: (c.strength, c.open_interest, -c.distance_from_price), default=None)


def stats_doc(positioning: Mapping[str, tuple[str, float, float]], cluster_counts: Mapping[str, int],
              symbols: Sequence[str], last_update: str | None, running: bool) -> dict[str, Any]:
    """``/api/stats``: symbol and cluster counts and the open-interest summary per symbol.

    ``positioning``: symbol -> (ts, total OI USD, long/short ratio) of its newest bar that knew both;
    a symbol whose feed carries no open interest is left out of the summary (nothing is made up).
    """
    summary = {}
    for symbol in symbols:
        if symbol not in positioning:
            continue
        _, total, ratio = positioning[symbol]
        long_oi = total * ratio / (1.0 + ratio)
        summary[exchange_id(symbol)] = {"total_oi_usd": total, "long_short_ratio": ratio, "long_oi_usd": long_oi,
                                        "short_oi_usd": total - long_oi}
    return {"success": True, "stats": {
        "total_symbols": len(symbols), "active_symbols": sum(1 for s in symbols if s in cluster_counts),
        "total_clusters": sum(cluster_counts.values()), "last_update": last_update,
        "debug": {"heatmap_running": running, "open_interest_summary": summary}}}
