"""The text helpers of candidate reasons (each strategy writes its own reason from its kernel row).

Both paths build a reason from the same kernel row through ``strategies.candidate.row_reason``, which
calls the reason of the row's strategy spec, so the text is identical whichever path emitted it.
"""

from __future__ import annotations

from strategies.signal import price_decimals


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
