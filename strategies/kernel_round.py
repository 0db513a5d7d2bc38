"""Tick rounding as numba kernels: the one implementation behind ``round_price``/``price_decimals``.

The backtester's fused loop and the Python path must round identically, so rounding is compiled
code called from both. Python's ``round(x, n)`` rounds the *exact* decimal value of ``x`` half to
even; numba has no such function, so :func:`round_decimals` reproduces it: the product ``x * 10**n``
is formed exactly (Dekker's error-free product, no FMA needed) and the fraction is compared with
one half on that exact value. For ``0 <= n <= 22`` (``10**n`` exact in a double) it returns the
same double as ``round(x, n)`` whenever ``|x| * 10**n < 2**53`` (beyond, ``x`` is returned as is);
for ``n < 0`` (prices of a million and more) it rounds the quotient
``x / 10**-n`` half to even, which may differ from Python in the last unit on exact ties.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_SPLIT = 134217729.0  # 2**27 + 1: Dekker's splitter for doubles
_EXACT_INT = 9007199254740992.0  # 2**53: from here on integers are no longer all representable


@njit(cache=True)
def _product_error(a: float, b: float, p: float) -> float:
    """The exact ``a * b - p`` where ``p = fl(a * b)`` (Dekker's two-product)."""
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLIT * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def _half_even(k: float, above_half: int) -> float:
    """``k`` or ``k + 1`` by the sign of (fraction - 1/2); a tie goes to the even one."""
    if above_half > 0:
        return k + 1.0
    if above_half < 0:
        return k
    return k if k % 2.0 == 0.0 else k + 1.0


@njit(cache=True)
def round_decimals(x: float, n: int) -> float:
    """``round(x, n)`` as Python computes it (exact decimal value, ties to even); see the module doc."""
    if not np.isfinite(x) or x == 0.0:
        return x
    if x < 0.0:
        return -round_decimals(-x, n)
    if n < 0:
        scale = 10.0 ** (-n)
        return np.rint(x / scale) * scale
    scale = 10.0 ** n
    p = x * scale
    if p >= _EXACT_INT:
        return x
    err = _product_error(x, scale, p)  # x * scale == p + err exactly
    k = np.floor(p)
    # t is exact: the exact fraction - 1/2 is t + err, whose sign survives the rounded sum
    t = (p - k) - 0.5
    if t == -0.5 and err < 0.0:  # the exact product lies just below the integer p
        k -= 1.0
        t = 0.5
    s = t + err
    sign = 1 if s > 0.0 else (-1 if s < 0.0 else 0)
    return _half_even(k, sign) / scale


@njit(cache=True)
def price_decimals_nb(price: float) -> int:
    """Decimals of the tick of ``price``: six significant digits (BTC 0.1, ETH 0.01). ``price`` > 0."""
    return 5 - int(np.floor(np.log10(price)))


@njit(cache=True)
def round_price_nb(value: float, decimals: int, mode: int) -> float:
    """Round to ``decimals``: ``mode`` 0 to nearest, 1 up, -1 down (a value on the grid stays put)."""
    if mode == 0:
        return round_decimals(value, decimals)
    scaled = value * 10.0 ** decimals
    nearest = np.rint(scaled)
    # a value already on the grid (up to float noise) stays where it is
    if abs(scaled - nearest) < 1e-6:
        step = nearest
    else:
        step = np.ceil(scaled) if mode > 0 else np.floor(scaled)
    return round_decimals(step / 10.0 ** decimals, decimals)


@njit(cache=True)
def round_level(price: float) -> float:
    """A price to its own tick (six significant digits), as signals list levels."""
    return round_decimals(price, price_decimals_nb(price))


def price_decimals(price: float) -> int:
    """Decimals of a sensible tick for ``price``: six significant digits (BTC 0.1, ETH 0.01)."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be finite and > 0, got {price!r}")
    return int(price_decimals_nb(float(price)))


def round_price(value: float, decimals: int, up: bool | None = None) -> float:
    """Round ``value`` to ``decimals``: to nearest, or up / down when ``up`` is given.

    Take-profits round toward the entry and stops away from it, so rounding never makes an
    exit look better than the level it was computed from. Same compiled code as the backtester.
    """
    return float(round_price_nb(float(value), int(decimals), 0 if up is None else (1 if up else -1)))
