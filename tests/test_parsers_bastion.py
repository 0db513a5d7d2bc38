"""Bastion heatmap documents: sides from ``type``, sorting, provider summaries."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from bot.domain import HeatmapSource
from bot.errors import DataError
from bot.examples import EXAMPLES_DIR
from bot.heatmap.parsers import parse_heatmap
from tests.test_cli_heatmap_show import seed_bastion


def test_seed_sample_is_sorted_and_sided_by_type() -> None:
    (snap,) = parse_heatmap(json.dumps(seed_bastion()))
    assert snap.source is HeatmapSource.BASTION and snap.symbol == "BTC/USDT:USDT"
    assert snap.price == 96_200 and snap.ts.isoformat() == "2026-02-20T14:30:00+00:00"
    np.testing.assert_array_equal(snap.prices, sorted(snap.prices))
    assert snap.prices[0] == 91_500 and snap.prices[-1] == 99_000
    assert snap.total_short_usd == 135e6 + 118e6 + 95e6 + 52e6 + 28e6
    assert snap.total_long_usd == 15e6 + 22e6 + 30e6 + 40e6 + 88e6 + 80e6
    assert snap.assumptions["provider_strongest_magnet_zone"] == [98000.0, 99000.0]
    assert snap.assumptions["provider_range"] == [88000.0, 104000.0]


def test_type_decides_the_side_not_the_position() -> None:
    doc = seed_bastion()
    doc["heatmap"]["levels"].append({"price": 95_800, "density": 10, "type": "short_liquidations",
                                     "estimated_usd": 7e6})  # a short level below price stays short
    (snap,) = parse_heatmap(json.dumps(doc))
    i = int(np.flatnonzero(snap.prices == 95_800)[0])
    assert (snap.long_usd[i], snap.short_usd[i]) == (0.0, 7e6)


def test_epoch_timestamp_and_price_override() -> None:
    doc = seed_bastion()
    doc["timestamp"] = 1771597800000  # ms
    (snap,) = parse_heatmap(json.dumps(doc), price=96_000)
    assert snap.ts.isoformat() == "2026-02-20T14:30:00+00:00"
    assert (snap.price, snap.assumptions["reference_price"], snap.assumptions["payload_price"]) == (96_000, "--price", 96_200)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["heatmap"].update(strongest_magnet={"price_zone": [98000]}), "price_zone: expected [low, high]"),
    (lambda d: d.update(range={"price_min": 104000, "price_max": 88000}), "range: price_min 104000.0 must be below"),
    (lambda d: d["heatmap"].update(max_density=float("nan")), "heatmap.max_density: density must be finite"),
    (lambda d: d.update(symbol=""), "symbol: must not be empty"),
])
def test_provider_summaries_are_validated(change, message: str) -> None:
    doc = copy.deepcopy(seed_bastion())
    change(doc)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_heatmap(json.dumps(doc))


def test_bundled_example() -> None:
    (snap,) = parse_heatmap((EXAMPLES_DIR / "bastion_btc.json").read_bytes())
    assert len(snap) == 40 and snap.price == 104_350
    assert snap.prices[np.argmax(snap.short_usd)] == 107_250
    assert snap.prices[np.argmax(snap.long_usd)] == 101_250
