"""Liquidation-price formula and bracket tables against the research note's known distances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Side
from bot.errors import DataError
from bot.synthetic.brackets import (BINANCE_BTCUSDT, Venue, base_coin, from_ccxt_tiers, hyperliquid_table,
                                    rebuild_cum, table_for)
from bot.synthetic.liqprice import feasible, liquidation_distance, liquidation_price, tier_factors

# (leverage, notional, long distance %, short distance %) at entry 100,000: research note section 3.
RESEARCH_TABLE = [
    (125, 10_000, 0.40, 0.40),
    (100, 10_000, 0.60, 0.60),
    (100, 200_000, 0.53, 0.52),
    (50, 10_000, 1.61, 1.59),
    (50, 500_000, 1.27, 1.25),
    (25, 10_000, 3.61, 3.59),
    (20, 5_000_000, 2.90, 2.76),
    (10, 10_000, 9.64, 9.56),
    (10, 15_000_000, 7.13, 6.45),
    (5, 10_000, 19.68, 19.52),
]


@pytest.mark.parametrize(("lev", "notional", "long_pct", "short_pct"), RESEARCH_TABLE)
def test_known_distances(lev: float, notional: float, long_pct: float, short_pct: float) -> None:
    entry = 100_000.0
    lp_long = liquidation_price(entry, lev, notional, Side.LONG, BINANCE_BTCUSDT)[0]
    lp_short = liquidation_price(entry, lev, notional, Side.SHORT, BINANCE_BTCUSDT)[0]
    assert round(100 * (1 - lp_long / entry), 2) == pytest.approx(long_pct, abs=0.006)
    assert round(100 * (lp_short / entry - 1), 2) == pytest.approx(short_pct, abs=0.006)


def test_brief_long_distances_vectorized() -> None:
    lev = np.array([100, 50, 25, 10, 5])
    dist = liquidation_distance(lev, 10_000, Side.LONG, BINANCE_BTCUSDT)
    assert np.round(100 * dist, 2).tolist() == [0.60, 1.61, 3.61, 9.64, 19.68]


def test_naive_formula_is_wrong_by_up_to_half() -> None:
    lp = liquidation_price(100_000, 100, 10_000, Side.LONG, BINANCE_BTCUSDT)[0]
    assert 100_000 * (1 - 1 / 100) < lp  # the naive level is 1.0 % away, the real one 0.6 %


def test_bracket_at_liquidation_price_long_moves_down() -> None:
    # $50,100 opens in bracket 2, but at the liquidation price (about -9.6 %) it is below $50k.
    n, e = 50_100.0, 100_000.0
    lp = liquidation_price(e, 10, n, Side.LONG, BINANCE_BTCUSDT)[0]
    assert lp == pytest.approx(e * (1 - 0.1) / (1 - 0.004))
    assert n * lp / e < 50_000


def test_bracket_at_liquidation_price_short_moves_up() -> None:
    n, e = 49_000.0, 100_000.0
    lp = liquidation_price(e, 10, n, Side.SHORT, BINANCE_BTCUSDT)[0]
    assert lp == pytest.approx(e * (1 + 0.1 + 50 / n) / (1 + 0.005))
    assert n * lp / e >= 50_000


@settings(max_examples=200, deadline=None)
@given(lev=st.floats(1.5, 125), notional=st.floats(100, 4e8), entry=st.floats(0.01, 1e6))
def test_bracket_is_consistent_at_the_liquidation_price(lev: float, notional: float, entry: float) -> None:
    for side, sign in ((Side.LONG, 1.0), (Side.SHORT, -1.0)):
        lp = liquidation_price(entry, lev, notional, side, BINANCE_BTCUSDT)[0]
        if feasible(lev, notional, BINANCE_BTCUSDT):
            assert np.isfinite(lp)
        if not np.isfinite(lp):
            continue
        b = int(BINANCE_BTCUSDT.index(notional * lp / entry))
        m, cum = BINANCE_BTCUSDT.mmr[b], BINANCE_BTCUSDT.cum[b]
        again = entry * (1 - sign * (1 / lev + cum / notional)) / (1 - sign * m)
        assert lp == pytest.approx(again, rel=1e-12)
        assert (lp < entry) if side is Side.LONG else (lp > entry)


@pytest.mark.parametrize(("max_lev", "lev", "long_pct"), [(40, 40, 1.27), (40, 20, 3.80), (10, 10, 5.26)])
def test_hyperliquid_rule(max_lev: float, lev: float, long_pct: float) -> None:
    lp = liquidation_price(100.0, lev, 1_000.0, Side.LONG, hyperliquid_table(max_lev))[0]
    assert round(100 * (1 - lp / 100.0), 2) == pytest.approx(long_pct, abs=0.006)
    short = liquidation_price(100.0, lev, 1_000.0, Side.SHORT, hyperliquid_table(max_lev))[0]
    assert short == pytest.approx(100.0 * (1 + 1 / lev) / (1 + 1 / (2 * max_lev)))


def test_ccxt_tiers_converter_rebuilds_cum() -> None:
    tiers = [  # ccxt's structure, deliberately out of order, with its extra keys
        {"tier": 2, "currency": "USDT", "minNotional": 50_000, "maxNotional": 250_000,
         "maintenanceMarginRate": 0.005, "maxLeverage": 100, "info": {}},
        {"tier": 1, "currency": "USDT", "minNotional": 0, "maxNotional": 50_000,
         "maintenanceMarginRate": 0.004, "maxLeverage": 125, "info": {}},
        {"tier": 3, "minNotional": 250_000, "maxNotional": 1_000_000, "maintenanceMarginRate": 0.01,
         "maxLeverage": 50},
        {"tier": 4, "minNotional": 1_000_000, "maxNotional": 10_000_000, "maintenanceMarginRate": 0.025,
         "maxLeverage": 20},
        {"tier": 5, "minNotional": 10_000_000, "maxNotional": 20_000_000, "maintenanceMarginRate": 0.05,
         "maxLeverage": 10},
    ]
    table = from_ccxt_tiers(tiers, name="ccxt:BTCUSDT")
    assert table.cum.tolist() == pytest.approx([0, 50, 1_300, 16_300, 266_300])
    assert table.max_leverage.tolist() == [125, 100, 50, 20, 10]
    assert np.allclose(BINANCE_BTCUSDT.cum[:5], table.cum)


@pytest.mark.parametrize(("tiers", "field"), [
    ([], "tiers"),
    ([{"minNotional": 0, "maxNotional": 10}], "tiers"),
    ([{"minNotional": 0, "maxNotional": "x", "maintenanceMarginRate": 0.1, "maxLeverage": 5}], "tiers"),
    ([{"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 0.1, "maxLeverage": 5},
      {"minNotional": 20, "maxNotional": 30, "maintenanceMarginRate": 0.2, "maxLeverage": 2}], "floor"),
    ([{"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 1.5, "maxLeverage": 5}], "mmr"),
    ([{"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 0.2, "maxLeverage": 5},
      {"minNotional": 10, "maxNotional": 30, "maintenanceMarginRate": 0.1, "maxLeverage": 2}], "mmr"),
])
def test_ccxt_tiers_converter_rejects_bad_tiers(tiers: list[dict], field: str) -> None:
    with pytest.raises(DataError) as err:
        from_ccxt_tiers(tiers)
    assert err.value.field == field


def test_rebuild_cum_matches_binance() -> None:
    assert rebuild_cum(BINANCE_BTCUSDT.floor, BINANCE_BTCUSDT.mmr).tolist() == pytest.approx(
        [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300])


@pytest.mark.parametrize(("bad", "field"), [({"leverage": 0.5}, "leverage"), ({"notional": 0.0}, "notional"),
                                           ({"entry": float("nan")}, "entry")])
def test_bad_inputs_are_data_errors(bad: dict, field: str) -> None:
    args = {"entry": 100.0, "leverage": 10.0, "notional": 1000.0, **bad}
    with pytest.raises(DataError) as err:
        liquidation_price(side=Side.LONG, brackets=BINANCE_BTCUSDT, **args)
    assert err.value.field == field


def test_position_liquidated_at_entry_has_no_price() -> None:
    # 20x on $300M: maintenance (50 %) exceeds the 5 % margin, it would be liquidated at once.
    assert np.isnan(liquidation_price(1.0, 20, 3e8, Side.LONG, BINANCE_BTCUSDT)[0])
    assert np.isnan(liquidation_price(1.0, 20, 3e8, Side.SHORT, BINANCE_BTCUSDT)[0])
    assert not feasible(20, 3e8, BINANCE_BTCUSDT)


def test_venue_defaults_and_feasibility() -> None:
    assert table_for(Venue.BINANCE, "BTC/USDT:USDT") is BINANCE_BTCUSDT
    assert table_for("binance", "ETH/USDT:USDT").name == "binance:ETHUSDT"  # its own ladder since issue 11
    assert table_for("hyperliquid", "BTC").mmr[0] == pytest.approx(1 / 80)
    assert base_coin("BTCUSDT") == "BTC" and base_coin("ETH/USDT:USDT") == "ETH"
    assert feasible([125, 125], [10_000, 100_000], BINANCE_BTCUSDT).tolist() == [True, False]
    fl, fs = tier_factors(np.array([10.0, 100.0]), 10_000, BINANCE_BTCUSDT)
    assert fl[0] < fl[1] < 1 < fs[1] < fs[0]
