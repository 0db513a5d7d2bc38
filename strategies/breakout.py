"""Cluster breakout: follow the momentum of a freshly consumed cluster (docs/architecture.md §4).

A long-liquidation cluster that price fell through -> SHORT continuation; a short-liquidation
cluster price rose through -> LONG. The stop sits back inside the broken level (its USD-weighted
price: regaining it means the break failed); the target is just before the next live cluster in
the direction of the break. Size and confidence come from the cluster's *peak* USD and strength:
price eats a cluster from its near edge, so the remnant at the moment of the break understates
the fuel that was released.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numba import njit
from pydantic import Field

from bot.search_space import searchable
from strategies import kernel_lib as L
from strategies.params import TargetParams
from strategies.reasons import price_text, side_text, usd_text
from strategies.signal import Direction, StrategyName
from strategies.spec import SLACK, StrategySpec, finite_or_zero

if TYPE_CHECKING:
    from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
    from strategies.candidate import Candidate


class BreakoutParams(TargetParams):
    """Parameters of the cluster breakout."""

    lookback_bars: int = searchable(3, low=1, high=24, ge=1,
                                    description="A break counts this many bars after it happened.")
    bar_minutes: float = Field(5.0, gt=0, description="Bar length the lookback is counted in, minutes.")
    min_usd: float = searchable(2_000_000.0, low=1e5, high=5e7, log=True, ge=0,
                                description="Smallest broken cluster followed (peak USD over its life).")
    min_strength: float = searchable(0.0, low=0.0, high=0.9, ge=0, le=1,
                                     description="Weakest broken cluster followed (peak strength).")


@njit(cache=True)
def candidates_nb(tab: np.ndarray, price: float, atr: float, bias: int, p: Any, out: np.ndarray, k: int,
                  code: int) -> int:
    """One row per recently broken cluster that price is still beyond, toward the next live cluster."""
    window_s = p.lookback_bars * p.bar_minutes * 60.0
    f = p.sl_buffer_pct / 100.0
    for i in range(tab.shape[0]):
        age = tab[i, L.T_AGE_S]
        short = tab[i, L.T_IS_SHORT] != 0.0
        level = tab[i, L.T_LEVEL]
        # broken recently, with the fuel, and price still beyond the level
        beyond = (level < price) if short else (level > price)
        if not (tab[i, L.T_ACTIVE] == 0.0 and age >= 0 and age <= window_s and tab[i, L.T_PEAK_USD] >= p.min_usd
                and tab[i, L.T_PEAK_STRENGTH] >= p.min_strength and beyond):
            continue
        long = short
        j = L.nearest_nb(tab, long, p.target_min_strength, price, long)
        if j < 0:
            continue
        stop = level * (1.0 - f) if long else level * (1.0 + f)
        stop = L.clear_of_clusters_nb(tab, stop, long, p.sl_buffer_pct)
        target = L.target_before_nb(tab, j, long, price, p.tp_buffer_pct)
        k = L.emit(out, k, code, long, i, j, price, stop, target, tab[i, L.T_PEAK_STRENGTH])
    return k


def breakout_reason(side: str, level: float, peak_usd: float, peak_strength: float, minutes: float,
                    direction: Direction, target_side: str, target_level: float) -> str:
    """Why the breakout follows the cluster at ``level`` broken ``minutes`` ago."""
    return (f"{side} liquidation cluster at {price_text(level)} (peak "
            f"{usd_text(peak_usd)}, strength {peak_strength:.2f}) broken {minutes:.0f} min ago: "
            f"{direction.value} continuation, "
            f"stop back inside the level, target before the {target_side} cluster at "
            f"{price_text(target_level)}")


def reason(row: np.ndarray, tab: np.ndarray, price: float, p: Any) -> str:
    """The reason of a breakout candidate row."""
    c, t = tab[int(row[L.C_CLUSTER])], tab[int(row[L.C_TARGET_CLUSTER])]
    direction = Direction.LONG if row[L.C_DIRECTION] == L.D_LONG else Direction.SHORT
    return breakout_reason(side_text(bool(c[L.T_IS_SHORT])), float(c[L.T_LEVEL]), float(c[L.T_PEAK_USD]),
                           float(c[L.T_PEAK_STRENGTH]), float(c[L.T_AGE_S]) / 60.0, direction,
                           side_text(bool(t[L.T_IS_SHORT])), float(t[L.T_LEVEL]))


def may_fire(c: "Cluster", price: float, dist: float, now: datetime, params: BreakoutParams) -> bool:
    """Necessary for a candidate on ``c``: broken within the window, with the peak fuel (with slack)."""
    if c.active or c.broken_at is None:
        return False
    window = params.lookback_bars * params.bar_minutes * 60.0 * (1 + SLACK) + 1e-6
    age = (now - c.broken_at).total_seconds()
    return (-1e-6 <= age <= window and finite_or_zero(c.peak_open_interest) >= params.min_usd * (1 - SLACK)
            and finite_or_zero(c.peak_strength) >= params.min_strength * (1 - SLACK))


SPEC = StrategySpec(StrategyName.BREAKOUT, BreakoutParams, candidates_nb, reason, may_fire, rows_per_cluster=1)


def breakout(snapshot: "HeatmapSnapshot", clusters: "Sequence[Cluster]", ctx: "MarketContext",
             magnets: "MagnetRead", params: BreakoutParams) -> "list[Candidate]":
    """One candidate per recently broken cluster that price is still beyond."""
    from strategies.candidate import strategy_candidates  # the engine imports the strategies, not back
    return strategy_candidates(SPEC, params, snapshot, clusters, ctx, magnets)
