"""Support/resistance: fade into the nearest strong cluster (DESIGN section 4, strategy 2).

Long-liquidation clusters below price are support, short-liquidation clusters above are
resistance. LONG when price sits within ``band_pct`` above the nearest support (stop just below
that support, target before the next cluster above); SHORT the mirror at resistance.
"""

from __future__ import annotations

from typing import Sequence


from bot.search_space import searchable
from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies import kernel as K
from strategies.candidate import Candidate, strategy_candidates
from strategies.kernel_params import fill_sr
from strategies.params import TargetParams


class SupportResistanceParams(TargetParams):
    """Parameters of the support/resistance strategy."""

    min_strength: float = searchable(0.5, low=0.1, high=0.95, ge=0, le=1,
                                     description="Weakest cluster that counts as support/resistance.")
    band_pct: float = searchable(1.0, low=0.1, high=3.0, log=True, gt=0,
                                 description="Enter when price is within this percent of the level.")
    sl_buffer_pct: float = searchable(0.1, low=0.0, high=0.5, ge=0,
                                      description="Stop this far beyond the level's zone, percent.")


def support_resistance(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                       magnets: MagnetRead, params: SupportResistanceParams) -> list[Candidate]:
    """At most one LONG (at support) and one SHORT (at resistance); the engine resolves both."""
    return strategy_candidates(K.P_SR_ON, lambda p: fill_sr(p, params), snapshot, clusters, ctx, magnets)
