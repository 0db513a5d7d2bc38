"""Format detection by content, symbols, and the public entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import DataError
from bot.examples import EXAMPLES_DIR
from bot.heatmap.parsers import HeatmapFormat, detect_format, parse_heatmap, parse_heatmap_file, unified_symbol

@pytest.mark.parametrize(("name", "fmt"), [
    ("bastion_btc.json", HeatmapFormat.BASTION), ("kiyotaka_points_btc.json", HeatmapFormat.KIYOTAKA),
    ("kiyotaka_flat_usd_btc.json", HeatmapFormat.KIYOTAKA), ("coinglass_grid_btc.json", HeatmapFormat.COINGLASS),
    ("perp_api_heatmap_btc.json", HeatmapFormat.PERP_API), ("perp_api_best_btc.json", HeatmapFormat.PERP_API),
    ("perp_api_stats.json", HeatmapFormat.PERP_API)])
def test_examples_are_detected(name: str, fmt: HeatmapFormat) -> None:
    assert detect_format(json.loads((EXAMPLES_DIR / name).read_text())) is fmt


@pytest.mark.parametrize(("doc", "message"), [
    ({}, "empty payload"), ([], "empty payload"), ([1, 2], "expected an object, got array"),
    ({"levels": []}, r"unknown heatmap format \(top-level keys: levels\)"), ("text", "expected an object")])
def test_unknown_documents(doc: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        detect_format(doc)


@pytest.mark.parametrize(("raw", "unified"), [
    ("BTC", "BTC/USDT:USDT"), ("btcusdt", "BTC/USDT:USDT"), ("BTC-USDT", "BTC/USDT:USDT"),
    ("BTC/USDT", "BTC/USDT:USDT"), ("BTC/USDT:USDT", "BTC/USDT:USDT"), ("ETHUSDC", "ETH/USDC:USDC"),
    ("1000PEPEUSDT", "1000PEPE/USDT:USDT"), ("BTC/USD:BTC", "BTC/USD:BTC"), ("USDT", "USDT/USDT:USDT")])
def test_unified_symbol(raw: str, unified: str) -> None:
    assert unified_symbol(raw) == unified


def test_explicit_format_and_file_entry_point(tmp_path: Path) -> None:
    snaps = parse_heatmap_file(EXAMPLES_DIR / "bastion_btc.json", "bastion")
    assert len(snaps) == 1
    with pytest.raises(DataError, match="unknown format 'csv'"):
        parse_heatmap("{\"a\": 1}", "csv")
    with pytest.raises(DataError, match="nope.json: cannot read"):
        parse_heatmap_file(tmp_path / "nope.json")


def test_decoding_errors_name_the_input() -> None:
    with pytest.raises(DataError, match=r"^feed\.json: truncated JSON"):
        parse_heatmap('{"series": [1, 2', source_name="feed.json")
    with pytest.raises(DataError, match=r"^feed\.json: not valid JSON: Expecting value \(line 2 column 1\)"):
        parse_heatmap('{"a":\n]}', source_name="feed.json")


def test_snapshots_are_immutable() -> None:
    (snap,) = parse_heatmap_file(EXAMPLES_DIR / "bastion_btc.json")
    with pytest.raises(ValueError):
        snap.long_usd[0] = 1.0
