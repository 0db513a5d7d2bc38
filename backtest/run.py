"""One backtest, end to end: data -> heatmaps -> replay (shared decision step) -> portfolio -> stats.

Pure orchestration over ``backtest.replay``, ``backtest.portfolio`` and ``backtest.stats``; the
CLI, the lookahead check and the bench call :func:`run_backtest`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from backtest.portfolio import Bars, Costs, PortfolioResult, SignalArrays, simulate
from backtest.replay import HeatmapRows, MarketData, Progress, ReplayResult, StoredRows, SyntheticRows, replay
from backtest.signal_rows import signal_rows
from backtest.stats import ColumnStats, portfolio_stats
from bot.errors import DataError
from bot.feeds.replay import ReplayFiles
from strategies.registry import OI_SIZING, STRATEGIES, params_class


@dataclass(frozen=True)
class BacktestSpec:
    """What to backtest: files, span, warmup, strategies, heatmap source, finer bars."""

    symbol: str
    files: ReplayFiles
    start: datetime | None = None
    end: datetime | None = None
    warmup: timedelta = timedelta(days=1)
    strategies: tuple[str, ...] | None = None   # None: the configured ones
    heatmaps_dir: Path | None = None            # a snapshot store; None: the synthetic model
    fine_candles: Path | None = None            # e.g. 1m candles to order a stop/target double touch

    def replace(self, **changes: Any) -> "BacktestSpec":
        """A copy with some fields changed."""
        from dataclasses import replace
        return replace(self, **changes)


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    data: MarketData            # valid bars only (what the portfolio trades)
    replay: ReplayResult
    portfolio: PortfolioResult
    stats: list[ColumnStats]
    heatmaps: HeatmapRows
    strategies: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)


def with_strategies(settings: Any, names: Sequence[str] | None) -> Any:
    """Settings whose engine runs only ``names`` (plus OI sizing when it is configured)."""
    if names is None:
        return settings
    for name in names:
        try:
            params_class(name)
        except ValueError as exc:
            raise DataError(str(exc), field="--strategies") from None
    chosen = [n for n in names if n != OI_SIZING]
    if not chosen:
        raise DataError("name at least one directional strategy", field="--strategies")
    enabled = [*chosen, *([OI_SIZING] if OI_SIZING in settings.strategies.enabled or OI_SIZING in names else [])]
    return settings.model_copy(update={"strategies": settings.strategies.model_copy(update={"enabled": enabled})})


def directional(settings: Any) -> tuple[str, ...]:
    """Enabled strategies that emit signals, in registry order (the portfolio's columns)."""
    enabled = set(settings.strategies.enabled)
    return tuple(s.value for s in STRATEGIES if s.value in enabled)


def run_backtest(settings: Any, spec: BacktestSpec, *, log: Any = None, progress: Progress | None = None,
                 keep_clusters_days: float | None = None, fingerprints: bool = False,
                 wrap_rows: Callable[[HeatmapRows], HeatmapRows] | None = None) -> BacktestResult:
    """Run one backtest. ``log``: a ``SignalLogWriter`` for the signals and rejections;
    ``keep_clusters_days``: keep cluster states of the last N days (for the report);
    ``fingerprints``: hash every bar's decision inputs (for the lookahead check);
    ``wrap_rows``: wrap the heatmap rows (tests inject a lookahead with it)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    settings = with_strategies(settings, spec.strategies)
    data = MarketData.load(spec.symbol, spec.files, start=spec.start, end=spec.end, warmup=spec.warmup,
                           max_age=timedelta(hours=settings.synthetic.oi_max_age_h),
                           resume_after=settings.feed.resume_after_bars)
    timings["load_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    if spec.heatmaps_dir is not None:
        rows: HeatmapRows = StoredRows(spec.heatmaps_dir, data)
    else:
        from bot.synthetic.model import SyntheticParams
        rows = SyntheticRows(data, SyntheticParams.from_settings(settings.synthetic))
    if wrap_rows is not None:
        rows = wrap_rows(rows)
    timings["heatmaps_s"] = time.perf_counter() - t
    t = time.perf_counter()
    valid = data.only(data.valid)
    keep_from = None
    if keep_clusters_days is not None and len(valid):
        keep_from = int(valid.close_ns[-1] - keep_clusters_days * 86400e9)
    rep = replay(data, rows, settings, log=log, keep_clusters_from_ns=keep_from, progress=progress,
                 fingerprints=fingerprints)
    timings["replay_s"] = time.perf_counter() - t
    timings.update(rep.timings)
    t = time.perf_counter()
    names = directional(settings)
    portfolio = simulate_signals(settings, valid, rep, names, spec.fine_candles)
    timings["portfolio_s"] = time.perf_counter() - t
    stats = portfolio_stats(portfolio, valid.bar_seconds)
    timings["total_s"] = time.perf_counter() - t0
    return BacktestResult(data=valid, replay=rep, portfolio=portfolio, stats=stats, heatmaps=rows,
                          strategies=names, timings={k: round(v, 3) for k, v in timings.items()})


def simulate_signals(settings: Any, valid: MarketData, rep: ReplayResult, names: Sequence[str],
                     fine_candles: Path | None = None) -> PortfolioResult:
    """The portfolio of a replay's signals on the valid bars."""
    costs = Costs.from_settings(settings)
    fine = None
    if fine_candles is not None:
        from bot.marketdata.files import load_candles
        fine = load_candles(fine_candles)
    bars = Bars.build(valid.open_ns, valid.close_ns, valid.ohlcv[:, :4], valid.funding, costs, fine)
    sig = SignalArrays.from_signals(rep.signals, names)
    return simulate(bars, sig, names, costs, settings.backtest.initial_cash)


def summary(result: BacktestResult) -> dict[str, Any]:
    """JSON-ready summary: run, signal counts, stats per column, timings."""
    d = result.data
    rep = result.replay
    return {
        "run": {"symbol": d.symbol, "bars": len(d), "warmup_bars": d.warmup_bars, "trading_bars": int(d.trade.sum()),
                "from": _iso(d.open_ns[0]) if len(d) else None, "to": _iso(d.close_ns[-1]) if len(d) else None,
                "strategies": list(result.strategies),
                "oi_bars": int(np.isfinite(d.oi).sum()), "heatmaps": type(result.heatmaps).__name__},
        "signals": {"emitted": len(rep.signals), "suppressed_by_cooldown": rep.suppressed,
                    "rejected_candidates": rep.rejected, "engine_bars": rep.engine_bars,
                    "candidate_bars": rep.candidate_bars,
                    "per_strategy": _per_strategy(rep)},
        "stats": [s.to_dict() for s in result.stats],
        "timings": result.timings,
    }


def trade_records(result: BacktestResult) -> list[dict[str, Any]]:
    """The trades as JSON-ready records."""
    cols = ["strategy", "signal_id", "side", "entry_time", "entry_price", "exit_time", "exit_price", "reason",
            "qty", "stop_loss", "take_profit", "fee_entry", "fee_exit", "funding", "pnl", "r_multiple"]
    t = result.portfolio.trades[cols].copy()
    for c in ("entry_time", "exit_time"):
        t[c] = t[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{k: (round(v, 8) if isinstance(v, float) else v) for k, v in r.items()} for r in t.to_dict("records")]


def _per_strategy(rep: ReplayResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in signal_rows(rep.signals):
        out[r.strategy] = out.get(r.strategy, 0) + 1
    return out


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"
