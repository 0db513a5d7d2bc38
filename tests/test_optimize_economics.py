"""Known answers of the trade-economics helpers: costs per R, minimum stop, entry order, trailing OI tiers."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.economics import (EntryOrder, cost_per_r, entry_fee, min_stop_distance, passes_cost_filter,
                                  round_trip_cost, tier_multipliers, trailing_percentile)


def test_round_trip_costs_of_market_and_limit_entries() -> None:
    assert entry_fee(EntryOrder.MARKET, 0.0005, 0.0002) == 0.0005
    assert entry_fee(EntryOrder.LIMIT, 0.0005, 0.0002) == 0.0002
    assert round_trip_cost(0.0005, 0.0005, 2.0) == pytest.approx(0.0014)  # 5 + 5 bps fees, 2 + 2 bps slippage
    assert round_trip_cost(0.0002, 0.0005, 2.0, entry_slips=False) == pytest.approx(0.0009)


def test_cost_per_r_and_its_filter() -> None:
    # a 1 % stop paying 0.14 % per round trip costs 0.14 R
    assert cost_per_r(100.0, 99.0, 0.0014) == pytest.approx(0.14)
    assert cost_per_r(100.0, 100.0, 0.0014) == np.inf
    got = passes_cost_filter(np.array([100.0, 100.0]), np.array([99.0, 99.9]), 0.0014, 0.2)
    assert got.tolist() == [True, False]  # the 0.1 % stop costs 1.4 R
    assert passes_cost_filter(np.array([100.0]), np.array([99.99]), 0.0014, 0.0).tolist() == [True]  # 0 = off


def test_minimum_stop_distance_in_atr_or_cost_units() -> None:
    assert min_stop_distance(100.0, 0.5, 1.0, 0.0014, 5.0) == pytest.approx(0.7)   # 5 costs beat 1 ATR
    assert min_stop_distance(100.0, 0.9, 1.0, 0.0014, 5.0) == pytest.approx(0.9)
    assert min_stop_distance(100.0, np.nan, 0.0, 0.0014, 0.0) == 0.0                 # both off


def test_trailing_percentile_is_point_in_time() -> None:
    assert np.isnan(trailing_percentile(np.array([1.0]), 10)[0])
    np.testing.assert_allclose(trailing_percentile(np.array([1.0, 2, 3, 4]), 4)[1:], [1, 1, 1])
    np.testing.assert_allclose(trailing_percentile(np.array([4.0, 3, 2, 1]), 4)[1:], [0, 0, 0])
    assert trailing_percentile(np.array([1.0, 3, 2]), 3)[2] == pytest.approx(0.5)
    assert trailing_percentile(np.array([5.0, 1, 2, 3]), 3)[3] == pytest.approx(1.0)  # 5 fell out of the window
    a = np.array([3.0, 1, np.nan, 2, 8, 5])
    b = a.copy()
    b[4:] = [0.0, 100.0]
    np.testing.assert_array_equal(trailing_percentile(a, 4)[:4], trailing_percentile(b, 4)[:4])


def test_tiers_from_the_trailing_distribution() -> None:
    got = tier_multipliers(np.array([0.95, 0.5, 0.1, np.nan]), 0.8, 0.2, 1.5, 1.0, 0.5)
    assert got.tolist() == [1.5, 1.0, 0.5, 0.5]
