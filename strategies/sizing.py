"""OI sizing: the stage that scales every signal's base size (docs/architecture.md §4).

Total OI above ``high_oi_usd`` -> x1.5, above ``mid_oi_usd`` -> x1.0, else x0.5 (thresholds may
be set per symbol). A crowded long side (long/short ratio > 1.2) favours shorts (x1.2 on SHORT),
a crowded short side (< 0.8) favours longs. The kernel is vectorized so the backtester sizes a
whole signal array in one call; the engine's kernel sizes its winner with the same compiled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from bot.search_space import searchable
from bot.domain import MarketContext
from strategies import kernel as K
from strategies.params import Params
from strategies.records import to_record
from strategies.signal import Direction


class OIThresholds(Params):
    """Per-symbol OI tier thresholds (USD)."""

    high_oi_usd: float = Field(gt=0, description="Above this total OI: the high multiplier.")
    mid_oi_usd: float = Field(gt=0, description="Above this total OI: the mid multiplier.")

    @model_validator(mode="after")
    def _ordered(self) -> "OIThresholds":
        if self.mid_oi_usd > self.high_oi_usd:
            raise ValueError("mid_oi_usd must not exceed high_oi_usd")
        return self


class OISizingParams(Params):
    """Parameters of the OI sizing stage."""

    high_oi_usd: float = Field(5e9, gt=0, description="Total OI above this: high_mult.")
    mid_oi_usd: float = Field(1e9, gt=0, description="Total OI above this: mid_mult; below: low_mult.")
    high_mult: float = searchable(1.5, low=0.5, high=3.0, gt=0, description="Multiplier in the high OI tier.")
    mid_mult: float = searchable(1.0, low=0.5, high=2.0, gt=0, description="Multiplier in the mid OI tier.")
    low_mult: float = searchable(0.5, low=0.1, high=1.5, gt=0, description="Multiplier in the low OI tier.")
    crowded_long_ratio: float = Field(1.2, gt=0, description="Long/short ratio above this favours shorts.")
    crowded_short_ratio: float = Field(0.8, gt=0, description="Long/short ratio below this favours longs.")
    favoured_mult: float = searchable(1.2, low=1.0, high=2.0, gt=0,
                                      description="Extra multiplier on the favoured side.")
    per_symbol: dict[str, OIThresholds] = Field(default_factory=dict,
                                                description="OI thresholds per ccxt symbol.")

    @model_validator(mode="after")
    def _ordered(self) -> "OISizingParams":
        if self.mid_oi_usd > self.high_oi_usd:
            raise ValueError("mid_oi_usd must not exceed high_oi_usd")
        if self.crowded_short_ratio > self.crowded_long_ratio:
            raise ValueError("crowded_short_ratio must not exceed crowded_long_ratio")
        return self

    def thresholds(self, symbol: str) -> tuple[float, float]:
        """(high, mid) OI thresholds for ``symbol``."""
        t = self.per_symbol.get(symbol)
        return (t.high_oi_usd, t.mid_oi_usd) if t else (self.high_oi_usd, self.mid_oi_usd)


def sizing_params(params: OISizingParams, symbol: str = "") -> Any:
    """The kernels' sizing record carrying ``params`` (thresholds of ``symbol``)."""
    rec = to_record(params)
    rec["high_oi_usd"], rec["mid_oi_usd"] = params.thresholds(symbol)
    return rec


def oi_multipliers(total_oi_usd: np.ndarray, long_short_ratio: np.ndarray, is_long: np.ndarray,
                   params: OISizingParams, symbol: str = "") -> np.ndarray:
    """Size multipliers for arrays of signals. Unknown (non-finite) OI counts as the low tier."""
    oi, ls, long = np.broadcast_arrays(np.asarray(total_oi_usd, dtype=np.float64),
                                       np.asarray(long_short_ratio, dtype=np.float64),
                                       np.asarray(is_long, dtype=bool).astype(np.float64))
    shape = oi.shape
    flat = [np.ascontiguousarray(a.reshape(-1)) for a in (oi, ls, long)]
    return K.oi_multipliers_kernel(*flat, sizing_params(params, symbol)).reshape(shape)


@dataclass(frozen=True, slots=True)
class Sizing:
    """The multiplier for one signal and why."""

    multiplier: float
    reason: str


def oi_sizing(direction: Direction, ctx: MarketContext, params: OISizingParams) -> Sizing:
    """The multiplier for one signal on ``ctx.symbol`` (same kernel as ``oi_multipliers``)."""
    mult = float(K.oi_multiplier_nb(float(ctx.total_oi_usd), float(ctx.long_short_ratio),
                                    direction == Direction.LONG, sizing_params(params, ctx.symbol)))
    return sizing_of(mult, direction, ctx.total_oi_usd, ctx.long_short_ratio, params, ctx.symbol)


def sizing_of(mult: float, direction: Direction, total_oi_usd: float, long_short_ratio: float,
              params: OISizingParams, symbol: str) -> Sizing:
    """The ``Sizing`` (multiplier rounded by the kernel, and why) of a raw multiplier ``mult``."""
    rec = sizing_params(params, symbol)
    tier = ("low", "mid", "high")[K.oi_tier_nb(float(total_oi_usd), rec)]  # the kernel's tier, not a copy of it
    crowd = ""
    if K.favoured_nb(float(long_short_ratio), direction == Direction.LONG, rec):
        crowd = (f", crowded longs (L/S {long_short_ratio:.2f}) favour shorts" if direction == Direction.SHORT
                 else f", crowded shorts (L/S {long_short_ratio:.2f}) favour longs")
    return Sizing(multiplier=float(K.round_decimals(mult, 4)), reason=f"size x{mult:g}: {tier} OI tier{crowd}")
