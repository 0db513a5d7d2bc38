"""Performance figures of a trade list and an equity curve (pure functions over numpy arrays).

Expectancy is in R (net P&L over the planned risk, so fees, slippage and funding are already in
it); profit factor is gross profit over gross loss; Sharpe and Sortino annualise the mean
per-period return (risk-free rate 0) with the number of periods in a 365-day year; Calmar is the
compound annual growth rate over the maximum drawdown.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np

DAY_NS = 86_400 * 10**9
DAYS_PER_YEAR = 365.0


class Objective(StrEnum):
    """What a study maximises."""

    EXPECTANCY_R = "expectancy_r"
    PROFIT_FACTOR = "profit_factor"
    SHARPE = "sharpe"
    SORTINO = "sortino"
    CALMAR = "calmar"


def expectancy_r(r_multiples: np.ndarray) -> float | None:
    """Mean R multiple after costs; None without trades."""
    r = np.asarray(r_multiples, np.float64)
    return float(r.mean()) if r.size else None


def profit_factor(pnl: np.ndarray) -> float | None:
    """Gross profit / gross loss; None without trades (or with only flat ones), inf without losses."""
    p = np.asarray(pnl, np.float64)
    win, loss = float(p[p > 0].sum()), float(-p[p < 0].sum())
    if loss > 0:
        return win / loss
    return math.inf if win > 0 else None


def sharpe(returns: np.ndarray, periods_per_year: float) -> float | None:
    """Annualised mean over standard deviation (ddof 1) of per-period returns; None when undefined."""
    r = np.asarray(returns, np.float64)
    if r.size < 2:
        return None
    sd = float(r.std(ddof=1))
    return float(r.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else None


def sortino(returns: np.ndarray, periods_per_year: float) -> float | None:
    """Annualised mean over the downside deviation (root mean square of the negative part, target 0)."""
    r = np.asarray(returns, np.float64)
    if r.size < 2:
        return None
    dd = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return float(r.mean() / dd * math.sqrt(periods_per_year)) if dd > 0 else None


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak as a fraction of the peak (0 for a curve that never falls)."""
    e = np.asarray(equity, np.float64)
    if e.size == 0:
        return 0.0
    return float(np.max(1.0 - e / np.maximum.accumulate(e)))


def cagr(equity: np.ndarray, years: float) -> float | None:
    """Compound annual growth of a curve spanning ``years`` (its first point is the start)."""
    e = np.asarray(equity, np.float64)
    if e.size < 2 or years <= 0 or e[0] <= 0:
        return None
    if e[-1] <= 0:
        return -1.0
    return float((e[-1] / e[0]) ** (1.0 / years) - 1.0)


def calmar(equity: np.ndarray, years: float) -> float | None:
    """CAGR over the maximum drawdown; None when the curve never falls or the span is empty."""
    g = cagr(equity, years)
    dd = max_drawdown(equity)
    return g / dd if g is not None and dd > 0 else None


def daily_returns(value: np.ndarray, close_ns: np.ndarray, initial: float) -> np.ndarray:
    """Per-UTC-day returns of an equity curve valued at each bar close (the last value of each day).

    Days compare with the previous day's last value (the first with ``initial``); a bar closing
    exactly at midnight belongs to the day it ends.
    """
    v = np.asarray(value, np.float64)
    if v.size == 0:
        return np.empty(0)
    day = day_index(close_ns)
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    closes = np.r_[initial, v[last]]
    return closes[1:] / closes[:-1] - 1.0


def day_index(close_ns: np.ndarray) -> np.ndarray:
    """The UTC day (days since the epoch) each bar close belongs to (a midnight close ends its day)."""
    return (np.asarray(close_ns, np.int64) - 1) // DAY_NS


def skew_kurtosis(returns: np.ndarray) -> tuple[float, float]:
    """Sample skewness and (non-excess) kurtosis, population moments; (0, 3) when undefined."""
    r = np.asarray(returns, np.float64)
    if r.size < 3:
        return 0.0, 3.0
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if m2 <= 0:
        return 0.0, 3.0
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2)


@dataclass(frozen=True, slots=True)
class Figures:
    """The objective-ready figures of one portfolio column over one span."""

    trades: int
    expectancy_r: float | None
    profit_factor: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    return_pct: float
    max_drawdown_pct: float
    days: int

    def value(self, objective: Objective) -> float | None:
        """The figure a study maximises (None when undefined)."""
        return getattr(self, objective.value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite numbers become strings)."""
        return {k: (("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v)
                    else round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def figures(r_multiples: np.ndarray, pnl: np.ndarray, day_returns: np.ndarray) -> Figures:
    """Every figure of a column from its trades and its daily returns."""
    d = np.asarray(day_returns, np.float64)
    equity = np.r_[1.0, np.cumprod(1.0 + d)]
    years = d.size / DAYS_PER_YEAR
    return Figures(trades=int(np.asarray(pnl).size), expectancy_r=expectancy_r(r_multiples),
                   profit_factor=profit_factor(pnl), sharpe=sharpe(d, DAYS_PER_YEAR),
                   sortino=sortino(d, DAYS_PER_YEAR), calmar=calmar(equity, years),
                   return_pct=100.0 * (float(equity[-1]) - 1.0), max_drawdown_pct=100.0 * max_drawdown(equity),
                   days=int(d.size))
