"""The Engine: filters with named rules, conflict resolution, sizing, and what a signal carries."""

from __future__ import annotations

import math

import pytest

from bot.domain import Bias, Side
from config.settings import load_settings
from strategies.engine import Engine
from strategies.filters import Rule
from strategies.signal import Direction, StrategyName
from tests.strategy_fakes import cluster, context, magnets, settings, snapshot

P = 100_000.0


def run(clusters, *, oi=6e9, ls=1.0, atr=200.0, bias=Bias.NEUTRAL, asym=1.0, **overrides):
    return Engine(settings(**overrides)).run(snapshot(P), clusters, context(P, oi=oi, ls=ls, atr=atr),
                                            magnets(bias, asym))


def test_the_higher_confidence_side_wins_and_the_loser_is_logged() -> None:
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.9, price=P)
    down = cluster("l", P * 0.988, Side.LONG, strength=0.7, price=P)
    result = run([up, down])
    [sig] = result.signals
    assert (sig.strategy, sig.signal, sig.cluster_data.cluster_id) == (StrategyName.LIQUIDATION_HUNT,
                                                                        Direction.LONG, "s")
    assert [(r.rule, r.candidate.cluster.cluster_id) for r in result.rejected] == [(Rule.CONFLICT, "l")]


def test_opposite_candidates_of_equal_confidence_cancel() -> None:
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.8, price=P)
    down = cluster("l", P * 0.988, Side.LONG, strength=0.8, price=P)
    result = run([up, down])
    assert result.signals == []
    assert sorted(r.rule for r in result.rejected) == [Rule.CONFLICT_CANCEL, Rule.CONFLICT_CANCEL]


@pytest.mark.parametrize("level,atr,overrides,rule", [
    (P * 1.004, 200.0, {}, Rule.MIN_RR),                          # target 0.35% away, stop 0.3%
    (P * 1.015, 2500.0, {"min_rr": 0.1}, Rule.MAX_STOP),            # 3.75% stop
    (P * 1.0012, 10.0, {"min_rr": 0.1}, Rule.MIN_TARGET),           # target 0.07% away
])
def test_filters_reject_with_the_rule(level: float, atr: float, overrides: dict, rule: Rule) -> None:
    result = run([cluster("s", level, Side.SHORT, strength=0.9, width_pct=0.05, price=P)], atr=atr, **overrides)
    assert result.signals == []
    assert [r.rule for r in result.rejected] == [rule]
    assert result.rejected[0].to_dict()["rule"] == rule.value


def test_a_target_behind_the_entry_is_a_geometry_rejection() -> None:
    # price already inside the cluster's range: the edge is behind price, the level 0.02% ahead
    c = cluster("s", P * 1.0002, Side.SHORT, strength=0.9, width_pct=1.0, price=P)
    result = run([c])
    assert [r.rule for r in result.rejected] == [Rule.GEOMETRY]


def test_sizing_multiplies_the_base_and_can_be_turned_off() -> None:
    down = cluster("l", P * 0.985, Side.LONG, strength=0.9, price=P)
    [sig] = run([down], oi=6e9, ls=1.3).signals  # crowded longs favour this SHORT
    assert (sig.position_size.multiplier, sig.position_size.notional_usd) == (1.8, 1800.0)
    [sig] = run([down], oi=6e9, ls=1.3, enabled=["liquidation_hunt"]).signals
    assert sig.position_size.multiplier == 1.0


def test_only_enabled_strategies_run() -> None:
    support = cluster("l", P * 0.996, Side.LONG, strength=0.95, price=P)
    target = cluster("s", P * 1.015, Side.SHORT, strength=0.6, price=P)
    [sig] = run([support, target], enabled=["support_resistance"]).signals
    assert sig.strategy == StrategyName.SUPPORT_RESISTANCE
    assert all(r.candidate.strategy == StrategyName.SUPPORT_RESISTANCE for r in
               run([support, target], enabled=["support_resistance"]).rejected)
    assert Engine(settings(enabled=["breakout"])).enabled == ("breakout",)


def test_a_signal_carries_levels_sentiment_and_its_cluster() -> None:
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.9, usd=3.5e6, price=P, leverage=50)
    weak = cluster("w", P * 1.03, Side.SHORT, strength=0.2, price=P)
    sup = cluster("l", P * 0.97, Side.LONG, strength=0.4, price=P)
    [sig] = run([up, weak, sup], ls=1.15, bias=Bias.BULLISH, asym=math.inf).signals
    assert sig.resistance_levels == (101200.0,)  # the 0.2-strength cluster is below the listing threshold
    assert sig.support_levels == (97000.0,)
    ms = sig.market_sentiment
    assert (ms.sentiment, ms.long_short_ratio, ms.total_oi_usd, ms.magnet_asymmetry) == (
        Bias.BULLISH, 1.15, 6e9, None)
    cd = sig.cluster_data
    assert (cd.cluster_id, cd.side, cd.open_interest, cd.leverage_tier, cd.distance_from_price) == (
        "s", Side.SHORT, 3.5e6, 50.0, 1.2)
    assert sig.heatmap.snapshot_ts == sig.timestamp
    assert "101,200" in sig.reason and "x1.5" in sig.reason  # the cause and the sizing are explained


def test_engine_builds_from_the_settings_tree() -> None:
    engine = Engine.from_settings(load_settings(env_file=None).strategies)
    assert engine.enabled == ("liquidation_hunt", "support_resistance", "breakout", "oi_sizing")


def test_the_zone_setting_reaches_the_strategies() -> None:
    wide = cluster("l", P * 0.995, Side.LONG, strength=0.9, width_pct=6.0, price=P)
    target = cluster("s", P * 1.04, Side.SHORT, strength=0.5, price=P)
    narrow = run([wide, target], enabled=["support_resistance"], min_rr=0.5)
    wider = run([wide, target], enabled=["support_resistance"], min_rr=0.5, cluster_zone_pct=2.0)
    assert narrow.signals[0].stop_loss == pytest.approx(P * 0.995 * 0.995 * 0.999, abs=1.0)
    assert wider.signals[0].stop_loss == pytest.approx(P * 0.995 * 0.98 * 0.999, abs=1.0)
