"""The Engine: enabled strategies -> candidates -> filters -> one per symbol -> OI sizing -> Signals.

Pure: no I/O, no clock. The paper runner and the backtester call the same ``Engine.run`` on the
same snapshots, so equal inputs give equal signals, id for id. Rejected candidates come back
with the rule that dropped them; the caller writes both to the signal log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from pydantic import ValidationError

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies.candidate import Candidate
from strategies.filters import FilterLimits, Rejection, Rule, apply_filters, resolve_conflicts
from strategies.levels import ClusterSet, LevelParams, distance_pct, support_resistance
from strategies.params import Params
from strategies.registry import OI_SIZING, STRATEGIES, StrategyEntry
from strategies.signal import (RR_DECIMALS, ClusterData, HeatmapRef, MarketSentiment, PositionSize, Signal,
                               StrategyName, price_decimals)
from strategies.sizing import OISizingParams, Sizing, oi_sizing

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
        self._strategies: tuple[tuple[StrategyEntry, Params], ...] = tuple(
            (entry, getattr(settings, name.value)) for name, entry in STRATEGIES.items() if name.value in enabled)
        self._order: tuple[StrategyName, ...] = tuple(STRATEGIES)
        self._sizing: OISizingParams | None = settings.oi_sizing if OI_SIZING in enabled else None
        self._levels: LevelParams = settings.levels
        self._base_usd = float(settings.base_position_usd)
        self._zone_pct = float(settings.cluster_zone_pct)
        self._limits = FilterLimits(min_rr=settings.min_rr, min_confidence=settings.min_confidence,
                                    max_stop_pct=settings.max_stop_pct, min_target_pct=settings.min_target_pct)

    @classmethod
    def from_settings(cls, settings: "StrategySettings") -> "Engine":
        """Same as ``Engine(settings)``; reads as what it does at call sites."""
        return cls(settings)

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the strategies this engine runs (registry order), plus ``oi_sizing`` when on."""
        names = tuple(entry.name for entry, _ in self._strategies)
        return names + ((OI_SIZING,) if self._sizing is not None else ())

    def candidates(self, snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                   magnets: MagnetRead) -> list[Candidate]:
        """Every candidate of every enabled strategy, in registry order."""
        if not (isinstance(clusters, ClusterSet) and clusters.now == snapshot.ts):
            clusters = ClusterSet(clusters, snapshot.ts, self._zone_pct)  # arrays built once, zones as configured
        out: list[Candidate] = []
        for entry, params in self._strategies:
            out += entry.func(snapshot, clusters, ctx, magnets, params)
        return out

    def run(self, snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
            magnets: MagnetRead) -> EngineResult:
        """Candidates -> filters -> conflict resolution -> sizing -> Signals (at most one per symbol)."""
        shared = ClusterSet(clusters, snapshot.ts, self._zone_pct)
        table = shared.table
        kept, rejected = apply_filters(self.candidates(snapshot, shared, ctx, magnets), self._limits, table)
        winners, lost = resolve_conflicts(kept, self._order)
        rejected += lost
        supports, resistances = support_resistance(table, snapshot.price, self._levels)
        signals: list[Signal] = []
        for c in winners:
            sizing = oi_sizing(c.direction, ctx, self._sizing) if self._sizing else Sizing(1.0, "size x1: sizing off")
            try:
                signals.append(build_signal(c, snapshot, ctx, magnets, sizing, self._base_usd, supports, resistances))
            except ValidationError as exc:  # a strategy bug must not take the runner down: record it
                rejected.append(Rejection(c, Rule.INVALID, f"invalid signal: {exc.errors()[0]['msg']}"))
        return EngineResult(signals=signals, rejected=rejected)


def _finite_or_none(value: float | None, positive: bool = False) -> float | None:
    if value is None or not math.isfinite(value) or value < 0 or (positive and value == 0):
        return None
    return float(value)


def _level(price: float) -> float:
    # six significant digits, like the prices: readable JSON, never rounded to zero
    return round(price, price_decimals(price))


def build_signal(c: Candidate, snapshot: HeatmapSnapshot, ctx: MarketContext, magnets: MagnetRead, sizing: Sizing,
                 base_usd: float, supports: Sequence[float], resistances: Sequence[float]) -> Signal:
    """The Signal for a winning candidate (raises ``ValidationError`` if an invariant fails)."""
    cl = c.cluster
    return Signal(
        id=c.id, timestamp=snapshot.ts, symbol=c.symbol, strategy=c.strategy, signal=c.direction,
        entry_price=c.entry, stop_loss=c.stop_loss, take_profit=c.take_profit,
        risk_reward=round(c.risk_reward, RR_DECIMALS), confidence=c.confidence,
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
            magnet_asymmetry=_finite_or_none(magnets.asymmetry)),
        heatmap=HeatmapRef(source=snapshot.source, snapshot_ts=snapshot.ts),
    )
