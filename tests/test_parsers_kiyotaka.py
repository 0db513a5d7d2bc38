"""Kiyotaka HYPERLIQUID_LIQUIDATION_AGG: points and flat_points, units, sides, timestamps."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from bot.domain import HeatmapSource
from bot.errors import DataError
from bot.examples import EXAMPLES_DIR
from bot.heatmap.parsers import HeatmapFormat, Units, parse_heatmap

T0 = 1749628800
WHEN = datetime(2025, 6, 11, 8, tzinfo=timezone.utc)


def points_doc(levels: list[float], ts: object = None, ident: dict | None = None) -> dict:
    return {"series": [{"id": ident or {"type": "HYPERLIQUID_LIQUIDATION_AGG", "coin": "BTC"},
                        "points": [{"Point": {"timestamp": ts if ts is not None else {"s": T0}, "levels": levels}}]}]}


def test_coin_volumes_become_usd_and_sides_follow_the_price() -> None:
    doc = points_doc([99_000, 2.0, 100_000, 1.0, 101_000, 0.5])
    (snap,) = parse_heatmap(json.dumps(doc), price=100_000)
    assert snap.source is HeatmapSource.KIYOTAKA and snap.symbol == "BTC/USDT:USDT" and snap.ts == WHEN
    np.testing.assert_array_equal(snap.prices, [99_000, 100_000, 101_000])
    # below -> long, above -> short, exactly at the price -> half and half
    np.testing.assert_allclose(snap.long_usd, [198_000, 50_000, 0])
    np.testing.assert_allclose(snap.short_usd, [0, 50_000, 50_500])
    assert snap.assumptions["volume_units"] == "coin"
    assert snap.assumptions["reference_price"] == "--price"


def test_usd_units_from_the_request_echo_are_not_multiplied() -> None:
    ident = {"coin": "ETH", "transform": {"normalize": {"quote": "USD"}}}
    (snap,) = parse_heatmap(json.dumps(points_doc([2400, 1e6, 2600, 2e6], ident=ident)), price=2500)
    np.testing.assert_allclose(snap.long_usd + snap.short_usd, [1e6, 2e6])
    assert snap.symbol == "ETH/USDT:USDT" and snap.assumptions["volume_units"] == "usd"


@pytest.mark.parametrize("echo", [{"transform.normalize.quote": "USD"}, {"normalize": {"quote": "usd"}}])
def test_other_echo_spellings(echo: dict) -> None:
    (snap,) = parse_heatmap(json.dumps(points_doc([2400, 10.0], ident={"coin": "ETH", **echo})), price=2500)
    assert snap.long_usd[0] == 10.0


def test_explicit_units_flag_and_query_echo() -> None:
    doc = points_doc([2400, 10.0])
    (coin,) = parse_heatmap(json.dumps(doc), price=2500)
    (usd,) = parse_heatmap(json.dumps(doc), price=2500, units=Units.USD)
    assert (coin.long_usd[0], usd.long_usd[0]) == (24_000.0, 10.0)
    doc["query"] = {"transform.normalize.quote": "USD"}
    (echoed,) = parse_heatmap(json.dumps(doc), price=2500)
    assert echoed.long_usd[0] == 10.0
    with pytest.raises(DataError, match="contradicts"):
        parse_heatmap(json.dumps(doc), price=2500, units="coin")


@pytest.mark.parametrize(("stamp", "unit"), [
    ({"s": T0}, "s"), (T0, "s"), (T0 * 1000, "ms"), (T0 * 1_000_000, "us"), (T0 * 1_000_000_000, "ns"),
    ({"s": T0 * 1_000_000_000}, "ns"), ("2025-06-11T08:00:00Z", "iso")])
def test_timestamp_magnitude_is_detected(stamp: object, unit: str) -> None:
    (snap,) = parse_heatmap(json.dumps(points_doc([100, 1.0], ts=stamp)), price=101)
    assert snap.ts == WHEN
    assert snap.assumptions["timestamp_unit"] == unit


def test_flat_points_back_to_back() -> None:
    flat = [2, T0 * 1e6, 70_390, 0.5, 70_410, 8.0, 3, (T0 + 60) * 1e6, 70_300, 0.1, 70_310, 0.2, 70_350, 1.5]
    doc = {"series": [{"id": {"coin": "BTC"}, "flat_points": flat}]}
    first, second = parse_heatmap(json.dumps(doc), price=70_400)
    assert (len(first), len(second)) == (2, 3)
    assert (first.ts, second.ts) == (WHEN, datetime(2025, 6, 11, 8, 1, tzinfo=timezone.utc))
    np.testing.assert_allclose(first.long_usd, [70_390 * 0.5, 0])
    np.testing.assert_allclose(first.short_usd, [0, 70_410 * 8.0])
    assert second.total_short_usd == 0.0  # all three levels below 70,400


def test_bare_point_without_wrapper_and_several_series() -> None:
    doc = {"series": [{"id": {"coin": "BTC"}, "points": [{"timestamp": {"s": T0}, "levels": [100_000, 1.0]}]},
                      {"id": {"coin": "SOL"}, "points": [{"timestamp": {"s": T0}, "levels": [150, 10.0]}]}]}
    btc, sol = parse_heatmap(json.dumps(doc), price=140)
    assert (btc.symbol, sol.symbol) == ("BTC/USDT:USDT", "SOL/USDT:USDT")


def test_symbol_override_and_missing_coin() -> None:
    doc = {"series": [{"points": [{"Point": {"timestamp": {"s": T0}, "levels": [100, 1.0]}}]}]}
    with pytest.raises(DataError, match=r"series\[0\]\.id\.coin: missing field \(or pass --symbol\)"):
        parse_heatmap(json.dumps(doc), price=101)
    (snap,) = parse_heatmap(json.dumps(doc), price=101, symbol="HYPE")
    assert snap.symbol == "HYPE/USDT:USDT"


def test_other_point_types_are_refused() -> None:
    doc = points_doc([100, 1.0], ident={"type": "LIQUIDATION_AGG", "coin": "BTC"})
    with pytest.raises(DataError, match="unsupported type 'LIQUIDATION_AGG'"):
        parse_heatmap(json.dumps(doc), HeatmapFormat.KIYOTAKA, price=101)


@pytest.mark.parametrize(("name", "count", "units"), [("kiyotaka_points_btc.json", 2, "coin"),
                                                      ("kiyotaka_flat_usd_btc.json", 3, "usd")])
def test_bundled_examples(name: str, count: int, units: str) -> None:
    snaps = parse_heatmap((EXAMPLES_DIR / name).read_bytes(), price=104_350)
    assert len(snaps) == count
    assert all(s.assumptions["volume_units"] == units for s in snaps)
    assert all(s.total_long_usd > 1e6 and s.total_short_usd > 1e6 for s in snaps)
    assert [s.ts for s in snaps] == sorted(s.ts for s in snaps)
