"""The cluster API (``perp-strategies`` shape): ``/api/heatmap/{SYMBOL}``, ``/best``, ``/api/stats``.

- ``/api/heatmap/{SYMBOL}``: ``{success, symbol, current_price, clusters[], timestamp,
  total_clusters}`` -> one snapshot. Each cluster becomes one level at its ``price_level`` holding
  its USD on its own ``side``; the clusters themselves are also mapped to ``Cluster`` objects in
  ``snapshot.provided_clusters`` (shown as-is, never re-clustered). ``total_clusters`` must match.
- ``/best``: one cluster object -> one snapshot with one level. It names neither the symbol nor the
  price: ``--symbol`` and ``--price`` are required; its ``last_updated`` is the snapshot time.
- ``/api/stats``: no levels (``parse`` returns ``[]``); ``parse_perp_stats`` reads the open-interest
  summary per symbol.

Cluster fields: ``price_level``, ``side`` (long|short), ``strength`` (0-1), ``cluster_id`` and
``liquidation_count`` are required; the USD is ``total_notional`` (what the code sends) or
``open_interest`` (what its docs say); both present must agree. Derived when missing:
``distance_from_price`` (percent from the reference price), ``leverage_tier`` (implied from the
distance with the tiered liquidation formula), ``last_updated`` (the snapshot time). Two clusters at
one price are an error. ``success: false`` or a FastAPI ``{"detail": ...}`` body is an error
carrying the server's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from bot.clusters.tiers import implied_tiers
from bot.domain import Cluster, HeatmapSnapshot, HeatmapSource, MarketContext, Side, iso
from bot.errors import DataError
from bot.heatmap.parsers.checks import Checker, join, reference_price

USD_KEYS = ("total_notional", "open_interest")


@dataclass(frozen=True, slots=True)
class OpenInterestSummary:
    """One symbol's entry of ``/api/stats`` ``open_interest_summary`` (USD, as known at ``ts``)."""

    symbol: str
    total_oi_usd: float
    long_short_ratio: float
    ts: datetime | None

    @property
    def long_oi_usd(self) -> float:
        """Long OI from the ratio r: OI * r / (1 + r)."""
        r = self.long_short_ratio
        return self.total_oi_usd * r / (1.0 + r)

    @property
    def short_oi_usd(self) -> float:
        """Short OI: the rest of the total."""
        return self.total_oi_usd - self.long_oi_usd

    def market_context(self, price: float, ts: datetime | None = None) -> MarketContext:
        """As a ``MarketContext`` at ``price`` (the stats carry no price)."""
        when = ts or self.ts
        if when is None:
            raise DataError("no time known for this summary: pass ts", field="last_update")
        return MarketContext.from_total(self.symbol, when, price, self.total_oi_usd, self.long_short_ratio)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"symbol": self.symbol, "total_oi_usd": self.total_oi_usd, "long_short_ratio": self.long_short_ratio,
                "long_oi_usd": self.long_oi_usd, "short_oi_usd": self.short_oi_usd,
                "ts": iso(self.ts) if self.ts else None}


def is_perp_stats(doc: object) -> bool:
    """True for an ``/api/stats`` document."""
    return isinstance(doc, dict) and "stats" in doc and "clusters" not in doc


def is_perp_best(doc: object) -> bool:
    """True for a ``/best`` document (one bare cluster)."""
    return isinstance(doc, dict) and "price_level" in doc and "side" in doc


def parse_perp_api(doc: object, *, price: float | None = None, symbol: str | None = None) -> list[HeatmapSnapshot]:
    """Snapshots of a cluster-API document (``[]`` for ``/api/stats``)."""
    chk = Checker("perp-api")
    root = chk.obj(doc, "")
    _server_error(chk, root)
    if is_perp_stats(root):
        parse_perp_stats(root)  # validated even though it yields no snapshot
        return []
    if is_perp_best(root):
        if symbol is None:
            raise DataError("--symbol is required for perp-api /best payloads (the payload names no symbol)",
                            source="perp-api")
        ref, ref_from = reference_price(price, "perp-api", payload_price=None, why_required="perp-api /best payloads")
        ts = chk.timestamp(chk.field(root, "last_updated", ""), "last_updated")
        return [_snapshot(chk, [root], "", symbol, ref, ref_from, ts)]
    payload_symbol = chk.symbol(chk.field(root, "symbol", ""), "symbol")
    current = chk.field(root, "current_price", "")
    payload_price = None if current is None else chk.number(current, "current_price", what="price", positive=True)
    ref, ref_from = reference_price(price, "perp-api", payload_price=payload_price,
                                    why_required="a perp-api payload whose current_price is null")
    ts = chk.timestamp(chk.field(root, "timestamp", ""), "timestamp")
    clusters = chk.array(chk.field(root, "clusters", ""), "clusters")
    if "total_clusters" in root:
        total = chk.integer(root["total_clusters"], "total_clusters")
        if total != len(clusters):
            chk.fail("total_clusters", f"says {total} but clusters holds {len(clusters)}")
    return [_snapshot(chk, clusters, "clusters", symbol or payload_symbol, ref, ref_from, ts)]


def parse_perp_stats(doc: object) -> dict[str, OpenInterestSummary]:
    """``/api/stats`` -> open-interest summary per unified symbol (``total_oi_usd``, ``long_short_ratio``)."""
    chk = Checker("perp-api")
    root = chk.obj(doc, "")
    _server_error(chk, root)
    stats = chk.obj(chk.field(root, "stats", ""), "stats")
    ts = chk.timestamp(stats["last_update"], "stats.last_update") if stats.get("last_update") is not None else None
    debug = chk.obj(chk.field(stats, "debug", "stats"), "stats.debug")
    path = "stats.debug.open_interest_summary"
    summary = chk.obj(chk.field(debug, "open_interest_summary", "stats.debug"), path)
    if not summary:
        chk.fail(path, "empty payload: no symbol")
    out: dict[str, OpenInterestSummary] = {}
    for key, entry in summary.items():
        at = join(path, key)
        entry = chk.obj(entry, at)
        sym = chk.symbol(key, at)
        out[sym] = OpenInterestSummary(
            symbol=sym,
            total_oi_usd=chk.number(chk.field(entry, "total_oi_usd", at), join(at, "total_oi_usd"),
                                    what="total_oi_usd", minimum=0),
            long_short_ratio=chk.number(chk.field(entry, "long_short_ratio", at), join(at, "long_short_ratio"),
                                        what="long_short_ratio", positive=True),
            ts=ts)
    return out


def _server_error(chk: Checker, root: dict[str, Any]) -> None:
    if "success" in root and chk.boolean(root["success"], "success") is False:
        message = root.get("error") or root.get("detail") or root.get("message") or "no message"
        chk.fail("success", f"server says false: {message}")
    if set(root) == {"detail"}:
        chk.fail("detail", f"server error: {root['detail']}")


def _snapshot(chk: Checker, items: list[Any], path: str, symbol: str, price: float, price_from: str,
              ts: datetime) -> HeatmapSnapshot:
    clusters = [_cluster(chk, item, join(path, i) if path else "", price, ts) for i, item in enumerate(items)]
    prices = np.array([c.price_level for c in clusters])
    order = np.argsort(prices, kind="stable")
    chk.ascending(prices[order], lambda j: join(join(path, int(order[j])) if path else "", "price_level"),
                  what="price_level")
    usd = np.array([c.open_interest for c in clusters])[order]
    is_long = np.array([c.side is Side.LONG for c in clusters], dtype=bool)[order]
    assumptions = {"provider": "perp-api", "usd": "cluster total_notional / open_interest as given",
                   "sides": "from each cluster's side field", "reference_price": price_from,
                   "levels": "one level per cluster at its price_level; clusters provided as-is"}
    return HeatmapSnapshot(symbol=symbol, ts=ts, price=price, prices=prices[order],
                           long_usd=np.where(is_long, usd, 0.0), short_usd=np.where(is_long, 0.0, usd),
                           source=HeatmapSource.PERP_API, assumptions=assumptions,
                           provided_clusters=tuple(clusters[int(k)] for k in order))


def _cluster(chk: Checker, item: Any, path: str, price: float, ts: datetime) -> Cluster:
    c = chk.obj(item, path)
    level = chk.number(chk.field(c, "price_level", path), join(path, "price_level"), what="price", positive=True)
    side_text = chk.text(chk.field(c, "side", path), join(path, "side"))
    if side_text not in (Side.LONG.value, Side.SHORT.value):
        chk.fail(join(path, "side"), f"must be 'long' or 'short', got {side_text!r}")
    usd = _usd(chk, c, path)
    strength = chk.number(chk.field(c, "strength", path), join(path, "strength"), what="strength",
                          minimum=0, maximum=1)
    cid = chk.field(c, "cluster_id", path)
    if isinstance(cid, bool) or not isinstance(cid, (int, str)):
        chk.fail(join(path, "cluster_id"), "wrong type: expected an integer or a string")
    count = chk.integer(chk.field(c, "liquidation_count", path), join(path, "liquidation_count"),
                        what="liquidation_count")
    if "distance_from_price" in c:
        distance = abs(chk.number(c["distance_from_price"], join(path, "distance_from_price"), what="distance"))
    else:
        distance = abs(level / price - 1.0) * 100.0
    if "leverage_tier" in c:
        tier = chk.number(c["leverage_tier"], join(path, "leverage_tier"), what="leverage_tier", positive=True)
    else:
        tier = float(implied_tiers(np.array([distance / 100.0]), np.array([side_text == Side.SHORT.value]))[0])
    updated = chk.timestamp(c["last_updated"], join(path, "last_updated")) if "last_updated" in c else ts
    return Cluster(cluster_id=str(cid), price_level=level, side=Side(side_text), leverage_tier=tier,
                   open_interest=usd, liquidation_count=count, strength=strength, distance_from_price=distance,
                   active=True, first_seen=ts, last_seen=ts, last_updated=updated, price_low=level, price_high=level)


def _usd(chk: Checker, c: dict[str, Any], path: str) -> float:
    present = [k for k in USD_KEYS if k in c]
    if not present:
        chk.fail(join(path, "total_notional"), "missing field (or open_interest)")
    values = [chk.number(c[k], join(path, k), what="usd", minimum=0) for k in present]
    if len(values) == 2 and not np.isclose(values[0], values[1], rtol=1e-9, atol=0.0):
        chk.fail(join(path, "open_interest"), f"disagrees with total_notional: {values[1]!r} vs {values[0]!r}")
    return values[0]

