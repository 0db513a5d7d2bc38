"""The heatmap figure: USD gridded over time x price, candles on top, broken clusters faded."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from backtest.plots import (BROKEN_OPACITY, cluster_segments, heatmap_figure, heatmap_grid, heatmap_view,
                            resample_candles, sample_rows, trades_frame, write_html)
from backtest.plots_png import heatmap_image
from backtest.plots import colour_range, usd
from bot.domain import HeatmapSnapshot, HeatmapSource, Side
from bot.errors import DataError
from tests.snapshot_store_fakes import STEP, SYMBOL, T0, cluster, snapshots


def candles_for(snaps: list[HeatmapSnapshot]) -> pd.DataFrame:
    """5m candles whose close is each snapshot's price (bar open = snapshot ts - 5m)."""
    close = np.array([s.price for s in snaps])
    open_ = np.concatenate([[close[0]], close[:-1]])
    index = pd.DatetimeIndex([s.ts - STEP for s in snaps])
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.0005,
                         "low": np.minimum(open_, close) * 0.9995, "close": close}, index=index)


def level(ts, price: float, long_usd: float, short_usd: float, prices=(90.0, 100.0, 110.0)) -> HeatmapSnapshot:
    lo = np.array([long_usd if p < price else 0.0 for p in prices])
    sh = np.array([short_usd if p > price else 0.0 for p in prices])
    return HeatmapSnapshot(SYMBOL, ts, price, np.array(prices), lo, sh, HeatmapSource.SYNTHETIC)


def test_grid_sums_usd_per_price_bin_and_column():
    snaps = [level(T0, 100.0, 5.0, 7.0), level(T0 + STEP, 100.0, 1.0, 2.0)]
    g = heatmap_grid(snaps, price_range=(80.0, 125.0), bins=10)
    assert g.long_usd.shape == (10, 2)
    assert g.long_usd.sum(axis=0).tolist() == [5.0, 1.0]
    assert g.short_usd.sum(axis=0).tolist() == [7.0, 2.0]
    row_90 = int(np.searchsorted(g.edges, 90.0, side="right") - 1)
    assert g.long_usd[row_90, 0] == 5.0 and g.total[row_90, 1] == 1.0
    assert np.allclose(np.diff(np.log(g.edges)), np.log(125.0 / 80.0) / 10)  # log-spaced


def test_levels_outside_the_range_are_left_out():
    g = heatmap_grid([level(T0, 100.0, 5.0, 7.0)], price_range=(95.0, 105.0), bins=10)
    assert g.total.sum() == 0.0


def test_bins_never_finer_than_the_level_spacing():
    snaps = snapshots(0, 4, levels=11)  # 1 % apart
    g = heatmap_grid(snaps, bins=1000, pad_pct=5.0)
    assert g.edges.size - 1 < 30


def test_columns_are_sampled_not_summed():
    snaps = snapshots(0, 50)
    g = heatmap_grid(snaps, max_columns=10, pad_pct=12.0)  # every level inside the range
    assert g.times.size == 10
    assert sample_rows(50, 10)[[0, -1]].tolist() == [0, 49]
    chosen = [snaps[i] for i in sample_rows(50, 10)]
    assert np.allclose(g.total.sum(axis=0), [s.total_long_usd + s.total_short_usd for s in chosen])


def test_cluster_segments_take_the_latest_state_and_the_peak_strength():
    t = T0
    history = [cluster("a", 101.0, Side.SHORT, strength=0.9, first=t, last=t + STEP),
               cluster("a", 101.0, Side.SHORT, active=False, strength=0.2, first=t, last=t + 2 * STEP,
                       broken=t + 3 * STEP),
               cluster("b", 95.0, Side.LONG, strength=0.1, first=t)]
    seg = cluster_segments(history, min_strength=0.5)
    assert len(seg) == 1
    assert not seg.active[0] and seg.strength[0] == 0.9
    assert seg.x1[0] == np.datetime64((t + 3 * STEP).replace(tzinfo=None), "us")  # ends where broken


def test_candles_resample_to_a_readable_count():
    snaps = snapshots(0, 600)
    bars, step = resample_candles(candles_for(snaps), max_bars=100)
    assert len(bars) <= 100 and step == pd.Timedelta("1h")  # 30 min would need 101 buckets
    assert bars["high"].max() == pytest.approx(candles_for(snaps)["high"].max())


def test_trades_accept_vectorbt_column_names():
    frame = pd.DataFrame({"Entry Timestamp": [T0], "Avg Entry Price": [100.0], "Exit Timestamp": [T0 + STEP],
                          "Avg Exit Price": [101.0], "Direction": ["Long"]})
    t = trades_frame(frame)
    assert t.loc[0, "side"] == "LONG" and t.loc[0, "exit_price"] == 101.0
    with pytest.raises(DataError, match="missing column"):
        trades_frame([{"entry_price": 1.0}])


@pytest.fixture()
def scene():
    snaps = snapshots(0, 80)
    mid = snaps[40].ts
    clusters = [cluster("up", snaps[0].price * 1.02, Side.SHORT, first=T0, last=snaps[-1].ts),
                cluster("down", snaps[0].price * 0.99, Side.LONG, active=False, first=T0, last=mid,
                        broken=mid + STEP)]
    trades = [{"entry_time": snaps[10].ts, "entry_price": snaps[10].price, "exit_time": snaps[30].ts,
               "exit_price": snaps[30].price, "side": "LONG"}]
    return snaps, candles_for(snaps), clusters, trades


def test_figure_has_heatmap_candles_clusters_and_trades(scene):
    snaps, candles, clusters, trades = scene
    fig = heatmap_figure(snaps, candles, clusters, trades)
    kinds = [type(t).__name__ for t in fig.data]
    assert kinds[0] == "Heatmap" and "Candlestick" in kinds
    heat = fig.data[0]
    assert heat.zmax > 0 and np.asarray(heat.z).shape[1] == len(snaps)
    lines = {t.name: t for t in fig.data if isinstance(t, go.Scatter)}
    assert lines["short clusters (active)"].opacity == 1.0
    assert lines["long clusters (broken)"].opacity == BROKEN_OPACITY < 1.0
    assert lines["long clusters (broken)"].line.dash == "dot"
    assert "LONG entry" in lines and "LONG exit" in lines


def test_sides_mode_has_two_colour_scales(scene):
    snaps, candles, _, _ = scene
    fig = heatmap_figure(snaps, candles, sides=True)
    heats = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert [h.name for h in heats] == ["long liquidations", "short liquidations"]
    assert heats[0].colorscale != heats[1].colorscale


def test_without_candles_the_price_is_a_line(scene):
    snaps, *_ = scene
    fig = heatmap_figure(snaps, None)
    assert any(isinstance(t, go.Scatter) and t.name == "price" for t in fig.data)


def test_view_keeps_only_candles_under_the_drawn_span(scene):
    snaps, candles, _, _ = scene
    longer = pd.concat([candles, candles.set_axis(candles.index + timedelta(days=30))])
    view = heatmap_view(snaps, longer)
    assert view.candles.index.max() <= pd.Timestamp(snaps[-1].ts.replace(tzinfo=None))


def test_html_is_self_contained(tmp_path, scene):
    snaps, candles, clusters, trades = scene
    out = write_html(heatmap_figure(snaps, candles, clusters, trades), tmp_path / "h.html")
    text = out.read_text(encoding="utf-8")
    assert "<script src=" not in text  # plotly.js is inlined: opens offline
    assert "Plotly.newPlot" in text and "liquidation heatmap" in text
    assert not list(tmp_path.glob(".*tmp"))


def test_png_is_written_at_the_requested_size(tmp_path, scene):
    from PIL import Image
    snaps, candles, clusters, trades = scene
    out = heatmap_image(tmp_path / "h.png", snaps, candles, clusters, trades, width_px=800, height_px=450)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        assert img.size == (800, 450)
        # not a blank canvas: the heatmap and candles draw many distinct colours
        assert len(img.convert("RGB").getcolors(maxcolors=1_000_000)) > 50


def test_image_format_is_checked(tmp_path, scene):
    snaps, candles, _, _ = scene
    with pytest.raises(DataError, match="image format"):
        heatmap_image(tmp_path / "h.gif", snaps, candles)


def test_usd_labels():
    assert [usd(950), usd(12_500), usd(3.1e6), usd(2e9)] == ["$950", "$12.5K", "$3.1M", "$2.0B"]


def test_log_scale_maps_usd_to_decades(scene):
    snaps, candles, _, _ = scene
    view = heatmap_view(snaps, candles, log_scale=True)
    assert 0 < view.zmin < view.zmax and view.log
    (lo, hi), bar = colour_range(view)
    assert (lo, hi) == pytest.approx((np.log10(view.zmin), np.log10(view.zmax)))
    assert all(lo <= v <= hi for v in bar["tickvals"]) and bar["ticktext"][0].startswith("$")
    fig = heatmap_figure(snaps, candles, log_scale=True)
    z = np.asarray(fig.data[0].z)
    assert z.min() == pytest.approx(lo, abs=1e-5)  # empty cells sit at the bottom of the scale
