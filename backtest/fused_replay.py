"""The batched replay over a synthetic heatmap series: the fused numba loop, then the runner's Python tail.

``backtest.fused.fused_synthetic`` runs the decision kernels for every bar; this module turns its
records into what ``Decider.step`` would have returned bar by bar:

- a bar the kernel settled alone: its candidate rows go through ``Engine.finish`` (the engine's
  own Python tail) and the emitted signal through the ``CooldownGate``. Without a signal log only
  the winner is built, and only once the gate admits it (an invalid one is un-admitted), so the
  tens of thousands of rejected candidates cost a count, not an object each;
- a fallback bar (two clusters at one price and side, or a conflict only a signal id can break):
  its clusters are rebuilt from the dumped state and the Python engine decides it, as the runner
  would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from backtest.fused import (B_ASYM, B_ATR, B_BAR, B_BIAS, B_COUNT, B_FALLBACK, B_FIRST, B_LS, B_OI, B_WINNER,
                            fused_synthetic)
from bot.clusters.kernel import (F_DIST, F_HIGH, F_LEVEL, F_LOW, F_PEAK_STRENGTH, F_PEAK_USD, F_STRENGTH, F_TIER,
                                 F_USD, I_ACTIVE, I_BROKEN_AT, I_FIRST_SEEN, I_KEY, I_LAST_SEEN, I_LAST_UPDATED,
                                 I_LOG_BIN, I_SALT, I_SIDE)
from bot.clusters.grouping import SIDES, tier_arrays
from bot.clusters.magnets import magnet_read
from bot.clusters.tiers import tiers_from_assumptions
from bot.clusters.tracker import ClusterTracker, from_ns, make_cluster_id
from bot.decide import CooldownGate
from bot.domain import Bias, Cluster, HeatmapSource, MagnetRead, MarketContext, canonical_key
from strategies import kernel as K
from strategies.candidate import STRATEGY_OF_CODE
from strategies.engine import Engine, EngineResult
from strategies.kernel_params import engine_params
from strategies.signal import Direction

BIAS_OF_CODE = {1: Bias.BULLISH, -1: Bias.BEARISH, 0: Bias.NEUTRAL}


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """What the engine's tail reads of a snapshot."""

    symbol: str
    ts: datetime
    price: float
    source: HeatmapSource


@dataclass(frozen=True, slots=True)
class MiniTable:
    """The table rows a bar's candidate rows refer to (cluster ``2r``, target ``2r + 1``)."""

    clusters: list[Cluster | None]
    tab: np.ndarray


class _Clusters:
    """Cluster objects from state rows, with the tracker's string ids and times (cached)."""

    def __init__(self, symbol: str, typical_usd: float) -> None:
        self.symbol = symbol
        self.typical = typical_usd
        self._ids: dict[int, str] = {}
        self._times: dict[int, datetime] = {}

    def time(self, ns: int) -> datetime:
        """UTC datetime of ``ns`` (cached: bars repeat)."""
        ts = self._times.get(ns)
        if ts is None:
            ts = self._times[ns] = from_ns(ns)
        return ts

    def cid(self, i: np.ndarray) -> str:
        """The string id of state row ``i``."""
        key = int(i[I_KEY])
        cid = self._ids.get(key)
        if cid is None:
            cid = self._ids[key] = make_cluster_id(self.symbol, int(i[I_SIDE]), int(i[I_LOG_BIN]),
                                                   int(i[I_FIRST_SEEN]), int(i[I_SALT]))
        return cid

    def build(self, f: np.ndarray, i: np.ndarray) -> Cluster:
        """The ``Cluster`` the tracker returns for state row (``f``, ``i``)."""
        usd = float(f[F_USD])
        broken = int(i[I_BROKEN_AT])
        return Cluster(cluster_id=self.cid(i), price_level=float(f[F_LEVEL]), side=SIDES[int(i[I_SIDE])],
                       leverage_tier=float(f[F_TIER]), open_interest=usd,
                       liquidation_count=int(round(usd / self.typical)), strength=float(f[F_STRENGTH]),
                       distance_from_price=float(f[F_DIST]), active=int(i[I_ACTIVE]) == 1,
                       first_seen=self.time(int(i[I_FIRST_SEEN])), last_seen=self.time(int(i[I_LAST_SEEN])),
                       last_updated=self.time(int(i[I_LAST_UPDATED])), price_low=float(f[F_LOW]),
                       price_high=float(f[F_HIGH]), broken_at=self.time(broken) if broken >= 0 else None,
                       peak_open_interest=float(f[F_PEAK_USD]), peak_strength=float(f[F_PEAK_STRENGTH]))

    def ordered(self, fs: np.ndarray, is_: np.ndarray) -> list[Cluster]:
        """The clusters of one bar's dumped rows in the tracker's (canonical) order."""
        out = [self.build(f, i) for f, i in zip(fs, is_)]
        out.sort(key=canonical_key)
        return out


def supported(series: Any) -> bool:
    """Whether the fused loop can replay ``series`` (per-level tier USD is left to the Python path)."""
    return "tier_usd" not in series.assumptions


def run_fused(data: Any, series: Any, settings: Any, *, log: Any = None, keep_from: int | None = None,
              fingerprints: bool = False) -> dict[str, Any]:
    """Replay every valid bar of ``data`` over ``series`` (row j = valid bar j); see the module docstring.

    Returns the ``ReplayResult`` fields: signals, rejected, suppressed, engine_bars,
    candidate_bars, clusters (bars from ``keep_from``), fingerprints.
    """
    symbol = data.symbol
    v = data.valid
    tracker = ClusterTracker(settings.clusters, symbol)
    st = tracker.kernel_state
    info_t, distances = tiers_from_assumptions(series.assumptions, series.width, settings.clusters.implied_tiers,
                                               settings.clusters.implied_mmr)
    eparams = engine_params(settings.strategies, symbol)
    col = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    n_bars = int(v.sum())
    keep = n_bars if keep_from is None else int(keep_from)
    out = fused_synthetic(st.cf, st.ci, st.meta, st.meta_f, st.ring, tracker.params, eparams,
                          np.ascontiguousarray(series.base, dtype=np.int64), np.ascontiguousarray(series.long_usd),
                          np.ascontiguousarray(series.short_usd), col(series.price),
                          np.ascontiguousarray(series.ts, dtype=np.int64), float(series.bin_width),
                          *tier_arrays(info_t, distances), col(data.ohlcv[v, 1]), col(data.ohlcv[v, 2]),
                          col(data.ohlcv[v, 3]), np.ascontiguousarray(data.trade[v]), col(data.oi[v]),
                          col(data.ls[v]), float(settings.clusters.bias_threshold), keep, fingerprints)
    _, _, info, levels, cand, cand_tab, cand_f, cand_i, dump_f, dump_i, dump_bar, fps, engine_bars = out
    post = _Post(symbol, settings, data.bar_seconds, series, log)
    post.run(info, levels, cand, cand_tab, cand_f, cand_i, dump_f, dump_i, dump_bar[:, 0])
    clusters: list[Cluster] = []
    if keep < n_bars:
        bars = dump_bar[:, 0]
        for j in np.unique(bars[bars >= keep]):
            sel = bars == j
            clusters += post.clusters.ordered(dump_f[sel], dump_i[sel])
    return {"signals": post.signals, "rejected": post.rejected, "suppressed": post.suppressed,
            "engine_bars": int(engine_bars), "candidate_bars": post.candidate_bars, "clusters": clusters,
            "fingerprints": fps.tolist() if fingerprints else []}


class _Post:
    """The Python tail over the fused loop's records, bar by bar in order."""

    def __init__(self, symbol: str, settings: Any, bar_seconds: float, series: Any, log: Any) -> None:
        self.symbol = symbol
        self.engine = Engine(settings.strategies)
        self.gate = CooldownGate(settings.strategies.cooldown_bars, bar_seconds)
        self.clusters = _Clusters(symbol, settings.clusters.typical_position_usd)
        self.threshold = float(settings.clusters.bias_threshold)
        self.series = series
        self.log = log
        self.signals: list[tuple[int, Any]] = []
        self.rejected = self.suppressed = self.candidate_bars = 0

    def run(self, info: np.ndarray, levels: np.ndarray, cand: np.ndarray, cand_tab: np.ndarray, cand_f: np.ndarray,
            cand_i: np.ndarray, dump_f: np.ndarray, dump_i: np.ndarray, dump_bar: np.ndarray) -> None:
        """Decide every recorded bar in bar order (see the module docstring)."""
        fallback = info[:, B_FALLBACK] != 0
        count = info[:, B_COUNT].astype(np.int64)
        winner = info[:, B_WINNER].astype(np.int64)
        if self.log is None:
            # settled bars without a log: every row but the winner is a rejection; only winners
            # (to gate) and fallback bars (to decide in Python) need a look of their own
            plain = ~fallback & (count > 0)
            self.candidate_bars += int(plain.sum())
            self.rejected += int(count[plain].sum() - (winner[plain] >= 0).sum())
            todo = np.flatnonzero(fallback | (plain & (winner >= 0)))
        else:
            todo = np.flatnonzero(fallback | (count > 0))
        for b in todo.tolist():
            row = info[b]
            j, first, n = int(row[B_BAR]), int(row[B_FIRST]), int(count[b])
            if fallback[b]:
                snap, ctx = self._context(j, row)
                sel = dump_bar == j
                clusters = self.clusters.ordered(dump_f[sel], dump_i[sel])
                self._emit(j, self.engine.run(snap, clusters, ctx, magnet_read(clusters, snap.price, self.threshold)))
                continue
            span = slice(first, first + n)
            if self.log is None:
                self._winner(j, row, cand[span], cand_tab[span], cand_f[span], cand_i[span], int(winner[b]), levels[b])
            else:
                snap, ctx = self._context(j, row)
                local, table = self._table(cand[span], cand_tab[span], cand_f[span], cand_i[span])
                self._emit(j, self.engine.finish(local, False, table, snap, ctx, self._magnets(row), _levels(levels[b])))

    def _context(self, j: int, row: np.ndarray) -> tuple[SnapshotRef, MarketContext]:
        """The snapshot reference and market context of bar ``j`` (as ``Decider.step`` builds them)."""
        snap = SnapshotRef(self.symbol, self.clusters.time(int(self.series.ts[j])), float(self.series.price[j]),
                           HeatmapSource.SYNTHETIC)
        atr = None if math.isnan(row[B_ATR]) else float(row[B_ATR])
        return snap, MarketContext.from_total(self.symbol, snap.ts, snap.price, float(row[B_OI]), float(row[B_LS]),
                                              atr=atr)

    @staticmethod
    def _magnets(row: np.ndarray) -> MagnetRead:
        """The magnet read as the engine's tail uses it (bias and asymmetry)."""
        return MagnetRead(above=None, below=None, asymmetry=float(row[B_ASYM]), bias=BIAS_OF_CODE[int(row[B_BIAS])])

    def _table(self, rows: np.ndarray, tabs: np.ndarray, fs: np.ndarray, is_: np.ndarray) -> tuple[np.ndarray, MiniTable]:
        """Rows re-pointed at a mini table: candidate r's cluster at 2r, its target at 2r + 1."""
        m = rows.shape[0]
        local = rows.copy()
        idx = np.arange(m)
        local[:, K.C_CLUSTER] = 2 * idx
        local[:, K.C_TARGET_CLUSTER] = np.where(rows[:, K.C_TARGET_CLUSTER] >= 0, 2 * idx + 1, -1)
        tab = np.ascontiguousarray(tabs.reshape(2 * m, K.N_TAB))
        clusters: list[Cluster | None] = []
        for r in range(m):
            clusters += [self.clusters.build(fs[r], is_[r]), None]
        return local, MiniTable(clusters, tab)

    def _winner(self, j: int, row: np.ndarray, rows: np.ndarray, tabs: np.ndarray, fs: np.ndarray, is_: np.ndarray,
                winner: int, levels: np.ndarray) -> None:
        """No log: gate the winner by its key; build its signal only when admitted."""
        w = rows[winner]
        name = STRATEGY_OF_CODE[int(w[K.C_STRATEGY])].value
        direction = (Direction.LONG if w[K.C_DIRECTION] == K.D_LONG else Direction.SHORT).value
        key = (name, self.clusters.cid(is_[winner]), direction)
        previous = self.gate.last(key)
        if not self.gate.admit_keys([(key, self.clusters.time(int(self.series.ts[j])))])[0]:
            self.suppressed += 1
            return
        one = slice(winner, winner + 1)
        snap, ctx = self._context(j, row)
        local, table = self._table(rows[one], tabs[one], fs[one], is_[one])
        result = self.engine.finish(local, False, table, snap, ctx, self._magnets(row), _levels(levels))
        if result.signals:
            self.signals.append((j, result.signals[0]))
        else:  # the signal model refused it: the runner's gate never saw it
            self.rejected += len(result.rejected)
            self.gate.restore_key(key, previous)

    def _emit(self, j: int, result: EngineResult) -> None:
        """What ``Decider.step`` does with an engine result: gate, count, log."""
        kept, dropped = self.gate.admit(result.signals)
        self.suppressed += len(dropped)
        if dropped:
            result = EngineResult(signals=kept, rejected=result.rejected)
        if result.signals or result.rejected or dropped:
            self.candidate_bars += 1
        self.rejected += len(result.rejected)
        self.signals += [(j, s) for s in result.signals]
        if self.log is not None:
            self.log.write_result(result)


def _levels(row: np.ndarray) -> tuple[list[float], list[float]]:
    """(supports, resistances) from a recorded levels row (NaN-padded halves)."""
    half = row.size // 2
    return ([x for x in row[:half].tolist() if not math.isnan(x)], [x for x in row[half:].tolist() if not math.isnan(x)])
