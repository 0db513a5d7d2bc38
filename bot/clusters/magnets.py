"""The magnet read of a snapshot: strongest magnet above and below price, asymmetry, bias.

Above = the active *short* cluster above price holding the most USD (shorts would be
liquidated there, pulling price up); below = the active *long* cluster below price holding the
most USD. Broken clusters are no magnets. asymmetry = USD above / USD below (``inf`` when only
above, ``0`` when only below, ``1`` when neither). A stronger magnet above is a bullish bias:
asymmetry > ``bias_threshold`` -> BULLISH, < 1 / ``bias_threshold`` -> BEARISH, else NEUTRAL.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from bot.domain import Bias, Cluster, MagnetRead, Side
from bot.errors import DataError


def magnet_read(clusters: Sequence[Cluster], price: float, bias_threshold: float = 1.2) -> MagnetRead:
    """Strongest active magnet above and below ``price`` and the bias their asymmetry implies."""
    if not (math.isfinite(price) and price > 0):
        raise DataError(f"must be a finite positive number, got {price!r}", field="price")
    if not (math.isfinite(bias_threshold) and bias_threshold >= 1):
        raise DataError(f"must be finite and >= 1, got {bias_threshold!r}", field="bias_threshold")
    above = _strongest(c for c in clusters if c.active and c.side is Side.SHORT and c.price_level > price)
    below = _strongest(c for c in clusters if c.active and c.side is Side.LONG and c.price_level < price)
    if above is None and below is None:
        asymmetry = 1.0
    elif below is None or below.open_interest <= 0:
        asymmetry = math.inf if above is not None and above.open_interest > 0 else 1.0
    elif above is None:
        asymmetry = 0.0
    else:
        asymmetry = above.open_interest / below.open_interest
    if asymmetry > bias_threshold:
        bias = Bias.BULLISH
    elif asymmetry < 1.0 / bias_threshold:
        bias = Bias.BEARISH
    else:
        bias = Bias.NEUTRAL
    return MagnetRead(above=above, below=below, asymmetry=asymmetry, bias=bias)


def _strongest(candidates: Iterable[Cluster]) -> Cluster | None:
    # ties on USD go to the nearer cluster: it is the one price meets first
    return max(candidates, key=lambda c: (c.open_interest, -c.distance_from_price), default=None)

