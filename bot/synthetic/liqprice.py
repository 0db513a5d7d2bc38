"""Liquidation prices with tiered maintenance margin (isolated, one-way), vectorized.

With entry E, leverage L, notional N = Q * E and the bracket (m, cum) that holds the notional
*at the liquidation price* (Q * LP):

- long:  ``LP = E * (1 - 1/L - cum/N) / (1 - m)``
- short: ``LP = E * (1 + 1/L + cum/N) / (1 + m)``

Hyperliquid is the same with ``m = 1/(2 * max_leverage)`` and ``cum = 0`` (its bracket table).
The bracket is the one consistent with the notional at the computed price; convexity of the
maintenance margin makes it the bracket with the highest long (lowest short) price.
"""

from __future__ import annotations

import numpy as np

from bot.domain import Side
from bot.errors import DataError
from bot.synthetic.brackets import BracketTable


def _check(name: str, arr: np.ndarray, lower: float, strict: bool) -> None:
    bad = np.flatnonzero(~np.isfinite(arr) | ((arr <= lower) if strict else (arr < lower)))
    if bad.size:
        i = int(bad[0])
        op = ">" if strict else ">="
        raise DataError(f"must be finite and {op} {lower:g}, got {arr.flat[i]!r}", field=name, position=i)


def liquidation_price(entry: np.ndarray | float, leverage: np.ndarray | float, notional: np.ndarray | float,
                      side: Side, brackets: BracketTable) -> np.ndarray:
    """Liquidation price per position (arrays broadcast).

    ``notional`` is the position's USD notional at entry. NaN where there is no meaningful
    price: a long whose price would be <= 0 (``L <= 1``), or a position whose leverage exceeds what
    its bracket allows (it would be liquidated at entry).
    """
    e, lev, n = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in
                                      (entry, leverage, notional)))
    _check("entry", e, 0.0, True)
    _check("leverage", lev, 1.0, False)
    _check("notional", n, 0.0, True)
    sign = 1.0 if Side(side) is Side.LONG else -1.0
    # Each bracket's line (m, cum) is a supporting line of the maintenance margin, which is convex
    # in notional (rates rise with size, cum keeps it continuous). So the margin is >= every
    # bracket's line, and the true liquidation price is the highest long (lowest short) price
    # over the brackets: exactly the one whose bracket holds the notional at that price. This is
    # the fixed point of "iterate the bracket until consistent", found without iterating.
    m, cum = brackets.mmr[None, :], brackets.cum[None, :]
    e2, lev2, n2 = e.reshape(-1, 1), lev.reshape(-1, 1), n.reshape(-1, 1)
    per_bracket = e2 * (1.0 - sign * (1.0 / lev2 + cum / n2)) / (1.0 - sign * m)
    lp = (per_bracket.max(axis=1) if sign > 0 else per_bracket.min(axis=1)).reshape(e.shape)
    # A position whose maintenance margin exceeds its initial margin (leverage above what its
    # bracket allows) would be liquidated at once: it has no liquidation price to map.
    valid = (lp > 0) & ((lp < e) if sign > 0 else (lp > e))
    return np.where(valid, lp, np.nan)


def liquidation_distance(leverage: np.ndarray | float, notional: np.ndarray | float, side: Side,
                         brackets: BracketTable) -> np.ndarray:
    """Relative distance ``|LP / E - 1|`` (entry-independent: it depends on L, N and the brackets)."""
    lp = liquidation_price(1.0, leverage, notional, side, brackets)
    return np.abs(lp - 1.0)


def tier_factors(leverages: np.ndarray, position_usd: float, brackets: BracketTable) -> tuple[np.ndarray, np.ndarray]:
    """``LP / E`` per leverage tier for longs and shorts, for a representative position size."""
    lev = np.asarray(leverages, dtype=np.float64)
    return (liquidation_price(1.0, lev, position_usd, Side.LONG, brackets),
            liquidation_price(1.0, lev, position_usd, Side.SHORT, brackets))


def feasible(leverage: np.ndarray | float, notional: np.ndarray | float, brackets: BracketTable) -> np.ndarray:
    """Whether the venue allows this leverage at this notional (the bracket's max leverage)."""
    n = np.asarray(notional, dtype=np.float64)
    return np.asarray(leverage, dtype=np.float64) <= brackets.max_leverage[brackets.index(n)]
