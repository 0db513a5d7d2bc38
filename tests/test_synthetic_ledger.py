"""The cohort ledger: consume before create, proportional reduce, decay, funding, source modes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.domain import Side
from bot.synthetic.brackets import BINANCE_BTCUSDT
from bot.synthetic.liqprice import liquidation_price
from bot.synthetic.model import SyntheticParams, build_heatmaps
from tests.synthetic_fakes import BAR, bars, market, oi_at, one_tier

FLAT = (100.0, 100.05, 99.95, 100.0)


def totals(series) -> tuple[np.ndarray, np.ndarray]:
    return series.long_usd.sum(axis=1, dtype=np.float64), series.short_usd.sum(axis=1, dtype=np.float64)


def test_consume_before_create_and_break_event() -> None:
    rows = [FLAT, (100.0, 100.2, 99.0, 100.0), FLAT, (100.0, 100.05, 99.0, 99.5)]
    entry = (100.2 + 99.0 + 100.0) / 3  # the typical price of bar 1
    lp = liquidation_price(entry, 100, 10_000, Side.LONG, BINANCE_BTCUSDT)[0]  # 0.6 % below
    candles = bars(rows)
    # OI rises during bar 1 whose low (99.0) is below the new longs' liquidation price.
    oi = oi_at(candles, {0: 1e9, 1: 1.1e9})
    s = build_heatmaps(candles, oi, one_tier(side_split_gain=0.0), every=None)
    long_tot, short_tot = totals(s)
    assert long_tot[0] == 0 and short_tot[0] == 0
    assert long_tot[1] == pytest.approx(0.5e8, rel=1e-6)   # the bar that opened them did not consume them
    assert short_tot[1] == pytest.approx(0.5e8, rel=1e-6)
    assert long_tot[2] == pytest.approx(0.5e8, rel=1e-6)   # a flat bar leaves them
    assert long_tot[3] == 0                                 # bar 3 trades through them
    assert short_tot[3] == pytest.approx(0.5e8, rel=1e-6)
    br = s.breaks
    assert len(br) == 1 and br.side[0] == 0
    assert br.usd[0] == pytest.approx(0.5e8, rel=1e-6)
    assert br.price[0] == pytest.approx(lp, rel=6e-4)  # within half a 0.1 % bin
    assert br.ts[0] == (candles.index[3] + BAR).value


def test_proportional_reduce() -> None:
    candles = bars([FLAT] * 4)
    oi = oi_at(candles, {0: 1e9, 1: 1.2e9, 2: 0.9e9})
    s = build_heatmaps(candles, oi, one_tier(side_split_gain=0.0), every=None)
    before_l, before_s = s.long_usd[1].astype(float), s.short_usd[1].astype(float)
    keep = 0.9 / 1.2
    np.testing.assert_allclose(s.long_usd[2], before_l * keep, rtol=1e-6)
    np.testing.assert_allclose(s.short_usd[2], before_s * keep, rtol=1e-6)


def test_split_follows_candle_direction() -> None:
    green = (100.0, 100.1, 99.98, 100.08)
    candles = bars([FLAT, green])
    s = build_heatmaps(candles, oi_at(candles, {0: 1e9, 1: 1.1e9}), one_tier(side_split_gain=1.0), every=None)
    long_tot, short_tot = totals(s)
    share = 0.5 + 0.5 * 0.08 / 0.12
    assert long_tot[1] == pytest.approx(1e8 * share, rel=1e-6)
    assert short_tot[1] == pytest.approx(1e8 * (1 - share), rel=1e-6)


def test_ls_ratio_split() -> None:
    candles = bars([FLAT, FLAT])
    oi = oi_at(candles, {0: 1e9, 1: 1.1e9})
    ratio = pd.DataFrame({"long_short_ratio": [1.0, 0.52 / 0.48]}, index=oi.index)  # 50 % -> 52 % long
    s = build_heatmaps(candles, oi, one_tier(), ls_ratio=ratio, every=None)
    long_tot, short_tot = totals(s)
    expected_long = 0.52 * 1.1e9 - 0.5 * 1e9  # the longs added: 72 % of the rise
    assert long_tot[1] == pytest.approx(expected_long, rel=1e-6)
    assert short_tot[1] == pytest.approx(1e8 - expected_long, rel=1e-6)


def test_decay_half_life() -> None:
    candles = bars([FLAT] * 15)
    s = build_heatmaps(candles, oi_at(candles, {0: 1e9, 1: 1.1e9}), one_tier(half_life_h=1.0), every=None)
    long_tot, _ = totals(s)
    assert long_tot[13] / long_tot[1] == pytest.approx(0.5, rel=1e-6)  # 12 bars of 5 min = 1 h


def test_funding_moves_liquidation_prices_toward_price() -> None:
    candles = bars([FLAT] * 3)
    oi = oi_at(candles, {0: 1e9, 1: 1.1e9})
    funding = pd.DataFrame({"funding_rate": [0.002]}, index=[candles.index[2] + BAR])  # two 0.1 % bins
    s = build_heatmaps(candles, oi, one_tier(funding_erosion=True), funding=funding, every=None)
    moved = s.snapshot(2)
    before = s.snapshot(1)
    assert moved.prices[np.argmax(moved.long_usd)] / before.prices[np.argmax(before.long_usd)] == pytest.approx(
        1.001 ** 2, rel=1e-9)
    assert moved.total_long_usd == pytest.approx(before.total_long_usd)


def test_oi_rise_spreads_over_the_bars_since_the_last_value() -> None:
    rows = [FLAT, (100.0, 100.05, 99.95, 100.0), (110.0, 110.05, 109.95, 110.0)]
    candles = bars([rows[0], rows[1], rows[2]])
    candles.iloc[2, 0] = 100.0
    candles.iloc[2, 2] = 99.9  # bar 2 opens at 100 and rallies to 110
    oi = oi_at(candles, {0: 1e9, 2: 1.2e9})
    s = build_heatmaps(candles, oi, one_tier(oi_spread=True), every=None)
    snap = s.snapshot(2)
    # The rise is split by USD volume between bars 1 and 2. Bar 1's shorts (near 100.6) sat below
    # bar 2's high (110) and are gone; its longs survive. Bar 2's own cohorts are kept.
    e1, e2 = (100.05 + 99.95 + 100.0) / 3, (110.05 + 99.9 + 110.0) / 3
    w2 = e2 / (e1 + e2)
    assert snap.total_long_usd == pytest.approx(1e8, rel=1e-6)
    assert snap.total_short_usd == pytest.approx(0.5 * 2e8 * w2, rel=1e-6)
    assert snap.prices[snap.long_usd > 0].min() < 100 < snap.prices[snap.short_usd > 0].min()


def test_vol_mode_opens_on_directional_bars_only() -> None:
    green = (100.0, 100.1, 99.98, 100.08)
    doji = (100.0, 100.1, 99.9, 100.01)
    candles = bars([green, doji], volume=10.0)
    p = one_tier(source_mode="VOL", vol_oi_ratio=0.5)
    s = build_heatmaps(candles, None, p, every=None)
    long_tot, short_tot = totals(s)
    entry = (100.1 + 99.98 + 100.08) / 3
    assert long_tot[0] + short_tot[0] == pytest.approx(0.5 * 10.0 * entry, rel=1e-6)
    assert long_tot[1] + short_tot[1] == pytest.approx(long_tot[0] + short_tot[0], rel=1e-9)


def test_auto_falls_back_to_volume_when_oi_is_stale() -> None:
    candles, oi, _ = market(n=400, seed=3)
    oi = oi[oi.index <= candles.index[100]]
    s = build_heatmaps(candles, oi, SyntheticParams(oi_max_age_h=8.0), every=None)
    inputs = s.assumptions["inputs"]
    assert inputs["bars_oi_source"] > 0 and inputs["bars_volume_source"] > 0
    assert inputs["bars_oi_source"] + inputs["bars_volume_source"] == 400


def test_spike_mode_opens_only_on_abnormal_volume() -> None:
    green = (100.0, 100.1, 99.98, 100.08)
    candles = bars([green] * 40, volume=10.0)
    candles.iloc[30, candles.columns.get_loc("volume")] = 1000.0
    p = one_tier(source_mode="VOL", spike=True, spike_z=3.0, spike_min_obs=10, vol_oi_ratio=1.0)
    s = build_heatmaps(candles, None, p, every=None)
    total = s.long_usd.sum(axis=1, dtype=float) + s.short_usd.sum(axis=1, dtype=float)
    assert total[29] == 0
    assert total[30] > 0 and total[-1] == pytest.approx(total[30])


def test_large_trend_recentres_the_grid() -> None:
    candles, oi, funding = market(n=6000, seed=5, drift=0.0004)  # about x11 over the run
    s = build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every="1h")
    last = s.snapshot(len(s) - 1)
    assert candles["close"].iloc[-1] / candles["close"].iloc[0] > 8
    assert last.total_long_usd > 0
    r = SyntheticParams().range_pct / 100 + 0.01   # the window (22 % since issue 11) follows price
    assert last.prices[0] >= last.price * (1 - r) and last.prices[-1] <= last.price * (1 + r)
