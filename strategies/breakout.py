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

import numpy as np
from pydantic import Field

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies.candidate import (Candidate, clear_of_clusters, make_candidate, price_text, target_before,
                                  usd_text)
from strategies.levels import cluster_table, nearest
from strategies.params import TargetParams
from strategies.signal import Direction, StrategyName


class BreakoutParams(TargetParams):
    """Parameters of the cluster breakout."""

    lookback_bars: int = Field(3, ge=1, description="A break counts this many bars after it happened.")
    bar_minutes: float = Field(5.0, gt=0, description="Bar length the lookback is counted in, minutes.")
    min_usd: float = Field(2_000_000.0, ge=0, description="Smallest broken cluster followed (peak USD over its life).")
    min_strength: float = Field(0.0, ge=0, le=1, description="Weakest broken cluster followed (peak strength).")


def breakout(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
             magnets: MagnetRead, params: BreakoutParams) -> list[Candidate]:
    """One candidate per recently broken cluster that price is still beyond."""
    price = snapshot.price
    table = cluster_table(clusters, snapshot.ts)
    if not len(table):
        return []
    window_s = params.lookback_bars * params.bar_minutes * 60.0
    with np.errstate(invalid="ignore"):
        recent = (~table.active & (table.age_s >= 0) & (table.age_s <= window_s)
                  & (table.peak_usd >= params.min_usd) & (table.peak_strength >= params.min_strength))
    # still beyond the level: a broken long cluster is above price, a broken short one below
    recent &= np.where(table.is_short, table.level < price, table.level > price)
    f = params.sl_buffer_pct / 100.0
    out: list[Candidate] = []
    for i in np.flatnonzero(recent):
        long = bool(table.is_short[i])
        direction = Direction.LONG if long else Direction.SHORT
        target_mask = table.active & (table.is_short == long) & (table.strength >= params.target_min_strength)
        j = nearest(table, target_mask, price, above=long)
        if j is None:
            continue
        stop = float(table.level[i] * (1.0 - f) if long else table.level[i] * (1.0 + f))
        stop = clear_of_clusters(table, stop, direction, params.sl_buffer_pct)
        target = target_before(table, j, direction, price, params.tp_buffer_pct)
        c, t = table.clusters[i], table.clusters[j]
        minutes = table.age_s[i] / 60.0
        reason = (f"{c.side.value} liquidation cluster at {price_text(c.price_level)} (peak "
                  f"{usd_text(c.peak_open_interest)}, strength {c.peak_strength:.2f}) broken {minutes:.0f} min ago: "
                  f"{direction.value} continuation, "
                  f"stop back inside the level, target before the {t.side.value} cluster at "
                  f"{price_text(t.price_level)}")
        out.append(make_candidate(snapshot.symbol, snapshot.ts, StrategyName.BREAKOUT, direction, price,
                                  stop, target, c.peak_strength, c, reason))
    return out
