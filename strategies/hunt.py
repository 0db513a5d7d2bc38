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

from bot.search_space import searchable
from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies import kernel as K
from strategies.candidate import Candidate, strategy_candidates
from strategies.kernel_params import fill_hunt
from strategies.levels import ClusterTable
from strategies.params import ExitParams
from strategies.signal import Direction


class HuntParams(ExitParams):
    """Parameters of the liquidation hunt."""

    min_strength: float = searchable(0.6, low=0.2, high=0.95, ge=0, le=1, description="Weakest cluster hunted.")
    max_distance_pct: float = searchable(2.0, low=0.3, high=5.0, log=True, gt=0,
                                         description="Farthest cluster hunted, percent of price.")
    min_usd: float = searchable(2_000_000.0, low=1e5, high=5e7, log=True, ge=0,
                                description="Smallest cluster hunted, USD.")
    atr_mult: float = searchable(1.5, low=0.5, high=4.0, log=True, gt=0, description="Stop distance in ATRs (k).")
    atr_fallback_pct: float = Field(0.5, gt=0, description="ATR as percent of price when the context has none.")
    against_bias_factor: float = searchable(0.8, low=0.0, high=1.0, ge=0, le=1,
                                            description="Confidence factor when the magnet bias opposes the trade.")


def effective_atr(ctx: MarketContext, price: float, fallback_pct: float) -> float:
    """The context's ATR when it is usable, else ``fallback_pct`` of price."""
    if ctx.atr is not None and np.isfinite(ctx.atr) and ctx.atr > 0:
        return float(ctx.atr)
    return price * fallback_pct / 100.0


def hunt_stop(table: ClusterTable, direction: Direction, price: float, atr_value: float, atr_mult: float,
              buffer_pct: float) -> float:
    """k x ATR stop; beyond the nearest opposite-side cluster if it lies inside that distance; never in a cluster."""
    return float(K.hunt_stop_nb(table.tab, direction == Direction.LONG, float(price), float(atr_value),
                                float(atr_mult), float(buffer_pct)))


def liquidation_hunt(snapshot: HeatmapSnapshot, clusters: Sequence[Cluster], ctx: MarketContext,
                     magnets: MagnetRead, params: HuntParams) -> list[Candidate]:
    """One candidate per qualifying cluster: active, strength, distance and USD over the thresholds."""
    return strategy_candidates(K.P_HUNT_ON, lambda p: fill_hunt(p, params), snapshot, clusters, ctx, magnets)
