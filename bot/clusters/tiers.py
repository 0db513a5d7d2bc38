"""Leverage tier of a cluster: from a source's per-tier data, else implied from the distance to price.

The implied tier inverts the tiered liquidation formula (docs/architecture.md §3) for a position opened
at the current price in the first maintenance bracket (cum = 0):

- long:  d(L) = 1 - (1 - 1/L) / (1 - m)
- short: d(L) = (1 + 1/L) / (1 + m) - 1

and picks the candidate leverage whose d(L) is nearest to the cluster's distance in *log* terms
(the tiers are roughly geometric: 9.6 % and 19.7 % are 10x and 5x, so a cluster 14 % away is
closer to 5x by ratio). With m = 0.4 % this reproduces the exact-distance table of the research
note: 125x 0.40 %, 100x 0.60 %, 50x 1.61 %, 25x 3.61 %, 10x 9.64 %, 5x 19.7 % (long side).
A source that states its own distances per tier (the synthetic model's
``liquidation_distance_pct``) is read with its table instead of the formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
from numba import njit

from bot.clusters.kernel_group import pick_tiers

DEFAULT_TIERS: tuple[float, ...] = (5.0, 10.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
DEFAULT_MMR = 0.004  # Binance BTCUSDT first bracket (notional < 50k USD)


@dataclass(frozen=True, slots=True, eq=False)
class TierInfo:
    """Per-tier USD per level, shipped by a source: ``long``/``short`` are (K, n_levels)."""

    leverages: np.ndarray
    long: np.ndarray
    short: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class DistanceTable:
    """Candidate leverages and their liquidation distances (fractions), rows [long, short]."""

    leverages: np.ndarray
    log_distance: np.ndarray  # (2, K)

    @classmethod
    def from_distances(cls, leverages: Sequence[float], long_frac: Sequence[float],
                       short_frac: Sequence[float]) -> "DistanceTable":
        """From explicit distances per leverage (fractions of the entry price, > 0)."""
        return cls(np.asarray(leverages, dtype=np.float64),
                   np.log(np.stack([np.asarray(long_frac, np.float64), np.asarray(short_frac, np.float64)])))

    def pick(self, distance_frac: np.ndarray, is_short: np.ndarray) -> np.ndarray:
        """Nearest candidate leverage (by log distance) for each cluster distance (fraction, >= 0)."""
        # a cluster sitting on the price reads as the highest leverage, never as log(0)
        return pick_tiers(np.ascontiguousarray(distance_frac, dtype=np.float64).ravel(),
                          np.ascontiguousarray(is_short, dtype=np.int64).ravel(),
                          np.ascontiguousarray(self.leverages, dtype=np.float64),
                          np.ascontiguousarray(self.log_distance, dtype=np.float64))


def liquidation_distance(leverage: np.ndarray, mmr: float, short: bool) -> np.ndarray:
    """Fractional distance from entry to the liquidation price (first bracket, cum = 0)."""
    inv = 1.0 / np.asarray(leverage, dtype=np.float64)
    if short:
        return (1.0 + inv) / (1.0 + mmr) - 1.0
    return 1.0 - (1.0 - inv) / (1.0 - mmr)


@lru_cache(maxsize=32)
def formula_table(tiers: tuple[float, ...] = DEFAULT_TIERS, mmr: float = DEFAULT_MMR) -> DistanceTable:
    """The implied-distance table of the formula above for ``tiers`` (cached)."""
    lev = np.asarray(tiers, dtype=np.float64)
    long_d, short_d = liquidation_distance(lev, mmr, short=False), liquidation_distance(lev, mmr, short=True)
    # at L >= 1/m a position would be liquidated on entry: no such cohort exists
    ok = (long_d > 0) & (short_d > 0)
    if not ok.any():
        return formula_table()
    return DistanceTable.from_distances(lev[ok], long_d[ok], short_d[ok])


def implied_tiers(distance_frac: np.ndarray, is_short: np.ndarray, tiers: Sequence[float] = DEFAULT_TIERS,
                  mmr: float = DEFAULT_MMR) -> np.ndarray:
    """Nearest candidate leverage by the formula's distances (see ``DistanceTable.pick``)."""
    return formula_table(tuple(float(t) for t in tiers), float(mmr)).pick(distance_frac, is_short)


def dominant_tiers(info: TierInfo, level_is_short: np.ndarray, level_idx: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Tier holding the most USD in each cluster (clusters = runs ``starts`` over ``level_idx``)."""
    return dominant_tiers_kernel(np.ascontiguousarray(level_is_short, dtype=np.int64),
                                 np.ascontiguousarray(level_idx, dtype=np.int64),
                                 np.ascontiguousarray(starts, dtype=np.int64),
                                 *(np.ascontiguousarray(a, dtype=np.float64) for a in (info.leverages, info.long,
                                                                                       info.short)))


@njit(cache=True)
def dominant_tiers_kernel(level_is_short: np.ndarray, level_idx: np.ndarray, starts: np.ndarray,
                          leverages: np.ndarray, long: np.ndarray, short: np.ndarray) -> np.ndarray:
    """``dominant_tiers`` over arrays: per run of ``starts``, the tier with the most USD (first on ties)."""
    out = np.empty(starts.size)
    for c in range(starts.size):
        end = starts[c + 1] if c + 1 < starts.size else level_idx.size
        best, at = -np.inf, 0
        for t in range(leverages.size):
            acc = 0.0
            for k in range(starts[c], end):
                acc += short[t, level_idx[k]] if level_is_short[k] else long[t, level_idx[k]]
            if acc > best:
                best, at = acc, t
        out[c] = leverages[at]
    return out


def tiers_from_assumptions(assumptions: Mapping[str, Any], n_levels: int, tiers: Sequence[float],
                           mmr: float) -> tuple[TierInfo | None, DistanceTable]:
    """Read what a snapshot's ``assumptions`` say about leverage tiers.

    Understood keys (anything else is ignored; a malformed entry falls back to the defaults,
    because assumptions describe a model and must never stop clustering):

    - ``tier_usd``: ``{"leverage": [K], "long": [K][n], "short": [K][n]}`` USD per tier and level
      -> the exact dominant tier of each cluster;
    - ``liquidation_distance_pct``: ``{"25x": [long %, short %], ...}`` -> the source's own
      distance table (the synthetic model writes it from its bracket table);
    - ``tier_leverages`` / ``tiers`` / ``leverage_tiers`` / ``tier_prior``: the leverages the
      model uses (numbers, ``{"leverage": L}`` items or ``{L: share}``) -> formula candidates;
    - ``maintenance_margin_rate`` / ``mmr``: the rate m of the formula.
    """
    info = _tier_usd(assumptions.get("tier_usd"), n_levels)
    table = _distance_table(assumptions.get("liquidation_distance_pct"))
    if table is not None:
        return info, table
    cand = tuple(float(t) for t in tiers)
    for key in ("tier_leverages", "tiers", "leverage_tiers", "tier_prior"):
        parsed = _leverages(assumptions.get(key))
        if parsed:
            cand = parsed
            break
    rate = float(mmr)
    for key in ("maintenance_margin_rate", "mmr"):
        value = assumptions.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= float(value) < 0.5:
            rate = float(value)
            break
    return info, formula_table(cand, rate)


def _leverage(item: Any) -> float | None:
    try:
        value = float(str(item).strip().lower().rstrip("x"))
    except ValueError:
        return None
    return value if np.isfinite(value) and value >= 1 else None


def _leverages(raw: Any) -> tuple[float, ...]:
    if isinstance(raw, Mapping):
        raw = list(raw.keys())
    if not isinstance(raw, (list, tuple)) or not raw:
        return ()
    values = [_leverage(item.get("leverage") if isinstance(item, Mapping) else item) for item in raw]
    if any(v is None for v in values):
        return ()
    return tuple(sorted(set(values)))  # type: ignore[arg-type]


def _distance_table(raw: Any) -> DistanceTable | None:
    if not isinstance(raw, Mapping) or not raw:
        return None
    rows = []
    for key, pair in raw.items():
        lev = _leverage(key)
        try:
            long_pct, short_pct = (float(v) for v in pair)
        except (TypeError, ValueError):
            return None
        # a tier the venue cannot hold at that size has no distance: skip it, keep the others
        if lev is not None and np.isfinite(long_pct) and np.isfinite(short_pct) and long_pct > 0 and short_pct > 0:
            rows.append((lev, long_pct / 100.0, short_pct / 100.0))
    if not rows:
        return None
    rows.sort()
    lev, long_frac, short_frac = zip(*rows)
    return DistanceTable.from_distances(lev, long_frac, short_frac)


def _tier_usd(raw: Any, n_levels: int) -> TierInfo | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        lev = np.asarray(raw["leverage"], dtype=np.float64)
        long = np.asarray(raw["long"], dtype=np.float64)
        short = np.asarray(raw["short"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    shape = (lev.size, n_levels)
    if lev.ndim != 1 or lev.size == 0 or long.shape != shape or short.shape != shape:
        return None
    return TierInfo(lev, long, short)
