"""The human text of a candidate, from plain numbers (the fused backtest loop has no Cluster objects).

Both paths build a reason from the same kernel row through :func:`row_reason`, so the text is
identical whichever path emitted the signal.
"""

from __future__ import annotations

import numpy as np

from strategies import kernel as K
from strategies.signal import Direction, price_decimals


def usd_text(usd: float) -> str:
    """``$3.5M`` / ``$1.2B`` / ``$850K`` for reasons."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(usd) >= scale:
            return f"${usd / scale:.1f}{unit}"
    return f"${usd:.0f}"


def price_text(price: float) -> str:
    """A price with thousands separators and the tick's decimals."""
    d = max(0, price_decimals(price))
    return f"{price:,.{d}f}"


def side_text(is_short: bool) -> str:
    """The Side value of a cluster (``short`` / ``long``)."""
    return "short" if is_short else "long"


def hunt_reason(side: str, level: float, strength: float, usd: float, dist_pct: float, above: bool,
                direction: Direction, atr_mult: float) -> str:
    """Why the liquidation hunt proposes a trade toward the cluster at ``level``."""
    return (f"{side} liquidation cluster at {price_text(level)} (strength {strength:.2f}, "
            f"{usd_text(usd)}) {dist_pct:.2f}% {'above' if above else 'below'}: {direction.value} toward it, "
            f"target before the cluster, stop {atr_mult:g} ATR or beyond the opposite cluster")


def sr_reason(long: bool, side: str, level: float, strength: float, dist_pct: float, target_side: str,
              target_level: float) -> str:
    """Why support/resistance proposes a fade at the cluster at ``level``."""
    what = "support" if long else "resistance"
    return (f"{what}: {side} liquidation cluster at {price_text(level)} (strength "
            f"{strength:.2f}) {dist_pct:.2f}% {'below' if long else 'above'}; "
            f"stop beyond it, target before the {target_side} cluster at {price_text(target_level)}")


def breakout_reason(side: str, level: float, peak_usd: float, peak_strength: float, minutes: float,
                    direction: Direction, target_side: str, target_level: float) -> str:
    """Why the breakout follows the cluster at ``level`` broken ``minutes`` ago."""
    return (f"{side} liquidation cluster at {price_text(level)} (peak "
            f"{usd_text(peak_usd)}, strength {peak_strength:.2f}) broken {minutes:.0f} min ago: "
            f"{direction.value} continuation, "
            f"stop back inside the level, target before the {target_side} cluster at "
            f"{price_text(target_level)}")


def row_reason(row: np.ndarray, tab: np.ndarray, price: float, params: np.ndarray) -> str:
    """The reason of kernel candidate ``row`` (``strategies.kernel`` columns) over cluster table ``tab``."""
    strategy, i, j = int(row[K.C_STRATEGY]), int(row[K.C_CLUSTER]), int(row[K.C_TARGET_CLUSTER])
    direction = Direction.LONG if row[K.C_DIRECTION] == K.D_LONG else Direction.SHORT
    c = tab[i]
    side, level = side_text(bool(c[K.T_IS_SHORT])), float(c[K.T_LEVEL])
    dist = abs(level - price) / price * 100.0
    if strategy == K.S_HUNT:
        return hunt_reason(side, level, float(c[K.T_STRENGTH]), float(c[K.T_USD]), dist, level > price, direction,
                           float(params[K.P_HUNT_ATR_MULT]))
    t_side, t_level = side_text(bool(tab[j, K.T_IS_SHORT])), float(tab[j, K.T_LEVEL])
    if strategy == K.S_SR:
        return sr_reason(direction == Direction.LONG, side, level, float(c[K.T_STRENGTH]), dist, t_side, t_level)
    return breakout_reason(side, level, float(c[K.T_PEAK_USD]), float(c[K.T_PEAK_STRENGTH]),
                           float(c[K.T_AGE_S]) / 60.0, direction, t_side, t_level)
