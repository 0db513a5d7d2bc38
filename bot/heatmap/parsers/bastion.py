"""Bastion ``bastion_get_heatmap`` payloads: one snapshot per document.

Shape: ``{symbol, current_price, heatmap: {levels: [{price, density, type, estimated_usd}],
max_density, strongest_magnet: {price_zone, direction, type}}, range: {price_min, price_max},
timestamp}``.

- Each level's ``type`` (``short_liquidations`` | ``long_liquidations``) decides its side, not its
  position against the price; ``estimated_usd`` is its USD.
- Levels may come in any order (the provider lists them descending): they are sorted; a price
  listed twice is an error naming both entries.
- Required: ``symbol``, ``current_price``, ``timestamp`` (ISO-8601 or epoch), ``heatmap.levels``
  and, per level, ``price``, ``density`` (0-100), ``type``, ``estimated_usd``. The provider's own
  summaries (``max_density``, ``strongest_magnet``, ``range``) are optional but validated when
  present, and recorded in the snapshot's assumptions (our magnet read is computed, not copied).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.heatmap.parsers.checks import Checker, join, reference_price

LONG_TYPE, SHORT_TYPE = "long_liquidations", "short_liquidations"
LEVEL_FIELDS = ("price", "density", "type", "estimated_usd")


def parse_bastion(doc: object, *, price: float | None = None, symbol: str | None = None) -> list[HeatmapSnapshot]:
    """The snapshot of a Bastion heatmap document; ``price``/``symbol`` override the payload's."""
    chk = Checker("bastion")
    root = chk.obj(doc, "")
    payload_symbol = chk.symbol(chk.field(root, "symbol", ""), "symbol")
    payload_price = chk.number(chk.field(root, "current_price", ""), "current_price", what="price", positive=True)
    ts = chk.timestamp(chk.field(root, "timestamp", ""), "timestamp")
    heatmap = chk.obj(chk.field(root, "heatmap", ""), "heatmap")
    rows = chk.array(chk.field(heatmap, "levels", "heatmap"), "heatmap.levels")
    rows = [chk.obj(row, f"heatmap.levels[{i}]") for i, row in enumerate(rows)]
    cols = {key: [chk.field(row, key, f"heatmap.levels[{i}]") for i, row in enumerate(rows)] for key in LEVEL_FIELDS}

    def at(key: str):
        return lambda i: f"heatmap.levels[{i}].{key}"

    prices = chk.numbers(cols["price"], at("price"))
    chk.prices(prices, at("price"))
    usd = chk.numbers(cols["estimated_usd"], at("estimated_usd"))
    chk.volumes(usd, at("estimated_usd"), what="estimated_usd")
    density = chk.numbers(cols["density"], at("density"))
    bad = np.flatnonzero(~((density >= 0) & (density <= 100)))
    if bad.size:
        chk.fail(at("density")(int(bad[0])), f"density must be within 0-100, got {density[bad[0]]!r}")
    types = cols["type"]
    wrong = next((i for i, t in enumerate(types) if not (isinstance(t, str) and t in (LONG_TYPE, SHORT_TYPE))), None)
    if wrong is not None:
        chk.fail(at("type")(wrong), f"must be {LONG_TYPE!r} or {SHORT_TYPE!r}, got {types[wrong]!r}")

    order = np.argsort(prices, kind="stable")
    chk.ascending(prices[order], lambda j: at("price")(int(order[j])))
    is_short = (np.asarray(types, dtype=object) == SHORT_TYPE).astype(bool)[order]
    usd = usd[order]
    ref, ref_from = reference_price(price, "bastion", payload_price=payload_price)
    assumptions: dict[str, Any] = {
        "provider": "bastion", "usd": "estimated_usd as given",
        "sides": "from each level's type (long_liquidations / short_liquidations), not its position",
        "reference_price": ref_from, "payload_price": payload_price,
        "level_order": "sorted ascending by price",
    }
    assumptions.update(_summaries(chk, root, heatmap))
    return [HeatmapSnapshot(symbol=symbol or payload_symbol, ts=ts, price=ref, prices=prices[order],
                            long_usd=np.where(is_short, 0.0, usd), short_usd=np.where(is_short, usd, 0.0),
                            source=HeatmapSource.BASTION, assumptions=assumptions)]


def _summaries(chk: Checker, root: dict[str, Any], heatmap: dict[str, Any]) -> dict[str, Any]:
    """The provider's optional summaries, validated, as assumption entries."""
    out: dict[str, Any] = {}
    if "max_density" in heatmap:
        out["provider_max_density"] = chk.number(heatmap["max_density"], "heatmap.max_density",
                                                 what="density", minimum=0, maximum=100)
    if "strongest_magnet" in heatmap:
        magnet = chk.obj(heatmap["strongest_magnet"], "heatmap.strongest_magnet")
        if "price_zone" in magnet:
            path = "heatmap.strongest_magnet.price_zone"
            zone = chk.array(magnet["price_zone"], path)
            if len(zone) != 2:
                chk.fail(path, f"expected [low, high], got {len(zone)} values")
            out["provider_strongest_magnet_zone"] = [
                chk.number(v, join(path, i), what="price", positive=True) for i, v in enumerate(zone)]
        for key in ("direction", "type"):
            if key in magnet:
                out[f"provider_strongest_magnet_{key}"] = chk.text(magnet[key], f"heatmap.strongest_magnet.{key}")
    if "range" in root:
        rng = chk.obj(root["range"], "range")
        low = chk.number(chk.field(rng, "price_min", "range"), "range.price_min", what="price", positive=True)
        high = chk.number(chk.field(rng, "price_max", "range"), "range.price_max", what="price", positive=True)
        if low >= high:
            chk.fail("range", f"price_min {low!r} must be below price_max {high!r}")
        out["provider_range"] = [low, high]
    return out
