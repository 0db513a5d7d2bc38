"""Liquidation hunt: trade toward a strong, near, active cluster (docs/architecture.md §4).

A short-liquidation cluster above pulls price up (LONG toward it); a long-liquidation cluster
below pulls it down (SHORT). The take-profit sits just before the cluster; the stop is k x ATR
away, moved beyond the nearest opposite-side cluster when that cluster is inside the stop
distance, and never inside any live cluster.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numba import njit

from bot.search_space import searchable
from strategies import kernel_lib as L
from strategies.params import ExitParams
from strategies.reasons import price_text, side_text, usd_text
from strategies.signal import Direction, StrategyName
from strategies.spec import SLACK, StrategySpec, finite_or_zero

if TYPE_CHECKING:
    from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
    from strategies.candidate import Candidate


class HuntParams(ExitParams):
    """Parameters of the liquidation hunt."""

    min_strength: float = searchable(0.6, low=0.2, high=0.95, ge=0, le=1, description="Weakest cluster hunted.")
    max_distance_pct: float = searchable(2.0, low=0.3, high=5.0, log=True, gt=0,
                                         description="Farthest cluster hunted, percent of price.")
    min_usd: float = searchable(2_000_000.0, low=1e5, high=5e7, log=True, ge=0,
                                description="Smallest cluster hunted, USD.")
    atr_mult: float = searchable(1.5, low=0.5, high=4.0, log=True, gt=0, description="Stop distance in ATRs (k).")
    atr_fallback_pct: float = searchable(0.5, low=0.05, high=3.0, gt=0,
                                         description="ATR as percent of price when the context has none.")
    against_bias_factor: float = searchable(0.8, low=0.0, high=1.0, ge=0, le=1,
                                            description="Confidence factor when the magnet bias opposes the trade.")


@njit(cache=True)
def hunt_stop_nb(tab: np.ndarray, long: bool, price: float, atr_value: float, atr_mult: float,
                 buffer_pct: float) -> float:
    """k x ATR stop; beyond the nearest opposite-side cluster if inside that distance; never in a cluster."""
    stop = price - atr_mult * atr_value if long else price + atr_mult * atr_value
    j = L.nearest_nb(tab, not long, -np.inf, price, not long)  # LONG: long clusters below; SHORT: short above
    if j >= 0:
        f = buffer_pct / 100.0
        if long and tab[j, L.T_HIGH] >= stop:
            edge = tab[j, L.T_LOW] * (1.0 - f)
            if edge < stop:
                stop = edge
        elif not long and tab[j, L.T_LOW] <= stop:
            edge = tab[j, L.T_HIGH] * (1.0 + f)
            if edge > stop:
                stop = edge
    return L.clear_of_clusters_nb(tab, stop, long, buffer_pct)


@njit(cache=True)
def candidates_nb(tab: np.ndarray, price: float, atr: float, bias: int, p: Any, out: np.ndarray, k: int,
                  code: int) -> int:
    """One row per active cluster over the strength, distance and USD thresholds, toward it."""
    atr_value = atr if (np.isfinite(atr) and atr > 0) else price * p.atr_fallback_pct / 100.0
    for i in range(tab.shape[0]):
        level = tab[i, L.T_LEVEL]
        above = level > price
        if not (tab[i, L.T_ACTIVE] != 0.0 and tab[i, L.T_STRENGTH] >= p.min_strength
                and L.distance_pct_nb(level, price) < p.max_distance_pct and tab[i, L.T_USD] >= p.min_usd
                and (tab[i, L.T_IS_SHORT] != 0.0) == above):
            continue
        long = above
        target = L.target_before_nb(tab, i, long, price, p.tp_buffer_pct)
        stop = hunt_stop_nb(tab, long, price, atr_value, p.atr_mult, p.sl_buffer_pct)
        opposed = (long and bias == L.BIAS_BEARISH) or (not long and bias == L.BIAS_BULLISH)
        conf = tab[i, L.T_STRENGTH] * (p.against_bias_factor if opposed else 1.0)
        k = L.emit(out, k, code, long, i, -1, price, stop, target, conf)
    return k


def hunt_reason(side: str, level: float, strength: float, usd: float, dist_pct: float, above: bool,
                direction: Direction, atr_mult: float) -> str:
    """Why the liquidation hunt proposes a trade toward the cluster at ``level``."""
    return (f"{side} liquidation cluster at {price_text(level)} (strength {strength:.2f}, "
            f"{usd_text(usd)}) {dist_pct:.2f}% {'above' if above else 'below'}: {direction.value} toward it, "
            f"target before the cluster, stop {atr_mult:g} ATR or beyond the opposite cluster")


def reason(row: np.ndarray, tab: np.ndarray, price: float, p: Any) -> str:
    """The reason of a hunt candidate row."""
    c = tab[int(row[L.C_CLUSTER])]
    level = float(c[L.T_LEVEL])
    direction = Direction.LONG if row[L.C_DIRECTION] == L.D_LONG else Direction.SHORT
    return hunt_reason(side_text(bool(c[L.T_IS_SHORT])), level, float(c[L.T_STRENGTH]), float(c[L.T_USD]),
                       abs(level - price) / price * 100.0, level > price, direction, float(p["atr_mult"]))


def may_fire(c: "Cluster", price: float, dist: float, now: datetime, params: HuntParams) -> bool:
    """Necessary for a candidate on ``c``: active, on the hunted side, over the thresholds (with slack)."""
    beyond = (c.price_level > price) if c.side.value == "short" else (c.price_level <= price)
    return (c.active and beyond and finite_or_zero(c.strength) >= params.min_strength * (1 - SLACK)
            and dist < params.max_distance_pct and finite_or_zero(c.open_interest) >= params.min_usd * (1 - SLACK))


SPEC = StrategySpec(StrategyName.LIQUIDATION_HUNT, HuntParams, candidates_nb, reason, may_fire, rows_per_cluster=1)


def liquidation_hunt(snapshot: "HeatmapSnapshot", clusters: "Sequence[Cluster]", ctx: "MarketContext",
                     magnets: "MagnetRead", params: HuntParams) -> "list[Candidate]":
    """One candidate per qualifying cluster: active, strength, distance and USD over the thresholds."""
    from strategies.candidate import strategy_candidates  # the engine imports the strategies, not back
    return strategy_candidates(SPEC, params, snapshot, clusters, ctx, magnets)
