"""The Engine: enabled strategies -> candidates -> filters -> one per symbol -> OI sizing -> Signals.

Pure: no I/O, no clock. The paper runner and the backtester call the same ``Engine.run`` on the
same snapshots, so equal inputs give equal signals, id for id. Rejected candidates come back
with the rule that dropped them; the caller writes both to the signal log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from pydantic import ValidationError

from bot.domain import CascadeRead, Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies import kernel as K
from strategies.candidate import BIAS_CODE, Candidate, candidates_from_rows
from strategies.engine_params import engine_params
from strategies.filters import RULE_OF_CODE, FilterLimits, Rejection, Rule, conflict_rejections, rejection, \
    resolve_conflicts
from strategies.kernel_round import round_level
from strategies.levels import ClusterSet, LevelParams, distance_pct
from strategies.params import Params
from strategies.registry import OI_SIZING, STRATEGIES
from strategies.spec import StrategySpec
from strategies.signal import (RR_DECIMALS, CascadeData, ClusterData, HeatmapRef, MarketSentiment, PositionSize,
                               Signal, StrategyName)
from strategies.sizing import OISizingParams, Sizing, oi_sizing, sizing_of

if TYPE_CHECKING:
    from config.settings import StrategySettings


@dataclass(frozen=True, slots=True)
class EngineResult:
    """What one engine run decided: the emitted signals and every rejected candidate."""

    signals: list[Signal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class Engine:
    """Runs the enabled strategies on one snapshot. Build once from ``settings.strategies``."""

    def __init__(self, settings: "StrategySettings") -> None:
        enabled = set(settings.enabled)
        self._strategies: tuple[tuple[StrategySpec, Params], ...] = tuple(
            (spec, getattr(settings, name.value)) for name, spec in STRATEGIES.items() if name.value in enabled)
        self._order: tuple[StrategyName, ...] = tuple(STRATEGIES)
        self._sizing: OISizingParams | None = settings.oi_sizing if OI_SIZING in enabled else None
        self._levels: LevelParams = settings.levels
        self._base_usd = float(settings.base_position_usd)
        self._zone_pct = float(settings.cluster_zone_pct)
        self._settings = settings
        self._params = engine_params(settings)
        self._per_symbol: dict[str, Any] = {}
        self._limits = FilterLimits.of(settings)

    @classmethod
    def from_settings(cls, settings: "StrategySettings") -> "Engine":
        """Same as ``Engine(settings)``; reads as what it does at call sites."""
        return cls(settings)

    @property
    def base_usd(self) -> float:
        """The base notional every signal's size multiplies, USD."""
        return self._base_usd

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the strategies this engine runs (registry order), plus ``oi_sizing`` when on."""
        names = tuple(spec.name.value for spec, _ in self._strategies)
        return names + ((OI_SIZING,) if self._sizing is not None else ())

    def _params_of(self, symbol: str) -> Any:
        # OI thresholds may be set per symbol: one parameter array per symbol seen
        if self._sizing is None or not self._sizing.per_symbol:
            return self._params
        p = self._per_symbol.get(symbol)
        if p is None:
            p = self._per_symbol[symbol] = engine_params(self._settings, symbol)
        return p

    def candidates(self, snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                   magnets: MagnetRead) -> list[Candidate]:
        """Every candidate of every enabled strategy, in registry order."""
        if not (isinstance(clusters, ClusterSet) and clusters.now == snapshot.ts):
            clusters = ClusterSet(clusters, snapshot.ts, self._zone_pct)  # arrays built once, zones as configured
        table, p = clusters.table, self._params_of(ctx.symbol)
        rows = K.candidates_kernel(table.tab, float(snapshot.price), _atr(ctx), BIAS_CODE[magnets.bias], p)
        return candidates_from_rows(rows, table, snapshot.symbol, snapshot.ts, snapshot.price, p)

    def run(self, snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
            magnets: MagnetRead) -> EngineResult:
        """Candidates -> filters -> conflict resolution -> sizing -> Signals (at most one per symbol).

        The numbers come from ``strategies.kernel.engine_kernel``, the code the backtester's fused
        loop runs; this wrapper turns its rows into candidates, rejections and signals.
        """
        table = ClusterSet(clusters, snapshot.ts, self._zone_pct).table
        p = self._params_of(ctx.symbol)
        rows, tie = K.engine_kernel(table.tab, float(snapshot.price), _atr(ctx), BIAS_CODE[magnets.bias],
                                    float(ctx.total_oi_usd), float(ctx.long_short_ratio), p)
        return self.finish(rows, bool(tie), table, snapshot, ctx, magnets)

    def finish(self, rows: np.ndarray, tie: bool, table: Any, snapshot: Any, ctx: MarketContext,
               magnets: MagnetRead, levels: tuple[Sequence[float], Sequence[float]] | None = None) -> EngineResult:
        """Kernel rows -> candidates, rejections and signals (the Python tail of ``run``).

        ``table`` needs ``.clusters`` and ``.tab`` indexed by the rows' cluster columns;
        ``snapshot`` needs ``symbol``, ``ts``, ``price`` and ``source``; ``levels``: the signal's
        (supports, resistances) when already known. The backtester's fused loop calls this with
        the rows it recorded, so both paths build their objects with this one function.
        """
        if not len(rows):
            return EngineResult()
        p = self._params_of(ctx.symbol)
        cands = candidates_from_rows(rows, table, snapshot.symbol, snapshot.ts, snapshot.price, p)
        rejected = [rejection(c, RULE_OF_CODE[int(r[K.C_RULE])], self._limits)
                    for c, r in zip(cands, rows) if r[K.C_OUTCOME] == K.O_FILTERED]
        ranked = sorted((int(r[K.C_RANK]), c, r) for c, r in zip(cands, rows) if r[K.C_RANK] >= 0)
        if tie:  # only the signal id can order the top candidates: rank with ids, as the kernel cannot
            winners, lost = resolve_conflicts([c for _, c, _ in ranked], self._order)
            sized = [(c, self._sizing_of(c, ctx)) for c in winners]
        else:
            group = [c for _, c, _ in ranked]
            cancel = any(r[K.C_OUTCOME] == K.O_CANCEL for _, _, r in ranked)
            lost = conflict_rejections(group, cancel) if group else []
            sized = [(c, self._sizing_of(c, ctx, float(r[K.C_MULT_RAW]))) for _, c, r in ranked
                     if r[K.C_OUTCOME] == K.O_WINNER]
        rejected += lost
        signals: list[Signal] = []
        if sized and levels is None:
            sup, res = K.levels_kernel(table.tab, float(snapshot.price), p)
            levels = (sup.tolist(), res.tolist())
        for c, sizing in sized:
            try:
                signals.append(build_signal(c, snapshot, ctx, magnets, sizing, self._base_usd, *levels))
            except ValidationError as exc:  # a strategy bug must not take the runner down: record it
                rejected.append(Rejection(c, Rule.INVALID, f"invalid signal: {exc.errors()[0]['msg']}"))
        return EngineResult(signals=signals, rejected=rejected)

    def _sizing_of(self, c: Candidate, ctx: MarketContext, raw: float | None = None) -> Sizing:
        if self._sizing is None:
            return Sizing(1.0, "size x1: sizing off")
        if raw is None:
            return oi_sizing(c.direction, ctx, self._sizing)
        return sizing_of(raw, c.direction, ctx.total_oi_usd, ctx.long_short_ratio, self._sizing, ctx.symbol)


def _atr(ctx: MarketContext) -> float:
    """The context's ATR for the kernel (NaN = none: the hunt falls back to a percent of price)."""
    return float(ctx.atr) if ctx.atr is not None else math.nan


def _finite_or_none(value: float | None, positive: bool = False) -> float | None:
    if value is None or not math.isfinite(value) or value < 0 or (positive and value == 0):
        return None
    return float(value)


def _level(price: float) -> float:
    # six significant digits, like the prices: readable JSON, never rounded to zero
    return float(round_level(float(price)))


def _cascade(read: CascadeRead | None) -> CascadeData | None:
    """The signal's cascade object of a side (levels to six significant digits, like every level)."""
    if read is None:
        return None
    return CascadeData(clusters=read.clusters, usd=max(0.0, read.usd), first_price=_level(read.first_price),
                       end_price=_level(read.end_price))


def build_signal(c: Candidate, snapshot: HeatmapSnapshot, ctx: MarketContext, magnets: MagnetRead, sizing: Sizing,
                 base_usd: float, supports: Sequence[float], resistances: Sequence[float]) -> Signal:
    """The Signal for a winning candidate (raises ``ValidationError`` if an invariant fails)."""
    cl = c.cluster
    return Signal(
        id=c.id, timestamp=snapshot.ts, symbol=c.symbol, strategy=c.strategy, signal=c.direction,
        entry_price=c.entry, stop_loss=c.stop_loss, take_profit=c.take_profit,
        risk_reward=float(K.round_decimals(c.risk_reward, RR_DECIMALS)), confidence=c.confidence,
        position_size=PositionSize(base_usd=base_usd, multiplier=sizing.multiplier,
                                   notional_usd=round(base_usd * sizing.multiplier, 2)),
        reason=f"{c.reason}; {sizing.reason}",
        cluster_data=ClusterData(
            cluster_id=cl.cluster_id, price_level=_level(cl.price_level), side=cl.side,
            strength=min(1.0, max(0.0, cl.strength)), open_interest=max(0.0, cl.open_interest),
            distance_from_price=round(float(distance_pct(cl.price_level, snapshot.price)), 4),
            leverage_tier=max(0.0, cl.leverage_tier)),
        support_levels=tuple(map(_level, supports)), resistance_levels=tuple(map(_level, resistances)),
        market_sentiment=MarketSentiment(
            sentiment=magnets.bias, long_short_ratio=_finite_or_none(ctx.long_short_ratio, positive=True),
            total_oi_usd=_finite_or_none(ctx.total_oi_usd),
            magnet_asymmetry=_finite_or_none(magnets.asymmetry),
            cascade_up=_cascade(magnets.cascade_up), cascade_down=_cascade(magnets.cascade_down)),
        heatmap=HeatmapRef(source=snapshot.source, snapshot_ts=snapshot.ts),
    )
