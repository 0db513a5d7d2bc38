"""Filters and conflict resolution: which candidates become signals, and why the others did not.

Every dropped candidate becomes a ``Rejection`` naming the rule, so the signal log can say
why a setup the reviewer expected was not traded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

from bot.search_space import searchable

from strategies import kernel as K
from strategies.candidate import Candidate
from strategies.params import Params
from strategies.signal import StrategyName


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


class FilterLimits(Params):
    """Thresholds every candidate must meet (``config.settings.StrategySettings`` declares these very fields)."""

    min_rr: float = searchable(1.5, low=1.0, high=4.0, gt=0, le=1000,
                               description="Minimum reward/risk of an emitted signal.")
    min_confidence: float = searchable(0.0, low=0.0, high=0.8, ge=0, le=1,
                                       description="Minimum confidence of an emitted signal.")
    max_stop_pct: float = searchable(3.0, low=0.3, high=5.0, log=True, gt=0, le=100,
                                     description="Farthest stop-loss from entry, percent.")
    min_target_pct: float = searchable(0.1, low=0.05, high=1.5, log=True, ge=0, le=100,
                                       description="Nearest take-profit from entry, percent (fees).")

    @classmethod
    def of(cls, settings: Any) -> "FilterLimits":
        """The limits held by ``settings`` (a ``StrategySettings``: it embeds these fields)."""
        return cls(**{name: getattr(settings, name) for name in cls.model_fields})


@dataclass(frozen=True, slots=True)
class Rejection:
    """A candidate that was not emitted, the rule and the numbers that decided it."""

    candidate: Candidate
    rule: Rule
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the signal log's rejected record)."""
        return {"rule": self.rule.value, "detail": self.detail, "candidate": self.candidate.to_dict()}


RULE_OF_CODE = {K.R_GEOMETRY: Rule.GEOMETRY, K.R_MIN_RR: Rule.MIN_RR, K.R_MIN_CONFIDENCE: Rule.MIN_CONFIDENCE,
                K.R_MAX_STOP: Rule.MAX_STOP, K.R_MIN_TARGET: Rule.MIN_TARGET, K.R_STOP_AT_CLUSTER: Rule.STOP_AT_CLUSTER}


def rejection(c: Candidate, rule: Rule, limits: FilterLimits) -> Rejection:
    """The rejection of ``c`` by filter ``rule``, with the numbers that decided it."""
    if rule == Rule.GEOMETRY:
        detail = (f"stop {c.stop_loss} / entry {c.entry} / target {c.take_profit} "
                  f"not ordered for {c.direction.value}")
    elif rule == Rule.MIN_RR:
        detail = f"risk/reward {c.risk_reward:.3f} < {limits.min_rr:g}"
    elif rule == Rule.MIN_CONFIDENCE:
        detail = f"confidence {c.confidence:.3f} < {limits.min_confidence:g}"
    elif rule == Rule.MAX_STOP:
        detail = f"stop {abs(c.entry - c.stop_loss) / c.entry * 100.0:.3f}% away > {limits.max_stop_pct:g}%"
    elif rule == Rule.MIN_TARGET:
        detail = f"target {abs(c.take_profit - c.entry) / c.entry * 100.0:.3f}% away < {limits.min_target_pct:g}%"
    else:
        detail = f"stop {c.stop_loss} inside a live cluster"
    return Rejection(c, rule, detail)


def _rank(c: Candidate, order: Sequence[StrategyName]) -> tuple[float, float, int, str]:
    # higher confidence first, then higher reward/risk, then registry order, then id: a total order,
    # so the same inputs always pick the same winner (the kernel ranks alike, up to the id)
    return (-c.confidence, -c.risk_reward, order.index(c.strategy), c.id)


def conflict_rejections(group: Sequence[Candidate], cancel: bool) -> list[Rejection]:
    """Rejections of a ranked group: all of it when the top cancels, else everything after the winner."""
    top = group[0]
    if cancel:
        return [Rejection(c, Rule.CONFLICT_CANCEL, f"LONG and SHORT at equal confidence {top.confidence:.3f} cancel")
                if c.confidence == top.confidence else
                Rejection(c, Rule.CONFLICT, f"confidence {c.confidence:.3f} < {top.confidence:.3f}")
                for c in group]
    return [Rejection(c, Rule.CONFLICT, f"{top.strategy.value} {top.direction.value} won at confidence "
                                        f"{top.confidence:.3f} (this {c.confidence:.3f})")
            for c in group[1:]]


def resolve_conflicts(candidates: Sequence[Candidate],
                      order: Sequence[StrategyName]) -> tuple[list[Candidate], list[Rejection]]:
    """One candidate per symbol: the highest confidence wins; LONG vs SHORT at equal top confidence cancel.

    The engine ranks with ``conflict_kernel``; this id-aware version decides the rare ties only
    a signal id can break, and candidates of several symbols.
    """
    winners: list[Candidate] = []
    rejected: list[Rejection] = []
    for symbol in sorted({c.symbol for c in candidates}):
        group = sorted((c for c in candidates if c.symbol == symbol), key=lambda c: _rank(c, order))
        top = group[0]
        cancel = len({c.direction for c in group if c.confidence == top.confidence}) > 1
        if not cancel:
            winners.append(top)
        rejected += conflict_rejections(group, cancel)
    return winners, rejected
