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
import time
from functools import partial
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numba import njit

from backtest.fused import fused_synthetic
from backtest.signal_rows import LazySignals, SignalRow
from bot.clusters.kernel import I_FIRST_SEEN, I_KEY, I_LOG_BIN, I_SALT, I_SIDE
from bot.clusters.grouping import tier_arrays
from bot.clusters.magnets import BIAS_OF_CODE, magnet_read
from bot.clusters.tiers import tiers_from_assumptions
from bot.clusters.tracker import ClusterTracker, cluster_of, from_ns, make_cluster_id
from bot.decide import CooldownGate
from bot.domain import CascadeRead, Cluster, HeatmapSource, MagnetRead, MarketContext, canonical_key
from strategies import kernel as K
from strategies.engine import Engine, EngineResult
from strategies.engine_params import engine_params
from strategies.registry import CODE, N_CODES, spec_of_code
from strategies.signal import Direction, signal_id


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
        return cluster_of(f.tolist(), i.tolist(), self.cid(i), self.time, self.typical)

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
    candidate_bars, clusters (bars from ``keep_from``), fingerprints, timings.
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
    t0 = time.perf_counter()
    out = fused_synthetic(st, tracker.params, eparams, series, tier_arrays(info_t, distances), col(data.ohlcv[v, 1]),
                          col(data.ohlcv[v, 2]), col(data.ohlcv[v, 3]), np.ascontiguousarray(data.trade[v]),
                          col(data.oi[v]), col(data.ls[v]), float(settings.clusters.bias_threshold),
                          float(settings.clusters.cascade_gap_pct), keep,
                          fingerprints)
    _, _, info, levels, cand, cand_tab, cand_f, cand_i, dump_f, dump_i, dump_bar, fps, engine_bars = out
    t_loop = time.perf_counter() - t0
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
            "fingerprints": fps.tolist() if fingerprints else [],
            "timings": {"fused_loop_s": round(t_loop, 3), "python_tail_s": round(time.perf_counter() - t0 - t_loop, 3)}}


class _Post:
    """The Python tail over the fused loop's records, bar by bar in order."""

    def __init__(self, symbol: str, settings: Any, bar_seconds: float, series: Any, log: Any) -> None:
        self.symbol = symbol
        self.engine = Engine(settings.strategies)
        self.gate = CooldownGate(settings.strategies.cooldown_bars, bar_seconds)
        self.clusters = _Clusters(symbol, settings.clusters.typical_position_usd)
        self.threshold = float(settings.clusters.bias_threshold)
        self.cascade_gap_pct = float(settings.clusters.cascade_gap_pct)
        self.series = series
        self.log = log
        self.signals = LazySignals()
        self.rejected = self.suppressed = self.candidate_bars = 0

    def run(self, info: np.ndarray, levels: np.ndarray, cand: np.ndarray, cand_tab: np.ndarray, cand_f: np.ndarray,
            cand_i: np.ndarray, dump_f: np.ndarray, dump_i: np.ndarray, dump_bar: np.ndarray) -> None:
        """Decide every recorded bar in bar order (see the module docstring)."""
        fallback = info["fallback"] != 0
        count = info["count"]
        decided = {int(b): self._fallback(info[b], dump_f, dump_i, dump_bar) for b in np.flatnonzero(fallback)}
        if self.log is None:
            self._gated(info, levels, cand, cand_tab, cand_f, cand_i, fallback, count, decided)
            return
        for b in np.flatnonzero(fallback | (count > 0)).tolist():
            row = info[b]
            j = int(row["bar"])
            if b in decided:
                self._emit(j, decided[b][0])
                continue
            span = slice(int(row["first"]), int(row["first"]) + int(count[b]))
            snap, ctx = self._context(j, row)
            local, table = self._table(cand[span], cand_tab[span], cand_f[span], cand_i[span])
            self._emit(j, self.engine.finish(local, False, table, snap, ctx, self._magnets(row), _levels(levels[b])))

    def _fallback(self, row: np.ndarray, dump_f: np.ndarray, dump_i: np.ndarray,
                  dump_bar: np.ndarray) -> tuple[EngineResult, dict[str, int]]:
        """A bar the kernel could not settle alone: the Python engine on its rebuilt clusters, and
        the int key of each of its cluster ids."""
        j = int(row["bar"])
        snap, ctx = self._context(j, row)
        sel = dump_bar == j
        fs, is_ = dump_f[sel], dump_i[sel]
        clusters = self.clusters.ordered(fs, is_)
        keys = {self.clusters.cid(i): int(i[I_KEY]) for i in is_}
        magnets = magnet_read(clusters, snap.price, self.threshold, self.cascade_gap_pct)
        return self.engine.run(snap, clusters, ctx, magnets), keys

    def _gated(self, info: np.ndarray, levels: np.ndarray, cand: np.ndarray, cand_tab: np.ndarray,
               cand_f: np.ndarray, cand_i: np.ndarray, fallback: np.ndarray, count: np.ndarray,
               decided: dict[int, tuple[EngineResult, dict[str, int]]]) -> None:
        """No log: every row but a winner is a rejection; the winners of all bars go through the
        cooldown in one pass (``gate_scan``), and only the admitted ones become signal rows."""
        winner = info["winner"]
        plain = ~fallback & (count > 0)
        self.candidate_bars += int(plain.sum())
        self.rejected += int(count[plain].sum() - (winner[plain] >= 0).sum())
        bars = np.flatnonzero((plain & (winner >= 0)) | fallback)
        g = (info["first"][bars] + np.maximum(winner[bars], 0)).astype(np.int64)
        g = np.minimum(g, max(cand.shape[0] - 1, 0))  # a fallback bar without rows points nowhere useful
        gate_key = np.full(bars.size, -1, np.int64)  # -1: a fallback bar without a signal
        if cand.shape[0]:
            gate_key = cooldown_key(cand[g, K.C_STRATEGY].astype(np.int64), cand[g, K.C_DIRECTION] == K.D_LONG,
                                    cand_i[g, I_KEY])
        for k in np.flatnonzero(fallback[bars]).tolist():
            result, keys = decided[int(bars[k])]
            gate_key[k] = -1
            if result.signals:
                s = result.signals[0]
                gate_key[k] = cooldown_key(CODE[s.strategy], s.signal == Direction.LONG,
                                           keys[s.cluster_data.cluster_id])
        ts = np.asarray(self.series.ts, dtype=np.int64)[info["bar"][bars]]
        admitted = gate_scan(gate_key, ts, int(self.gate.window.total_seconds() * 1e9))
        self.suppressed += int(((gate_key >= 0) & ~admitted).sum())
        todo = np.flatnonzero(admitted | fallback[bars])
        rows = cand[g[todo]] if cand.shape[0] else np.empty((0, K.N_COL))
        ts_todo = ts[todo].tolist()
        for k, b, gi, w, t in zip(todo.tolist(), bars[todo].tolist(), g[todo].tolist(), rows.tolist(), ts_todo):
            if b in decided:
                result = decided[b][0]
                self.rejected += len(result.rejected)
                self.candidate_bars += bool(result.signals or result.rejected)
                if result.signals and admitted[k]:
                    self.signals.add_built(int(info["bar"][b]), result.signals[0])
            else:
                self._winner(b, gi, w, t, info, cand, cand_tab, cand_f, cand_i, levels)

    def _context(self, j: int, row: np.ndarray) -> tuple[SnapshotRef, MarketContext]:
        """The snapshot reference and market context of bar ``j`` (as ``Decider.step`` builds them)."""
        snap = SnapshotRef(self.symbol, self.clusters.time(int(self.series.ts[j])), float(self.series.price[j]),
                           getattr(self.series, "source", HeatmapSource.SYNTHETIC))
        atr = None if math.isnan(row["atr"]) else float(row["atr"])
        return snap, MarketContext.from_total(self.symbol, snap.ts, snap.price, float(row["oi"]), float(row["ls"]),
                                              atr=atr)

    @staticmethod
    def _magnets(row: np.ndarray) -> MagnetRead:
        """The magnet read as the engine's tail uses it (bias and asymmetry)."""
        return MagnetRead(above=None, below=None, asymmetry=float(row["asym"]), bias=BIAS_OF_CODE[int(row["bias"])],
                          cascade_up=_cascade(row["cascade_up"]), cascade_down=_cascade(row["cascade_down"]))

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

    def _winner(self, b: int, g: int, w: list[float], ts_ns: int, info: np.ndarray, cand: np.ndarray,
                cand_tab: np.ndarray, cand_f: np.ndarray, cand_i: np.ndarray, levels: np.ndarray) -> None:
        """Admitted winner ``g`` (row values ``w``) of candidate bar ``b``: its row now, its ``Signal``
        when read (built by the engine's own tail from the recorded arrays, which the builder keeps)."""
        strategy = spec_of_code(int(w[K.C_STRATEGY])).name
        sid = signal_id(self.symbol, strategy, self.clusters.time(ts_ns), self.clusters.cid(cand_i[g]))
        self.signals.add(SignalRow(int(info["bar"][b]), strategy.value, 1.0 if w[K.C_DIRECTION] == K.D_LONG else -1.0,
                                   w[K.C_ENTRY], w[K.C_STOP], w[K.C_TARGET],
                                   round(self.engine.base_usd * w[K.C_MULT], 2), sid),
                         partial(self._build, b, g, sid, info, cand, cand_tab, cand_f, cand_i, levels))

    def _build(self, b: int, g: int, sid: str, info: np.ndarray, cand: np.ndarray, cand_tab: np.ndarray,
               cand_f: np.ndarray, cand_i: np.ndarray, levels: np.ndarray) -> Any:
        """The ``Signal`` of admitted winner ``g``: what ``Engine.run`` would have returned on its bar."""
        row, one = info[b], slice(g, g + 1)
        snap, ctx = self._context(int(row["bar"]), row)
        local, table = self._table(cand[one], cand_tab[one], cand_f[one], cand_i[one])
        result = self.engine.finish(local, False, table, snap, ctx, self._magnets(row), _levels(levels[b]))
        if not result.signals:  # the kernel's filters make every winner a valid signal
            raise RuntimeError(f"signal {sid} failed validation: {result.rejected[0].detail}")
        return result.signals[0]

    def _emit(self, j: int, result: EngineResult) -> None:
        """What ``Decider.step`` does with an engine result: gate, count, log."""
        kept, dropped = self.gate.admit(result.signals)
        self.suppressed += len(dropped)
        if dropped:
            result = EngineResult(signals=kept, rejected=result.rejected)
        if result.signals or result.rejected or dropped:
            self.candidate_bars += 1
        self.rejected += len(result.rejected)
        for s in result.signals:
            self.signals.add_built(j, s)
        if self.log is not None:
            self.log.write_result(result)


def _cascade(rec: np.void) -> CascadeRead | None:
    """The ``CascadeRead`` of a recorded side (``backtest.fused.CASCADE_DT``)."""
    if rec["clusters"] == 0:
        return None
    return CascadeRead(clusters=int(rec["clusters"]), usd=float(rec["usd"]), first_price=float(rec["first_price"]),
                       end_price=float(rec["end_price"]))


def _levels(row: np.ndarray) -> tuple[list[float], list[float]]:
    """(supports, resistances) from a recorded levels row (NaN-padded halves)."""
    half = row.size // 2
    return ([x for x in row[:half].tolist() if not math.isnan(x)], [x for x in row[half:].tolist() if not math.isnan(x)])


def cooldown_key(strategy_code: Any, long: Any, cluster_key: Any) -> Any:
    """One int (or int array) for the cooldown's (strategy, cluster, direction) key: cluster keys are
    unique per cluster, as the string ids the runner's gate uses, and every registered strategy code
    and direction has its own slot (``2 * N_CODES`` per cluster), so keys never collide."""
    return np.asarray(cluster_key, dtype=np.int64) * (2 * N_CODES) + np.asarray(strategy_code, dtype=np.int64) * 2 \
        + np.asarray(long, dtype=np.int64)


@njit(cache=True)
def gate_scan(keys: np.ndarray, ts: np.ndarray, window_ns: int) -> np.ndarray:  # pragma: no cover - numba
    """``CooldownGate.admit`` over winners in bar order: admitted unless the same key was emitted
    at most ``window_ns`` before (keys < 0: nothing to gate). Sorted by key, stable, so each key's
    winners are scanned in time order."""
    out = np.zeros(keys.size, np.bool_)
    order = np.argsort(keys, kind="mergesort")
    last_key, last_ts = np.int64(-1), np.int64(0)
    for r in order:
        k = keys[r]
        if k < 0:
            continue
        if k == last_key and 0 <= ts[r] - last_ts <= window_ns:
            continue
        out[r] = True
        last_key, last_ts = k, ts[r]
    return out
