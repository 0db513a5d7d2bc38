"""The cascade strategy: toward a deep run of close clusters whose first is within reach, target its end."""

from __future__ import annotations

import pytest

from bot.domain import Side
from strategies.candidate import strategy_candidates
from strategies.cascade import SPEC, CascadeParams
from strategies.engine import Engine
from strategies.signal import Direction, StrategyName
from tests.strategy_fakes import cluster, context, magnets, settings, snapshot

P = 100_000.0


def run_up(usd: float = 30e6) -> list:
    # short clusters above at +0.5%, +0.9%, +1.3% (gaps ~0.4%), then a 2% gap to a far one
    return [cluster(f"s{k}", P * (1 + x), Side.SHORT, usd=usd, strength=0.4 + 0.1 * k, price=P)
            for k, x in enumerate((0.005, 0.009, 0.013, 0.033))]


def candidates(clusters: list, **params: float) -> list:
    return strategy_candidates(SPEC, CascadeParams(**params), snapshot(P), clusters, context(P, atr=150.0), magnets())


def test_a_deep_run_within_reach_is_traded_toward_targeting_the_runs_end() -> None:
    [c] = candidates(run_up())
    assert c.strategy is StrategyName.CASCADE and c.direction is Direction.LONG
    assert c.cluster.cluster_id == "s0"  # the run's first cluster names the signal
    assert P * 1.009 < c.take_profit < P * 1.013  # before the third (last) cluster of the run, beyond the others
    assert c.confidence == 0.6  # the strongest cluster of the run
    assert c.reason.startswith("cascade of short liquidation clusters above from 100,500")


@pytest.mark.parametrize("params", [dict(min_clusters=4), dict(min_usd=100e6), dict(max_first_distance_pct=0.4),
                                    dict(gap_pct=0.3)])
def test_a_shallow_far_or_gapped_run_is_not_traded(params: dict) -> None:
    assert candidates(run_up(), **params) == []


def test_the_mirror_run_below_is_a_short() -> None:
    below = [cluster(f"l{k}", P * (1 - x), Side.LONG, usd=30e6, price=P) for k, x in enumerate((0.004, 0.008, 0.012))]
    [c] = candidates(below)
    assert c.direction is Direction.SHORT and P * 0.988 < c.take_profit < P * 0.992


def test_the_engine_emits_it_with_the_cascade_read_of_the_signal() -> None:
    from bot.clusters.magnets import magnet_read
    clusters = run_up()
    read = magnet_read(clusters, P, 1.2, cascade_gap_pct=0.5)
    result = Engine(settings(enabled=["cascade"])).run(snapshot(P), clusters, context(P, atr=150.0), read)
    [sig] = result.signals
    assert sig.strategy is StrategyName.CASCADE
    up = sig.market_sentiment.cascade_up
    assert up is not None and up.clusters == 3 and up.usd == 90e6 and up.end_price == round(P * 1.013, 1)
