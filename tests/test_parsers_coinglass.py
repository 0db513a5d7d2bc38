"""CoinGlass heatmap grid: one snapshot per time column, sides per column's close."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.domain import HeatmapSource
from bot.errors import DataError
from bot.examples import EXAMPLES_DIR
from bot.heatmap.parsers import parse_heatmap
from tests.test_parsers_strict import T0, coinglass


def test_columns_become_snapshots_with_their_own_close() -> None:
    first, second = parse_heatmap(json.dumps(coinglass()), symbol="BTC")
    assert first.source is HeatmapSource.COINGLASS and first.symbol == "BTC/USDT:USDT"
    assert (first.price, second.price) == (104_050.2, 104_210.0)  # closes sent as strings
    assert (first.ts.timestamp(), second.ts.timestamp()) == (T0, T0 + 3600)
    np.testing.assert_array_equal(first.prices, [103_000, 103_500, 104_000, 104_500, 105_000])
    np.testing.assert_allclose(first.long_usd, [1.2e6, 0, 0, 0, 0])
    np.testing.assert_allclose(first.short_usd, [0, 0, 0, 0, 2.5e6])
    np.testing.assert_allclose(second.long_usd, [0, 3e5, 0, 0, 0])
    np.testing.assert_allclose(second.short_usd, [0, 0, 0, 4e6, 0])


def test_side_switches_with_the_column_price() -> None:
    doc = coinglass()
    doc["data"]["liquidation_leverage_data"] = [[0, 2, 1e6], [1, 2, 1e6]]  # the 104,000 row in both columns
    doc["data"]["price_candlesticks"][0][4] = "103900"  # below 104,000: the row is short
    doc["data"]["price_candlesticks"][1][4] = "104000"  # exactly at it: half and half
    first, second = parse_heatmap(json.dumps(doc), symbol="BTC")
    assert (first.long_usd[2], first.short_usd[2]) == (0.0, 1e6)
    assert (second.long_usd[2], second.short_usd[2]) == (5e5, 5e5)


def test_millisecond_candles_and_symbol_in_payload() -> None:
    doc = coinglass()
    for row in doc["data"]["price_candlesticks"]:
        row[0] *= 1000
    doc["symbol"] = "BTCUSDT"
    first, _ = parse_heatmap(json.dumps(doc))
    assert first.ts.timestamp() == T0 and first.assumptions["timestamp_unit"] == "ms"


def test_price_override_applies_to_every_column() -> None:
    snaps = parse_heatmap(json.dumps(coinglass()), symbol="BTC", price=104_300)
    assert {s.price for s in snaps} == {104_300}


def test_numeric_candles_are_accepted_too() -> None:
    doc = coinglass()
    doc["data"]["price_candlesticks"] = [[T0, 1.0, 2.0, 0.5, 104_000.5, 10.0], [T0 + 60, 1, 2, 0.5, 104_100, 10]]
    assert [s.price for s in parse_heatmap(json.dumps(doc), symbol="BTC")] == [104_000.5, 104_100]


def test_error_envelope_without_code_zero() -> None:
    with pytest.raises(DataError, match="provider error 40001: Upgrade plan"):
        parse_heatmap(json.dumps({"code": 40001, "msg": "Upgrade plan", "data": None}), symbol="BTC")


def test_bundled_example() -> None:
    snaps = parse_heatmap((EXAMPLES_DIR / "coinglass_grid_btc.json").read_bytes(), symbol="BTC")
    assert len(snaps) == 6 and all(len(s) == 48 for s in snaps)
    assert snaps[-1].price == 104_350.2
    assert all(s.total_long_usd > 0 and s.total_short_usd > 0 for s in snaps)
