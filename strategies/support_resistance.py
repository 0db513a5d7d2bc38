"""Support/resistance: fade into the nearest strong cluster (docs/architecture.md §4).

Long-liquidation clusters below price are support, short-liquidation clusters above are
resistance. LONG when price sits within ``band_pct`` above the nearest support (stop just below
that support, target before the next cluster above); SHORT the mirror at resistance.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numba import njit

from bot.search_space import searchable
from strategies import kernel_lib as L
from strategies.params import TargetParams
from strategies.reasons import price_text, side_text
from strategies.signal import StrategyName
from strategies.spec import SLACK, StrategySpec, finite_or_zero

if TYPE_CHECKING:
    from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
    from strategies.candidate import Candidate


class SupportResistanceParams(TargetParams):
    """Parameters of the support/resistance strategy."""

    min_strength: float = searchable(0.5, low=0.1, high=0.95, ge=0, le=1,
                                     description="Weakest cluster that counts as support/resistance.")
    band_pct: float = searchable(1.0, low=0.1, high=3.0, log=True, gt=0,
                                 description="Enter when price is within this percent of the level.")
    sl_buffer_pct: float = searchable(0.1, low=0.0, high=0.5, ge=0,
                                      description="Stop this far beyond the level's zone, percent.")


@njit(cache=True)
def candidates_nb(tab: np.ndarray, price: float, atr: float, bias: int, p: Any, out: np.ndarray, k: int,
                  code: int) -> int:
    """At most one LONG (at support) and one SHORT (at resistance); the engine resolves both."""
    f = p.sl_buffer_pct / 100.0
    for long in (True, False):
        # LONG: support = long clusters below; SHORT: resistance = short clusters above
        i = L.nearest_nb(tab, not long, p.min_strength, price, not long)
        if i < 0 or L.distance_pct_nb(tab[i, L.T_LEVEL], price) > p.band_pct:
            continue
        j = L.nearest_nb(tab, long, p.target_min_strength, price, long)
        if j < 0:
            continue
        stop = tab[i, L.T_LOW] * (1.0 - f) if long else tab[i, L.T_HIGH] * (1.0 + f)
        stop = L.clear_of_clusters_nb(tab, stop, long, p.sl_buffer_pct)
        target = L.target_before_nb(tab, j, long, price, p.tp_buffer_pct)
        k = L.emit(out, k, code, long, i, j, price, stop, target, tab[i, L.T_STRENGTH])
    return k


def sr_reason(long: bool, side: str, level: float, strength: float, dist_pct: float, target_side: str,
              target_level: float) -> str:
    """Why support/resistance proposes a fade at the cluster at ``level``."""
    what = "support" if long else "resistance"
    return (f"{what}: {side} liquidation cluster at {price_text(level)} (strength "
            f"{strength:.2f}) {dist_pct:.2f}% {'below' if long else 'above'}; "
            f"stop beyond it, target before the {target_side} cluster at {price_text(target_level)}")


def reason(row: np.ndarray, tab: np.ndarray, price: float, p: Any) -> str:
    """The reason of a support/resistance candidate row."""
    c, t = tab[int(row[L.C_CLUSTER])], tab[int(row[L.C_TARGET_CLUSTER])]
    level = float(c[L.T_LEVEL])
    return sr_reason(bool(row[L.C_DIRECTION] == L.D_LONG), side_text(bool(c[L.T_IS_SHORT])), level,
                     float(c[L.T_STRENGTH]), abs(level - price) / price * 100.0, side_text(bool(t[L.T_IS_SHORT])),
                     float(t[L.T_LEVEL]))


def may_fire(c: "Cluster", price: float, dist: float, now: datetime, params: SupportResistanceParams) -> bool:
    """Necessary for a candidate on ``c``: an active level on its side within the band (with slack)."""
    beyond = (c.price_level > price) if c.side.value == "short" else (c.price_level <= price)
    return (c.active and beyond and finite_or_zero(c.strength) >= params.min_strength * (1 - SLACK)
            and dist <= params.band_pct)


SPEC = StrategySpec(StrategyName.SUPPORT_RESISTANCE, SupportResistanceParams, candidates_nb, reason, may_fire,
                    rows_per_cluster=0, rows_fixed=2)


def support_resistance(snapshot: "HeatmapSnapshot", clusters: "Sequence[Cluster]", ctx: "MarketContext",
                       magnets: "MagnetRead", params: SupportResistanceParams) -> "list[Candidate]":
    """At most one LONG (at support) and one SHORT (at resistance); the engine resolves both."""
    from strategies.candidate import strategy_candidates  # the engine imports the strategies, not back
    return strategy_candidates(SPEC, params, snapshot, clusters, ctx, magnets)
