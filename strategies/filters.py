"""Filters and conflict resolution: which candidates become signals, and why the others did not.

Every dropped candidate becomes a ``Rejection`` naming the rule, so the signal log can say
why a setup the reviewer expected was not traded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

from strategies.candidate import Candidate, stop_inside_cluster
from strategies.levels import ClusterTable
from strategies.signal import RR_DECIMALS, Direction, StrategyName


class Rule(StrEnum):
    """The rule that rejected a candidate."""

    GEOMETRY = "geometry"                # stop / entry / target not in order once on the tick
    MIN_RR = "min_rr"                    # reward/risk below the minimum
    MIN_CONFIDENCE = "min_confidence"
    MAX_STOP = "max_stop_pct"            # stop farther than allowed
    MIN_TARGET = "min_target_pct"        # target too close to pay for fees
    STOP_AT_CLUSTER = "stop_at_cluster"  # stop inside a live cluster
    CONFLICT = "conflict"                # another candidate on the symbol had higher confidence
    CONFLICT_CANCEL = "conflict_cancel"  # LONG and SHORT of equal confidence cancel each other
    INVALID = "invalid"                  # the Signal model refused it (a strategy bug, never expected)


@dataclass(frozen=True, slots=True)
class FilterLimits:
    """Thresholds every candidate must meet."""

    min_rr: float = 1.5
    min_confidence: float = 0.0
    max_stop_pct: float = 3.0
    min_target_pct: float = 0.1


@dataclass(frozen=True, slots=True)
class Rejection:
    """A candidate that was not emitted, the rule and the numbers that decided it."""

    candidate: Candidate
    rule: Rule
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the signal log's rejected record)."""
        return {"rule": self.rule.value, "detail": self.detail, "candidate": self.candidate.to_dict()}


def check(c: Candidate, limits: FilterLimits, table: ClusterTable) -> Rejection | None:
    """The first rule ``c`` fails, or None."""
    long = c.direction == Direction.LONG
    ordered = (c.stop_loss < c.entry < c.take_profit) if long else (c.take_profit < c.entry < c.stop_loss)
    prices_ok = all(math.isfinite(p) and p > 0 for p in (c.entry, c.stop_loss, c.take_profit))
    if not (ordered and prices_ok):
        return Rejection(c, Rule.GEOMETRY, f"stop {c.stop_loss} / entry {c.entry} / target {c.take_profit} "
                                           f"not ordered for {c.direction.value}")
    rr = c.risk_reward
    # compared on the value the signal will carry, so an emitted signal never shows rr < min_rr
    if round(rr, RR_DECIMALS) < limits.min_rr:
        return Rejection(c, Rule.MIN_RR, f"risk/reward {rr:.3f} < {limits.min_rr:g}")
    if c.confidence < limits.min_confidence:
        return Rejection(c, Rule.MIN_CONFIDENCE, f"confidence {c.confidence:.3f} < {limits.min_confidence:g}")
    stop_pct = abs(c.entry - c.stop_loss) / c.entry * 100.0
    if stop_pct > limits.max_stop_pct:
        return Rejection(c, Rule.MAX_STOP, f"stop {stop_pct:.3f}% away > {limits.max_stop_pct:g}%")
    target_pct = abs(c.take_profit - c.entry) / c.entry * 100.0
    if target_pct < limits.min_target_pct:
        return Rejection(c, Rule.MIN_TARGET, f"target {target_pct:.3f}% away < {limits.min_target_pct:g}%")
    if stop_inside_cluster(table, c.stop_loss):
        return Rejection(c, Rule.STOP_AT_CLUSTER, f"stop {c.stop_loss} inside a live cluster")
    return None


def apply_filters(candidates: Sequence[Candidate], limits: FilterLimits,
                  table: ClusterTable) -> tuple[list[Candidate], list[Rejection]]:
    """Split ``candidates`` into those passing every rule and the rejections."""
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    for c in candidates:
        r = check(c, limits, table)
        if r is None:
            kept.append(c)
        else:
            rejected.append(r)
    return kept, rejected


def _rank(c: Candidate, order: Sequence[StrategyName]) -> tuple[float, float, int, str]:
    # higher confidence first, then higher reward/risk, then registry order, then id: a total order,
    # so the same inputs always pick the same winner
    return (-c.confidence, -c.risk_reward, order.index(c.strategy), c.id)


def resolve_conflicts(candidates: Sequence[Candidate],
                      order: Sequence[StrategyName]) -> tuple[list[Candidate], list[Rejection]]:
    """One candidate per symbol: the highest confidence wins; LONG vs SHORT at equal top confidence cancel."""
    winners: list[Candidate] = []
    rejected: list[Rejection] = []
    for symbol in sorted({c.symbol for c in candidates}):
        group = sorted((c for c in candidates if c.symbol == symbol), key=lambda c: _rank(c, order))
        top = group[0]
        tied_sides = {c.direction for c in group if c.confidence == top.confidence}
        if len(tied_sides) > 1:
            rejected += [Rejection(c, Rule.CONFLICT_CANCEL,
                                   f"LONG and SHORT at equal confidence {top.confidence:.3f} cancel")
                         if c.confidence == top.confidence else
                         Rejection(c, Rule.CONFLICT, f"confidence {c.confidence:.3f} < {top.confidence:.3f}")
                         for c in group]
            continue
        winners.append(top)
        rejected += [Rejection(c, Rule.CONFLICT, f"{top.strategy.value} {top.direction.value} won at confidence "
                                                 f"{top.confidence:.3f} (this {c.confidence:.3f})")
                     for c in group[1:]]
    return winners, rejected
