"""Every tier of the prior is priced and inside the window, or the model refuses to start (issue 11, defects 4-5)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.synthetic.brackets import BINANCE_ETHUSDT, BINANCE_XRPUSDT, table_for
from bot.synthetic.liqprice import tier_factors
from bot.synthetic.model import SyntheticParams, SyntheticModel, build_heatmaps
from tests.synthetic_fakes import market


@pytest.mark.parametrize("symbol", ["BTC/USDT:USDT", "ETH/USDT:USDT"])
def test_default_tiers_are_all_priced_and_their_weights_sum_to_one(symbol: str) -> None:
    params = SyntheticParams()
    fl, fs = tier_factors(np.array(params.tier_leverages), params.position_usd, params.bracket_table(symbol))
    assert np.all(np.isfinite(fl)) and np.all(np.isfinite(fs))
    w = np.array(params.tier_weights) / sum(params.tier_weights)
    assert w[np.isfinite(fl) & np.isfinite(fs)].sum() == pytest.approx(1.0)
    # the window holds the farthest tier (5x, about 19.7 % away)
    assert 100 * max(np.max(1 - fl), np.max(fs - 1)) < params.range_pct
    SyntheticModel(params, symbol)  # starts


def test_shipped_tables_by_symbol() -> None:
    assert table_for("binance", "ETH/USDT:USDT") is BINANCE_ETHUSDT
    assert table_for("binance", "XRPUSDT") is BINANCE_XRPUSDT
    assert table_for("binance", "SOL/USDT:USDT").name == "binance:generic"


@pytest.mark.parametrize("symbol, table", [("XRP/USDT:USDT", "binance:XRPUSDT"), ("SOL/USDT:USDT", "binance:generic")])
def test_a_tier_the_venue_cannot_price_is_refused_not_dropped(symbol: str, table: str) -> None:
    with pytest.raises(ConfigError, match=f"100x cannot be priced by {table}"):
        SyntheticModel(SyntheticParams(), symbol)
    candles, oi, _ = market(n=300, seed=3)
    with pytest.raises(ConfigError, match="100x"):
        build_heatmaps(candles, oi, SyntheticParams(), symbol=symbol)


def test_xrp_with_tiers_it_can_price() -> None:
    params = SyntheticParams(tier_leverages=(5.0, 10.0, 25.0, 50.0, 75.0))
    candles, oi, _ = market(n=300, seed=3)
    series = build_heatmaps(candles, oi, params, symbol="XRP/USDT:USDT")
    assert len(series) > 0 and series.assumptions["brackets"] == "binance:XRPUSDT"


def test_a_window_that_cuts_a_tier_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"range_pct 15 cuts the tier liquidated 19\.7 % away"):
        SyntheticModel(SyntheticParams(range_pct=15.0), "BTC/USDT:USDT")
    SyntheticModel(SyntheticParams(range_pct=15.0, tier_leverages=(10.0, 25.0), tier_weights=(0.5, 0.5)),
                   "BTC/USDT:USDT")
