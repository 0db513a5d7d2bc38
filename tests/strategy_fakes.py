"""Hand-built inputs for the strategy, engine, signal-log and review tests (no tracker, no model)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from bot.domain import Bias, Cluster, HeatmapSnapshot, HeatmapSource, MagnetRead, MarketContext, Side
from config.settings import StrategySettings

T0 = datetime(2025, 3, 8, 14, 35, tzinfo=timezone.utc)
SYMBOL = "BTC/USDT:USDT"


def cluster(cid: str, level: float, side: Side | str, *, strength: float = 0.8, usd: float = 5e6,
            width_pct: float = 0.1, active: bool = True, broken_min_ago: float | None = None,
            now: datetime = T0, price: float | None = None, leverage: float = 25.0) -> Cluster:
    """A cluster ``width_pct`` wide around ``level``; ``broken_min_ago`` makes it broken that long ago."""
    half = level * width_pct / 200.0
    broken_at = now - timedelta(minutes=broken_min_ago) if broken_min_ago is not None else None
    return Cluster(cluster_id=cid, price_level=level, side=Side(side), leverage_tier=leverage, open_interest=usd,
                   liquidation_count=int(usd // 25_000), strength=strength,
                   distance_from_price=abs(level - price) / price * 100 if price else 0.0,
                   active=active and broken_at is None, first_seen=now - timedelta(hours=2), last_seen=now,
                   last_updated=now, price_low=level - half, price_high=level + half, broken_at=broken_at)


def snapshot(price: float, *, ts: datetime = T0, symbol: str = SYMBOL, n: int = 41) -> HeatmapSnapshot:
    """A small symmetric heatmap around ``price`` (the strategies read clusters, not levels)."""
    prices = price * (1.0 + np.linspace(-0.05, 0.05, n))
    below = prices < price
    return HeatmapSnapshot(symbol=symbol, ts=ts, price=price, prices=prices,
                           long_usd=np.where(below, 1e5, 0.0), short_usd=np.where(below, 0.0, 1e5),
                           source=HeatmapSource.SYNTHETIC, assumptions={"fake": True})


def context(price: float, *, oi: float = 6e9, ls: float = 1.0, atr: float | None = None,
            ts: datetime = T0, symbol: str = SYMBOL) -> MarketContext:
    """Market context with total OI ``oi`` and long/short ratio ``ls``."""
    return MarketContext.from_total(symbol, ts, price, oi, ls, atr=atr)


def magnets(bias: Bias = Bias.NEUTRAL, asymmetry: float = 1.0) -> MagnetRead:
    """A magnet read without clusters attached (the engine reads bias and asymmetry)."""
    return MagnetRead(above=None, below=None, asymmetry=asymmetry, bias=bias)


def settings(**overrides: Any) -> StrategySettings:
    """Default strategy settings with top-level overrides."""
    return StrategySettings(**overrides)
