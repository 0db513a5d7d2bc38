"""The built-in market simulator: seeded, offline, deterministic (the default paper feed).

Every random draw is made up front, vectorized, from ``numpy.random.Generator`` seeded by
(seed, symbol); the path itself (volatility clustering, jumps, liquidation cascades that
flush open interest) runs in the numba kernel of ``simkernel``. The same seed gives the same
market on every machine and every restart, which is what lets a killed paper bot resume
exactly where it stopped.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

import numpy as np

from bot.domain import utc
from bot.feeds.base import Bar, BarBatch, HistoricFeed
from bot.feeds.simkernel import simulate_path

# Starting price and open interest (USD) per base asset; anything else starts at 100 / $300M.
MARKETS: dict[str, tuple[float, float]] = {
    "BTC": (95_000.0, 8e9), "ETH": (3_300.0, 4e9), "SOL": (190.0, 1.5e9), "XRP": (2.3, 1e9),
    "BNB": (690.0, 6e8), "DOGE": (0.33, 8e8),
}
LEVERAGE = np.array([5.0, 10.0, 25.0, 50.0, 100.0])
TIER_WEIGHT = np.array([0.15, 0.30, 0.25, 0.20, 0.10])
FUNDING_HOURS = 8


@dataclass(frozen=True, slots=True)
class SimParams:
    """Knobs of the simulated market (defaults: a BTC-like 5m market)."""

    daily_vol: float = 0.028          # long-run daily volatility of returns
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    t_df: float = 4.0                 # Student-t innovations: fat tails
    jumps_per_day: float = 1.5
    jump_vol: float = 0.005           # log-size of a jump
    wick: float = 0.7                 # intrabar excursion beyond open/close, in bar sigmas
    leveraged_share: float = 0.35     # share of OI held by leveraged cohorts on the grid
    churn_per_day: float = 0.6        # fraction of leveraged OI closed (and reopened) per day
    refill_per_day: float = 1.0       # speed at which flushed OI is rebuilt
    cascade_k: float = 0.2            # extra log move per unit of total OI liquidated
    close_share: float = 0.6          # part of a cascade's wick the close keeps
    maint: float = 0.004              # maintenance margin in the liquidation price
    ls_phi: float = 0.995             # persistence of the long/short ratio
    ls_vol: float = 0.02
    funding_base: float = 0.0001      # per funding interval (8h) at a balanced book
    funding_slope: float = 0.002      # per unit of long share above one half


@dataclass(frozen=True, slots=True)
class SimSeries:
    """One symbol's simulated bars (arrays of equal length, bar open times in ``ts``)."""

    symbol: str
    ts: np.ndarray          # datetime64[s], bar open
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray      # base units
    oi_usd: np.ndarray
    long_short_ratio: np.ndarray
    funding_rate: np.ndarray
    liq_long_usd: np.ndarray
    liq_short_usd: np.ndarray

    def __len__(self) -> int:
        return int(self.close.size)


def market_of(symbol: str) -> tuple[float, float]:
    """(start price, open interest USD) for a ccxt symbol's base asset."""
    base = symbol.split("/")[0].upper()
    return MARKETS.get(base, (100.0, 3e8))


DRAW_BLOCK = 2048  # bars per block of random draws (part of the market's identity: changing it changes markets)
SIM_VERSION = 2     # stored with a paper run's identity: a state made with other draws is refused


def draws(symbol: str, n_bars: int, seed: int, params: SimParams) -> tuple[np.ndarray, ...]:
    """The random inputs of the first ``n_bars`` bars, drawn in blocks of ``DRAW_BLOCK`` bars.

    Block ``k`` has its own generator, seeded by (seed, symbol, k), so the draws of bar ``i`` never
    depend on how many bars are simulated: a longer run is the same market carried further (a
    resumed ``liqbot paper`` with another ``--duration`` extends its market exactly).
    """
    crc = zlib.crc32(symbol.encode("utf-8"))
    blocks: list[tuple[np.ndarray, ...]] = []
    for k in range(-(-n_bars // DRAW_BLOCK)):
        rng = np.random.default_rng(np.random.SeedSequence([seed, crc, k]))
        m = DRAW_BLOCK
        blocks.append((rng.standard_t(params.t_df, m), rng.random(m), rng.normal(0.0, params.jump_vol, m),
                       rng.normal(0.0, params.wick, m), rng.normal(0.0, params.wick, m), rng.normal(0.0, 1.0, m),
                       rng.normal(0.0, 1.0, m), rng.lognormal(0.0, 0.3, m)))
    if not blocks:
        return tuple(np.empty(0) for _ in range(8))
    return tuple(np.concatenate([b[i] for b in blocks])[:n_bars] for i in range(8))


def simulate(symbol: str, n_bars: int, start: datetime, timeframe: timedelta, seed: int,
             params: SimParams = SimParams()) -> SimSeries:
    """Simulate ``n_bars`` bars of ``symbol`` starting at ``start`` (deterministic in all inputs)."""
    bars_per_day = 86400.0 / timeframe.total_seconds()
    sigma = params.daily_vol / math.sqrt(bars_per_day)
    t, jump_hit, jump_size, wick_up, wick_dn, create_noise, ls_noise, turnover = draws(symbol, n_bars, seed, params)
    t = t / math.sqrt(params.t_df / (params.t_df - 2.0))
    jumps = (jump_hit < params.jumps_per_day / bars_per_day) * jump_size
    wick_up, wick_dn = np.abs(wick_up), np.abs(wick_dn)
    p0, oi0 = market_of(symbol)
    var0 = sigma * sigma
    omega = var0 * (1.0 - params.garch_alpha - params.garch_beta)
    o, h, lo, c, oi, lsr, liq_l, liq_s = simulate_path(
        p0, t, jumps, wick_up, wick_dn, create_noise, ls_noise, var0, omega, params.garch_alpha,
        params.garch_beta, params.cascade_k, params.close_share, oi0 * (1 - params.leveraged_share),
        oi0 * params.leveraged_share, params.churn_per_day / bars_per_day, params.refill_per_day / bars_per_day,
        LEVERAGE, TIER_WEIGHT, params.maint, 0.0005, 1.5, params.ls_phi, params.ls_vol)
    long_share = lsr / (1.0 + lsr)
    funding = np.clip(params.funding_base + params.funding_slope * (long_share - 0.5), -0.0075, 0.0075)
    move = np.abs(np.log(c / o))
    volume = (oi * 0.002 * turnover * (1.0 + 40.0 * move) + liq_l + liq_s) / c
    first = np.datetime64(utc(start).replace(tzinfo=None), "s")
    ts = first + np.arange(n_bars) * np.timedelta64(int(timeframe.total_seconds()), "s")
    return SimSeries(symbol, ts, o, h, lo, c, volume, oi, lsr, funding, liq_l, liq_s)


def _to_datetime(value: np.datetime64) -> datetime:
    return utc(value.astype("datetime64[us]").item())


class SimFeed(HistoricFeed):
    """Simulated bars of several symbols: ``warmup_bars`` for the model, then ``bars`` to trade."""

    def __init__(self, symbols: tuple[str, ...], start: datetime, timeframe: timedelta, warmup_bars: int,
                 bars: int, seed: int, speed: float, params: SimParams = SimParams()) -> None:
        super().__init__(speed)
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.warmup_bars = warmup_bars
        total = warmup_bars + bars
        self.series = {s: simulate(s, total, start, timeframe, seed, params) for s in self.symbols}
        self.end = utc(start) + total * timeframe  # the close of the last bar

    def batches(self) -> Iterator[BarBatch]:
        """One batch per bar time, every symbol in it."""
        first = next(iter(self.series.values()))
        open_s = first.ts.astype("datetime64[s]").astype(np.int64)
        period = FUNDING_HOURS * 3600
        # funding is settled on bars holding a funding instant, like the venue's 00/08/16 UTC
        settles = (open_s + int(self.timeframe.total_seconds())) // period > open_s // period
        for i in range(len(first)):
            ts = _to_datetime(first.ts[i])
            close_ts = ts + self.timeframe
            bars = tuple(Bar(symbol=s.symbol, ts=ts, close_ts=close_ts, open=float(s.open[i]), high=float(s.high[i]),
                             low=float(s.low[i]), close=float(s.close[i]), volume=float(s.volume[i]),
                             oi_usd=float(s.oi_usd[i]), long_short_ratio=float(s.long_short_ratio[i]),
                             funding_rate=float(s.funding_rate[i]) if settles[i] else None)
                         for s in self.series.values())
            yield BarBatch(close_ts=close_ts, bars=bars, warmup=i < self.warmup_bars)
