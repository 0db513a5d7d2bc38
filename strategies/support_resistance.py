"""Support/resistance: fade into the nearest strong cluster (DESIGN section 4, strategy 2).

Long-liquidation clusters below price are support, short-liquidation clusters above are
resistance. LONG when price sits within ``band_pct`` above the nearest support (stop just below
that support, target before the next cluster above); SHORT the mirror at resistance.
"""

from __future__ import annotations

from typing import Sequence

from pydantic import Field

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies.candidate import Candidate, clear_of_clusters, make_candidate, price_text, target_before
from strategies.levels import cluster_table, distance_pct, nearest
from strategies.params import TargetParams
from strategies.signal import Direction, StrategyName


class SupportResistanceParams(TargetParams):
    """Parameters of the support/resistance strategy."""

    min_strength: float = Field(0.5, ge=0, le=1, description="Weakest cluster that counts as support/resistance.")
    band_pct: float = Field(1.0, gt=0, description="Enter when price is within this percent of the level.")
    sl_buffer_pct: float = Field(0.1, ge=0, description="Stop this far beyond the level's zone, percent.")


def support_resistance(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                       magnets: MagnetRead, params: SupportResistanceParams) -> list[Candidate]:
    """At most one LONG (at support) and one SHORT (at resistance); the engine resolves both."""
    price = snapshot.price
    table = cluster_table(clusters, snapshot.ts)
    if not len(table):
        return []
    live = table.active
    out: list[Candidate] = []
    for direction in (Direction.LONG, Direction.SHORT):
        long = direction == Direction.LONG
        # LONG: support = long clusters below; SHORT: resistance = short clusters above
        level_mask = live & (table.is_short != long) & (table.strength >= params.min_strength)
        i = nearest(table, level_mask, price, above=not long)
        if i is None or distance_pct(table.level[i], price) > params.band_pct:
            continue
        target_mask = live & (table.is_short == long) & (table.strength >= params.target_min_strength)
        j = nearest(table, target_mask, price, above=long)
        if j is None:
            continue
        f = params.sl_buffer_pct / 100.0
        stop = table.low[i] * (1.0 - f) if long else table.high[i] * (1.0 + f)
        stop = clear_of_clusters(table, float(stop), direction, params.sl_buffer_pct)
        target = target_before(table, j, direction, price, params.tp_buffer_pct)
        c, t = table.clusters[i], table.clusters[j]
        what = "support" if long else "resistance"
        reason = (f"{what}: {c.side.value} liquidation cluster at {price_text(c.price_level)} (strength "
                  f"{c.strength:.2f}) {distance_pct(c.price_level, price):.2f}% {'below' if long else 'above'}; "
                  f"stop beyond it, target before the {t.side.value} cluster at {price_text(t.price_level)}")
        out.append(make_candidate(snapshot.symbol, snapshot.ts, StrategyName.SUPPORT_RESISTANCE, direction,
                                  price, stop, target, c.strength, c, reason))
    return out
