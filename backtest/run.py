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
import pandas as pd

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
    notes: list[str] = field(default_factory=list)      # what the run changed about its inputs, said once
    coverage: dict[str, Any] = field(default_factory=dict)  # ``data_coverage``: OI, volume mode, funding, store
    parameters: dict[str, Any] = field(default_factory=dict)  # ``parameters``: the spec and the settings used


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
                 wrap_rows: Callable[[HeatmapRows], HeatmapRows] | None = None,
                 build_rows: Callable[[MarketData, Any], HeatmapRows] | None = None) -> BacktestResult:
    """Run one backtest. ``log``: a ``SignalLogWriter`` for the signals and rejections;
    ``keep_clusters_days``: keep cluster states of the last N days (for the report);
    ``fingerprints``: hash every bar's decision inputs (for the lookahead check);
    ``wrap_rows``: wrap the heatmap rows (tests inject a lookahead with it);
    ``build_rows``: build the heatmap rows from the loaded data and the settings instead of the
    store or the synthetic model here (the optimiser passes one that reuses rows across trials)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    settings = with_strategies(settings, spec.strategies)
    def load(start: datetime | None, end: datetime | None) -> MarketData:
        return MarketData.load(spec.symbol, spec.files, start=start, end=end, warmup=spec.warmup,
                               max_age=timedelta(hours=settings.synthetic.oi_max_age_h),
                               resume_after=settings.feed.resume_after_bars)

    data = load(spec.start, spec.end)
    notes: list[str] = []
    coverage: dict[str, Any] = {}
    if spec.heatmaps_dir is not None:
        coverage = store_coverage(spec.heatmaps_dir, spec.symbol)
        span = within_store(data, coverage, spec.warmup)
        if span is not None:  # candles outside the store: trimmed to it, and said
            before = data
            data = load(*span)
            notes.append(f"the heatmap store covers {coverage['from']} to {coverage['to']}: candles "
                         f"{_iso(before.open_ns[0])} to {_iso(before.close_ns[-1])} trimmed to "
                         f"{_iso(data.open_ns[0])} to {_iso(data.close_ns[-1])} ({len(data):,} of {len(before):,} bars;"
                         f" the warmup starts at {_iso(data.open_ns[0])}, trading at "
                         f"{_iso(data.open_ns[min(data.warmup_bars, len(data) - 1)])})")
    timings["load_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    rows = build_rows(data, settings) if build_rows is not None else heatmap_rows(spec, data, settings)
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
    coverage = data_coverage(settings, valid, store=coverage or None)
    return BacktestResult(data=valid, replay=rep, portfolio=portfolio, stats=stats, heatmaps=rows,
                          strategies=names, timings={k: round(v, 3) for k, v in timings.items()}, notes=notes,
                          coverage=coverage, parameters=parameters(settings, spec))


PARAMETER_SECTIONS = ("strategies", "clusters", "synthetic", "backtest", "paper")


def parameters(settings: Any, spec: BacktestSpec) -> dict[str, Any]:
    """What shaped the run: the spec (files, span, warmup, strategies, heatmaps) and the settings sections
    the replay and the portfolio read (none of them holds a secret)."""
    return {"spec": {"symbol": spec.symbol, "candles": str(spec.files.candles),
                     "oi": str(spec.files.oi) if spec.files.oi else None,
                     "ls_ratio": str(spec.files.ls_ratio) if spec.files.ls_ratio else None,
                     "funding": str(spec.files.funding) if spec.files.funding else None,
                     "from": spec.start.isoformat() if spec.start else None,
                     "to": spec.end.isoformat() if spec.end else None, "warmup_s": spec.warmup.total_seconds(),
                     "heatmaps": str(spec.heatmaps_dir) if spec.heatmaps_dir else "synthetic model",
                     "fine_candles": str(spec.fine_candles) if spec.fine_candles else None},
            "settings": {name: getattr(settings, name).model_dump(mode="json") for name in PARAMETER_SECTIONS}}


def data_coverage(settings: Any, data: MarketData, store: dict[str, Any] | None = None) -> dict[str, Any]:
    """``bot.marketdata.coverage`` of the traded bars, with the heatmap store's span when there is one."""
    from bot.marketdata.coverage import coverage
    sizing = settings.strategies.oi_sizing.low_mult if OI_SIZING in settings.strategies.enabled else None
    trade_from = int(data.open_ns[np.argmax(data.trade)]) if data.trade.any() else None
    out = coverage(data.open_ns, data.close_ns, data.oi, data.funding, trade_from, sizing)
    if store is not None:
        out["heatmap_store"] = {k: v for k, v in store.items() if not k.endswith("_ns")}
    return out


def store_coverage(root: Path, symbol: str) -> dict[str, Any]:
    """The span of ``symbol``'s snapshots in the store at ``root``: first, last, count, median spacing."""
    from bot.heatmap.store import SnapshotStore
    store = SnapshotStore(root)
    if symbol not in set(store.symbols()):
        held = ", ".join(store.symbols()) or "none"
        raise DataError(f"no snapshots of {symbol} in the store (it holds: {held})", field="--heatmaps",
                        position=str(root))
    ts = store.read_table(symbol, columns=["ts"]).column("ts").to_numpy().astype("datetime64[ns]").view(np.int64)
    if ts.size == 0:
        raise DataError(f"no snapshots of {symbol} in the store", field="--heatmaps", position=str(root))
    ts = np.sort(ts)
    step = int(np.median(np.diff(ts))) if ts.size > 1 else 0
    return {"from": _iso(ts[0]), "to": _iso(ts[-1]), "snapshots": int(ts.size), "spacing_s": step / 1e9,
            "first_ns": int(ts[0]), "last_ns": int(ts[-1]), "step_ns": step}


def within_store(data: MarketData, coverage: dict[str, Any], warmup: timedelta) -> tuple[datetime, datetime] | None:
    """``None`` when every trading bar closes inside the store's span, else the (start, end) to load instead.

    A bar is covered from the first snapshot on (the newest one known at its close exists) until one
    snapshot spacing after the last (later bars would reuse the last map for ever). The warmup bars
    need no map (a paper run warms up on candles whether or not its provider has history), so the
    trimmed span keeps a full ``warmup`` of candles before the first covered bar. No overlap at all
    is a DataError.
    """
    first, last = coverage["first_ns"], coverage["last_ns"] + max(coverage["step_ns"], data.bar_ns)
    close = data.close_ns[data.warmup_bars:]
    inside = (close >= first) & (close <= last)
    if len(close) and inside.all():
        return None
    if not inside.any():
        span = f"{_iso(data.open_ns[0])} to {_iso(data.close_ns[-1])}" if len(data) else "no candles"
        raise DataError(f"the candles ({span}) and the heatmap store ({coverage['from']} to {coverage['to']}) "
                        "do not overlap", field="--heatmaps")
    to_dt = lambda ns: pd.Timestamp(int(ns), tz="UTC").to_pydatetime()  # noqa: E731
    first_open = int(data.open_ns[data.warmup_bars:][inside][0])
    return to_dt(max(int(data.open_ns[0]), first_open - int(warmup / timedelta(microseconds=1)) * 1000)), to_dt(last)


def heatmap_rows(spec: BacktestSpec, data: MarketData, settings: Any) -> HeatmapRows:
    """The heatmap rows of a backtest: its snapshot store, else the synthetic model over ``data``."""
    if spec.heatmaps_dir is not None:
        return StoredRows(spec.heatmaps_dir, data)
    from bot.synthetic.model import SyntheticParams
    return SyntheticRows(data, SyntheticParams.from_settings(settings.synthetic))


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
                "oi_bars": int(np.isfinite(d.oi).sum()), "heatmaps": type(result.heatmaps).__name__,
                "heatmap_path": "fused" if rep.timings.get("fused_loop_s") is not None else "bar by bar"},
        "notes": list(result.notes),
        "coverage": result.coverage,
        "parameters": result.parameters,
        "analysis": _analysis(result),
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


def _analysis(result: BacktestResult) -> dict[str, Any]:
    from backtest.analysis import analysis
    return analysis(result.portfolio, result.data.ohlcv[:, 3], result.data.bar_seconds)


def _per_strategy(rep: ReplayResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in signal_rows(rep.signals):
        out[r.strategy] = out.get(r.strategy, 0) + 1
    return out


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"
