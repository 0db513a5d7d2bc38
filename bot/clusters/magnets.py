"""The magnet read of a snapshot: strongest magnet above and below price, asymmetry, bias.

Above = the active *short* cluster above price holding the most USD (shorts would be
liquidated there, pulling price up); below = the active *long* cluster below price holding the
most USD. Broken clusters are no magnets. asymmetry = USD above / USD below (``inf`` when only
above, ``0`` when only below, ``1`` when neither). A stronger magnet above is a bullish bias:
asymmetry > ``bias_threshold`` -> BULLISH, < 1 / ``bias_threshold`` -> BEARISH, else NEUTRAL.

The cascade read of a side (``CascadeRead``) is the run of clusters price would eat once it
reaches the nearest one: consecutive active clusters of that side whose gaps stay within
``cascade_gap_pct``. One kernel (:func:`cascade_nb`) computes it for the magnet read of every
path and for the ``cascade`` strategy.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numba import njit

from bot.domain import Bias, CascadeRead, Cluster, MagnetRead, Side, canonical_key
from bot.errors import DataError


@njit(cache=True)
def cascade_nb(level: np.ndarray, usd: np.ndarray, is_short: np.ndarray, active: np.ndarray, price: float,
               up: bool, gap_pct: float) -> tuple[int, int, int, float]:  # pragma: no cover - numba
    """The cascade run of one side over clusters sorted by level: (first row, last row, count, summed USD).

    Up: active short clusters above ``price``, nearest first; down: active long clusters below. A
    cluster joins while its gap to the previous one is at most ``gap_pct`` percent of the previous
    level; clusters of the other side in between do not break the run. Non-finite USD reads as 0.
    (-1, -1, 0, 0.0) when the side has no cluster.
    """
    n = level.shape[0]
    first, last, count, total = -1, -1, 0, 0.0
    for step in range(n):
        r = step if up else n - 1 - step
        if active[r] == 0 or (is_short[r] != 0) != up:
            continue
        lv = level[r]
        if (lv <= price) if up else (lv >= price):
            continue
        if first >= 0:
            prev = level[last]
            gap = (lv - prev) / prev * 100.0 if up else (prev - lv) / prev * 100.0
            if gap > gap_pct:
                break
        else:
            first = r
        last = r
        count += 1
        u = usd[r]
        total += u if np.isfinite(u) else 0.0
    return first, last, count, total


def cascade_read(clusters: Sequence[Cluster], price: float, up: bool, gap_pct: float) -> CascadeRead | None:
    """The cascade read of one side of ``price`` (None when the side has no active cluster).

    Clusters are taken in the cluster table's canonical order (unusable levels left out), so the
    USD sum adds in the same order as the kernels reading the table.
    """
    kept = sorted((c for c in clusters if math.isfinite(c.price_level) and c.price_level > 0), key=canonical_key)
    cols = np.array([(c.price_level, c.open_interest, c.side is Side.SHORT, c.active) for c in kept],
                    dtype=np.float64).reshape(len(kept), 4)
    first, last, count, usd = cascade_nb(np.ascontiguousarray(cols[:, 0]), np.ascontiguousarray(cols[:, 1]),
                                         np.ascontiguousarray(cols[:, 2]), np.ascontiguousarray(cols[:, 3]),
                                         float(price), up, float(gap_pct))
    if count == 0:
        return None
    return CascadeRead(clusters=int(count), usd=float(usd), first_price=float(cols[first, 0]),
                       end_price=float(cols[last, 0]))


@njit(cache=True)
def magnets_nb(level: np.ndarray, usd: np.ndarray, dist: np.ndarray, is_short: np.ndarray, active: np.ndarray,
               price: float, threshold: float) -> tuple[int, int, float, int]:  # pragma: no cover - numba
    """The magnet read over cluster columns: (above row, below row, asymmetry, bias code 1/0/-1).

    Strongest = most USD, ties to the nearer one, the first in row order on a full tie. The one
    implementation: :func:`magnet_read` wraps it, the fused backtest loop calls it on its state rows.
    """
    above, below = -1, -1
    for r in range(level.shape[0]):
        if active[r] != 1:
            continue
        if is_short[r] == 1 and level[r] > price:
            if above < 0 or usd[r] > usd[above] or (usd[r] == usd[above] and -dist[r] > -dist[above]):
                above = r
        elif is_short[r] == 0 and level[r] < price:
            if below < 0 or usd[r] > usd[below] or (usd[r] == usd[below] and -dist[r] > -dist[below]):
                below = r
    if above < 0 and below < 0:
        asym = 1.0
    elif below < 0 or usd[below] <= 0:
        asym = np.inf if above >= 0 and usd[above] > 0 else 1.0
    elif above < 0:
        asym = 0.0
    else:
        asym = usd[above] / usd[below]
    bias = 1 if asym > threshold else (-1 if asym < 1.0 / threshold else 0)
    return above, below, asym, bias


BIAS_OF_CODE = {1: Bias.BULLISH, -1: Bias.BEARISH, 0: Bias.NEUTRAL}  # the kernel's bias codes


def magnet_read(clusters: Sequence[Cluster], price: float, bias_threshold: float = 1.2,
                cascade_gap_pct: float | None = None) -> MagnetRead:
    """Strongest active magnet above and below ``price`` and the bias their asymmetry implies.

    With ``cascade_gap_pct``, also the cascade read of both sides.
    """
    if not (math.isfinite(price) and price > 0):
        raise DataError(f"must be a finite positive number, got {price!r}", field="price")
    if not (math.isfinite(bias_threshold) and bias_threshold >= 1):
        raise DataError(f"must be finite and >= 1, got {bias_threshold!r}", field="bias_threshold")
    cols = np.array([(c.price_level, c.open_interest, c.distance_from_price, c.side is Side.SHORT, c.active)
                     for c in clusters], dtype=np.float64).reshape(len(clusters), 5)
    a, b, asymmetry, code = magnets_nb(*(np.ascontiguousarray(cols[:, k]) for k in range(5)), float(price),
                                       float(bias_threshold))
    above, below, bias = (clusters[a] if a >= 0 else None), (clusters[b] if b >= 0 else None), BIAS_OF_CODE[code]
    if cascade_gap_pct is None:
        return MagnetRead(above=above, below=below, asymmetry=float(asymmetry), bias=bias)
    return MagnetRead(above=above, below=below, asymmetry=float(asymmetry), bias=bias,
                      cascade_up=cascade_read(clusters, price, True, cascade_gap_pct),
                      cascade_down=cascade_read(clusters, price, False, cascade_gap_pct))
