"""Historical replay: the paper runner's per-bar decision over a whole history, batched where exact.

The market data comes through the replay feed's own loader (``bot.feeds.replay.ReplayFeed``), so
the backtester and ``liqbot paper --feed replay`` see the same bars with the same point-in-time
open interest, long/short ratio and funding. What is batched (and provably identical):

- the data-quality gate's verdicts (``quality_flags``, vectorized; equal to ``QualityGate``);
- the synthetic heatmaps: one pass of the numba ledger over every valid bar
  (``build_from_bars``), the same kernel ``SyntheticModel.on_bar`` drives bar by bar;
- recorded heatmaps: one columnar read of the snapshot store, the newest snapshot known at each
  bar's close (what ``RecordedHeatmaps`` hands the runner).

The decision itself (tracker -> magnets -> context -> engine -> cooldown) is ``bot.decide.Decider``:
its numbers come from numba kernels (``bot.clusters.kernel*``, ``strategies.kernel``). Over a
synthetic series the backtester runs those same kernels for all bars in one compiled loop
(``backtest.fused``) and the engine's Python tail plus the cooldown gate afterwards
(``backtest.fused_replay``); other heatmap rows call ``Decider.step`` once per bar, in order,
exactly as the runner does. ``replay_python`` is the reference path (feed bars -> quality gate ->
incremental model -> decider, one by one), used by the bench and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import pandas as pd

from bot.decide import Decider, Decision
from bot.domain import Cluster, HeatmapSnapshot
from bot.errors import DataError
from bot.feeds.replay import ReplayFeed, ReplayFiles
from strategies.signal import Signal

Progress = Callable[[int, int], None]  # (bars done, bars in all)


@dataclass(frozen=True, eq=False)
class MarketData:
    """One symbol's bars as the replay feed yields them, with the gate's verdict per bar.

    ``valid``: the quality gate lets the bar move the model; ``trade``: it may also reach the
    strategies (valid, no recent gap, past the warmup).
    """

    symbol: str
    bar_ns: int
    open_ns: np.ndarray
    close_ns: np.ndarray
    ohlcv: np.ndarray        # (n, 5) open, high, low, close, volume
    oi: np.ndarray           # open interest USD known at the close, NaN unknown
    ls: np.ndarray           # long/short ratio known at the close, NaN unknown
    funding: np.ndarray      # funding rate settled inside the bar, NaN none
    valid: np.ndarray
    trade: np.ndarray
    warmup_bars: int

    def __len__(self) -> int:
        return int(self.open_ns.size)

    @property
    def bar_seconds(self) -> float:
        """Bar length in seconds."""
        return self.bar_ns / 1e9

    def column(self, name: str) -> np.ndarray:
        """``open``/``high``/``low``/``close``/``volume`` as a contiguous array."""
        return np.ascontiguousarray(self.ohlcv[:, ("open", "high", "low", "close", "volume").index(name)])

    def candles(self) -> pd.DataFrame:
        """The bars as a candle frame indexed by open time (UTC)."""
        return pd.DataFrame(self.ohlcv, columns=["open", "high", "low", "close", "volume"],
                            index=pd.DatetimeIndex(self.open_ns.astype("datetime64[ns]"), tz="UTC", name="date"))

    def only(self, mask: np.ndarray) -> "MarketData":
        """The bars selected by ``mask`` (the portfolio works on valid bars only, as the paper venue does)."""
        return replace(self, open_ns=self.open_ns[mask], close_ns=self.close_ns[mask], ohlcv=self.ohlcv[mask],
                       oi=self.oi[mask], ls=self.ls[mask], funding=self.funding[mask], valid=self.valid[mask],
                       trade=self.trade[mask])

    @classmethod
    def load(cls, symbol: str, files: ReplayFiles, *, start: datetime | None = None, end: datetime | None = None,
             warmup: timedelta = timedelta(0), max_age: timedelta = timedelta(hours=8),
             resume_after: int = 3) -> "MarketData":
        """Read the files with the replay feed's loader (the paper runner's exact inputs)."""
        feed = ReplayFeed(symbol, files, speed=math.inf, start=start, end=end, warmup=warmup, max_age=max_age)
        return cls.from_feed(feed, resume_after)

    @classmethod
    def from_feed(cls, feed: ReplayFeed, resume_after: int = 3) -> "MarketData":
        """From an already loaded replay feed."""
        bar_ns = int(feed.timeframe / timedelta(microseconds=1)) * 1000
        valid, trade = quality_flags(feed.open_ns, feed.ohlcv, feed.oi, feed.ls, bar_ns, resume_after)
        warm = feed.open_ns < feed.trade_from_ns
        return cls(symbol=feed.symbols[0], bar_ns=bar_ns, open_ns=feed.open_ns, close_ns=feed.close_ns,
                   ohlcv=feed.ohlcv, oi=feed.oi, ls=feed.ls, funding=feed.funding, valid=valid,
                   trade=trade & ~warm, warmup_bars=int(warm.sum()))


def quality_flags(open_ns: np.ndarray, ohlcv: np.ndarray, oi: np.ndarray, ls: np.ndarray, bar_ns: int,
                  resume_after: int) -> tuple[np.ndarray, np.ndarray]:
    """``QualityGate.check`` over a whole history at once: (valid, trade) per bar.

    Historic replays are never stale (the runner's clock is the bar close), so a bar trades when
    it is valid, follows its predecessor without a gap, and ``resume_after`` contiguous bars have
    passed since the last gap.
    """
    o, h, low, c, v = (ohlcv[:, k] for k in range(5))
    with np.errstate(invalid="ignore"):
        prices_ok = np.all(np.isfinite(ohlcv[:, :4]) & (ohlcv[:, :4] > 0), axis=1)
        valid = prices_ok & np.isfinite(v) & (v >= 0)
        valid &= (h >= np.maximum(o, c)) & (low <= np.minimum(o, c)) & (low <= h)
        for extra in (oi, ls):  # a known value must be finite and positive
            valid &= np.isnan(extra) | (np.isfinite(extra) & (extra > 0))
    idx = np.flatnonzero(valid)
    ts = open_ns[idx]
    keep = np.ones(idx.size, bool)  # a bar not after the previous valid one is dropped
    if idx.size > 1:
        run_max = np.maximum.accumulate(ts)
        keep[1:] = ts[1:] > run_max[:-1]
    valid[idx[~keep]] = False
    idx, ts = idx[keep], ts[keep]
    missing = np.zeros(idx.size, np.int64)
    missing[1:] = (np.diff(ts) // bar_ns) - 1
    gap = missing > 0
    pos = np.arange(idx.size)
    last_gap = np.maximum.accumulate(np.where(gap, pos, -1))
    count = np.where(last_gap >= 0, pos - last_gap + 1, pos + resume_after + 1)
    trade = np.zeros(valid.size, bool)
    trade[idx] = ~gap & (count > resume_after)
    return valid, trade


class HeatmapRows(Protocol):
    """The snapshot known at the close of each valid bar (``None`` before the first)."""

    def __len__(self) -> int:
        ...

    def snapshot(self, j: int) -> HeatmapSnapshot | None:
        """Snapshot for valid bar ``j``."""
        ...


class SyntheticRows:
    """The cohort ledger run once over every valid bar (``build_from_bars``), one row per bar."""

    def __init__(self, data: MarketData, params: Any) -> None:
        from bot.synthetic.inputs import BarInputs
        from bot.synthetic.model import build_from_bars
        v = data.valid
        n = int(v.sum())
        if n == 0:
            raise DataError("no valid bars to build heatmaps from", field="--candles")
        col = lambda k: np.ascontiguousarray(data.ohlcv[v, k])  # noqa: E731
        open_ns = data.open_ns[v]
        # exactly what SyntheticModel.on_bar gets from a feed bar: NaN for unknown OI / ratio,
        # 0 for a bar without a funding settlement
        bars = BarInputs(open_ns=open_ns, close_ns=open_ns + data.bar_ns, bar_ns=data.bar_ns, open=col(0),
                         high=col(1), low=col(2), close=col(3), volume=col(4), taker_share=np.full(n, np.nan),
                         oi=data.oi[v].copy(), ls_ratio=data.ls[v].copy(), funding=np.nan_to_num(data.funding[v]))
        self.series = build_from_bars(bars, params, np.ones(n, np.bool_), data.symbol)

    def __len__(self) -> int:
        return len(self.series)

    def snapshot(self, j: int) -> HeatmapSnapshot:
        """Row ``j`` as a domain snapshot."""
        return self.series.snapshot(j)


class StoredRows:
    """Snapshots from a snapshot store: the newest with ``ts <=`` each valid bar's close."""

    def __init__(self, root: Path, data: MarketData) -> None:
        from bot.heatmap.store import SnapshotStore
        store = SnapshotStore(root)
        if data.symbol not in set(store.symbols()):
            raise DataError(f"no snapshots of {data.symbol} in the store", field="--heatmaps", position=str(root))
        close = data.close_ns[data.valid]
        end = pd.Timestamp(int(close[-1]), tz="UTC").to_pydatetime() if close.size else None
        self.series = store.read_columns(data.symbol, None, end)
        ts = self.series.ts.astype("datetime64[ns]").view(np.int64)
        self.rows = np.searchsorted(ts, close, side="right") - 1
        self.close_ns = close
        self._cache: tuple[int, HeatmapSnapshot] | None = None

    def __len__(self) -> int:
        return int(self.rows.size)

    def fused_series(self) -> Any:
        """These rows as the fused loop reads them (``backtest.fused_stored``), or ``None`` when it cannot."""
        from backtest.fused_stored import stored_bars
        return stored_bars(self.series, self.rows)

    def snapshot(self, j: int) -> HeatmapSnapshot | None:
        """The latest stored snapshot at bar ``j`` (the same object while it stays the latest)."""
        r = int(self.rows[j])
        if r < 0:
            return None
        if self._cache is None or self._cache[0] != r:
            self._cache = (r, self.series.snapshot(r, self.series.symbol))
        from bot.feeds.provider_maps import fresh  # a recorded provider map is stale past its own limit, as live
        return fresh(self._cache[1], pd.Timestamp(int(self.close_ns[j]), tz="UTC").to_pydatetime())


@dataclass
class ReplayResult:
    """Signals of a replay with the valid-bar index of the bar that emitted each one."""

    signals: Sequence[tuple[int, Signal]] = field(default_factory=list)  # a LazySignals from the fused loop
    rejected: int = 0
    suppressed: int = 0
    engine_bars: int = 0
    candidate_bars: int = 0  # engine bars where some strategy proposed something
    bars: int = 0
    clusters: list[Cluster] = field(default_factory=list)  # cluster states inside the kept window
    fingerprints: list[int] = field(default_factory=list)  # per bar: what the decision saw (lookahead check)
    timings: dict[str, float] = field(default_factory=dict)  # fused path: loop and Python tail seconds


def replay(data: MarketData, heatmaps: HeatmapRows, settings: Any, *, log: Any = None,
           keep_clusters_from_ns: int | None = None, progress: Progress | None = None,
           prescreen: bool = True, fingerprints: bool = False, fused: bool = True) -> ReplayResult:
    """Every valid bar through the shared decision step, in order (the batched path).

    Synthetic heatmaps and stored snapshots go through the fused numba loop (``backtest.fused``: the
    same kernels as ``Decider.step``, all bars in one call; stored ones grouped by
    ``backtest.fused_stored``); anything else (``fused=False``, wrapped rows, a store the fused loop
    cannot take) calls ``Decider.step`` bar by bar.
    ``fingerprints``: record a hash of each bar's clusters and engine output, so a lookahead
    check sees a change in what a bar decided on even when it emitted nothing (a fused run's
    fingerprints compare with another fused run's only)."""
    series: Any = None
    if fused and type(heatmaps) is SyntheticRows:
        series = heatmaps.series
    elif fused and type(heatmaps) is StoredRows:
        series = heatmaps.fused_series()
    if series is not None:
        from backtest.fused_replay import run_fused, supported
        if supported(series):
            if progress is not None:
                progress(0, int(data.valid.sum()))
            close_ns = data.close_ns[data.valid]
            keep = None if keep_clusters_from_ns is None else int(np.searchsorted(close_ns, keep_clusters_from_ns))
            fields = run_fused(data, series, settings, log=log, keep_from=keep, fingerprints=fingerprints)
            if progress is not None:
                progress(close_ns.size, close_ns.size)
            return ReplayResult(bars=int(close_ns.size), **fields)
    decider = Decider(settings, data.symbol, data.bar_seconds, prescreen=prescreen)
    v = data.valid
    high, low, close = (np.ascontiguousarray(data.ohlcv[v, k]) for k in (1, 2, 3))
    opt = [np.where(np.isnan(a[v]), None, a[v]).tolist() for a in (data.oi, data.ls, data.funding)]
    trade = data.trade[v].tolist()
    close_ns = data.close_ns[v]
    out = ReplayResult(bars=int(v.sum()))
    keep_from = close_ns.size if keep_clusters_from_ns is None else int(np.searchsorted(close_ns,
                                                                                        keep_clusters_from_ns))
    hs, ls_, cs = high.tolist(), low.tolist(), close.tolist()
    for j in range(out.bars):
        d = decider.step(heatmaps.snapshot(j), hs[j], ls_[j], cs[j], oi_usd=opt[0][j], ls_ratio=opt[1][j],
                         funding_rate=opt[2][j], trade=trade[j])
        if d.result is not None:
            out.engine_bars += 1
            out.candidate_bars += bool(d.result.signals or d.result.rejected or d.suppressed)
            out.rejected += len(d.result.rejected)
            out.signals += [(j, s) for s in d.result.signals]
            if log is not None:
                log.write_result(d.result)
        if j >= keep_from:
            out.clusters += d.clusters
        if fingerprints:
            out.fingerprints.append(fingerprint(d))
        if progress is not None and (j & 1023) == 0:
            progress(j, out.bars)
    out.suppressed = decider.suppressed
    if progress is not None:
        progress(out.bars, out.bars)
    return out


def fingerprint(d: Decision) -> int:
    """Hash of a bar's clusters (ids, levels, USD, strength, state) and engine output."""
    cl = tuple((c.cluster_id, c.price_level, c.open_interest, c.strength, c.active) for c in d.clusters)
    res = d.result
    out = None if res is None else (tuple(s.id for s in res.signals), tuple(r.candidate.id for r in res.rejected))
    return hash((cl, out))


def replay_python(symbol: str, files: ReplayFiles, settings: Any, *, start: datetime | None = None,
                  end: datetime | None = None, warmup: timedelta = timedelta(0), synthetic_params: Any = None,
                  heatmaps_dir: Path | None = None, progress: Progress | None = None,
                  prescreen: bool = False) -> ReplayResult:
    """The reference path: feed bars one by one through the quality gate, the incremental heatmap
    model (or the recorded store) and the decision step, as the paper runner does; by default the
    engine runs on every trading bar (no prescreen), the plain Python path."""
    from bot.feeds.heatmaps import RecordedHeatmaps, SyntheticHeatmaps
    from bot.feeds.quality import QualityGate
    feed = ReplayFeed(symbol, files, speed=math.inf, start=start, end=end, warmup=warmup,
                      max_age=timedelta(hours=settings.synthetic.oi_max_age_h))
    if heatmaps_dir is not None:
        provider: Any = RecordedHeatmaps(heatmaps_dir, feed.symbols)
    else:
        provider = SyntheticHeatmaps(synthetic_params, feed.symbols, feed.timeframe)
    gate = QualityGate(feed.timeframe, settings.feed.stale_after_s, settings.feed.resume_after_bars)
    decider = Decider(settings, symbol, feed.timeframe.total_seconds(), prescreen=prescreen)
    out = ReplayResult()
    j = 0
    for batch in feed.batches():
        for bar in batch.bars:
            verdict = gate.check(bar, batch.close_ts)
            if not verdict.valid:
                continue
            d = decider.step(provider.snapshot(bar), bar.high, bar.low, bar.close, oi_usd=bar.oi_usd,
                             ls_ratio=bar.long_short_ratio, funding_rate=bar.funding_rate,
                             trade=verdict.trade and not batch.warmup)
            if d.result is not None:
                out.engine_bars += 1
                out.rejected += len(d.result.rejected)
                out.signals += [(j, s) for s in d.result.signals]
            j += 1
            if progress is not None and (j & 1023) == 0:
                progress(j, len(feed))
    out.bars = j
    out.suppressed = decider.suppressed
    return out
