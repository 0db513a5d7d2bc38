"""``liqbot heatmap plot``: from a store or from market files, to HTML or PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli.heatmap_plot import bar_ranges
from bot.heatmap.store import SnapshotStore
from tests.snapshot_store_fakes import SYMBOL, snapshots
from tests.synthetic_fakes import market
from tests.test_plot_heatmap import candles_for


@pytest.fixture()
def store_dir(tmp_path: Path) -> Path:
    SnapshotStore(tmp_path / "store").write(snapshots(0, 60))
    return tmp_path / "store"


@pytest.fixture()
def candles_csv(tmp_path: Path) -> Path:
    path = tmp_path / "candles.csv"
    frame = candles_for(snapshots(0, 60))
    frame["volume"] = 1.0
    frame.rename_axis("ts").to_csv(path)
    return path


@pytest.mark.parametrize("name", ["heat.html", "heat.png", "heat.svg"])
def test_plot_a_store(run_cli, store_dir, candles_csv, tmp_path, name):
    out = tmp_path / name
    code, stdout, _ = run_cli("heatmap", "plot", "--store", str(store_dir), "--candles", str(candles_csv),
                              "--out", str(out), "--json")
    summary = json.loads(stdout)
    assert code == 0 and out.stat().st_size == summary["bytes"] > 1000
    assert summary["symbol"] == SYMBOL and summary["snapshots"] == summary["columns"] == 60


def test_plot_a_time_window_without_candles(run_cli, store_dir, tmp_path):
    out = tmp_path / "w.png"
    code, stdout, _ = run_cli("heatmap", "plot", "--store", str(store_dir), "--from", "2025-03-01T23:00",
                              "--to", "2025-03-02T00:00", "--no-clusters", "--out", str(out), "--json")
    summary = json.loads(stdout)
    assert code == 0 and summary["snapshots"] == 13 and summary["clusters"] == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_builds_from_market_files(run_cli, tmp_path):
    candles, oi, _ = market(n=400, seed=2)
    candles.rename_axis("ts").to_csv(tmp_path / "c.csv")
    oi.rename_axis("ts").to_csv(tmp_path / "oi.csv")
    out = tmp_path / "m.html"
    code, stdout, _ = run_cli("heatmap", "plot", "--candles", str(tmp_path / "c.csv"), "--oi", str(tmp_path / "oi.csv"),
                              "--symbol", "BTC", "--every", "15m", "--out", str(out), "--json")
    assert code == 0 and json.loads(stdout)["snapshots"] == 400 // 3
    assert "liquidation heatmap (synthetic)" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, field", [
    (["--out", "x.gif"], "--out"),
    (["--out", "x.png"], "--store"),                                   # no input at all
    (["--store", "{tmp}", "--out", "x.png"], "--store"),               # not a store
    (["--store", "{store}", "--symbol", "ETH", "--out", "x.png"], "--symbol"),
    (["--store", "{store}", "--from", "2030-01-01", "--out", "x.png"], "--from"),
])
def test_bad_input_is_exit_2_with_one_line(run_cli, store_dir, tmp_path, args, field):
    args = [a.format(tmp=tmp_path / "empty", store=store_dir) for a in args]
    (tmp_path / "empty").mkdir()
    code, _, stderr = run_cli("heatmap", "plot", *args)
    assert code == 2 and field in stderr and len(stderr.strip().splitlines()) == 1


def test_a_store_of_two_symbols_needs_symbol(run_cli, store_dir, tmp_path):
    SnapshotStore(store_dir).write(snapshots(0, 5, symbol="ETH/USDT:USDT"))
    code, _, stderr = run_cli("heatmap", "plot", "--store", str(store_dir), "--out", str(tmp_path / "a.png"))
    assert code == 2 and "--symbol" in stderr
    code, _, _ = run_cli("heatmap", "plot", "--store", str(store_dir), "--symbol", "ETH/USDT:USDT",
                         "--out", str(tmp_path / "a.png"))
    assert code == 0


def test_bar_ranges_cover_the_bars_closed_since_the_previous_snapshot():
    snaps = snapshots(0, 12)
    candles = candles_for(snaps)
    ts = np.array([np.datetime64(s.ts.replace(tzinfo=None), "us") for s in snaps])[::3]  # every 15 minutes
    highs, lows = bar_ranges(ts, candles)
    # the snapshot at ts[1] (i = 3) closes bars 1..3 (opened at snapshot times 0..2)
    assert highs[1] == pytest.approx(candles["high"].iloc[1:4].max())
    assert lows[1] == pytest.approx(candles["low"].iloc[1:4].min())
    assert highs[0] == pytest.approx(candles["high"].iloc[0])
    none = bar_ranges(ts - np.timedelta64(1, "D"), candles)
    assert np.isnan(none[0]).all()
