"""``liqbot heatmap show``: tables, the ``--json`` contract, the seed magnets, the sub-command registry."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli.commands import heatmap as heatmap_cmd
from bot.examples import EXAMPLES_DIR

SNAPSHOT_KEYS = {"symbol", "ts", "price", "source", "levels", "clusters", "magnets"}
EXAMPLE_ARGS = {  # the payloads that carry no price or no symbol need them on the command line
    "bastion_btc.json": [],
    "kiyotaka_points_btc.json": ["--price", "104350"],
    "kiyotaka_flat_usd_btc.json": ["--price", "104350"],
    "coinglass_grid_btc.json": ["--symbol", "BTC"],
    "perp_api_heatmap_btc.json": [],
    "perp_api_best_btc.json": ["--price", "104350.2", "--symbol", "BTCUSDT"],
}
EXPECTED_SNAPSHOTS = {"bastion_btc.json": 1, "kiyotaka_points_btc.json": 2, "kiyotaka_flat_usd_btc.json": 3,
                      "coinglass_grid_btc.json": 6, "perp_api_heatmap_btc.json": 1, "perp_api_best_btc.json": 1}

SEED_LEVELS = [  # the Bastion documentation's sample response, level for level
    (99000, 92, "short_liquidations", 135_000_000), (98500, 88, "short_liquidations", 118_000_000),
    (98000, 79, "short_liquidations", 95_000_000), (97500, 55, "short_liquidations", 52_000_000),
    (97000, 38, "short_liquidations", 28_000_000), (95500, 22, "long_liquidations", 15_000_000),
    (95000, 30, "long_liquidations", 22_000_000), (94000, 35, "long_liquidations", 30_000_000),
    (93000, 42, "long_liquidations", 40_000_000), (92000, 78, "long_liquidations", 88_000_000),
    (91500, 72, "long_liquidations", 80_000_000)]


def seed_bastion() -> dict[str, Any]:
    return {"symbol": "BTC", "current_price": 96200,
            "heatmap": {"levels": [{"price": p, "density": d, "type": t, "estimated_usd": u} for p, d, t, u in SEED_LEVELS],
                        "max_density": 92,
                        "strongest_magnet": {"price_zone": [98000, 99000], "direction": "above",
                                             "type": "short_squeeze_target"}},
            "range": {"price_min": 88000, "price_max": 104000}, "timestamp": "2026-02-20T14:30:00Z"}


def show_json(run_cli, path: Path, *argv: str) -> dict[str, Any]:
    code, out, err = run_cli("heatmap", "show", str(path), "--json", *argv)
    assert code == 0, err
    return json.loads(out)  # exactly one JSON document, nothing else on stdout


def test_seed_magnets_are_where_the_provider_says(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed_bastion()))
    snap = show_json(run_cli, path)["snapshots"][0]
    above, below = snap["magnets"]["above"], snap["magnets"]["below"]
    assert above["side"] == "short" and 98_000 <= above["price_level"] <= 99_000
    assert below["side"] == "long" and 91_500 <= below["price_level"] <= 92_500
    assert snap["magnets"]["bias"] == "BULLISH_BIAS"  # the magnet above is the stronger one
    assert snap["magnets"]["asymmetry"] > 1.2


@pytest.mark.parametrize("name", sorted(EXAMPLE_ARGS))
def test_json_contract_on_every_example(run_cli, name: str) -> None:
    doc = show_json(run_cli, EXAMPLES_DIR / name, *EXAMPLE_ARGS[name])
    assert set(doc) == {"snapshots"}
    snaps = doc["snapshots"]
    assert len(snaps) == EXPECTED_SNAPSHOTS[name]
    for snap in snaps:
        assert set(snap) == SNAPSHOT_KEYS
        assert snap["symbol"] == "BTC/USDT:USDT"
        assert snap["ts"].endswith("Z")
        prices = [lv["price"] for lv in snap["levels"]]
        assert prices == sorted(set(prices)) and prices
        assert all(set(lv) == {"price", "long_usd", "short_usd"} for lv in snap["levels"])
        assert snap["clusters"], "every example has clusters"
        assert {"cluster_id", "price_level", "side", "strength", "distance_from_price", "leverage_tier",
                "open_interest", "active"} <= set(snap["clusters"][0])
        assert set(snap["magnets"]) == {"above", "below", "asymmetry", "bias", "cascade_up", "cascade_down"}
        for side, key in ((1, "cascade_up"), (-1, "cascade_down")):
            run = snap["magnets"][key]
            assert run is None or (run["clusters"] >= 1 and side * (run["end_price"] - run["first_price"]) >= 0
                                   and side * (run["first_price"] - snap["price"]) > 0)
        above, below = snap["magnets"]["above"], snap["magnets"]["below"]
        assert above or below
        assert above is None or (above["side"], above["price_level"] > snap["price"]) == ("short", True)
        assert below is None or (below["side"], below["price_level"] < snap["price"]) == ("long", True)


def test_bundled_bastion_example_has_magnets_on_both_sides(run_cli) -> None:
    snap = show_json(run_cli, EXAMPLES_DIR / "bastion_btc.json")["snapshots"][0]
    assert len(snap["levels"]) == 40
    magnets = snap["magnets"]
    assert 107_000 <= magnets["above"]["price_level"] <= 107_500  # where the payload says it is
    assert 101_000 <= magnets["below"]["price_level"] <= 101_500
    assert magnets["above"]["strength"] >= 0.6 and magnets["below"]["strength"] >= 0.6


def test_perp_api_clusters_are_shown_as_provided(run_cli) -> None:
    payload = json.loads((EXAMPLES_DIR / "perp_api_heatmap_btc.json").read_text())
    snap = show_json(run_cli, EXAMPLES_DIR / "perp_api_heatmap_btc.json")["snapshots"][0]
    assert sorted(c["cluster_id"] for c in snap["clusters"]) == sorted(str(c["cluster_id"]) for c in payload["clusters"])
    by_id = {c["cluster_id"]: c for c in snap["clusters"]}
    for given in payload["clusters"]:
        shown = by_id[str(given["cluster_id"])]
        assert (shown["price_level"], shown["side"], shown["strength"], shown["open_interest"]) == (
            given["price_level"], given["side"], given["strength"], given["total_notional"])


def test_one_tracker_per_symbol_keeps_ids_across_snapshots(run_cli) -> None:
    snaps = show_json(run_cli, EXAMPLES_DIR / "kiyotaka_flat_usd_btc.json", "--price", "104350")["snapshots"]
    first, last = ({c["cluster_id"] for c in s["clusters"]} for s in (snaps[0], snaps[-1]))
    assert first & last, "the magnets persist over the three hours, so must their ids"
    assert [s["ts"] for s in snaps] == ["2025-06-11T08:00:00Z", "2025-06-11T09:00:00Z", "2025-06-11T10:00:00Z"]


def test_stats_document_prints_the_open_interest_summary(run_cli) -> None:
    doc = show_json(run_cli, EXAMPLES_DIR / "perp_api_stats.json")
    assert doc["snapshots"] == []
    btc = doc["open_interest"]["BTC/USDT:USDT"]
    assert btc["total_oi_usd"] == pytest.approx(11873402118.52)
    assert btc["long_oi_usd"] / btc["short_oi_usd"] == pytest.approx(1.084)


def test_table_output_names_symbol_clusters_and_magnets(run_cli) -> None:
    code, out, err = run_cli("heatmap", "show", str(EXAMPLES_DIR / "bastion_btc.json"))
    assert code == 0, err
    assert "BTC/USDT:USDT" in out and "2025-06-11T08:00:00Z" in out
    assert "clusters" in out and "magnet above: short 107," in out and "magnet below: long 101," in out
    assert "BULLISH_BIAS" in out


def test_stats_table(run_cli) -> None:
    code, out, _ = run_cli("heatmap", "show", str(EXAMPLES_DIR / "perp_api_stats.json"))
    assert code == 0
    assert "open interest summary" in out and "ETH/USDT:USDT" in out and "1.084" in out


def test_reads_stdin(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = (EXAMPLES_DIR / "bastion_btc.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(payload)))
    code, out, _ = run_cli("heatmap", "show", "-", "--json")
    assert code == 0
    assert json.loads(out)["snapshots"][0]["source"] == "bastion"


def test_price_and_symbol_override(run_cli) -> None:
    snap = show_json(run_cli, EXAMPLES_DIR / "bastion_btc.json", "--price", "104000", "--symbol", "ETHUSDT")["snapshots"][0]
    assert (snap["price"], snap["symbol"]) == (104000.0, "ETH/USDT:USDT")


def test_heatmap_without_subcommand_is_usage_error(run_cli) -> None:
    code, out, err = run_cli("heatmap")
    assert (code, out) == (2, "")
    assert "show" in err


def test_registry_adds_sibling_subcommands(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def add(subparsers: argparse._SubParsersAction) -> None:
        p = subparsers.add_parser("fake", help="a sibling sub-command")
        p.add_argument("--n", type=int, default=1)
        p.set_defaults(func=lambda args, settings: calls.append(f"fake {args.n}") or 0)

    monkeypatch.setattr(heatmap_cmd, "HEATMAP_SUBCOMMANDS", [*heatmap_cmd.HEATMAP_SUBCOMMANDS, add])
    code, _, err = run_cli("heatmap", "fake", "--n", "3")
    assert code == 0, err
    assert calls == ["fake 3"]
