"""Liquidation hunt: trade toward a strong, near, active cluster (DESIGN section 4, strategy 1).

A short-liquidation cluster above pulls price up (LONG toward it); a long-liquidation cluster
below pulls it down (SHORT). The take-profit sits just before the cluster; the stop is k x ATR
away, moved beyond the nearest opposite-side cluster when that cluster is inside the stop
distance, and never inside any live cluster.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pydantic import Field

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies.candidate import (Candidate, bias_factor, clear_of_clusters, make_candidate, price_text,
                                  target_before, usd_text)
from strategies.levels import ClusterTable, cluster_table, distance_pct, nearest
from strategies.params import ExitParams
from strategies.signal import Direction, StrategyName


class HuntParams(ExitParams):
    """Parameters of the liquidation hunt."""

    min_strength: float = Field(0.6, ge=0, le=1, description="Weakest cluster hunted.")
    max_distance_pct: float = Field(2.0, gt=0, description="Farthest cluster hunted, percent of price.")
    min_usd: float = Field(2_000_000.0, ge=0, description="Smallest cluster hunted, USD.")
    atr_mult: float = Field(1.5, gt=0, description="Stop distance in ATRs (k).")
    atr_fallback_pct: float = Field(0.5, gt=0, description="ATR as percent of price when the context has none.")
    against_bias_factor: float = Field(0.8, ge=0, le=1,
                                       description="Confidence factor when the magnet bias opposes the trade.")


def effective_atr(ctx: MarketContext, price: float, fallback_pct: float) -> float:
    """The context's ATR when it is usable, else ``fallback_pct`` of price."""
    if ctx.atr is not None and np.isfinite(ctx.atr) and ctx.atr > 0:
        return float(ctx.atr)
    return price * fallback_pct / 100.0


def hunt_stop(table: ClusterTable, direction: Direction, price: float, atr_value: float, atr_mult: float,
              buffer_pct: float) -> float:
    """k x ATR stop; beyond the nearest opposite-side cluster if it lies inside that distance; never in a cluster."""
    long = direction == Direction.LONG
    stop = price - atr_mult * atr_value if long else price + atr_mult * atr_value
    opposite = table.active & (table.is_short != long)  # LONG: long clusters below; SHORT: short above
    j = nearest(table, opposite, price, above=not long)
    if j is not None:
        f = buffer_pct / 100.0
        if long and table.high[j] >= stop:
            stop = min(stop, float(table.low[j] * (1.0 - f)))
        elif not long and table.low[j] <= stop:
            stop = max(stop, float(table.high[j] * (1.0 + f)))
    return clear_of_clusters(table, stop, direction, buffer_pct)


def liquidation_hunt(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                     magnets: MagnetRead, params: HuntParams) -> list[Candidate]:
    """One candidate per qualifying cluster: active, strength, distance and USD over the thresholds."""
    price = snapshot.price
    table = cluster_table(clusters, snapshot.ts)
    if not len(table):
        return []
    dist = distance_pct(table.level, price)
    above = table.level > price
    ok = (table.active & (table.strength >= params.min_strength) & (dist < params.max_distance_pct)
          & (table.usd >= params.min_usd) & (table.is_short == above))
    atr_value = effective_atr(ctx, price, params.atr_fallback_pct)
    out: list[Candidate] = []
    for i in np.flatnonzero(ok):
        direction = Direction.LONG if above[i] else Direction.SHORT
        c = table.clusters[i]
        target = target_before(table, i, direction, price, params.tp_buffer_pct)
        stop = hunt_stop(table, direction, price, atr_value, params.atr_mult, params.sl_buffer_pct)
        conf = c.strength * bias_factor(direction, magnets.bias, params.against_bias_factor)
        where = "above" if above[i] else "below"
        reason = (f"{c.side.value} liquidation cluster at {price_text(c.price_level)} (strength {c.strength:.2f}, "
                  f"{usd_text(c.open_interest)}) {dist[i]:.2f}% {where}: {direction.value} toward it, "
                  f"target before the cluster, stop {params.atr_mult:g} ATR or beyond the opposite cluster")
        out.append(make_candidate(snapshot.symbol, snapshot.ts, StrategyName.LIQUIDATION_HUNT, direction, price,
                                  stop, target, conf, c, reason))
    return out
