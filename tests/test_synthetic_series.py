"""HeatmapSeries: the columnar representation, its snapshots and its break events."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.domain import HeatmapSource, Side
from bot.errors import ConfigError, DataError
from bot.synthetic.model import SyntheticParams, build_heatmaps
from config.settings import load_settings
from tests.synthetic_fakes import market


@pytest.fixture(scope="module")
def series():
    candles, oi, funding = market(n=3000, seed=21)
    return build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every="5min")


def test_shape_and_memory(series) -> None:
    lo, hi = SyntheticParams().window()
    assert len(series) == 3000
    assert series.long_usd.shape == series.short_usd.shape == (3000, lo + hi + 1)
    assert series.long_usd.dtype == np.float32
    assert series.nbytes < 3000 * series.width * 8 + 3000 * 64 + series.breaks.ts.size * 32


def test_snapshot_is_a_valid_domain_snapshot(series) -> None:
    snap = series.snapshot(2500)
    assert snap.source is HeatmapSource.SYNTHETIC and snap.symbol == "BTC/USDT:USDT"
    assert snap.ts.timestamp() * 1e9 == series.ts[2500]
    assert snap.price == series.price[2500]
    assert np.all(np.diff(snap.prices) > 0)
    assert snap.long_usd[0] > 0 or snap.short_usd[0] > 0   # zero bins trimmed at both ends
    assert snap.long_usd[-1] > 0 or snap.short_usd[-1] > 0
    r = SyntheticParams().range_pct / 100   # 22 % since issue 11 (the window holds the 5x tier)
    assert snap.prices[0] >= snap.price * (1 - r) * 0.999 and snap.prices[-1] <= snap.price * (1 + r) * 1.001
    assert snap.assumptions["model"] == "cohort-ledger"
    assert snap.assumptions["liquidation_distance_pct"]["100x"][0] == pytest.approx(0.6024, abs=1e-4)
    with pytest.raises(TypeError):
        snap.assumptions["model"] = "x"  # read-only


def test_bins_are_log_spaced_at_the_configured_width(series) -> None:
    prices = series.prices(10)
    assert np.allclose(np.diff(np.log(prices)), math.log1p(0.001))


def test_longs_below_and_shorts_above_mostly(series) -> None:
    snap = series.snapshot(2999)
    below = snap.prices < snap.price
    assert snap.long_usd[below].sum() > 0.95 * snap.total_long_usd
    assert snap.short_usd[~below].sum() > 0.95 * snap.total_short_usd


def test_window_sums_match_the_snapshot(series) -> None:
    rows = np.array([100, 1500, 2999])
    low = series.price[rows] * 0.98
    high = series.price[rows] * 1.02
    long_sum, short_sum = series.window_sums(rows, low, high)
    for k, i in enumerate(rows):
        snap = series.snapshot(int(i))
        assert long_sum[k] == pytest.approx(snap.long_usd[snap.prices >= low[k]].sum(), rel=1e-9)
        assert short_sum[k] == pytest.approx(snap.short_usd[snap.prices <= high[k]].sum(), rel=1e-9)


def test_index_at_and_every(series) -> None:
    assert series.index_at(int(series.ts[5])) == 5
    assert series.index_at(int(series.ts[5]) + 1) == 5
    assert series.index_at(int(series.ts[0]) - 1) == -1
    candles, oi, funding = market(n=3000, seed=21)
    hourly = build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every="1h")
    assert len(hourly) == 250
    i = series.index_at(int(hourly.ts[7]))
    assert np.array_equal(hourly.long_usd[7], series.long_usd[i])


def test_break_events(series) -> None:
    br = series.breaks
    assert len(br) > 0 and np.all(np.diff(br.ts) >= 0) and np.all(br.usd > 0)
    frame = br.to_frame()
    assert set(frame["side"]) <= {Side.LONG.value, Side.SHORT.value}
    long_px = br.price[br.side == 0]
    assert np.all(np.isfinite(long_px))


def test_params_from_default_settings_and_validation() -> None:
    params = SyntheticParams.from_settings(load_settings(None, env_file=None).synthetic)
    assert params == SyntheticParams()
    assert params.tier_weights == (0.15, 0.30, 0.25, 0.20, 0.10) and params.half_life_h == 72.0
    with pytest.raises(ConfigError):
        SyntheticParams(tier_leverages=(5.0,), tier_weights=(0.5, 0.5))
    with pytest.raises(ConfigError):
        SyntheticParams(range_pct=100.0)


def test_bad_candles_are_data_errors() -> None:
    candles, oi, _ = market(n=50, seed=1)
    broken = candles.copy()
    broken.iloc[7, broken.columns.get_loc("high")] = float("nan")
    with pytest.raises(DataError) as err:
        build_heatmaps(broken, oi, SyntheticParams())
    assert err.value.field == "candles.high" and err.value.position == 7
    with pytest.raises(DataError):
        build_heatmaps(candles.iloc[::-1], oi, SyntheticParams())
    with pytest.raises(DataError):
        build_heatmaps(candles.drop(columns="volume"), oi, SyntheticParams())
