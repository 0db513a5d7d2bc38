"""The magnet read: strongest magnet above and below, asymmetry, bias."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.clusters.magnets import magnet_read
from bot.clusters.tracker import ClusterTracker
from bot.domain import Bias, Cluster, Side
from bot.errors import DataError
from config.settings import ClusterSettings
from tests.clusters_maps import BASTION_LONG, BASTION_PRICE, BASTION_PRICES, BASTION_SHORT, SYMBOL, T0, snapshot


def cluster(level: float, side: Side, usd: float, price: float = 100.0, active: bool = True) -> Cluster:
    return Cluster(cluster_id=f"{side.value}{level}", price_level=level, side=side, leverage_tier=25.0,
                   open_interest=usd, liquidation_count=1, strength=0.5,
                   distance_from_price=abs(level / price - 1) * 100, active=active, first_seen=T0, last_seen=T0,
                   last_updated=T0, price_low=level, price_high=level,
                   broken_at=None if active else T0 + timedelta(minutes=5))


def test_bastion_sample_reads_short_magnet_above_and_long_magnet_below() -> None:
    clusters = ClusterTracker(ClusterSettings(), SYMBOL).update(
        snapshot(BASTION_PRICES, BASTION_LONG, BASTION_SHORT, BASTION_PRICE))
    read = magnet_read(clusters, BASTION_PRICE)
    assert read.above is not None and read.above.side is Side.SHORT
    assert 98_000 <= read.above.price_level <= 99_000
    assert read.below is not None and read.below.side is Side.LONG
    assert 91_500 <= read.below.price_level <= 92_500
    assert read.asymmetry == pytest.approx(read.above.open_interest / read.below.open_interest)
    assert read.bias is Bias.BULLISH


@pytest.mark.parametrize(("clusters", "asymmetry", "bias"), [
    ([], 1.0, Bias.NEUTRAL),
    ([cluster(101, Side.SHORT, 5e6)], math.inf, Bias.BULLISH),
    ([cluster(99, Side.LONG, 5e6)], 0.0, Bias.BEARISH),
    ([cluster(101, Side.SHORT, 5e6), cluster(99, Side.LONG, 5e6)], 1.0, Bias.NEUTRAL),
    ([cluster(101, Side.SHORT, 6e6), cluster(99, Side.LONG, 5e6)], 1.2, Bias.NEUTRAL),
    ([cluster(101, Side.SHORT, 7e6), cluster(99, Side.LONG, 5e6)], 1.4, Bias.BULLISH),
    ([cluster(101, Side.SHORT, 4e6), cluster(99, Side.LONG, 5e6)], 0.8, Bias.BEARISH),
])
def test_asymmetry_and_bias(clusters, asymmetry, bias) -> None:
    read = magnet_read(clusters, 100.0, bias_threshold=1.2)
    assert read.asymmetry == pytest.approx(asymmetry) and read.bias is bias


def test_broken_and_wrong_side_clusters_are_no_magnets() -> None:
    clusters = [cluster(103, Side.SHORT, 9e6, active=False), cluster(102, Side.SHORT, 2e6),
                cluster(101, Side.LONG, 8e6), cluster(97, Side.LONG, 3e6), cluster(98, Side.SHORT, 7e6)]
    read = magnet_read(clusters, 100.0)
    assert read.above is clusters[1] and read.below is clusters[3]


def test_equal_usd_goes_to_the_nearer_magnet() -> None:
    far, near = cluster(110, Side.SHORT, 5e6), cluster(102, Side.SHORT, 5e6)
    assert magnet_read([far, near], 100.0).above is near


def test_magnet_read_serializes() -> None:
    read = magnet_read([cluster(101, Side.SHORT, 5e6)], 100.0)
    assert read.to_dict()["asymmetry"] is None and read.to_dict()["bias"] == "BULLISH_BIAS"


@pytest.mark.parametrize(("price", "threshold"), [(0.0, 1.2), (float("nan"), 1.2), (100.0, 0.5)])
def test_bad_input_is_a_data_error(price, threshold) -> None:
    with pytest.raises(DataError):
        magnet_read([], price, threshold)


def test_cascade_read_runs_through_close_clusters_of_one_side_and_stops_at_a_gap() -> None:
    clusters = [cluster(100.4, Side.SHORT, 1e6), cluster(100.8, Side.SHORT, 2e6), cluster(100.9, Side.LONG, 9e9),
                cluster(101.2, Side.SHORT, 3e6), cluster(103.0, Side.SHORT, 4e6),  # 1.8% gap: not part of the run
                cluster(100.1, Side.SHORT, 5e9, active=False),  # broken: no magnet, no cascade
                cluster(99.0, Side.LONG, 7e6)]
    read = magnet_read(clusters, 100.0, cascade_gap_pct=0.5)
    up, down = read.cascade_up, read.cascade_down
    assert up is not None and (up.clusters, up.usd, up.first_price, up.end_price) == (3, 6e6, 100.4, 101.2)
    assert down is not None and (down.clusters, down.usd, down.first_price, down.end_price) == (1, 7e6, 99.0, 99.0)
    assert magnet_read(clusters, 100.0, cascade_gap_pct=2.0).cascade_up.clusters == 4  # type: ignore[union-attr]
    assert magnet_read(clusters, 100.0).cascade_up is None  # not asked for
    assert magnet_read([cluster(99.0, Side.LONG, 7e6)], 100.0, cascade_gap_pct=0.5).cascade_up is None
