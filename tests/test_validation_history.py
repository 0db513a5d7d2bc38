"""The research replay equals the live tracker and magnet read, row for row."""

from __future__ import annotations

import numpy as np
import pytest

from bot.clusters.magnets import magnet_read
from bot.clusters.tracker import ClusterTracker
from bot.heatmap.stored_series import StoredSeries, snapshots_to_arrow
from bot.synthetic.model import SyntheticParams, build_heatmaps
from bot.validation.history import MagnetVariant, SeriesSource, StoredSource, magnets, replay_history
from config.settings import ClusterSettings
from tests.synthetic_fakes import market


@pytest.fixture(scope="module")
def replayed():
    candles, oi, funding = market(n=1500, seed=7)
    series = build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every=None)
    high, low = candles["high"].to_numpy(), candles["low"].to_numpy()
    sample = np.zeros(len(series), np.bool_)
    sample[::12] = True
    hist = replay_history(SeriesSource(series), ClusterSettings(), high, low, sample)
    return series, high, low, sample, hist


def test_replay_matches_the_tracker_and_magnet_read(replayed) -> None:
    series, high, low, sample, hist = replayed
    tracker = ClusterTracker(ClusterSettings(), series.symbol)
    mags = magnets(hist)
    rec = hist.records
    broken_keys = set()
    checked = 0
    for j in range(len(series)):
        clusters = tracker.update(series.snapshot(j), bar_high=float(high[j]), bar_low=float(low[j]))
        if not sample[j]:
            continue
        mine = np.flatnonzero(rec["row"] == j)
        assert mine.size == len(clusters)
        assert np.allclose(np.sort(rec["level"][mine]), np.sort([c.price_level for c in clusters]))
        assert sorted(rec["usd"][mine].tolist()) == pytest.approx(sorted(c.open_interest for c in clusters))
        ids = hist.cluster_ids(rec["key"][mine])
        assert sorted(ids) == sorted(c.cluster_id for c in clusters)
        read = magnet_read(clusters, series.price[j])
        s = int(np.flatnonzero(mags.row == j)[0])
        if read.above is None:
            assert np.isnan(mags.above_level[s])
        else:
            assert mags.above_level[s] == read.above.price_level and mags.above_usd[s] == read.above.open_interest
            assert hist.cluster_ids([mags.above_key[s]]) == [read.above.cluster_id]
        if read.below is not None:
            assert mags.below_level[s] == read.below.price_level
        broken_keys |= {c.cluster_id for c in clusters if not c.active}
        checked += 1
    assert checked == int(sample.sum())
    # every cluster the tracker showed broken is in the break log, linked by id
    logged = set(hist.cluster_ids(hist.breaks["key"]))
    assert broken_keys and broken_keys <= logged


def test_magnet_variants(replayed) -> None:
    *_, hist = replayed
    strongest, nearest = magnets(hist), magnets(hist, MagnetVariant.NEAREST)
    thr = magnets(hist, MagnetVariant.THRESHOLDED, threshold=0.6)
    ok = np.isfinite(strongest.above_level)
    # the nearest magnet above is never farther than the strongest one
    assert np.all(nearest.above_level[ok] <= strongest.above_level[ok])
    ok = np.isfinite(thr.above_strength)
    assert ok.any() and np.all(thr.above_strength[ok] >= 0.6)


def test_stored_source_gives_the_same_history(replayed) -> None:
    series, high, low, sample, hist = replayed
    rows = np.arange(0, 600)
    table = snapshots_to_arrow([series.snapshot(int(j)) for j in rows])
    stored = StoredSeries.from_arrow(table, series.symbol)
    other = replay_history(StoredSource(stored), ClusterSettings(), high[rows], low[rows], sample[rows])
    mine = hist.records["row"] < 600
    for col in ("row", "key", "level", "usd", "strength", "active"):
        assert np.array_equal(other.records[col], hist.records[col][mine]), col


def test_truncated_clusters_reach_a_window_edge_that_holds_usd(replayed) -> None:
    series, high, low, sample, hist = replayed
    rec = hist.records
    cut = rec["truncated"]
    assert not cut[~rec["active"]].any()
    for k in np.flatnonzero(cut)[:50]:
        j = rec["row"][k]
        snap = series.snapshot(int(j))
        full = series.prices(int(j))
        at_low = snap.prices[0] == full[0] and rec["low"][k] <= snap.prices[0]
        at_high = snap.prices[-1] == full[-1] and rec["high"][k] >= snap.prices[-1]
        assert at_low or at_high
    # a cluster far from both edges is never cut
    inner = (rec["low"] > series.price[rec["row"]] * 0.9) & (rec["high"] < series.price[rec["row"]] * 1.1)
    assert not cut[inner].any()
