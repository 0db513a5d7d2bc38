"""``liqbot bench``: the registry, the JSON document, the clusters benchmark's figures (not timed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtest import bench


def lazily_loaded() -> dict:
    return {"lazy": True}


@pytest.fixture()
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    table = {"fake_a": lambda: {"value": 1}, "fake_b": bench.lazy("tests.test_clusters_bench", "lazily_loaded")}
    monkeypatch.setattr(bench, "BENCHMARKS", dict(table))
    return table


def test_bench_json_prints_one_document(run_cli, fake_registry) -> None:
    code, out, err = run_cli("bench", "--json", "--only", "fake_a", "--only", "fake_b")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["benchmarks"] == {"fake_a": {"value": 1}, "fake_b": {"lazy": True}}
    assert {"platform", "python", "cpu", "cpu_count"} <= set(doc["machine"])


def test_bench_table_and_unknown_name(run_cli, fake_registry) -> None:
    code, out, _ = run_cli("bench", "--only", "fake_a")
    assert code == 0 and "fake_a" in out
    code, out, err = run_cli("bench", "--only", "nope")
    assert code == 2 and out == "" and "unknown benchmark 'nope'" in err and len(err.strip().splitlines()) == 1


def test_register_adds_a_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "BENCHMARKS", {})

    @bench.register("mine")
    def mine() -> dict:
        return {"x": 2}

    assert bench.run_benchmarks(["mine"])["benchmarks"] == {"mine": {"x": 2}}


def test_clusters_1500_reports_its_figures() -> None:
    figures = bench.bench_clusters_1500(repeats=5)
    assert figures["n_levels"] == 1500 and figures["n_clusters"] > 2 and figures["repeats"] == 5
    for key in ("group_levels_median_us", "group_levels_p99_us", "tracker_update_median_us", "tracker_update_p99_us"):
        assert figures[key] > 0
    json.dumps(figures)


def test_synthetic_levels_put_longs_below_and_shorts_above() -> None:
    prices, long_usd, short_usd = bench.synthetic_levels(np.random.default_rng(1), 1500, 96_000.0)
    assert prices.size == 1500 and np.all(np.diff(prices) > 0)
    assert np.all(long_usd[prices >= 96_000] == 0) and np.all(short_usd[prices < 96_000] == 0)
    assert long_usd.sum() > 0 and short_usd.sum() > 0
