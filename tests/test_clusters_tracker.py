"""The tracker: stable ids, breaks, retention, strength over time, state round trip."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import assume, given, settings as hsettings, strategies as st

from bot.clusters.tracker import ClusterTracker, match_clusters
from bot.domain import Side
from bot.errors import DataError
from config.settings import ClusterSettings
from tests.clusters_maps import (BASTION_LONG, BASTION_PRICE, BASTION_PRICES, BASTION_SHORT, SYMBOL, T0, level_maps,
                                 snapshot, two_bump_side)


def bastion(minutes: float = 0.0, scale: float = 1.0, usd: float = 1.0):
    return snapshot(BASTION_PRICES * scale, BASTION_LONG * usd, BASTION_SHORT * usd, BASTION_PRICE * scale, minutes)


def tracker(**overrides) -> ClusterTracker:
    return ClusterTracker(ClusterSettings(**overrides), SYMBOL)


@hsettings(max_examples=150, deadline=None)
@given(level_maps(min_levels=2, clear_pct=0.5), st.sampled_from([1.001, 0.999, 1.002]))
def test_ids_survive_a_small_shift_of_the_whole_map(m, factor) -> None:
    prices, long_usd, short_usd, price = m
    t = tracker()
    first = t.update(snapshot(prices, long_usd, short_usd, price))
    second = t.update(snapshot(prices * factor, long_usd, short_usd, price * factor, minutes=5))
    assert all(c.active for c in second)
    assert [c.cluster_id for c in first] == [c.cluster_id for c in second]
    assert [c.first_seen for c in second] == [T0] * len(second)


@hsettings(max_examples=150, deadline=None)
@given(level_maps(min_levels=2), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_a_cluster_crossed_by_the_bar_is_broken_and_one_not_crossed_is_not(m, a, b) -> None:
    prices, long_usd, short_usd, price = m
    lo, hi = sorted((a, b))
    bar_low = prices[0] * 0.99 + lo * (prices[-1] * 1.01 - prices[0] * 0.99)
    bar_high = prices[0] * 0.99 + hi * (prices[-1] * 1.01 - prices[0] * 0.99)
    t = tracker()
    before = t.update(snapshot(prices, long_usd, short_usd, price))
    after = {c.cluster_id: c for c in t.update(snapshot(prices, long_usd, short_usd, price, minutes=5),
                                                bar_high=bar_high, bar_low=bar_low)}
    for c in before:
        crossed = bool(bar_low <= c.price_level if c.side is Side.LONG else bar_high >= c.price_level)
        now = after[c.cluster_id]
        assert now.active is not crossed
        assert (now.broken_at == T0 + timedelta(minutes=5)) is crossed


@hsettings(max_examples=150, deadline=None)
@given(st.lists(level_maps(min_levels=1, max_levels=40), min_size=1, max_size=4))
def test_outputs_are_sorted_and_bounded(maps) -> None:
    t = tracker()
    for i, (prices, long_usd, short_usd, price) in enumerate(maps):
        out = t.update(snapshot(prices, long_usd, short_usd, price, minutes=5 * i))
        assert [c.price_level for c in out] == sorted(c.price_level for c in out)
        assert all(0.0 <= c.strength <= 1.0 and c.distance_from_price >= 0 for c in out)
        assert len({c.cluster_id for c in out}) == len(out)
        active = [c for c in out if c.active]
        for side, usd in ((Side.LONG, long_usd), (Side.SHORT, short_usd)):
            assert sum(c.open_interest for c in active if c.side is side) == pytest.approx(usd.sum(), rel=1e-9)


def test_breaks_are_inferred_from_price_without_a_bar() -> None:
    t = tracker()
    t.update(bastion())
    moved = snapshot(BASTION_PRICES, BASTION_LONG, BASTION_SHORT, 93_500.0, minutes=5)
    out = t.update(moved)
    broken = [c for c in out if not c.active]
    # price fell from 96,200 to 93,500: the long flank cluster (level ~94,042) was traded through
    assert len(broken) == 1 and broken[0].side is Side.LONG and broken[0].price_level > 93_500
    assert broken[0].broken_at == moved.ts and broken[0].last_seen == T0
    assert broken[0].distance_from_price == pytest.approx(abs(broken[0].price_level / 93_500 - 1) * 100)


def test_broken_clusters_are_kept_for_the_retention_then_dropped_and_never_rematched() -> None:
    t = tracker(broken_retention_s=3600)
    first = {c.price_level: c for c in t.update(bastion())}
    magnet = max(first.values(), key=lambda c: c.open_interest)  # the short magnet ~98,420
    out = t.update(bastion(minutes=5), bar_high=99_500.0, bar_low=96_000.0)
    broken = [c for c in out if c.cluster_id == magnet.cluster_id]
    assert len(broken) == 1 and not broken[0].active
    # the map still shows USD there: that is a new cluster with a new id, not the broken one
    reborn = [c for c in out if c.active and c.side is Side.SHORT and abs(c.price_level - magnet.price_level) < 1]
    assert len(reborn) == 1 and reborn[0].cluster_id != magnet.cluster_id
    later = t.update(bastion(minutes=60))
    assert any(c.cluster_id == magnet.cluster_id for c in later)  # 55 min after the break
    gone = t.update(bastion(minutes=66))
    assert all(c.cluster_id != magnet.cluster_id for c in gone)  # 61 min after the break


def test_seen_and_updated_times() -> None:
    t = tracker()
    t.update(bastion())
    same = t.update(bastion(minutes=5))
    assert all(c.first_seen == T0 and c.last_seen == T0 + timedelta(minutes=5) and c.last_updated == T0
               for c in same)
    grown = t.update(bastion(minutes=10, usd=1.1))
    assert all(c.last_updated == T0 + timedelta(minutes=10) and c.first_seen == T0 for c in grown)


def test_a_quiet_map_after_a_busy_history_has_no_strong_cluster() -> None:
    t = tracker()
    for i in range(30):
        busy = t.update(bastion(minutes=5 * i, usd=1.0 + 0.01 * i))
    assert max(c.strength for c in busy) == 1.0
    quiet = t.update(bastion(minutes=150, usd=0.1))
    assert max(c.strength for c in quiet) < 0.6


def test_cold_start_does_not_make_everything_strong() -> None:
    out = tracker().update(bastion())
    strengths = sorted(c.strength for c in out)
    assert strengths[-1] == 1.0 and strengths[0] < 0.2


def test_strength_reads_against_the_rolling_reference() -> None:
    t = tracker(strength_window=10, strength_quantile=1.0)
    t.update(bastion())                      # history: the sizes of the 4 clusters, max 400M
    out = t.update(bastion(minutes=5, usd=0.5))
    assert max(c.strength for c in out) == pytest.approx(0.5)


def test_liquidation_count_is_an_estimate_from_the_typical_position() -> None:
    out = tracker(typical_position_usd=1e6).update(bastion())
    assert all(c.liquidation_count == round(c.open_interest / 1e6) and c.liquidation_count_is_estimate for c in out)


def test_state_round_trip_resumes_identically() -> None:
    rng = np.random.default_rng(3)
    prices, long_usd, short_usd = two_bump_side(centers=(0.97, 0.95, 0.92))
    snaps = [snapshot(prices, long_usd * rng.lognormal(0, 0.1, prices.size), short_usd, 50_000 * (1 - 0.004 * i),
                      minutes=5 * i) for i in range(12)]
    straight = tracker()
    expected = [straight.update(s) for s in snaps]
    first = tracker()
    for s in snaps[:6]:
        first.update(s)
    state = json.loads(json.dumps(first.state()))
    resumed = ClusterTracker.from_state(ClusterSettings(), SYMBOL, state)
    got = [resumed.update(s) for s in snaps[6:]]
    assert [[c.to_dict() for c in out] for out in got] == [[c.to_dict() for c in out] for out in expected[6:]]
    assert any(not c.active for c in expected[-1])  # the walk down broke something on the way


@pytest.mark.parametrize("state", [
    {"version": 99, "symbol": SYMBOL},
    {"version": 1, "symbol": "ETH/USDT:USDT"},
    {"version": 1, "symbol": SYMBOL, "last_ts": "not a time", "last_price": 1.0, "active": [], "broken": []},
])
def test_bad_state_is_a_data_error(state) -> None:
    with pytest.raises(DataError):
        ClusterTracker.from_state(ClusterSettings(), SYMBOL, state)


def test_input_errors() -> None:
    t = tracker()
    t.update(bastion(minutes=5))
    with pytest.raises(DataError, match="time order"):
        t.update(bastion(minutes=0))
    with pytest.raises(DataError, match="bar_high"):
        t.update(bastion(minutes=10), bar_high=90_000.0, bar_low=95_000.0)
    with pytest.raises(DataError, match="bar_low"):
        t.update(bastion(minutes=10), bar_low=float("nan"))
    with pytest.raises(DataError, match="symbol"):
        ClusterTracker(ClusterSettings(), "ETH/USDT:USDT").update(bastion())


def test_matching_is_one_to_one_same_side_and_order_preserving_under_a_shift() -> None:
    old = np.array([100.0, 100.15, 100.3, 100.3])
    side = np.array([1, 1, 1, 0], np.int8)
    new = old * 1.001
    assert match_clusters(side, old, side, new, np.log1p(0.005)).tolist() == [0, 1, 2, 3]
    # nothing within reach, or the other side only: no partner
    assert match_clusters(side, old, side, old * 1.02, np.log1p(0.005)).tolist() == [-1, -1, -1, -1]
    assert match_clusters(side[:1], old[:1], np.array([0], np.int8), old[:1], 0.01).tolist() == [-1]


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.floats(50.0, 150.0), min_size=1, max_size=20, unique=True), st.floats(0.998, 1.002))
def test_matching_a_uniformly_shifted_side_is_the_identity(levels, factor) -> None:
    old = np.sort(np.array(levels))
    assume(np.all(np.diff(np.log(old)) > 1e-9))
    side = np.ones(old.size, np.int8)
    assert match_clusters(side, old, side, old * factor, np.log1p(0.005)).tolist() == list(range(old.size))


def test_a_cluster_keeps_its_peak_while_price_eats_it_and_after_the_break() -> None:
    t = tracker()
    full = t.update(bastion(0.0))
    below = max((c for c in full if c.side is Side.LONG), key=lambda c: c.open_interest)
    half = t.update(bastion(5.0, usd=0.5))  # the same map with half the USD
    same = next(c for c in half if c.cluster_id == below.cluster_id)
    assert same.open_interest == pytest.approx(below.open_interest * 0.5)
    assert same.peak_open_interest == pytest.approx(below.open_interest)
    assert same.peak_strength >= same.strength
    after = t.update(bastion(10.0, usd=0.5), bar_high=BASTION_PRICE, bar_low=below.price_level * 0.999)
    broken = next(c for c in after if c.cluster_id == below.cluster_id)
    assert not broken.active and broken.peak_open_interest == pytest.approx(below.open_interest)
    restored = ClusterTracker.from_state(t.settings, SYMBOL, json.loads(json.dumps(t.state())))
    assert restored.state() == t.state()
