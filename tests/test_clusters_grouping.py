"""The level -> cluster kernel: conservation, partition, sides, splits, grid rule, tiers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.clusters.grouping import LONG, SHORT, group_levels
from bot.clusters.tiers import formula_table, implied_tiers, liquidation_distance, tiers_from_assumptions
from bot.errors import DataError
from config.settings import ClusterSettings
from tests.clusters_maps import BASTION_LONG, BASTION_PRICE, BASTION_PRICES, BASTION_SHORT, level_maps, two_bump_side

cluster_settings = st.builds(
    ClusterSettings, bin_pct=st.floats(0.02, 2.0), smooth_bins=st.integers(0, 4), gap_bins=st.integers(0, 5),
    core_frac=st.floats(0.0, 1.0))


@hsettings(max_examples=300, deadline=None)
@given(level_maps(), cluster_settings)
def test_every_level_belongs_to_exactly_one_cluster_and_usd_is_conserved(m, cfg) -> None:
    prices, long_usd, short_usd, price = m
    ca = group_levels(prices, long_usd, short_usd, price, cfg)
    for code, usd in ((LONG, long_usd), (SHORT, short_usd)):
        mine = ca.side == code
        assert ca.usd[mine].sum() == pytest.approx(usd.sum(), rel=1e-9, abs=1e-6)
        # the clusters' level ranges tile the side's non-empty levels, each exactly once
        order = np.argsort(ca.first_level[mine])
        first, last = ca.first_level[mine][order], ca.last_level[mine][order]
        assert np.all(first[1:] > last[:-1])
        covered = np.zeros(prices.size, bool)
        for a, b in zip(first, last):
            covered[a:b + 1] = True
        assert np.array_equal(covered & (usd > 0), usd > 0)
        assert ca.n_levels[mine].sum() == np.count_nonzero(usd)
        # a cluster's USD is exactly its levels' USD on its own side
        for a, b, total in zip(first, last, ca.usd[mine][order]):
            assert usd[a] > 0 and usd[b] > 0
            assert total == pytest.approx(usd[a:b + 1].sum(), rel=1e-12)


@hsettings(max_examples=200, deadline=None)
@given(level_maps(), cluster_settings)
def test_output_is_sorted_and_fields_are_consistent(m, cfg) -> None:
    prices, long_usd, short_usd, price = m
    ca = group_levels(prices, long_usd, short_usd, price, cfg)
    assert np.all(np.diff(ca.price_level) >= 0)
    assert np.all(ca.distance_pct >= 0)
    assert np.all((ca.price_low <= ca.price_level) & (ca.price_level <= ca.price_high))
    assert np.allclose(ca.distance_pct, np.abs(ca.price_level / price - 1) * 100)
    assert set(np.unique(ca.side)) <= {LONG, SHORT}
    # the map puts longs below and shorts above price: clusters follow their levels' side
    assert np.all(ca.price_level[ca.side == LONG] < price)
    assert np.all(ca.price_level[ca.side == SHORT] > price)
    assert np.all(np.isin(ca.leverage_tier, cfg.implied_tiers))


@hsettings(max_examples=150, deadline=None)
@given(level_maps(min_levels=2))
def test_a_shifted_map_groups_identically(m) -> None:
    prices, long_usd, short_usd, price = m
    cfg = ClusterSettings()
    a = group_levels(prices, long_usd, short_usd, price, cfg)
    b = group_levels(prices * 1.001, long_usd, short_usd, price * 1.001, cfg)
    assert np.array_equal(a.first_level, b.first_level) and np.array_equal(a.last_level, b.last_level)
    assert np.allclose(b.price_level, a.price_level * 1.001, rtol=1e-12)
    assert np.array_equal(a.usd, b.usd)


def test_two_magnets_on_one_side_are_two_clusters() -> None:
    prices, long_usd, short_usd = two_bump_side(centers=(0.97, 0.94))
    ca = group_levels(prices, long_usd, short_usd, 50_000.0, ClusterSettings())
    cores = np.flatnonzero(ca.is_core)
    assert len(cores) == 2
    assert ca.price_level[cores] == pytest.approx([50_000 * 0.94, 50_000 * 0.97], rel=2e-3)
    # the flank clusters between and around them hold the rest: nothing is lost
    assert ca.usd.sum() == pytest.approx(long_usd.sum())


def test_a_long_thin_tail_does_not_drag_the_magnet_price() -> None:
    ca = group_levels(BASTION_PRICES, BASTION_LONG, BASTION_SHORT, BASTION_PRICE, ClusterSettings())
    strongest_long = np.argmax(np.where(ca.side == LONG, ca.usd, -1))
    assert 91_500 <= ca.price_level[strongest_long] <= 92_500
    assert ca.usd[ca.side == LONG].sum() == pytest.approx(BASTION_LONG.sum())


def test_a_coarse_provider_grid_stays_contiguous() -> None:
    # levels every 500 USD around 96,000 (0.52 %) are coarser than the 0.15 % bin: the grid rules
    prices = np.arange(90_000.0, 96_000.0, 500.0)
    flat = np.full(prices.size, 1e6)
    ca = group_levels(prices, flat, np.zeros(prices.size), 96_200.0, ClusterSettings(bin_pct=0.15, gap_bins=0))
    assert len(ca) == 1 and ca.n_levels[0] == prices.size


def test_an_empty_gap_wider_than_gap_bins_splits_a_run() -> None:
    grid = 10_000 * np.exp(np.arange(40) * np.log1p(0.0015))  # exactly one level per bin
    usd = np.full(40, 1e6)
    usd[18:20] = 0.0  # two empty bins
    cfg = ClusterSettings(bin_pct=0.15, smooth_bins=0)
    split = group_levels(grid, usd, np.zeros(40), 20_000.0, cfg.model_copy(update={"gap_bins": 1}))
    kept = group_levels(grid, usd, np.zeros(40), 20_000.0, cfg.model_copy(update={"gap_bins": 2}))
    assert len(split) == 2 and split.last_level[0] == 17 and split.first_level[1] == 20
    assert len(kept) == 1


def test_min_cluster_usd_drops_small_clusters() -> None:
    cfg = ClusterSettings(min_cluster_usd=150e6)
    ca = group_levels(BASTION_PRICES, BASTION_LONG, BASTION_SHORT, BASTION_PRICE, cfg)
    assert len(ca) >= 1 and np.all(ca.usd >= 150e6)


def test_empty_and_single_level_maps() -> None:
    cfg = ClusterSettings()
    empty = group_levels(np.array([100.0, 101.0]), np.zeros(2), np.zeros(2), 100.5, cfg)
    assert len(empty) == 0
    assert len(group_levels(np.empty(0), np.empty(0), np.empty(0), 100.5, cfg)) == 0
    one = group_levels(np.array([100.0]), np.array([5.0]), np.zeros(1), 100.5, cfg)
    assert len(one) == 1 and one.usd[0] == 5.0 and one.price_level[0] == 100.0


def test_mismatched_arrays_are_a_data_error() -> None:
    with pytest.raises(DataError, match="levels"):
        group_levels(np.array([1.0, 2.0]), np.zeros(3), np.zeros(2), 1.5, ClusterSettings())


@pytest.mark.parametrize(("distance_pct", "short", "tier"), [
    (0.40, False, 125), (0.60, False, 100), (0.94, False, 75), (1.61, False, 50), (3.61, False, 25),
    (4.62, False, 20), (9.64, False, 10), (19.7, False, 5), (0.40, True, 125), (1.59, True, 50),
    (9.56, True, 10), (19.5, True, 5), (0.0, False, 125), (60.0, True, 5),
])
def test_implied_tier_follows_the_exact_distance_table(distance_pct, short, tier) -> None:
    assert implied_tiers(np.array([distance_pct / 100]), np.array([short]))[0] == tier


def test_tiers_that_would_liquidate_on_entry_are_no_candidates() -> None:
    assert formula_table((5.0, 100.0, 200.0), 0.01).leverages.tolist() == [5.0]
    assert formula_table((100.0,), 0.01).leverages.tolist() == list(formula_table().leverages)


def test_exact_distances_match_the_research_table() -> None:
    lev = np.array([125, 100, 50, 25, 10, 5.0])
    long = liquidation_distance(lev, 0.004, short=False) * 100
    assert long == pytest.approx([0.40, 0.60, 1.61, 3.61, 9.64, 19.68], abs=0.01)


def test_tier_data_in_assumptions_gives_the_dominant_tier() -> None:
    prices, long_usd, short_usd = BASTION_PRICES, BASTION_LONG, BASTION_SHORT
    tier_usd = {"leverage": [10, 50], "long": [long_usd * 0.2, long_usd * 0.8], "short": [short_usd * 0.9, short_usd * 0.1]}
    info, _ = tiers_from_assumptions({"tier_usd": tier_usd}, prices.size, (5.0,), 0.004)
    ca = group_levels(prices, long_usd, short_usd, BASTION_PRICE, ClusterSettings(), tier_info=info)
    assert np.all(ca.leverage_tier[ca.side == LONG] == 50) and np.all(ca.leverage_tier[ca.side == SHORT] == 10)


def test_a_source_distance_table_replaces_the_formula() -> None:
    # the synthetic model states its own distances per tier (here: 10x at 4.6 % on both sides)
    assumptions = {"liquidation_distance_pct": {"5x": [19.0, 18.5], "10x": [4.6, 4.6], "100x": [float("nan"), 0.5]}}
    info, table = tiers_from_assumptions(assumptions, BASTION_PRICES.size, (5.0,), 0.004)
    assert info is None and table.leverages.tolist() == [5.0, 10.0]
    ca = group_levels(BASTION_PRICES, BASTION_LONG, BASTION_SHORT, BASTION_PRICE, ClusterSettings(), distances=table)
    strongest_long = np.argmax(np.where(ca.side == LONG, ca.usd, -1))
    assert ca.leverage_tier[strongest_long] == 10  # 4.6 % away


@pytest.mark.parametrize(("assumptions", "tiers", "mmr"), [
    ({"tier_leverages": [5, 10, 25, 50, 100]}, (5.0, 10.0, 25.0, 50.0, 100.0), 0.004),
    ({"tiers": [5, 10, 25, 50, 100]}, (5.0, 10.0, 25.0, 50.0, 100.0), 0.004),
    ({"tier_prior": {"5x": 0.15, "50x": 0.1}, "mmr": 0.01}, (5.0, 50.0), 0.01),
    ({"leverage_tiers": [{"leverage": 20, "share": 1.0}]}, (20.0,), 0.004),
    ({"tiers": "nonsense", "mmr": "x"}, (5.0, 10.0), 0.004),
    ({"tiers": [5, "ten"], "mmr": True}, (5.0, 10.0), 0.004),
    ({"liquidation_distance_pct": {"5x": "bad"}}, (5.0, 10.0), 0.004),
    ({"tier_usd": {"leverage": [5], "long": [[1.0]], "short": [[1.0]]}}, (5.0, 10.0), 0.004),
])
def test_tier_assumptions_are_read_or_safely_ignored(assumptions, tiers, mmr) -> None:
    info, table = tiers_from_assumptions(assumptions, 3, (5.0, 10.0), 0.004)
    expected = formula_table(tiers, mmr)
    assert info is None
    assert np.array_equal(table.leverages, expected.leverages)
    assert np.allclose(table.log_distance, expected.log_distance)
