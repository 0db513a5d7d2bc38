"""Clusters as arrays (the cluster table the kernels read) and the support/resistance listing parameters.

Strategies see a handful to a few dozen clusters per snapshot; holding them as parallel numpy
arrays lets every selection (side, state, strength, distance) be one vectorized mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import numpy as np

from pydantic import Field

from bot.domain import Cluster, Side, canonical_key
from strategies import kernel_lib as K
from strategies.params import Params


ZONE_PCT = 0.5  # default half-width cap of a cluster's zone, percent of its level


@dataclass(frozen=True, slots=True, eq=False)
class ClusterTable:
    """Parallel arrays over ``clusters`` (canonical order).

    ``low``/``high`` bound each cluster's *zone*: its price range, clipped to ``zone_pct`` around
    its USD-weighted level. A run of levels many percent wide holds its liquidity around that
    level, not evenly across the run; the zone is what exits stay clear of and stop before.
    ``age_s`` is seconds since the break (NaN if active). ``peak_usd``/``peak_strength`` are
    the cluster's largest values over its life (what a broken cluster held before price ate it).
    ``tab`` holds them all as the float64 table the numba kernels read (``strategies.kernel``).
    """

    clusters: tuple[Cluster, ...]
    level: np.ndarray
    low: np.ndarray
    high: np.ndarray
    strength: np.ndarray
    usd: np.ndarray
    is_short: np.ndarray
    active: np.ndarray
    age_s: np.ndarray
    peak_usd: np.ndarray
    peak_strength: np.ndarray
    tab: np.ndarray  # the kernels' (n, N_TAB) float64 table: the columns above are views of it

    def __len__(self) -> int:
        return len(self.clusters)


class ClusterSet(tuple):  # type: ignore[type-arg]
    """A tuple of clusters that carries its ``ClusterTable``: the engine builds the arrays once per
    snapshot and every strategy reuses them (strategies still accept any sequence of clusters)."""

    table: ClusterTable
    now: datetime

    def __new__(cls, clusters: Sequence[Cluster], now: datetime, zone_pct: float = ZONE_PCT) -> "ClusterSet":
        obj = super().__new__(cls, clusters)
        obj.table = _build_table(obj, now, zone_pct)
        obj.now = now
        return obj


def cluster_table(clusters: Sequence[Cluster], now: datetime, zone_pct: float = ZONE_PCT) -> ClusterTable:
    """Arrays over ``clusters`` in canonical order (price, side, id); unusable levels are left out.

    The canonical order makes every tie (two clusters at one price) resolve the same way
    whatever order the caller passed them in. A ``ClusterSet`` built for ``now`` returns its table.
    """
    if isinstance(clusters, ClusterSet) and clusters.now == now:
        return clusters.table
    return _build_table(clusters, now, zone_pct)


def _build_table(clusters: Sequence[Cluster], now: datetime, zone_pct: float) -> ClusterTable:
    kept = tuple(sorted((c for c in clusters if math.isfinite(c.price_level) and c.price_level > 0),
                        key=canonical_key))
    raw = np.array([(c.price_level, c.price_low, c.price_high, c.strength, c.open_interest, c.side is Side.SHORT,
                     c.active, (now - c.broken_at).total_seconds() if c.broken_at is not None else np.nan,
                     c.peak_open_interest, c.peak_strength)
                    for c in kept], dtype=np.float64).reshape(len(kept), K.N_TAB)
    # the zone always contains the level, even if a source reports the range loosely (or NaN)
    tab = K.zone_kernel(raw, float(zone_pct))
    return ClusterTable(
        clusters=kept, level=tab[:, K.T_LEVEL], low=tab[:, K.T_LOW], high=tab[:, K.T_HIGH],
        strength=tab[:, K.T_STRENGTH], usd=tab[:, K.T_USD], is_short=tab[:, K.T_IS_SHORT] != 0.0,
        active=tab[:, K.T_ACTIVE] != 0.0, age_s=tab[:, K.T_AGE_S], peak_usd=tab[:, K.T_PEAK_USD],
        peak_strength=tab[:, K.T_PEAK_STRENGTH], tab=tab)


def distance_pct(level: np.ndarray | float, price: float) -> np.ndarray | float:
    """Percent distance of ``level`` from ``price`` (always >= 0)."""
    return np.abs(np.asarray(level) - price) / price * 100.0


class LevelParams(Params):
    """Which clusters are listed as support/resistance in every signal."""

    count: int = Field(5, ge=0, le=50, description="Levels listed on each side.")
    min_strength: float = Field(0.3, ge=0, le=1, description="Weakest cluster listed.")
    max_distance_pct: float = Field(10.0, gt=0, description="Farthest cluster listed, percent of price.")
