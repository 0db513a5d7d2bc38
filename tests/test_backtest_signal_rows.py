"""LazySignals: rows at once, Signal objects built once on first read, rows and objects never disagree."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from backtest.signal_rows import LazySignals, row_of, signal_rows
from bot.domain import Bias, HeatmapSource, Side
from strategies.signal import (ClusterData, Direction, HeatmapRef, MarketSentiment, PositionSize, Signal,
                               StrategyName, signal_id)

TS = datetime(2025, 3, 1, 12, 5, tzinfo=timezone.utc)


def make(cluster_id: str, entry: float = 100.0) -> Signal:
    sid = signal_id("BTC/USDT:USDT", StrategyName.LIQUIDATION_HUNT, TS, cluster_id)
    return Signal(id=sid, timestamp=TS, symbol="BTC/USDT:USDT", strategy=StrategyName.LIQUIDATION_HUNT,
                  signal=Direction.LONG, entry_price=entry, stop_loss=entry - 1, take_profit=entry + 2, risk_reward=2.0,
                  confidence=0.7, position_size=PositionSize(base_usd=1000.0, multiplier=1.5, notional_usd=1500.0),
                  reason="test", cluster_data=ClusterData(cluster_id=cluster_id, price_level=entry + 2.5,
                                                          side=Side.SHORT, strength=0.7, open_interest=5e6,
                                                          distance_from_price=2.5, leverage_tier=25.0),
                  market_sentiment=MarketSentiment(sentiment=Bias.NEUTRAL, long_short_ratio=None, total_oi_usd=None,
                                                   magnet_asymmetry=1.0),
                  heatmap=HeatmapRef(source=HeatmapSource.SYNTHETIC, snapshot_ts=TS))


def test_rows_are_known_without_building_and_build_happens_once() -> None:
    calls = []
    a, b = make("c1"), make("c2", 200.0)
    lazy = LazySignals()
    lazy.add(row_of(3, a), lambda: calls.append("a") or a)
    lazy.add_built(7, b)
    assert [r.id for r in signal_rows(lazy)] == [a.id, b.id] and calls == []
    assert signal_rows(lazy)[0] == (3, "liquidation_hunt", 1.0, 100.0, 99.0, 102.0, 1500.0, a.id)
    assert list(lazy) == [(3, a), (7, b)] and lazy[0] == (3, a) and lazy[-1] == (7, b) and lazy[:1] == [(3, a)]
    assert list(lazy) == [(3, a), (7, b)] and calls == ["a"]
    assert lazy == [(3, a), (7, b)] and len(lazy) == 2


def test_a_signal_built_differently_from_its_row_is_an_error() -> None:
    a, b = make("c1"), make("c2")
    lazy = LazySignals()
    lazy.add(row_of(1, a), lambda: b)
    with pytest.raises(RuntimeError, match="built differently"):
        list(lazy)
