"""Domain types shared by every part of liqbot: heatmap snapshots, clusters, market context.

Level arrays are numpy arrays (a snapshot may hold thousands of levels); the types are
frozen so that a snapshot handed to the engine cannot change under it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Mapping

import numpy as np

from bot.errors import DataError


class Side(StrEnum):
    """The side of the positions that would be liquidated at a level."""

    LONG = "long"    # below price: longs would be liquidated
    SHORT = "short"  # above price: shorts would be liquidated


class HeatmapSource(StrEnum):
    """Where a snapshot came from."""

    SYNTHETIC = "synthetic"
    KIYOTAKA = "kiyotaka"
    COINGLASS = "coinglass"
    BASTION = "bastion"
    PERP_API = "perp-api"
    HYPERLIQUID = "hyperliquid"
    RECORDED = "recorded"


class Bias(StrEnum):
    """Directional read of the magnets: a stronger short-liquidation magnet above is bullish."""

    BULLISH = "BULLISH_BIAS"
    BEARISH = "BEARISH_BIAS"
    NEUTRAL = "NEUTRAL"


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (naive input is taken as UTC)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def _as_float_array(values: Any, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError("must be one-dimensional", field=name)
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class HeatmapSnapshot:
    """Estimated USD that would be liquidated per price level, as known at ``ts``.

    ``prices`` ascend strictly; ``long_usd``/``short_usd`` are the same length and >= 0.
    ``assumptions`` carries the model parameters so a snapshot explains itself.
    ``provided_clusters`` holds clusters a provider shipped ready-made (cluster API).
    """

    symbol: str
    ts: datetime
    price: float
    prices: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    source: HeatmapSource
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    provided_clusters: tuple["Cluster", ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))
        prices = _as_float_array(self.prices, "prices")
        long_usd = _as_float_array(self.long_usd, "long_usd")
        short_usd = _as_float_array(self.short_usd, "short_usd")
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "long_usd", long_usd)
        object.__setattr__(self, "short_usd", short_usd)
        validate_levels(prices, long_usd, short_usd)
        if not (math.isfinite(self.price) and self.price > 0):
            raise DataError(f"must be a finite positive number, got {self.price!r}", field="price")
        for arr in (prices, long_usd, short_usd):
            arr.flags.writeable = False

    @property
    def total_long_usd(self) -> float:
        """USD that would be liquidated on the long side over all levels."""
        return float(self.long_usd.sum())

    @property
    def total_short_usd(self) -> float:
        """USD that would be liquidated on the short side over all levels."""
        return float(self.short_usd.sum())

    def __len__(self) -> int:
        return int(self.prices.size)


def validate_levels(prices: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray) -> None:
    """Raise ``DataError`` naming the first bad level: shapes, finiteness, sign, order."""
    if not (prices.shape == long_usd.shape == short_usd.shape):
        raise DataError(
            f"length mismatch: prices {prices.size}, long_usd {long_usd.size}, short_usd {short_usd.size}",
            field="levels")
    bad = np.flatnonzero(~np.isfinite(prices) | (prices <= 0))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"price must be finite and > 0, got {prices[i]!r}", field="prices", position=i)
    for name, arr in (("long_usd", long_usd), ("short_usd", short_usd)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"volume must be finite and >= 0, got {arr[i]!r}", field=name, position=i)
    if prices.size > 1:
        steps = np.diff(prices)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            what = "duplicated" if steps[i - 1] == 0 else "unsorted (not ascending)"
            raise DataError(f"price {prices[i]!r} is {what}", field="prices", position=i)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A contiguous run of liquidation levels of one side (docs/architecture.md §3).

    ``distance_from_price`` is in percent of the current price, always >= 0 (``side`` tells
    the direction). ``liquidation_count`` is an estimate (USD / typical position size).
    ``peak_open_interest``/``peak_strength`` are the largest values over the cluster's life (never
    below the current values). What really happens at a break (measured, issue 11): the tracker
    breaks a cluster when a bar trades through its USD-weighted level, judged against the state
    before that bar, and one 5-minute bar usually crosses a whole cluster, so a synthetic cluster
    breaks whole: at the break it still holds about 99 % of its peak USD (``liqbot validate``,
    ``map.break_remnant_share_median``). The peak differs from the current value mainly through
    decay and churn, not because price ate the cluster from its near edge first.
    """

    cluster_id: str
    price_level: float
    side: Side
    leverage_tier: float
    open_interest: float
    liquidation_count: int
    strength: float
    distance_from_price: float
    active: bool
    first_seen: datetime
    last_seen: datetime
    last_updated: datetime
    price_low: float
    price_high: float
    broken_at: datetime | None = None
    liquidation_count_is_estimate: bool = True
    peak_open_interest: float = 0.0
    peak_strength: float = 0.0

    def __post_init__(self) -> None:
        if self.peak_open_interest < self.open_interest:
            object.__setattr__(self, "peak_open_interest", self.open_interest)
        if self.peak_strength < self.strength:
            object.__setattr__(self, "peak_strength", self.strength)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with ISO timestamps."""
        return {
            "cluster_id": self.cluster_id,
            "price_level": self.price_level,
            "side": self.side.value,
            "leverage_tier": self.leverage_tier,
            "open_interest": self.open_interest,
            "liquidation_count": self.liquidation_count,
            "liquidation_count_is_estimate": self.liquidation_count_is_estimate,
            "strength": self.strength,
            "distance_from_price": self.distance_from_price,
            "active": self.active,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "last_updated": iso(self.last_updated),
            "broken_at": iso(self.broken_at) if self.broken_at else None,
            "price_low": self.price_low,
            "price_high": self.price_high,
            "peak_open_interest": self.peak_open_interest,
            "peak_strength": self.peak_strength,
        }


@dataclass(frozen=True, slots=True)
class CascadeRead:
    """The run of clusters a cascade on one side of price would eat (``bot.clusters.magnets.cascade_nb``).

    From the nearest active cluster of the side (short clusters above price, long ones below), each
    next cluster of that side whose gap to the previous one is at most the gap threshold joins the
    run: once price reaches the first, the liquidations of each can carry it to the next.
    """

    clusters: int  # clusters in the run (>= 1)
    usd: float  # their summed USD
    first_price: float  # the nearest cluster's level: where the cascade starts
    end_price: float  # the last cluster's level: where the run ends

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"clusters": self.clusters, "usd": self.usd, "first_price": self.first_price,
                "end_price": self.end_price}


@dataclass(frozen=True, slots=True)
class MagnetRead:
    """Strongest magnet above and below price, their asymmetry and the bias it implies; the cascades.

    ``asymmetry`` = USD of the strongest magnet above / USD of the strongest below
    (``inf`` when nothing is below, ``0`` when nothing is above, ``1`` when neither).
    ``cascade_up`` / ``cascade_down``: the cascade read of each side (None when the side has no
    active cluster, or when the read was not asked for).
    """

    above: Cluster | None
    below: Cluster | None
    asymmetry: float
    bias: Bias
    cascade_up: CascadeRead | None = None
    cascade_down: CascadeRead | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; infinite asymmetry is written as ``null``."""
        return {
            "above": self.above.to_dict() if self.above else None,
            "below": self.below.to_dict() if self.below else None,
            "asymmetry": self.asymmetry if math.isfinite(self.asymmetry) else None,
            "bias": self.bias.value,
            "cascade_up": self.cascade_up.to_dict() if self.cascade_up else None,
            "cascade_down": self.cascade_down.to_dict() if self.cascade_down else None,
        }


@dataclass(frozen=True, slots=True)
class MarketContext:
    """Open interest and positioning at ``ts`` (USD), as known at ``ts``."""

    symbol: str
    ts: datetime
    price: float
    total_oi_usd: float
    long_oi_usd: float
    short_oi_usd: float
    long_short_ratio: float
    funding_rate: float | None = None
    atr: float | None = None

    @classmethod
    def from_total(cls, symbol: str, ts: datetime, price: float, total_oi_usd: float,
                   long_short_ratio: float, **extra: Any) -> "MarketContext":
        """Split total OI into long and short with the long/short ratio r: long = OI*r/(1+r)."""
        if not (math.isfinite(long_short_ratio) and long_short_ratio > 0):
            raise DataError(f"must be finite and > 0, got {long_short_ratio!r}", field="long_short_ratio")
        long_oi = total_oi_usd * long_short_ratio / (1.0 + long_short_ratio)
        return cls(symbol=symbol, ts=utc(ts), price=price, total_oi_usd=total_oi_usd,
                   long_oi_usd=long_oi, short_oi_usd=total_oi_usd - long_oi,
                   long_short_ratio=long_short_ratio, **extra)


def canonical_key(c: "Cluster") -> tuple[float, str, datetime, str]:
    """The canonical order of clusters: price, side, birth, id.

    The birth before the id lets the backtester's fused loop (which has no string ids; its
    cluster keys grow with birth) order two clusters at one price and side the same way.
    """
    return (c.price_level, c.side.value, c.first_seen, c.cluster_id)


def iso(ts: datetime) -> str:
    """ISO-8601 UTC with a trailing ``Z`` (seconds precision unless sub-second)."""
    ts = utc(ts)
    text = ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")
    return text.replace("+00:00", "Z")
