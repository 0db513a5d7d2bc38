"""One venue basis for OI and volume, and the output calibration (issue 11, defects 1 and 6)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.synthetic.model import SyntheticParams, build_heatmaps
from tests.synthetic_fakes import market, one_tier


def test_usd_scale_multiplies_the_map_and_the_breaks_only() -> None:
    candles, oi, funding = market(n=1500, seed=4)
    base = build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every=None)
    half = build_heatmaps(candles, oi, SyntheticParams(usd_scale=0.5), funding=funding, every=None)
    assert np.array_equal(base.base, half.base)
    assert np.allclose(half.long_usd, 0.5 * base.long_usd, rtol=1e-6)
    assert np.allclose(half.short_usd, 0.5 * base.short_usd, rtol=1e-6)
    assert np.array_equal(base.breaks.ts, half.breaks.ts)
    assert np.allclose(half.breaks.usd, 0.5 * base.breaks.usd, rtol=1e-12)
    assert half.assumptions["usd_scale"] == 0.5


def test_oi_venue_share_converts_the_oi_before_volume_churns_it() -> None:
    candles, oi, _ = market(n=1500, seed=4)
    # without churn the ledger is linear in OI: the share scales it
    a = build_heatmaps(candles, oi, one_tier(), every=None)
    b = build_heatmaps(candles, oi, one_tier(oi_venue_share=0.25), every=None)
    assert b.long_usd.sum() == pytest.approx(0.25 * a.long_usd.sum(), rel=1e-5)
    # with churn, the same bar volume churns a smaller book harder: not a mere rescaling
    c = build_heatmaps(candles, oi, one_tier(churn=1.0), every=None)
    d = build_heatmaps(candles, oi, one_tier(churn=1.0, oi_venue_share=0.25), every=None)
    ratio = d.long_usd.sum() / c.long_usd.sum()
    assert ratio != pytest.approx(0.25, rel=1e-3)


@pytest.mark.parametrize("change", [{"oi_venue_share": 0.0}, {"oi_venue_share": 1.5}, {"usd_scale": 0.0}])
def test_bad_values_are_config_errors(change: dict) -> None:
    with pytest.raises(ConfigError):
        SyntheticParams(**change)
