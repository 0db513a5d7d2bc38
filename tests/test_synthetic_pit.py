"""Point in time (cutting the inputs never changes an earlier snapshot) and batch == incremental."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.synthetic.inputs import align
from bot.synthetic.model import SyntheticModel, SyntheticParams, build_heatmaps
from tests.synthetic_fakes import BAR, market

PARAMS = [
    SyntheticParams(),
    SyntheticParams(spike=True, spike_z=1.0, spike_min_obs=5, churn=0.0),
    SyntheticParams(source_mode="VOL", spike=True, spike_z=1.5),
    SyntheticParams(source_mode="OI", oi_spread=False, half_life_h=12.0, entry="close"),
    SyntheticParams(oi_venue_share=0.16, usd_scale=0.03),   # issue 11: venue basis and calibration
]


def _cut(frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    return frame[frame.index <= at]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("seed", [1, 2])
def test_cutting_inputs_leaves_earlier_snapshots_bit_identical(params: SyntheticParams, seed: int) -> None:
    candles, oi, funding = market(n=2500, seed=seed)
    ratio = pd.DataFrame({"long_short_ratio": np.linspace(0.8, 1.3, oi.index.size)}, index=oi.index)
    full = build_heatmaps(candles, oi, params, funding=funding, ls_ratio=ratio, every="5min")
    rng = np.random.default_rng(seed)
    for _ in range(4):
        k = int(rng.integers(50, len(candles) - 1))
        cut = candles.index[k] + BAR + pd.Timedelta(seconds=int(rng.integers(0, 300)))  # a random instant
        part_candles = candles[candles.index + BAR <= cut]  # bars closed by the cut
        part = build_heatmaps(part_candles, _cut(oi, cut), params, funding=_cut(funding, cut),
                              ls_ratio=_cut(ratio, cut), every="5min")
        n = len(part)
        assert n == len(part_candles)
        assert np.array_equal(part.ts, full.ts[:n])
        assert np.array_equal(part.base, full.base[:n])
        assert np.array_equal(part.long_usd, full.long_usd[:n])
        assert np.array_equal(part.short_usd, full.short_usd[:n])
        upto = full.breaks.ts <= part.ts[-1]
        assert np.array_equal(part.breaks.usd, full.breaks.usd[upto])


def test_future_oi_does_not_leak_into_the_bar_before_it_is_known() -> None:
    candles, oi, _ = market(n=200, seed=4)
    base = build_heatmaps(candles, oi, SyntheticParams(), every=None)
    k = 100
    known = candles.index[k] + BAR  # the close of bar k
    bumped = oi.copy()
    bumped.loc[bumped.index > known, "oi_usd"] *= 3  # change everything published after that close
    after = build_heatmaps(candles, bumped, SyntheticParams(), every=None)
    assert np.array_equal(base.long_usd[: k + 1], after.long_usd[: k + 1])
    assert not np.array_equal(base.long_usd, after.long_usd)


def _incremental(candles: pd.DataFrame, oi: pd.DataFrame, funding: pd.DataFrame, ratio: pd.DataFrame,
                 params: SyntheticParams, model: SyntheticModel, start: int = 0, stop: int | None = None):
    bars = align(candles, oi, funding=funding, ls_ratio=ratio)
    snaps = []
    for i in range(start, stop if stop is not None else len(bars)):
        snaps.append(model.on_bar(
            pd.Timestamp(bars.open_ns[i], tz="UTC"), bars.open[i], bars.high[i], bars.low[i], bars.close[i],
            bars.volume[i], None if np.isnan(bars.oi[i]) else bars.oi[i], funding_rate=bars.funding[i],
            ls_ratio=None if np.isnan(bars.ls_ratio[i]) else bars.ls_ratio[i]))
    return snaps


def _same(a, b) -> None:
    assert a.ts == b.ts and a.price == b.price and a.symbol == b.symbol
    assert np.array_equal(a.prices, b.prices)
    assert np.array_equal(a.long_usd, b.long_usd)
    assert np.array_equal(a.short_usd, b.short_usd)


@pytest.mark.parametrize("params", PARAMS)
def test_incremental_equals_batch(params: SyntheticParams) -> None:
    candles, oi, funding = market(n=1500, seed=11)
    ratio = pd.DataFrame({"long_short_ratio": np.linspace(1.2, 0.9, oi.index.size)}, index=oi.index)
    batch = build_heatmaps(candles, oi, params, funding=funding, ls_ratio=ratio, every="5min", symbol="BTC/USDT:USDT")
    snaps = _incremental(candles, oi, funding, ratio, params, SyntheticModel(params, "BTC/USDT:USDT"))
    assert len(snaps) == len(batch)
    for i, snap in enumerate(snaps):
        _same(snap, batch.snapshot(i))


def test_state_round_trip_resumes_identically() -> None:
    params = SyntheticParams()
    candles, oi, funding = market(n=800, seed=12)
    ratio = pd.DataFrame({"long_short_ratio": np.ones(oi.index.size)}, index=oi.index)
    straight = _incremental(candles, oi, funding, ratio, params, SyntheticModel(params, "BTC/USDT:USDT"))
    first = SyntheticModel(params, "BTC/USDT:USDT")
    _incremental(candles, oi, funding, ratio, params, first, 0, 400)
    state = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in first.state().items()}  # JSON-able
    resumed = SyntheticModel.from_state(state)
    rest = _incremental(candles, oi, funding, ratio, params, resumed, 400)
    for a, b in zip(rest, straight[400:]):
        _same(a, b)


def test_on_bar_rejects_a_bad_bar() -> None:
    from bot.errors import DataError
    model = SyntheticModel(SyntheticParams(), "BTC/USDT:USDT")
    with pytest.raises(DataError):
        model.on_bar(pd.Timestamp("2025-01-01", tz="UTC"), 100.0, 99.0, 98.0, 100.0, 1.0)  # high < open
    with pytest.raises(DataError):
        model.on_bar(pd.Timestamp("2025-01-01", tz="UTC"), 100.0, 101.0, 98.0, 100.0, 1.0, oi_usd=float("nan"))
