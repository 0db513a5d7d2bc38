"""Per-column statistics of a backtest: trades, win rate, profit factor, expectancy in R, return,
max drawdown, Sharpe (docs/architecture.md §6).

Returns, drawdown and Sharpe come from the value vectorbt keeps at every bar close; the trade
figures from the resolved trades (whose P&L vectorbt's trade records reproduce). Sharpe is the
mean over the standard deviation of per-bar returns, annualised with the number of bars in a
365-day year (crypto trades every day), risk-free rate 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.portfolio import PortfolioResult

YEAR_S = 365.0 * 86400.0


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """Figures of one portfolio column (a strategy alone, or the combined book)."""

    column: str
    trades: int
    wins: int
    win_rate_pct: float | None
    profit_factor: float | None      # gross profit / gross loss; None without trades, inf without losses
    expectancy_r: float | None       # mean R multiple (net P&L over the signal's planned risk)
    avg_win_r: float | None
    avg_loss_r: float | None
    total_pnl_usd: float
    return_pct: float
    max_drawdown_pct: float
    sharpe: float | None
    fees_usd: float
    funding_usd: float
    exposure_pct: float              # share of bars with a position open
    stops: int
    targets: int
    closed_at_end: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite profit factor becomes null, with ``profit_factor_inf`` true)."""
        d = asdict(self)
        pf = d["profit_factor"]
        d["profit_factor_inf"] = pf is not None and math.isinf(pf)
        if d["profit_factor_inf"]:
            d["profit_factor"] = None
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if x.size else None


def column_stats(name: str, trades: pd.DataFrame, value: np.ndarray, initial_cash: float,
                 bar_seconds: float, n_bars: int) -> ColumnStats:
    """Stats of one column from its trades and its value at each bar close."""
    pnl = trades["pnl"].to_numpy(np.float64)
    r = trades["r_multiple"].to_numpy(np.float64)
    wins = pnl > 0
    gross_win, gross_loss = float(pnl[wins].sum()), float(-pnl[~wins].sum())
    if not pnl.size:
        pf = None
    elif gross_loss > 0:
        pf = gross_win / gross_loss
    else:
        pf = math.inf if gross_win > 0 else None
    curve = np.concatenate(([initial_cash], value))
    peak = np.maximum.accumulate(curve)
    dd = float(np.max(1.0 - curve / peak)) if curve.size else 0.0
    rets = np.diff(curve) / curve[:-1]
    sd = float(rets.std(ddof=1)) if rets.size > 1 else 0.0
    sharpe = float(rets.mean() / sd * math.sqrt(YEAR_S / bar_seconds)) if sd > 0 else None
    held = (trades["exit_bar"].to_numpy() - trades["entry_bar"].to_numpy() + 1).sum()
    reasons = trades["reason"].to_numpy()
    return ColumnStats(
        column=name, trades=int(pnl.size), wins=int(wins.sum()),
        win_rate_pct=100.0 * float(wins.mean()) if pnl.size else None, profit_factor=pf,
        expectancy_r=_mean(r), avg_win_r=_mean(r[wins]), avg_loss_r=_mean(r[~wins]),
        total_pnl_usd=float(pnl.sum()), return_pct=100.0 * (float(curve[-1]) / initial_cash - 1.0),
        max_drawdown_pct=100.0 * dd, sharpe=sharpe,
        fees_usd=float((trades["fee_entry"] + trades["fee_exit"]).sum()), funding_usd=float(trades["funding"].sum()),
        exposure_pct=100.0 * float(held) / max(n_bars, 1), stops=int((reasons == "stop").sum()),
        targets=int((reasons == "target").sum()), closed_at_end=int((reasons == "end").sum()))


def portfolio_stats(result: PortfolioResult, bar_seconds: float) -> list[ColumnStats]:
    """Stats of every column, in column order (strategies, then ``combined``)."""
    out = []
    for k, name in enumerate(result.columns):
        t = result.trades[result.trades["column"] == k]
        out.append(column_stats(name, t, result.value[:, k], result.initial_cash, bar_seconds,
                                result.value.shape[0]))
    return out


def drawdown(value: np.ndarray, initial_cash: float) -> np.ndarray:
    """Drawdown from the running peak, percent (<= 0), at each bar close."""
    curve = np.concatenate(([initial_cash], value))
    return (100.0 * (curve / np.maximum.accumulate(curve) - 1.0))[1:]
