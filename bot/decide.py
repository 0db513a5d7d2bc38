"""The per-bar decision, shared by the paper/live runner and the backtester (docs/architecture.md §1).

One closed bar of one symbol: its heatmap snapshot -> cluster tracker -> magnet read and market
context (open interest, long/short ratio, funding, ATR) -> engine -> cooldown gate. Both paths
call :meth:`Decider.step` with the same snapshot and bar numbers, so on the same data they emit
the same signals, id for id; nothing here reads a clock or does I/O.

The cooldown gate exists because the engine is stateless: a setup that lasts re-emits a signal
(with a new id, the timestamp is part of it) on every bar. A signal is emitted only when no signal
of the same (strategy, cluster_id, direction) was emitted within the last ``cooldown_bars`` bars
(measured on signal timestamps); suppressed signals are counted, never logged as signals.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numba
import numpy as np

from bot.clusters.kernel import (F_LEVEL, F_PEAK_STRENGTH, F_PEAK_USD, F_STRENGTH, F_USD, I_ACTIVE, I_BROKEN_AT,
                                 I_SIDE, NF, NI)
from bot.clusters.magnets import magnet_read
from bot.clusters.tracker import ClusterTracker, to_ns
from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext, utc
from bot.errors import DataError
from strategies.engine import Engine, EngineResult
from strategies.signal import Signal
from strategies.spec import SLACK

if TYPE_CHECKING:
    from config.settings import Settings

ATR_BARS = 14
SIDE_SHORT = 1  # the side code of a short cluster in the tracker's rows (``bot.clusters.grouping.SIDES``)
STATE_VERSION = 1


def atr_of(recent: Iterable[tuple[float, float, float]]) -> float | None:
    """Mean true range over ``(high, low, close)`` rows, oldest first (None until two bars are known).

    The runner's ATR: the window holds the last ``ATR_BARS + 1`` bars. Computed by the same njit
    kernel the fused backtest loop calls, so every caller gets the same bits.
    """
    rows = np.asarray(list(recent), dtype=np.float64).reshape(-1, 3)
    value = atr_kernel(rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), rows.shape[0])
    return None if math.isnan(value) else value


def atr_series(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """The runner's ATR at every bar (NaN where undefined): bar t reads the ``ATR_BARS + 1`` bars ending at t.

    Point in time (bar t uses bars <= t only); the same kernel and window as :func:`atr_of`, for
    harnesses that hand the engine a whole series of bars.
    """
    h, lo, c = (np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close))
    out = np.full(h.shape, np.nan)
    for t in range(h.size):
        a = max(0, t - ATR_BARS)
        out[t] = atr_kernel(h[a:t + 1].copy(), lo[a:t + 1].copy(), c[a:t + 1].copy(), t + 1 - a)
    return out


@numba.njit(cache=True)
def atr_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> float:  # pragma: no cover - numba
    """Mean true range of the first ``n`` rows (summed in order), NaN when undefined or not > 0."""
    if n < 2:
        return np.nan
    total = 0.0
    for k in range(1, n):
        pc = close[k - 1]
        total += max(high[k], pc) - min(low[k], pc)
    value = total / (n - 1)
    return value if (np.isfinite(value) and value > 0) else np.nan


class CooldownGate:
    """Drops a signal when the same (strategy, cluster_id, direction) was emitted within ``bars`` bars."""

    def __init__(self, bars: int, bar_seconds: float) -> None:
        if bars < 0 or not (math.isfinite(bar_seconds) and bar_seconds > 0):
            raise DataError(f"cooldown needs bars >= 0 and a bar length > 0, got {bars}, {bar_seconds}",
                            field="cooldown_bars")
        self.window = timedelta(seconds=bars * bar_seconds)
        self._last: dict[tuple[str, str, str], datetime] = {}

    def admit(self, signals: Sequence[Signal]) -> tuple[list[Signal], list[Signal]]:
        """Split ``signals`` (one bar's, in order) into emitted and suppressed; remember the emitted."""
        verdicts = self.admit_keys([((s.strategy.value, s.cluster_data.cluster_id, s.signal.value), s.timestamp)
                                    for s in signals])
        return ([s for s, ok in zip(signals, verdicts) if ok], [s for s, ok in zip(signals, verdicts) if not ok])

    def admit_keys(self, items: Sequence[tuple[tuple[str, str, str], datetime]]) -> list[bool]:
        """The gate on ``((strategy, cluster_id, direction), timestamp)`` pairs of one bar: True = emit."""
        if not self.window:
            return [True] * len(items)
        out = []
        for key, ts in items:
            last = self._last.get(key)
            if last is not None and timedelta(0) <= ts - last <= self.window:
                out.append(False)
                continue
            self._last[key] = ts
            out.append(True)
        if len(self._last) > 512 and items:  # forget keys that can no longer suppress anything
            horizon = items[-1][1] - self.window
            self._last = {k: t for k, t in self._last.items() if t >= horizon}
        return out

    def state(self) -> dict[str, str]:
        """JSON-ready: ``"strategy|cluster_id|direction" -> ISO time`` of the last emission."""
        return {"|".join(k): t.isoformat() for k, t in self._last.items()}

    def restore(self, state: dict[str, str] | None) -> None:
        """Load what :meth:`state` saved."""
        self._last = {}
        for key, text in (state or {}).items():
            parts = tuple(key.split("|"))
            if len(parts) != 3:
                raise DataError(f"malformed cooldown key {key!r}", field="cooldown")
            self._last[parts] = utc(datetime.fromisoformat(text))  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class Decision:
    """What one bar decided.

    ``result`` is None when the engine did not run (no snapshot yet, or the bar may not trade);
    its ``signals`` are the emitted ones (after the cooldown gate), ``rejected`` the engine's
    rejections; ``suppressed`` the signals the gate held back.
    """

    clusters: list[Cluster] = field(default_factory=list)
    result: EngineResult | None = None
    suppressed: tuple[Signal, ...] = ()
    ctx: MarketContext | None = None
    magnets: MagnetRead | None = None

    @property
    def signals(self) -> list[Signal]:
        """Emitted signals of the bar (empty when the engine did not run)."""
        return self.result.signals if self.result is not None else []


class Prescreen:
    """Proves cheaply that no enabled strategy can propose anything on a bar, so the engine may skip it.

    Each registered strategy's spec carries ``may_fire``, a *necessary* condition of its candidates
    on one cluster (loosened by a relative slack): when no cluster passes any enabled strategy's
    test, the engine would have returned no candidate and no rejection. With any strategy it does
    not know, it never skips. ``may_fire_rows`` is the same screen on the tracker's state rows (no
    Cluster objects built) for the three cluster strategies whose conditions it spells out; with
    any other strategy enabled (cascade) it lets the bar through.
    """

    ROW_SCREENED = frozenset({"liquidation_hunt", "support_resistance", "breakout", "oi_sizing"})

    def __init__(self, strategies: Any) -> None:
        from strategies.registry import ALL_NAMES, STRATEGIES
        enabled = set(strategies.enabled)
        self.active = enabled <= set(ALL_NAMES)
        self.tests = [(spec.may_fire, getattr(strategies, name.value)) for name, spec in STRATEGIES.items()
                      if name.value in enabled]
        self.rows_active = self.active and enabled <= self.ROW_SCREENED
        self.hunt = strategies.liquidation_hunt if "liquidation_hunt" in enabled else None
        self.sr = strategies.support_resistance if "support_resistance" in enabled else None
        self.breakout = strategies.breakout if "breakout" in enabled else None

    def may_fire(self, clusters: Sequence[Cluster], price: float, now: datetime) -> bool:
        """False only when no enabled strategy can make a candidate from ``clusters``."""
        if not self.active:
            return True
        for c in clusters:
            level = c.price_level
            if not (math.isfinite(level) and level > 0):
                continue
            dist = abs(level - price) / price * 100.0 * (1 - SLACK)
            for test, params in self.tests:
                if test(c, price, dist, now, params):
                    return True
        return False

    def may_fire_rows(self, cf: np.ndarray, ci: np.ndarray, price: float, now: datetime) -> bool:
        """:meth:`may_fire` on the tracker's state rows (``ClusterTracker.rows``): no cluster objects built."""
        if not self.rows_active:
            return True
        if cf.shape[0] == 0:
            return False
        hunt, sr, bo = self.hunt, self.sr, self.breakout
        level = cf[:, F_LEVEL]
        with np.errstate(invalid="ignore"):
            usable = np.isfinite(level) & (level > 0)
            dist = np.abs(level - price) / price * 100.0 * (1 - SLACK)
            # a short cluster above price, a long one at or below it (what hunt and support/resistance read)
            beyond = np.where(ci[:, I_SIDE] == SIDE_SHORT, level > price, level <= price)
            active = usable & (ci[:, I_ACTIVE] == 1)
            strength, usd = _num(cf[:, F_STRENGTH]), _num(cf[:, F_USD])
            if hunt is not None and np.any(active & beyond & (strength >= hunt.min_strength * (1 - SLACK))
                                           & (dist < hunt.max_distance_pct) & (usd >= hunt.min_usd * (1 - SLACK))):
                return True
            if sr is not None and np.any(active & beyond & (strength >= sr.min_strength * (1 - SLACK))
                                         & (dist <= sr.band_pct)):
                return True
            if bo is None:
                return False
            broken_us = ci[:, I_BROKEN_AT] // 1000  # the cluster's broken_at, truncated to microseconds
            gone = usable & (ci[:, I_ACTIVE] != 1) & (ci[:, I_BROKEN_AT] >= 0)
            if not np.any(gone):
                return False
            window = bo.lookback_bars * bo.bar_minutes * 60.0 * (1 + SLACK) + 1e-6
            age = (to_ns(now) // 1000 - broken_us) / 1e6
            # a cluster's peaks are never below its current values (Cluster.__post_init__)
            peak_usd = np.where(cf[:, F_PEAK_USD] < cf[:, F_USD], cf[:, F_USD], cf[:, F_PEAK_USD])
            peak_strength = np.where(cf[:, F_PEAK_STRENGTH] < cf[:, F_STRENGTH], cf[:, F_STRENGTH],
                                     cf[:, F_PEAK_STRENGTH])
            return bool(np.any(gone & (age >= -1e-6) & (age <= window)
                               & (_num(peak_usd) >= bo.min_usd * (1 - SLACK))
                               & (_num(peak_strength) >= bo.min_strength * (1 - SLACK))))


def rows_of(clusters: Sequence[Cluster]) -> tuple[np.ndarray, np.ndarray]:
    """Clusters as tracker state rows (the columns the prescreen reads)."""
    cf = np.zeros((len(clusters), NF))
    ci = np.zeros((len(clusters), NI), dtype=np.int64)
    for r, c in enumerate(clusters):
        cf[r, [F_LEVEL, F_USD, F_STRENGTH, F_PEAK_USD, F_PEAK_STRENGTH]] = (
            c.price_level, c.open_interest, c.strength, c.peak_open_interest, c.peak_strength)
        ci[r, I_SIDE] = SIDE_SHORT if c.side.value == "short" else 1 - SIDE_SHORT
        ci[r, I_ACTIVE] = 1 if c.active else 0
        ci[r, I_BROKEN_AT] = to_ns(c.broken_at) if c.broken_at is not None else -1
    return cf, ci


def _num(x: np.ndarray) -> np.ndarray:
    """Non-finite numbers read as 0, as the strategies' cluster table reads them."""
    return np.where(np.isfinite(x), x, 0.0)


class Decider:
    """The per-bar decision of one symbol: tracker, ATR window, engine and cooldown gate."""

    def __init__(self, settings: "Settings", symbol: str, bar_seconds: float, *, engine: Any = None,
                 prescreen: bool = True, keep_clusters: bool = True) -> None:
        """``keep_clusters=False``: a :class:`Decision` carries clusters only when the engine ran (the
        runner reads none; building them on every bar was a quarter of a replay step)."""
        self.symbol = symbol
        self.keep_clusters = keep_clusters
        self.bar_seconds = float(bar_seconds)
        self.clusters_settings = settings.clusters
        self.tracker = ClusterTracker(settings.clusters, symbol)
        self.engine = engine if engine is not None else Engine(settings.strategies)
        self.gate = CooldownGate(settings.strategies.cooldown_bars, self.bar_seconds)
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=ATR_BARS + 1)
        self.bias_threshold = float(settings.clusters.bias_threshold)
        self.cascade_gap_pct = float(settings.clusters.cascade_gap_pct)
        # the screen mirrors the registered strategies' thresholds: any other engine (a test fake,
        # a user's own) must always run
        self.prescreen = Prescreen(settings.strategies) if prescreen and isinstance(self.engine, Engine) else None
        self.suppressed = 0
        self.skipped = 0  # trading bars on which the prescreen proved the engine had nothing to say

    def step(self, snapshot: HeatmapSnapshot | None, high: float, low: float, close: float, *,
             oi_usd: float | None = None, ls_ratio: float | None = None, funding_rate: float | None = None,
             trade: bool = True) -> Decision:
        """Feed one closed bar and its snapshot; run the engine when ``trade`` (not warmup, data fresh).

        The ATR window advances on every bar, the tracker on every bar with a snapshot (so its ids,
        strength reference and breaks never depend on whether the bar could trade).
        """
        self.recent.append((high, low, close))
        if snapshot is None:
            return Decision()
        self.tracker.advance(snapshot, high, low)
        clusters = self.tracker.clusters() if self.keep_clusters else []
        if not trade:
            return Decision(clusters)
        if self.prescreen is not None and not self.prescreen.may_fire_rows(*self.tracker.rows(), snapshot.price,
                                                                           snapshot.ts):
            self.skipped += 1
            return Decision(clusters, EngineResult())
        if not self.keep_clusters:
            clusters = self.tracker.clusters()
        magnets = magnet_read(clusters, snapshot.price, self.bias_threshold, self.cascade_gap_pct)
        ctx = MarketContext.from_total(self.symbol, snapshot.ts, snapshot.price, oi_usd or 0.0, ls_ratio or 1.0,
                                       funding_rate=funding_rate, atr=atr_of(self.recent))
        result = self.engine.run(snapshot, clusters, ctx, magnets)
        kept, dropped = self.gate.admit(result.signals)
        self.suppressed += len(dropped)
        if dropped:
            result = EngineResult(signals=kept, rejected=result.rejected)
        return Decision(clusters, result, tuple(dropped), ctx, magnets)

    def state(self) -> dict[str, Any]:
        """JSON-ready state: :meth:`from_state` resumes exactly here (tracker, ATR window, cooldown)."""
        return {"version": STATE_VERSION, "symbol": self.symbol, "tracker": self.tracker.state(),
                "recent": [list(r) for r in self.recent], "cooldown": self.gate.state(),
                "suppressed": self.suppressed}

    @classmethod
    def from_state(cls, settings: "Settings", symbol: str, bar_seconds: float, state: dict[str, Any], *,
                   engine: Any = None, prescreen: bool = True, keep_clusters: bool = True) -> "Decider":
        """Rebuild from :meth:`state`; another symbol or version is a DataError."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION or state.get("symbol") != symbol:
            raise DataError(f"decider state is not a version-{STATE_VERSION} state of {symbol}", field="state")
        out = cls(settings, symbol, bar_seconds, engine=engine, prescreen=prescreen, keep_clusters=keep_clusters)
        out.tracker = ClusterTracker.from_state(settings.clusters, symbol, state["tracker"])
        out.recent.extend((float(h), float(lo), float(c)) for h, lo, c in state.get("recent", []))
        out.gate.restore(state.get("cooldown"))
        out.suppressed = int(state.get("suppressed", 0))
        return out
