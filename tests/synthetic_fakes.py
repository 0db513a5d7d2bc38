"""A seeded fake market for the synthetic-model tests: 5m candles, 4h open interest, 8h funding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.synthetic.model import SyntheticParams

START = pd.Timestamp("2025-01-01", tz="UTC")
BAR = pd.Timedelta("5min")


def market(n: int = 3000, seed: int = 0, *, drift: float = 0.0, vol: float = 0.002, oi_every: str = "4h",
           start: pd.Timestamp = START) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(candles indexed by bar open, OI indexed by when known, funding indexed by settlement)."""
    rng = np.random.default_rng(seed)
    steps = drift + vol * rng.standard_t(4, size=n)
    close = 50_000.0 * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([50_000.0], close[:-1]))
    wick = np.abs(rng.normal(0, vol, size=(2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 50.0, size=n)
    idx = pd.date_range(start, periods=n, freq=BAR)
    candles = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx)
    oi_idx = pd.date_range(start - pd.Timedelta(oi_every), idx[-1] + BAR, freq=oi_every)
    oi = pd.DataFrame({"oi_usd": 5e9 * np.exp(np.cumsum(rng.normal(0, 0.02, size=oi_idx.size)))}, index=oi_idx)
    f_idx = pd.date_range(start, idx[-1] + BAR, freq="8h")
    funding = pd.DataFrame({"funding_rate": rng.normal(2e-4, 3e-4, size=f_idx.size)}, index=f_idx)
    return candles, oi, funding


def one_tier(**changes: object) -> SyntheticParams:
    """A single 100x tier, no decay, no churn, no funding, no spreading: easy to reason about."""
    base = dict(tier_leverages=(100.0,), tier_weights=(1.0,), half_life_h=0.0, churn=0.0, funding_erosion=False,
                oi_spread=False, source_mode="OI", side_split_gain=0.0)
    return SyntheticParams(**{**base, **changes})


def bars(rows: list[tuple[float, float, float, float]], volume: float = 100.0) -> pd.DataFrame:
    """Candles from (open, high, low, close) rows, 5 minutes apart from START."""
    idx = pd.date_range(START, periods=len(rows), freq=BAR)
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    frame["volume"] = volume
    return frame


def oi_at(candles: pd.DataFrame, values: dict[int, float]) -> pd.DataFrame:
    """OI known at the close of the given bar positions."""
    idx = pd.DatetimeIndex([candles.index[i] + BAR for i in values])
    return pd.DataFrame({"oi_usd": list(values.values())}, index=idx)
