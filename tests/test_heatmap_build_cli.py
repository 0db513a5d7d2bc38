"""``liqbot heatmap build``: market data files in, a snapshot store out; re-runs replace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.heatmap.store import SnapshotStore
from tests.synthetic_fakes import market

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """A fake market written as the CSV files a user would pass (2 days of 5m bars)."""
    candles, oi, funding = market(n=576, seed=5)
    paths = {"candles": tmp_path / "candles.csv", "oi": tmp_path / "oi.csv", "funding": tmp_path / "funding.csv"}
    candles.rename_axis("ts").to_csv(paths["candles"])
    oi.rename_axis("ts").to_csv(paths["oi"])
    funding.rename_axis("ts").to_csv(paths["funding"])
    return paths


def build(run_cli, files: dict[str, Path], out: Path, *extra: str) -> tuple[int, dict, str]:
    code, stdout, stderr = run_cli("heatmap", "build", "--candles", str(files["candles"]), "--oi", str(files["oi"]),
                                   "--funding", str(files["funding"]), "--symbol", "BTC", "--out", str(out),
                                   "--json", *extra)
    return code, (json.loads(stdout) if code == 0 else {}), stderr


def test_build_writes_a_store_and_reports_it(run_cli, files, tmp_path):
    code, summary, _ = build(run_cli, files, tmp_path / "store")
    assert code == 0
    assert summary["symbol"] == SYMBOL and summary["snapshots"] == 576
    assert summary["store_bytes"] > 0 and summary["seconds"]["total"] >= 0
    store = SnapshotStore(tmp_path / "store")
    assert store.symbols() == [SYMBOL]
    s = store.read_columns(SYMBOL)
    assert len(s) == 576 and set(s.source) == {"synthetic"}
    snap = s.snapshot(100)
    assert snap.assumptions["model"] == "cohort-ledger" and len(snap) > 0


def test_rebuilding_replaces_without_duplicates(run_cli, files, tmp_path):
    out = tmp_path / "store"
    build(run_cli, files, out)
    first = SnapshotStore(out).read_columns(SYMBOL)
    code, summary, _ = build(run_cli, files, out)
    again = SnapshotStore(out).read_columns(SYMBOL)
    assert code == 0 and len(again) == len(first) == summary["snapshots"]
    assert (again.ts == first.ts).all() and (again.long_usd == first.long_usd).all()


def test_every_and_the_time_window(run_cli, files, tmp_path):
    out = tmp_path / "store"
    code, summary, _ = build(run_cli, files, out, "--every", "1h", "--from", "2025-01-01T06:00",
                             "--to", "2025-01-01T12:00")
    assert code == 0 and summary["snapshots"] == 7  # 06:00 .. 12:00 inclusive
    s = SnapshotStore(out).read_columns(SYMBOL)
    assert str(s.ts[0]).startswith("2025-01-01T06:00") and str(s.ts[-1]).startswith("2025-01-01T12:00")


def test_a_5m_rebuild_over_an_hourly_span_replaces_it(run_cli, files, tmp_path):
    out = tmp_path / "store"
    build(run_cli, files, out, "--every", "1h")
    build(run_cli, files, out, "--from", "2025-01-01T06:00", "--to", "2025-01-01T07:00")
    ts = SnapshotStore(out).read_columns(SYMBOL).ts
    inside = ts[(ts >= np.datetime64("2025-01-01T06:00")) & (ts <= np.datetime64("2025-01-01T07:00"))]
    assert len(inside) == 13 and len(ts) == 48 - 2 + 13  # the two hourly ones inside were replaced


@pytest.mark.parametrize("extra, field", [
    (("--every", "7m"), "--every"),
    (("--every", "soon"), "--every"),
    (("--from", "2025-01-02", "--to", "2025-01-01"), "--from"),
    (("--from", "2030-01-01"), "--from"),
])
def test_bad_arguments_are_one_line_errors(run_cli, files, tmp_path, extra, field):
    code, _, stderr = build(run_cli, files, tmp_path / "store", *extra)
    assert code == 2 and field in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()


def test_a_missing_input_file_is_exit_2(run_cli, files, tmp_path):
    files = {**files, "oi": tmp_path / "nope.csv"}
    code, _, stderr = build(run_cli, files, tmp_path / "store")
    assert code == 2 and "nope.csv" in stderr


def test_symbol_from_a_freqtrade_file_name(tmp_path):
    from argparse import Namespace

    from bot.cli.heatmap_build import resolve_symbol
    settings = Namespace(symbols=["BTC/USDT:USDT", "ETH/USDT:USDT"])
    assert resolve_symbol(None, Path("ETH_USDT_USDT-5m-futures.feather"), settings) == "ETH/USDT:USDT"
    assert resolve_symbol("ethusdt", None, settings) == "ETH/USDT:USDT"
    from bot.errors import DataError
    with pytest.raises(DataError, match="--symbol"):
        resolve_symbol(None, Path("candles.csv"), settings)


@pytest.mark.shared_data
def test_build_a_week_of_real_btc(run_cli, shared_data, tmp_path):
    usdm = shared_data / "binance-usdm"
    cg = shared_data / "coinglass-btc"
    code, out, _ = run_cli("heatmap", "build", "--candles", str(usdm / "BTC_USDT_USDT-5m-futures.feather"),
                           "--oi", str(cg / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"),
                           "--funding", str(usdm / "BTC_USDT_USDT-1h-funding_rate.feather"),
                           "--from", "2025-03-01", "--to", "2025-03-07T23:55", "--out", str(tmp_path / "s"), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["symbol"] == SYMBOL  # from the freqtrade file name
    assert summary["snapshots"] == 7 * 288
    s = SnapshotStore(tmp_path / "s").read_columns(SYMBOL)
    assert len(s) == 7 * 288 and s.level_prices.size > 100 * len(s)
