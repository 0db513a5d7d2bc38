"""Hand-made heatmap snapshots for the snapshot store and plot tests (no market data)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from bot.domain import Cluster, HeatmapSnapshot, HeatmapSource, Side

SYMBOL = "BTC/USDT:USDT"
T0 = datetime(2025, 3, 1, 22, 0, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)


def snapshot(i: int, *, value: float = 1.0, symbol: str = SYMBOL, levels: int | None = None,
             t0: datetime = T0, step: timedelta = STEP, source: HeatmapSource = HeatmapSource.SYNTHETIC,
             clusters: tuple[Cluster, ...] = ()) -> HeatmapSnapshot:
    """Snapshot number ``i``: price drifts with i; longs below, shorts above; ``value`` scales USD."""
    rng = np.random.default_rng(i)
    n = levels if levels is not None else 20 + i % 7  # level counts vary between snapshots
    price = 50_000.0 * (1.0 + 0.001 * np.sin(i / 5.0))
    prices = price * np.exp(np.linspace(-0.05, 0.05, n))
    usd = value * rng.gamma(2.0, 1e5, n)
    below = prices < price
    return HeatmapSnapshot(symbol=symbol, ts=t0 + i * step, price=price, prices=prices,
                           long_usd=np.where(below, usd, 0.0), short_usd=np.where(below, 0.0, usd),
                           source=source, assumptions={"model": "fake", "i_mod": i % 3},
                           provided_clusters=clusters)


def snapshots(start: int, stop: int, **kwargs: object) -> list[HeatmapSnapshot]:
    """Snapshots ``start`` .. ``stop - 1``."""
    return [snapshot(i, **kwargs) for i in range(start, stop)]  # type: ignore[arg-type]


def cluster(cid: str, price: float, side: Side, *, active: bool = True, strength: float = 0.8,
            first: datetime = T0, last: datetime | None = None, broken: datetime | None = None) -> Cluster:
    """A cluster with plausible fields."""
    last = last or first + timedelta(hours=1)
    return Cluster(cluster_id=cid, price_level=price, side=side, leverage_tier=25.0, open_interest=3.5e6,
                   liquidation_count=140, strength=strength, distance_from_price=0.5, active=active,
                   first_seen=first, last_seen=last, last_updated=last, price_low=price * 0.999,
                   price_high=price * 1.001, broken_at=broken)


def same(a: HeatmapSnapshot, b: HeatmapSnapshot) -> bool:
    """Field-by-field equality (level arrays exactly)."""
    return (a.symbol == b.symbol and a.ts == b.ts and a.price == b.price and a.source == b.source
            and np.array_equal(a.prices, b.prices) and np.array_equal(a.long_usd, b.long_usd)
            and np.array_equal(a.short_usd, b.short_usd) and dict(a.assumptions) == dict(b.assumptions)
            and a.provided_clusters == b.provided_clusters)
