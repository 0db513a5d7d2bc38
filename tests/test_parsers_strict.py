"""Strict validation through the CLI: every bad payload -> exit 2, one line on stderr, nothing on stdout."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

T0 = 1749628800  # 2025-06-11T08:00:00Z


def kiyotaka(**point_overrides: Any) -> dict[str, Any]:
    points = [{"Point": {"timestamp": {"s": T0}, "levels": [103000, 1.5, 103500, 0.25, 104500, 2.0, 105000, 0.75]}},
              {"Point": {"timestamp": {"s": T0 + 3600}, "levels": [103000, 1.0, 103500, 0.5, 104500, 2.5, 105000, 1.0]}}]
    points[1]["Point"].update(point_overrides)
    return {"series": [{"id": {"type": "HYPERLIQUID_LIQUIDATION_AGG", "interval": "HOUR", "coin": "BTC"},
                        "points": points}]}


FLAT_OK = [4, 1.74962880e15, 70390, 0.53449, 70400, 0.00057, 70410, 8.36632, 70420, 0.04943,
           4, 1.74962881e15, 70300, 0.0077, 70310, 0.00027, 70350, 1.50843, 70370, 0.00486]


def flat(values: list[float]) -> dict[str, Any]:
    return {"series": [{"id": {"type": "HYPERLIQUID_LIQUIDATION_AGG", "coin": "BTC"}, "flat_points": values}]}


def bastion() -> dict[str, Any]:
    return {"symbol": "BTC", "current_price": 96200, "timestamp": "2026-02-20T14:30:00Z",
            "heatmap": {"levels": [
                {"price": 99000, "density": 92, "type": "short_liquidations", "estimated_usd": 135e6},
                {"price": 98500, "density": 88, "type": "short_liquidations", "estimated_usd": 118e6},
                {"price": 98000, "density": 79, "type": "short_liquidations", "estimated_usd": 95e6},
                {"price": 92000, "density": 78, "type": "long_liquidations", "estimated_usd": 88e6},
                {"price": 91500, "density": 72, "type": "long_liquidations", "estimated_usd": 80e6}],
                "max_density": 92}}


def coinglass() -> dict[str, Any]:
    return {"code": "0", "msg": "success", "data": {
        "y_axis": [103000, 103500, 104000, 104500, 105000],
        "liquidation_leverage_data": [[0, 0, 1.2e6], [0, 4, 2.5e6], [1, 1, 3.0e5], [1, 3, 4.0e6]],
        "price_candlesticks": [[T0, "104100.5", "104300", "103900", "104050.2", "5.1e8"],
                               [T0 + 3600, "104050.2", "104400", "104000", "104210.0", "4.2e8"]]}}


def perp_api() -> dict[str, Any]:
    cluster = {"price_level": 105000.0, "side": "short", "liquidation_count": 120, "total_notional": 3.1e6,
               "strength": 0.62, "distance_from_price": 0.62, "cluster_id": 7,
               "last_updated": "2025-06-11T08:00:03Z", "leverage_tier": 100.0}
    return {"success": True, "symbol": "BTCUSDT", "current_price": 104350.2, "clusters": [cluster],
            "timestamp": "2025-06-11T08:00:03Z", "total_clusters": 1}


def edit(doc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def _levels(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["heatmap"]["levels"][i]


NAN, INF = float("nan"), float("inf")
CASES: list[tuple[str, Any, str]] = [
    # decoding
    ("not-json", "liquidations: lots", "not valid JSON"),
    ("truncated", json.dumps(kiyotaka())[:90], "truncated JSON"),
    ("empty-file", "", "empty payload"),
    ("whitespace-file", " \n\t", "empty payload"),
    ("empty-object", {}, "empty payload"),
    ("empty-array", [], "empty payload"),
    ("not-utf8", b"\xff\xfe{\x00", "not UTF-8"),
    ("unknown-shape", {"foo": 1}, "unknown heatmap format"),
    # empty collections
    ("series-empty", {"series": []}, "series: empty payload"),
    ("kiyotaka-levels-empty", kiyotaka(levels=[]), "series[0].points[1].Point.levels: empty payload"),
    ("kiyotaka-points-empty", edit(kiyotaka(), lambda d: d["series"][0].update(points=[])), "points: empty payload"),
    ("flat-empty", flat([]), "flat_points: empty payload"),
    ("bastion-levels-empty", edit(bastion(), lambda d: d["heatmap"].update(levels=[])), "heatmap.levels: empty payload"),
    ("coinglass-cells-empty", edit(coinglass(), lambda d: d["data"].update(liquidation_leverage_data=[])),
     "liquidation_leverage_data: empty payload"),
    ("perp-clusters-empty", edit(perp_api(), lambda d: d.update(clusters=[], total_clusters=0)), "clusters: empty payload"),
    # kiyotaka arrays
    ("odd-levels", kiyotaka(levels=[103000, 1.5, 103500]), "Point.levels: odd-length array (3 values)"),
    ("num-levels-too-small", flat([3, *FLAT_OK[1:]]), "flat_points[0]: num_levels 3 disagrees"),
    ("num-levels-too-large", flat([5, *FLAT_OK[1:]]), "flat_points[0]: num_levels 5 disagrees"),
    ("flat-ends-mid-snapshot", flat(FLAT_OK[:-1]), "flat_points[10]: num_levels 4 disagrees"),
    ("flat-last-too-large", flat([*FLAT_OK[:10], 5, *FLAT_OK[11:]]), "ends mid-snapshot"),
    ("flat-lone-count", flat([*FLAT_OK, 4]), "not followed by a timestamp"),
    ("num-levels-fraction", flat([2.5, *FLAT_OK[1:]]), "num_levels must be an integer, got 2.5"),
    ("num-levels-zero", flat([0, *FLAT_OK[1:]]), "num_levels must be >= 1"),
    # numbers
    ("nan-price", kiyotaka(levels=[103000, 1.0, 103500, 0.5, 104500, 2.5, NAN, 1.0]),
     "kiyotaka: series[0].points[1].Point.levels[6]: price must be finite and > 0, got nan"),
    ("inf-price", kiyotaka(levels=[INF, 1.0, 103500, 0.5]), "Point.levels[0]: price must be finite and > 0, got inf"),
    ("nan-volume", kiyotaka(levels=[103000, NAN, 103500, 0.5]), "Point.levels[1]: volume must be finite and >= 0, got nan"),
    ("minus-inf-volume", flat([*FLAT_OK[:3], -INF, *FLAT_OK[4:]]), "flat_points[3]: volume must be finite and >= 0, got -inf"),
    ("zero-price", kiyotaka(levels=[0, 1.0, 103500, 0.5]), "Point.levels[0]: price must be finite and > 0, got 0.0"),
    ("negative-price", edit(bastion(), lambda d: _levels(2)(d).update(price=-98000)),
     "bastion: heatmap.levels[2].price: price must be finite and > 0, got -98000.0"),
    ("negative-volume", kiyotaka(levels=[103000, 1.0, 103500, -0.5]), "Point.levels[3]: volume must be finite and >= 0, got -0.5"),
    ("negative-estimated-usd", edit(bastion(), lambda d: _levels(1)(d).update(estimated_usd=-1)),
     "heatmap.levels[1].estimated_usd: estimated_usd must be finite and >= 0"),
    ("nan-current-price", edit(bastion(), lambda d: d.update(current_price=NAN)), "current_price: price must be finite and > 0, got nan"),
    ("negative-cell-usd", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"][2].__setitem__(2, -5.0)),
     "liquidation_leverage_data[2][2]: usd must be finite and >= 0"),
    ("nan-close", edit(coinglass(), lambda d: d["data"]["price_candlesticks"][1].__setitem__(4, "NaN")),
     "price_candlesticks[1][4]: price must be finite and > 0, got nan"),
    ("density-over-100", edit(bastion(), lambda d: _levels(0)(d).update(density=140)), "heatmap.levels[0].density: density must be within 0-100"),
    ("strength-over-1", edit(perp_api(), lambda d: d["clusters"][0].update(strength=1.4)), "clusters[0].strength: strength must be <= 1"),
    # order
    ("unsorted", kiyotaka(levels=[103500, 1.0, 103000, 0.5]), "Point.levels[2]: unsorted: price 103000.0 follows 103500.0"),
    ("duplicated", kiyotaka(levels=[103000, 1.0, 103000, 0.5]), "Point.levels[2]: duplicated price 103000.0"),
    ("duplicated-flat", flat([2, 1.74962880e15, 70390, 0.5, 70390, 0.2]), "flat_points[4]: duplicated price 70390.0"),
    ("bastion-duplicated", edit(bastion(), lambda d: _levels(1)(d).update(price=98000)),
     "heatmap.levels[2].price: duplicated price 98000.0 (same as heatmap.levels[1].price)"),
    ("y-axis-unsorted", edit(coinglass(), lambda d: d["data"]["y_axis"].__setitem__(2, 103200)), "data.y_axis[2]: unsorted: price 103200.0 follows 103500.0"),
    ("perp-duplicated-price", edit(perp_api(), lambda d: d.update(clusters=d["clusters"] * 2, total_clusters=2)),
     "clusters[1].price_level: duplicated price_level"),
    ("times-not-increasing", edit(kiyotaka(), lambda d: d["series"][0]["points"][1]["Point"].update(timestamp={"s": T0})),
     "series[0].points[1].Point: timestamps must increase"),
    # types
    ("string-price", edit(bastion(), lambda d: _levels(0)(d).update(price="99000")),
     "heatmap.levels[0].price: wrong type: expected a number, got string '99000'"),
    ("bool-volume", kiyotaka(levels=[103000, True, 103500, 0.5]), "Point.levels[1]: wrong type: expected a number, got boolean"),
    ("null-price", kiyotaka(levels=[None, 1.0, 103500, 0.5]), "Point.levels[0]: wrong type: expected a number, got null"),
    ("levels-not-list", kiyotaka(levels={"103000": 1.5}), "Point.levels: wrong type: expected an array, got object"),
    ("series-not-list", {"series": {"id": {}}}, "series: wrong type: expected an array"),
    ("bad-side-type", edit(bastion(), lambda d: _levels(0)(d).update(type="shorts")), "heatmap.levels[0].type: must be"),
    ("perp-bad-side", edit(perp_api(), lambda d: d["clusters"][0].update(side="up")), "clusters[0].side: must be 'long' or 'short'"),
    ("bad-timestamp", edit(bastion(), lambda d: d.update(timestamp="yesterday")), "timestamp: not an ISO-8601 timestamp"),
    ("cell-not-triple", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"].__setitem__(1, [0, 4])),
     "liquidation_leverage_data[1]: expected [x_index, y_index, usd], got an array of 2"),
    ("candle-bad-string", edit(coinglass(), lambda d: d["data"]["price_candlesticks"][0].__setitem__(2, "high")),
     "price_candlesticks[0][2]: wrong type: expected a number, got string 'high'"),
    # missing fields
    ("missing-estimated-usd", edit(bastion(), lambda d: _levels(3)(d).pop("estimated_usd")), "heatmap.levels[3].estimated_usd: missing field"),
    ("missing-current-price", edit(bastion(), lambda d: d.pop("current_price")), "bastion: current_price: missing field"),
    ("missing-levels", edit(kiyotaka(), lambda d: d["series"][0]["points"][0]["Point"].pop("levels")), "points[0].Point.levels: missing field"),
    ("missing-y-axis", edit(coinglass(), lambda d: d["data"].pop("y_axis")), "data.y_axis: missing field"),
    ("missing-notional", edit(perp_api(), lambda d: d["clusters"][0].pop("total_notional")), "clusters[0].total_notional: missing field"),
    # coinglass indices and envelope
    ("x-out-of-range", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"][1].__setitem__(0, 2)),
     "liquidation_leverage_data[1]: x index (time column; price_candlesticks has 2) out of range: 2"),
    ("y-out-of-range", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"][3].__setitem__(1, 5)),
     "liquidation_leverage_data[3]: y index (price row; y_axis has 5) out of range: 5"),
    ("negative-index", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"][0].__setitem__(1, -1)),
     "liquidation_leverage_data[0]: y index"),
    ("duplicated-cell", edit(coinglass(), lambda d: d["data"]["liquidation_leverage_data"].append([1, 3, 1.0])),
     "liquidation_leverage_data[4]: duplicated cell (x 1, y 3), also at data.liquidation_leverage_data[3]"),
    ("coinglass-code", {"code": "30001", "msg": "API key missing", "data": None}, "coinglass: code: provider error '30001': API key missing"),
    # perp-api envelope
    ("perp-total-mismatch", edit(perp_api(), lambda d: d.update(total_clusters=3)), "total_clusters: says 3 but clusters holds 1"),
    ("perp-success-false", {"success": False, "error": "Unsupported symbol"}, "success: server says false: Unsupported symbol"),
    ("perp-detail", {"detail": "No suitable cluster found"}, "detail: server error: No suitable cluster found"),
    ("perp-usd-disagree", edit(perp_api(), lambda d: d["clusters"][0].update(open_interest=9.9e6)), "open_interest: disagrees with total_notional"),
]


@pytest.mark.parametrize(("payload", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_payload_is_one_line_exit_2(run_cli, tmp_path: Path, payload: Any, expected: str) -> None:
    path = tmp_path / "payload.json"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    code, out, err = run_cli("heatmap", "show", str(path), "--price", "104000", "--symbol", "BTC")
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("liqbot: error: ")
    assert expected in lines[0]


@pytest.mark.parametrize(("payload", "argv", "expected"), [
    (kiyotaka(), [], "kiyotaka: --price is required for kiyotaka payloads"),
    (coinglass(), ["--price", "104000"], "--symbol is required for coinglass payloads"),
    (kiyotaka(), ["--price", "-5"], "--price: must be finite and > 0, got -5.0"),
    (kiyotaka(), ["--price", "nan"], "--price: must be finite and > 0, got nan"),
    (bastion(), ["--units", "usd"], "--units: applies to kiyotaka payloads only"),
    (bastion(), ["--symbol", "BTC/??"], "--symbol: not a symbol"),
    (kiyotaka(), ["--format", "bastion"], "bastion: symbol: missing field"),
    ({"series": [{"id": {"coin": "BTC", "transform": {"normalize": {"quote": "USD"}}}, "points": kiyotaka()["series"][0]["points"]}]},
     ["--price", "104000", "--units", "coin"], "series[0].id.transform: --units coin contradicts the payload, which says usd"),
])
def test_bad_arguments_are_one_line_exit_2(run_cli, tmp_path: Path, payload: dict[str, Any], argv: list[str],
                                           expected: str) -> None:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out, err = run_cli("heatmap", "show", str(path), *argv)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert expected in err


def test_missing_file_is_one_line_exit_2(run_cli, tmp_path: Path) -> None:
    code, out, err = run_cli("heatmap", "show", str(tmp_path / "nope.json"))
    assert (code, out) == (2, "")
    assert err.strip().endswith("no such file")
    assert len(err.splitlines()) == 1
