"""The cluster API: /api/heatmap, /best, /api/stats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.domain import HeatmapSource, Side
from bot.errors import DataError
from bot.examples import EXAMPLES_DIR
from bot.heatmap.parsers import parse_heatmap, parse_perp_stats
from tests.test_parsers_strict import perp_api


def test_clusters_become_levels_and_provided_clusters() -> None:
    doc = json.loads((EXAMPLES_DIR / "perp_api_heatmap_btc.json").read_text())
    (snap,) = parse_heatmap(json.dumps(doc))
    assert snap.source is HeatmapSource.PERP_API and snap.symbol == "BTC/USDT:USDT" and snap.price == 104_350.2
    assert len(snap) == len(snap.provided_clusters) == doc["total_clusters"]
    np.testing.assert_array_equal(snap.prices, sorted(c["price_level"] for c in doc["clusters"]))
    for c in snap.provided_clusters:
        i = int(np.flatnonzero(snap.prices == c.price_level)[0])
        own, other = (snap.long_usd, snap.short_usd) if c.side is Side.LONG else (snap.short_usd, snap.long_usd)
        assert (own[i], other[i]) == (c.open_interest, 0.0)
        assert c.active and c.first_seen == snap.ts


def test_docs_field_names_and_derived_fields() -> None:
    doc = perp_api()
    cluster = doc["clusters"][0]
    cluster["open_interest"] = cluster.pop("total_notional")  # the docs' name
    for key in ("distance_from_price", "leverage_tier", "last_updated"):
        del cluster[key]
    (snap,) = parse_heatmap(json.dumps(doc))
    (c,) = snap.provided_clusters
    assert c.open_interest == 3.1e6 and c.cluster_id == "7"
    assert c.distance_from_price == pytest.approx((105_000 / 104_350.2 - 1) * 100)
    assert c.leverage_tier == 100  # 0.62 % above: the tiered formula puts 100x at 0.60 %
    assert c.last_updated == snap.ts


def test_null_current_price_needs_price() -> None:
    doc = perp_api()
    doc["current_price"] = None
    with pytest.raises(DataError, match="--price is required for a perp-api payload whose current_price is null"):
        parse_heatmap(json.dumps(doc))
    assert parse_heatmap(json.dumps(doc), price=104_000)[0].price == 104_000


def test_best_needs_symbol_and_price() -> None:
    raw = (EXAMPLES_DIR / "perp_api_best_btc.json").read_bytes()
    with pytest.raises(DataError, match="--symbol is required for perp-api /best"):
        parse_heatmap(raw, price=104_350.2)
    with pytest.raises(DataError, match="--price is required for perp-api /best"):
        parse_heatmap(raw, symbol="BTC")
    (snap,) = parse_heatmap(raw, price=104_350.2, symbol="BTCUSDT")
    assert len(snap) == 1 and snap.provided_clusters[0].leverage_tier == 10
    assert snap.ts.isoformat() == "2025-06-11T08:00:03+00:00"


def test_stats_give_no_snapshot_but_an_oi_summary() -> None:
    raw = (EXAMPLES_DIR / "perp_api_stats.json").read_bytes()
    assert parse_heatmap(raw) == []
    stats = parse_perp_stats(json.loads(raw))
    assert list(stats)[:2] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    btc = stats["BTC/USDT:USDT"]
    assert btc.long_oi_usd + btc.short_oi_usd == pytest.approx(btc.total_oi_usd)
    ctx = btc.market_context(price=104_350.2)
    assert (ctx.total_oi_usd, ctx.long_short_ratio, ctx.ts) == (btc.total_oi_usd, 1.084, btc.ts)


@pytest.mark.parametrize(("doc", "message"), [
    ({"success": True, "stats": {"debug": {"open_interest_summary": {}}}}, "open_interest_summary: empty payload"),
    ({"success": True, "stats": {"debug": {"open_interest_summary": {"BTCUSDT": {"total_oi_usd": -1, "long_short_ratio": 1}}}}},
     "BTCUSDT.total_oi_usd: total_oi_usd must be >= 0"),
    ({"success": True, "stats": {"debug": {"open_interest_summary": {"BTCUSDT": {"total_oi_usd": 1e9, "long_short_ratio": 0}}}}},
     "long_short_ratio must be finite and > 0"),
    ({"success": True, "stats": {}}, "stats.debug: missing field"),
])
def test_bad_stats(doc: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_perp_stats(doc)
