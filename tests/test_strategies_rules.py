"""The four strategies on hand-built clusters: thresholds, directions and honest exits."""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from bot.domain import Bias, Side
from strategies.breakout import BreakoutParams, breakout
from strategies.hunt import HuntParams, liquidation_hunt
from strategies.levels import cluster_table
from strategies.signal import Direction, StrategyName
from strategies.sizing import OISizingParams, oi_multipliers, oi_sizing
from strategies.support_resistance import SupportResistanceParams, support_resistance
from tests.strategy_fakes import T0, cluster, context, magnets, snapshot

P = 100_000.0


def hunt(clusters, atr_value=200.0, bias=Bias.NEUTRAL, **params):
    return liquidation_hunt(snapshot(P), clusters, context(P, atr=atr_value), magnets(bias), HuntParams(**params))


def test_hunt_goes_long_toward_a_short_cluster_above_with_the_target_before_it() -> None:
    c = cluster("s", P * 1.012, Side.SHORT, strength=0.85, usd=3.5e6, width_pct=0.2, price=P)
    [cand] = hunt([c])
    assert cand.strategy == StrategyName.LIQUIDATION_HUNT and cand.direction == Direction.LONG
    assert cand.entry == P
    assert cand.take_profit < c.price_low < c.price_level  # before the cluster's near edge
    assert cand.stop_loss == pytest.approx(P - 1.5 * 200.0)
    assert cand.confidence == 0.85


def test_hunt_goes_short_toward_a_long_cluster_below() -> None:
    c = cluster("l", P * 0.99, Side.LONG, strength=0.7, price=P)
    [cand] = hunt([c])
    assert cand.direction == Direction.SHORT
    assert c.price_high < cand.take_profit < cand.entry < cand.stop_loss


@pytest.mark.parametrize("change", [dict(strength=0.59), dict(level=P * 1.02), dict(usd=1.99e6),
                                    dict(active=False)])
def test_hunt_thresholds(change: dict) -> None:
    spec = dict(cid="s", level=P * 1.01, side=Side.SHORT, strength=0.6, usd=2e6, price=P)
    assert len(hunt([cluster(**spec)])) == 1  # exactly at the thresholds: hunted
    assert hunt([cluster(**{**spec, **change})]) == []


def test_hunt_stop_goes_beyond_an_opposite_cluster_inside_the_atr_stop() -> None:
    target = cluster("s", P * 1.015, Side.SHORT, strength=0.9, price=P)
    opposite = cluster("l", P * 0.998, Side.LONG, strength=0.3, width_pct=0.1, price=P)  # 0.2% below
    [cand] = hunt([target, opposite], atr_value=300.0)  # ATR stop 0.45% below: the cluster is in front
    assert cand.stop_loss < opposite.price_low


def test_hunt_stop_is_never_inside_a_cluster() -> None:
    target = cluster("s", P * 1.015, Side.SHORT, strength=0.9, price=P)
    far = cluster("l", P * 0.9955, Side.LONG, strength=0.2, width_pct=0.2, price=P)  # straddles the ATR stop
    [cand] = hunt([target, far], atr_value=300.0)
    table = cluster_table([target, far], T0)
    assert not np.any(table.active & (table.low <= cand.stop_loss) & (cand.stop_loss <= table.high))
    assert cand.stop_loss < far.price_low


def test_hunt_confidence_is_cut_against_the_magnet_bias() -> None:
    c = cluster("s", P * 1.01, Side.SHORT, strength=0.8, price=P)
    assert hunt([c], bias=Bias.BEARISH)[0].confidence == pytest.approx(0.64)
    assert hunt([c], bias=Bias.BULLISH)[0].confidence == pytest.approx(0.8)


def test_hunt_without_atr_uses_the_fallback_percent() -> None:
    c = cluster("s", P * 1.015, Side.SHORT, strength=0.9, price=P)
    [cand] = hunt([c], atr_value=None, atr_fallback_pct=0.4)
    assert cand.stop_loss == pytest.approx(P * (1 - 1.5 * 0.004))


def sr(clusters, **params):
    return support_resistance(snapshot(P), clusters, context(P), magnets(), SupportResistanceParams(**params))


def test_support_gives_a_long_with_the_stop_beyond_it_and_the_target_before_resistance() -> None:
    support = cluster("l", P * 0.995, Side.LONG, strength=0.6, price=P)
    resistance = cluster("s", P * 1.02, Side.SHORT, strength=0.4, price=P)
    [cand] = sr([support, resistance])
    assert cand.direction == Direction.LONG and cand.cluster.cluster_id == "l"
    assert cand.stop_loss < support.price_low
    assert cand.take_profit < resistance.price_low


def test_resistance_gives_a_short() -> None:
    support = cluster("l", P * 0.97, Side.LONG, strength=0.4, price=P)
    resistance = cluster("s", P * 1.008, Side.SHORT, strength=0.9, price=P)
    [cand] = sr([support, resistance])
    assert cand.direction == Direction.SHORT
    assert cand.stop_loss > resistance.price_high and cand.take_profit > support.price_high


def test_support_outside_the_band_weak_or_without_a_target_gives_nothing() -> None:
    target = cluster("s", P * 1.02, Side.SHORT, strength=0.4, price=P)
    assert sr([cluster("l", P * 0.985, Side.LONG, strength=0.9, price=P), target]) == []  # 1.5% away
    assert sr([cluster("l", P * 0.995, Side.LONG, strength=0.49, price=P), target]) == []  # weak
    assert sr([cluster("l", P * 0.995, Side.LONG, strength=0.9, price=P)]) == []  # nothing to target


def brk(clusters, **params):
    return breakout(snapshot(P), clusters, context(P), magnets(), BreakoutParams(**params))


def test_a_broken_long_cluster_gives_a_short_continuation() -> None:
    broken = cluster("b", P * 1.003, Side.LONG, usd=5e6, broken_min_ago=5)
    target = cluster("l", P * 0.98, Side.LONG, strength=0.5, price=P)
    [cand] = brk([broken, target])
    assert cand.direction == Direction.SHORT and cand.cluster.cluster_id == "b"
    assert cand.stop_loss > broken.price_level  # back inside the broken level: the break failed
    assert target.price_high < cand.take_profit < cand.entry


def test_a_broken_short_cluster_gives_a_long_continuation() -> None:
    broken = cluster("b", P * 0.997, Side.SHORT, usd=5e6, broken_min_ago=10)
    target = cluster("s", P * 1.02, Side.SHORT, strength=0.5, price=P)
    [cand] = brk([broken, target])
    assert cand.direction == Direction.LONG and cand.stop_loss < broken.price_level


@pytest.mark.parametrize("change", [dict(broken_min_ago=16), dict(usd=1e6), dict(level=P * 0.997)])
def test_breakout_needs_a_recent_large_break_that_price_is_still_beyond(change: dict) -> None:
    spec = dict(cid="b", level=P * 1.003, side=Side.LONG, usd=5e6, broken_min_ago=15)
    target = cluster("l", P * 0.98, Side.LONG, strength=0.5, price=P)
    assert len(brk([cluster(**spec), target])) == 1
    assert brk([cluster(**{**spec, **change}), target]) == []


@pytest.mark.parametrize("oi,ls,direction,expected", [
    (6e9, 1.0, Direction.LONG, 1.5), (5e9, 1.0, Direction.LONG, 1.0), (2e9, 1.0, Direction.SHORT, 1.0),
    (1e9, 1.0, Direction.LONG, 0.5), (6e9, 1.3, Direction.SHORT, 1.8), (6e9, 1.3, Direction.LONG, 1.5),
    (2e9, 0.7, Direction.LONG, 1.2), (2e9, 0.7, Direction.SHORT, 1.0), (float("nan"), 1.0, Direction.LONG, 0.5),
])
def test_oi_sizing_tiers_and_crowding(oi: float, ls: float, direction: Direction, expected: float) -> None:
    assert oi_sizing(direction, context(P, oi=oi, ls=ls), OISizingParams()).multiplier == pytest.approx(expected)


def test_oi_sizing_thresholds_per_symbol_and_vectorized() -> None:
    params = OISizingParams(per_symbol={"ETH/USDT:USDT": {"high_oi_usd": 2e9, "mid_oi_usd": 5e8}})
    eth = context(3000.0, oi=3e9, symbol="ETH/USDT:USDT")
    assert oi_sizing(Direction.LONG, eth, params).multiplier == 1.5
    assert oi_sizing(Direction.LONG, context(P, oi=3e9), params).multiplier == 1.0
    got = oi_multipliers(np.array([6e9, 2e9, 1e8]), np.array([1.3, 0.7, 1.0]), np.array([False, True, True]),
                         OISizingParams())
    assert got.tolist() == pytest.approx([1.8, 1.2, 0.5])


def test_atr_is_the_mean_true_range_of_the_runners_window_and_point_in_time() -> None:
    from collections import deque

    from bot.decide import ATR_BARS, atr_of, atr_series
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 40))
    high, low = close + rng.uniform(0, 2, 40), close - rng.uniform(0, 2, 40)
    out = atr_series(high, low, close)
    window: deque = deque(maxlen=ATR_BARS + 1)
    for t in range(40):  # the very numbers the runner's deque gives, bar by bar
        window.append((high[t], low[t], close[t]))
        want = atr_of(window)
        assert (np.isnan(out[t]) and want is None) or out[t] == want
    assert np.isnan(out[0]) and out[1] == max(high[1], close[0]) - min(low[1], close[0])
    assert atr_series(high[:20], low[:20], close[:20]).tolist()[1:] == out[:20].tolist()[1:]  # point in time


def test_a_wide_cluster_counts_by_its_zone_around_the_level() -> None:
    wide = cluster("l", P * 0.995, Side.LONG, strength=0.9, width_pct=6.0, price=P)  # range 3% either side
    target = cluster("s", P * 1.03, Side.SHORT, strength=0.5, price=P)
    [cand] = sr([wide, target])
    assert cand.stop_loss == pytest.approx(wide.price_level * 0.995 * 0.999, abs=1.0)  # zone 0.5%, buffer 0.1%
    assert cand.stop_loss > wide.price_low
    table = cluster_table([wide], T0, zone_pct=2.0)
    assert table.low[0] == pytest.approx(wide.price_level * 0.98)


def test_breakout_judges_a_break_by_the_peak_the_cluster_held() -> None:
    """Price eats a cluster from its near edge: the remnant at the break is small, the fuel was not."""
    eaten = replace(cluster("b", P * 1.003, Side.LONG, usd=0.5e6, strength=0.1, broken_min_ago=5),
                    peak_open_interest=8e6, peak_strength=0.9)
    target = cluster("l", P * 0.98, Side.LONG, strength=0.5, price=P)
    [cand] = brk([eaten, target], min_usd=2e6)
    assert cand.direction == Direction.SHORT and cand.confidence == pytest.approx(0.9)
    never_big = cluster("b", P * 1.003, Side.LONG, usd=0.5e6, strength=0.1, broken_min_ago=5)
    assert brk([never_big, target], min_usd=2e6) == []
