"""The figures a backtest owes its reader beyond the stats table (issue 17.7).

Per column (each strategy alone, and the combined book): a per-month table, the long/short split,
holding times, the best and worst trade, Sortino, Calmar and the longest drawdown; for the run,
the buy-and-hold benchmark on the same bars. Everything comes from the resolved trades and the
value vectorbt keeps at every bar close (``PortfolioResult``), as ``backtest.stats`` does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from backtest.portfolio import PortfolioResult
from backtest.stats import YEAR_S


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def benchmark(close: np.ndarray, close_ns: np.ndarray) -> dict[str, Any]:
    """Buy and hold over the traded bars: return and max drawdown, percent (no costs, no leverage)."""
    if close.size == 0:
        return {"return_pct": None, "max_drawdown_pct": None}
    peak = np.maximum.accumulate(close)
    return {"return_pct": _f(100.0 * (close[-1] / close[0] - 1.0)),
            "max_drawdown_pct": _f(100.0 * float(np.max(1.0 - close / peak))),
            "from_price": _f(close[0]), "to_price": _f(close[-1])}


def drawdown_duration(curve: np.ndarray, close_ns: np.ndarray, initial_cash: float) -> dict[str, Any]:
    """The longest stretch below a previous peak: bars, days, from the last peak to the recovery (or the end)."""
    full = np.concatenate(([initial_cash], curve))
    under = (full < np.maximum.accumulate(full))[1:]
    if not under.any():
        return {"bars": 0, "days": 0.0, "from": None, "to": None, "recovered": True}
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, end) runs
    k = int(np.argmax(ends - starts))
    a, b = int(starts[k]), int(ends[k])
    peak_ns, to_ns = close_ns[max(a - 1, 0)], close_ns[min(b, close_ns.size - 1)]
    return {"bars": b - a, "days": _f((to_ns - peak_ns) / 86400e9), "from": _iso(peak_ns), "to": _iso(to_ns),
            "recovered": b < curve.size}


def ratios(curve: np.ndarray, initial_cash: float, bar_seconds: float) -> dict[str, Any]:
    """Sortino (mean over the downside deviation of per-bar returns, annualised) and Calmar
    (annualised return over the max drawdown)."""
    full = np.concatenate(([initial_cash], curve))
    rets = np.diff(full) / full[:-1]
    per_year = YEAR_S / bar_seconds
    down = np.minimum(rets, 0.0)
    dd_sd = float(np.sqrt(np.mean(down ** 2))) if rets.size else 0.0
    sortino = float(rets.mean() / dd_sd * math.sqrt(per_year)) if dd_sd > 0 else None
    years = rets.size / per_year
    total = float(full[-1] / initial_cash)
    cagr = total ** (1.0 / years) - 1.0 if years > 0 and total > 0 else None
    max_dd = float(np.max(1.0 - full / np.maximum.accumulate(full)))
    calmar = cagr / max_dd if cagr is not None and max_dd > 0 else None
    return {"sortino": _f(sortino), "calmar": _f(calmar),
            "annual_return_pct": _f(100 * cagr) if cagr is not None else None}


def _side(t: pd.DataFrame) -> dict[str, Any]:
    pnl = t["pnl"].to_numpy(np.float64)
    return {"trades": int(pnl.size), "wins": int((pnl > 0).sum()), "pnl_usd": _f(pnl.sum()),
            "win_rate_pct": _f(100.0 * (pnl > 0).mean()) if pnl.size else None,
            "expectancy_r": _f(t["r_multiple"].mean()) if pnl.size else None}


def _trade(row: pd.Series) -> dict[str, Any]:
    return {"signal_id": row["signal_id"], "side": row["side"], "pnl_usd": _f(row["pnl"]),
            "r_multiple": _f(row["r_multiple"]), "entry_time": row["entry_time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exit_time": row["exit_time"].strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": row["reason"]}


def months(t: pd.DataFrame, curve: np.ndarray, close_ns: np.ndarray, initial_cash: float) -> list[dict[str, Any]]:
    """Per calendar month (UTC): trades closed, their P&L, and the month's return from the value curve."""
    if close_ns.size == 0:
        return []
    month = pd.to_datetime(close_ns, utc=True).strftime("%Y-%m")
    frame = pd.DataFrame({"month": month, "value": curve})
    end = frame.groupby("month", sort=True)["value"].last()
    start = end.shift(1).fillna(initial_cash)
    closed = t.assign(month=t["exit_time"].dt.strftime("%Y-%m")).groupby("month")
    count, pnl = closed.size(), closed["pnl"].sum()
    return [{"month": m, "trades": int(count.get(m, 0)), "pnl_usd": _f(float(pnl.get(m, 0.0))),
             "return_pct": _f(100.0 * (end[m] / start[m] - 1.0))} for m in end.index]


def column_analysis(name: str, t: pd.DataFrame, curve: np.ndarray, close_ns: np.ndarray, initial_cash: float,
                    bar_seconds: float) -> dict[str, Any]:
    """Everything above for one column."""
    hold_h = ((t["exit_time"] - t["entry_time"]).dt.total_seconds() / 3600.0).to_numpy()
    out: dict[str, Any] = {"column": name, **ratios(curve, initial_cash, bar_seconds),
                           "drawdown_duration": drawdown_duration(curve, close_ns, initial_cash),
                           "long": _side(t[t["side"] == "LONG"]), "short": _side(t[t["side"] == "SHORT"]),
                           "holding_hours": {"median": _f(float(np.median(hold_h))) if hold_h.size else None,
                                             "mean": _f(float(hold_h.mean())) if hold_h.size else None,
                                             "max": _f(float(hold_h.max())) if hold_h.size else None},
                           "best_trade": _trade(t.loc[t["pnl"].idxmax()]) if len(t) else None,
                           "worst_trade": _trade(t.loc[t["pnl"].idxmin()]) if len(t) else None,
                           "months": months(t, curve, close_ns, initial_cash)}
    return out


def analysis(portfolio: PortfolioResult, close: np.ndarray, bar_seconds: float) -> dict[str, Any]:
    """The run's benchmark and every column's analysis (strategies, then ``combined``)."""
    cols = []
    for k, name in enumerate(portfolio.columns):
        t = portfolio.trades[portfolio.trades["column"] == k]
        cols.append(column_analysis(name, t, portfolio.value[:, k], portfolio.bar_close_ns, portfolio.initial_cash,
                                    bar_seconds))
    return {"buy_and_hold": benchmark(close, portfolio.bar_close_ns), "columns": cols}
