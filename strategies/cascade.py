"""Cascade: enter toward a side whose liquidation run is deep, targeting the run's end.

The heatmap vendors' "cascade modelling": liquidations at one cluster move price into the next
when the clusters sit close together, so a tight run of them can carry price through all of
them. When the nearest cluster of a side is within reach and the run behind it (consecutive
clusters of that side, gaps at most ``gap_pct``; ``bot.clusters.magnets.cascade_nb``) holds at
least ``min_clusters`` clusters and ``min_usd``, trade toward it: short clusters above -> LONG, long
clusters below -> SHORT. The take-profit sits before the run's last cluster, the stop is k x ATR
away, beyond the nearest opposite-side cluster when inside that distance, never in a live cluster
(the hunt's stop rule). Confidence is the strongest cluster of the run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from bot.clusters.magnets import cascade_nb
from bot.search_space import searchable
from strategies import kernel_lib as L
from strategies.hunt import hunt_stop_nb
from strategies.params import ExitParams
from strategies.reasons import price_text, side_text, usd_text
from strategies.signal import Direction, StrategyName
from strategies.spec import StrategySpec

if TYPE_CHECKING:
    from bot.domain import Cluster


class CascadeParams(ExitParams):
    """Parameters of the cascade strategy."""

    gap_pct: float = searchable(0.5, low=0.05, high=2.0, log=True,
                                description="Largest gap between two clusters of one run, percent of the level.")
    min_clusters: int = searchable(3, low=2, high=10, description="Fewest clusters in a run worth trading.")
    min_usd: float = searchable(50_000_000.0, low=1e6, high=1e10, log=True,
                                description="Smallest summed USD of a run worth trading.")
    max_first_distance_pct: float = searchable(1.0, low=0.1, high=5.0,
                                               description="The run's first cluster must be this close, percent.")
    atr_mult: float = searchable(1.5, low=0.5, high=5.0, description="Stop distance in ATRs (k).")
    atr_fallback_pct: float = searchable(0.5, low=0.05, high=3.0,
                                         description="ATR as percent of price when the context has none.")


@njit(cache=True)
def candidates_nb(tab: np.ndarray, price: float, atr: float, bias: int, p: Any, out: np.ndarray, k: int,
                  code: int) -> int:
    """At most one row per side: toward a deep run whose first cluster is within reach."""
    atr_value = atr if (np.isfinite(atr) and atr > 0) else price * p.atr_fallback_pct / 100.0
    for up in (True, False):
        first, last, count, usd = cascade_nb(tab[:, L.T_LEVEL], tab[:, L.T_USD], tab[:, L.T_IS_SHORT],
                                             tab[:, L.T_ACTIVE], price, up, p.gap_pct)
        if count < p.min_clusters or usd < p.min_usd \
                or L.distance_pct_nb(tab[first, L.T_LEVEL], price) > p.max_first_distance_pct:
            continue
        long = up
        target = L.target_before_nb(tab, last, long, price, p.tp_buffer_pct)
        stop = hunt_stop_nb(tab, long, price, atr_value, p.atr_mult, p.sl_buffer_pct)
        lo, hi = (first, last) if first <= last else (last, first)
        conf = 0.0
        for r in range(lo, hi + 1):  # the strongest cluster of the run (rows between are the run's or the other side's)
            if tab[r, L.T_ACTIVE] != 0.0 and (tab[r, L.T_IS_SHORT] != 0.0) == up and tab[r, L.T_STRENGTH] > conf:
                conf = tab[r, L.T_STRENGTH]
        k = L.emit(out, k, code, long, first, last, price, stop, target, conf)
    return k


def reason(row: np.ndarray, tab: np.ndarray, price: float, p: Any) -> str:
    """The reason of a cascade candidate row."""
    c, t = tab[int(row[L.C_CLUSTER])], tab[int(row[L.C_TARGET_CLUSTER])]
    up = bool(c[L.T_IS_SHORT])
    direction = Direction.LONG if row[L.C_DIRECTION] == L.D_LONG else Direction.SHORT
    level = float(c[L.T_LEVEL])
    return (f"cascade of {side_text(up)} liquidation clusters {'above' if up else 'below'} from "
            f"{price_text(level)} ({abs(level - price) / price * 100.0:.2f}% away) to {price_text(float(t[L.T_LEVEL]))}"
            f" (gaps <= {float(p['gap_pct']):g}%, first {usd_text(float(c[L.T_USD]))}): {direction.value} into it, "
            f"target before the run's end, stop {float(p['atr_mult']):g} ATR or beyond the opposite cluster")


def may_fire(c: "Cluster", price: float, dist: float, now: datetime, params: CascadeParams) -> bool:
    """Necessary for a candidate: an active cluster on its side within reach (the run's first is the nearest)."""
    beyond = (c.price_level > price) if c.side.value == "short" else (c.price_level < price)
    return c.active and beyond and dist <= params.max_first_distance_pct


SPEC = StrategySpec(StrategyName.CASCADE, CascadeParams, candidates_nb, reason, may_fire, rows_per_cluster=0,
                    rows_fixed=2)
