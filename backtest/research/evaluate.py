"""One evaluation of a parameter set on one span: a plain backtest, reduced to the study's column.

The backtest is ``backtest.run.run_backtest`` itself, with one difference that changes no
number: the heatmap rows come from :class:`RowsCache`, which builds them with the backtest's own
``heatmap_rows`` the first time a (span, heatmap source, model parameters) is seen and hands the
same rows to every later trial of that span. A trial that changes only strategy or cluster
parameters therefore skips the synthetic model; a trial that changes the model builds (and
caches) its own rows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from backtest.replay import HeatmapRows, MarketData
from backtest.run import BacktestResult, BacktestSpec, heatmap_rows, run_backtest
from backtest.stats import ColumnStats
from backtest.research.metrics import DAY_NS, Figures, daily_returns, day_index, figures


class RowsCache:
    """Heatmap rows by (symbol, bars, heatmap source, synthetic parameters), least recently used out."""

    def __init__(self, spec: BacktestSpec, max_entries: int = 3) -> None:
        self.spec = spec
        self.max_entries = max_entries
        self._rows: OrderedDict[tuple[Any, ...], HeatmapRows] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __call__(self, data: MarketData, settings: Any) -> HeatmapRows:
        """``build_rows`` of ``run_backtest``."""
        from bot.synthetic.model import SyntheticParams
        model = None if self.spec.heatmaps_dir is not None else SyntheticParams.from_settings(settings.synthetic)
        v = data.valid
        key = (data.symbol, int(data.open_ns[v][0]) if v.any() else 0, int(data.open_ns[v][-1]) if v.any() else 0,
               int(v.sum()), str(self.spec.heatmaps_dir), model)
        rows = self._rows.get(key)
        if rows is not None:
            self.hits += 1
            self._rows.move_to_end(key)
            return rows
        self.misses += 1
        rows = heatmap_rows(self.spec, data, settings)
        self._rows[key] = rows
        while len(self._rows) > self.max_entries:
            self._rows.popitem(last=False)
        return rows


@dataclass(frozen=True)
class Evaluation:
    """A backtest of one span reduced to one column: figures, daily returns, the backtest's own stats."""

    figures: Figures
    day_returns: np.ndarray
    day_ns: np.ndarray          # the UTC midnight of each daily return's day
    stats: ColumnStats          # exactly what ``liqbot backtest`` prints for the column
    r_multiples: np.ndarray
    pnl: np.ndarray


def span_spec(base: BacktestSpec, start: datetime, end: datetime) -> BacktestSpec:
    """The backtest of a span whose trading starts at ``start``: the model warms up just before it."""
    return base.replace(start=start - base.warmup, end=end)


def evaluate(settings: Any, base: BacktestSpec, start: datetime, end: datetime, column: str,
             cache: RowsCache | None) -> tuple[Evaluation, BacktestResult]:
    """Backtest ``[start, end)`` (trading from ``start``) and reduce it to ``column``."""
    spec = span_spec(base, start, end)
    result = run_backtest(settings, spec, build_rows=cache)
    return reduce(result, column, start), result


def reduce(result: BacktestResult, column: str, trade_from: datetime) -> Evaluation:
    """One column of a backtest: its trades' R and P&L, and its daily returns from ``trade_from`` on."""
    port = result.portfolio
    k = port.columns.index(column)
    trades = port.trades[port.trades["column"] == k]
    close = port.bar_close_ns
    keep = close > int(trade_from.timestamp() * 1e9)
    start_value = float(port.value[~keep, k][-1]) if (~keep).any() else port.initial_cash
    day_ret = daily_returns(port.value[keep, k], close[keep], start_value)
    day_ns = np.unique(day_index(close[keep])) * DAY_NS
    r = trades["r_multiple"].to_numpy(np.float64)
    pnl = trades["pnl"].to_numpy(np.float64)
    return Evaluation(figures=figures(r, pnl, day_ret), day_returns=day_ret, day_ns=day_ns,
                      stats=result.stats[k], r_multiples=r, pnl=pnl)


def warmup_of(settings: Any) -> timedelta:
    """The configured model warmup (``backtest.warmup``)."""
    from bot.feeds.base import parse_span
    return parse_span(settings.backtest.warmup, "backtest.warmup")
