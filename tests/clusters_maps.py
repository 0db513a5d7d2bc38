"""Heatmaps for the cluster tests: hypothesis strategies and small builders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import strategies as st

from bot.domain import HeatmapSnapshot, HeatmapSource

SYMBOL = "BTC/USDT:USDT"
T0 = datetime(2025, 3, 8, 14, 35, tzinfo=timezone.utc)

# the Bastion seed sample: 11 levels, price 96,200 (USD in millions)
BASTION_PRICES = np.array([91500, 92000, 93000, 94000, 95000, 95500, 97000, 97500, 98000, 98500, 99000.0])
BASTION_SHORT = np.array([0, 0, 0, 0, 0, 0, 28, 52, 95, 118, 135.0]) * 1e6
BASTION_LONG = np.array([80, 88, 40, 30, 22, 15, 0, 0, 0, 0, 0.0]) * 1e6
BASTION_PRICE = 96_200.0


def snapshot(prices: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, price: float,
             minutes: float = 0.0, **assumptions: object) -> HeatmapSnapshot:
    """A snapshot ``minutes`` after T0."""
    return HeatmapSnapshot(SYMBOL, T0 + timedelta(minutes=minutes), price, prices, long_usd, short_usd,
                           HeatmapSource.SYNTHETIC, assumptions=dict(assumptions))


@st.composite
def level_maps(draw: st.DrawFn, min_levels: int = 1, max_levels: int = 80,
               clear_pct: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(prices, long_usd, short_usd, price): log or linear grids, or random sorted prices; USD with
    many zeros, repeated values and wide ranges. Longs sit below price, shorts above, and no level
    holds USD within ``clear_pct`` percent of price."""
    n = draw(st.integers(min_levels, max_levels))
    price = draw(st.floats(0.05, 200_000.0))
    kind = draw(st.sampled_from(["log", "linear", "random"]))
    if kind == "log":
        step = draw(st.floats(0.0002, 0.02))
        start = draw(st.integers(-n, 0))
        prices = price * np.exp(step * (np.arange(n) + start + 0.5))
    elif kind == "linear":
        step = price * draw(st.floats(0.0005, 0.01))
        start = draw(st.integers(-n, 0))
        prices = price + step * (np.arange(n) + start + 0.5)
        if prices[0] <= 0:
            prices = prices - prices[0] + step
    else:
        rel = draw(st.lists(st.floats(-0.3, 0.3), min_size=n, max_size=n, unique=True))
        prices = np.unique(price * np.exp(np.array(rel)))
        n = prices.size
    usd = st.one_of(st.just(0.0), st.sampled_from([1e6, 5e6]), st.floats(1.0, 1e9))
    values = np.array(draw(st.lists(usd, min_size=n, max_size=n)))
    below = prices < price * (1 - clear_pct / 100.0)
    above = prices > price * (1 + clear_pct / 100.0)
    return prices, np.where(below, values, 0.0), np.where(above, values, 0.0), price


def two_bump_side(n: int = 600, price: float = 50_000.0, centers: tuple[float, ...] = (0.97, 0.94),
                  width: float = 0.003) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fine log grid below ``price`` with Gaussian long bumps at ``centers`` (fractions of price)."""
    prices = price * np.exp(np.linspace(np.log(0.90), np.log(0.999), n))
    long_usd = sum(1e7 * np.exp(-0.5 * ((np.log(prices) - np.log(price * c)) / width) ** 2) for c in centers)
    return prices, np.asarray(long_usd), np.zeros(n)
