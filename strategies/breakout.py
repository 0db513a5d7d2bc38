"""Cluster breakout: follow the momentum of a freshly consumed cluster (DESIGN section 4, strategy 3).

A long-liquidation cluster that price fell through -> SHORT continuation; a short-liquidation
cluster price rose through -> LONG. The stop sits back inside the broken level (its USD-weighted
price: regaining it means the break failed); the target is just before the next live cluster in
the direction of the break. Size and confidence come from the cluster's *peak* USD and strength:
price eats a cluster from its near edge, so the remnant at the moment of the break understates
the fuel that was released.
"""

from __future__ import annotations

from typing import Sequence

from pydantic import Field

from bot.search_space import searchable
from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies import kernel as K
from strategies.candidate import Candidate, strategy_candidates
from strategies.kernel_params import fill_breakout
from strategies.params import TargetParams


class BreakoutParams(TargetParams):
    """Parameters of the cluster breakout."""

    lookback_bars: int = searchable(3, low=1, high=24, ge=1,
                                    description="A break counts this many bars after it happened.")
    bar_minutes: float = Field(5.0, gt=0, description="Bar length the lookback is counted in, minutes.")
    min_usd: float = searchable(2_000_000.0, low=1e5, high=5e7, log=True, ge=0,
                                description="Smallest broken cluster followed (peak USD over its life).")
    min_strength: float = searchable(0.0, low=0.0, high=0.9, ge=0, le=1,
                                     description="Weakest broken cluster followed (peak strength).")


def breakout(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
             magnets: MagnetRead, params: BreakoutParams) -> list[Candidate]:
    """One candidate per recently broken cluster that price is still beyond."""
    return strategy_candidates(K.P_BO_ON, lambda p: fill_breakout(p, params), snapshot, clusters, ctx, magnets)
