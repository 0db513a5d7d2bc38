"""Candidates (what a strategy proposes) and the honest-exit helpers every strategy shares.

Exit rules (DESIGN section 4): a take-profit sits *before* the cluster it targets (cascades
wick through a cluster, but our fill must come first); a stop-loss never sits inside a live
cluster (stops parked on a liquidation level are the first thing a cascade takes out).
Prices are rounded to the tick here, so the risk/reward the engine checks is the one the
serialized numbers give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from bot.domain import Bias, Cluster, iso
from strategies.levels import ClusterTable
from strategies.signal import Direction, StrategyName, exact_risk_reward, price_decimals, round_price, signal_id


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposed trade, before filters, conflict resolution and sizing. Prices are on the tick."""

    symbol: str
    ts: datetime
    strategy: StrategyName
    direction: Direction
    entry: float
    stop_loss: float
    take_profit: float
    confidence: float
    cluster: Cluster
    reason: str

    @property
    def id(self) -> str:
        """The id the signal will carry if this candidate is emitted."""
        return signal_id(self.symbol, self.strategy, self.ts, self.cluster.cluster_id)

    @property
    def risk_reward(self) -> float:
        """Exact reward / risk of the rounded prices (``-inf`` when the stop is on the wrong side)."""
        return exact_risk_reward(self.direction, self.entry, self.stop_loss, self.take_profit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (non-finite numbers become null)."""
        rr = self.risk_reward
        return {"id": self.id, "timestamp": iso(self.ts), "symbol": self.symbol, "strategy": self.strategy.value,
                "signal": self.direction.value, "entry_price": self.entry, "stop_loss": self.stop_loss,
                "take_profit": self.take_profit, "risk_reward": round(rr, 4) if math.isfinite(rr) else None,
                "confidence": self.confidence, "reason": self.reason,
                "cluster_id": self.cluster.cluster_id, "cluster_price_level": self.cluster.price_level}


def make_candidate(symbol: str, ts: datetime, strategy: StrategyName, direction: Direction, price: float,
                   stop: float, target: float, confidence: float, cluster: Cluster, reason: str) -> Candidate:
    """Round to the tick of ``price``: entry to nearest, target toward the entry, stop away from it."""
    d = price_decimals(price)
    long = direction == Direction.LONG
    return Candidate(symbol=symbol, ts=ts, strategy=strategy, direction=direction,
                     entry=round_price(price, d), stop_loss=round_price(stop, d, up=not long),
                     take_profit=round_price(target, d, up=not long),
                     confidence=round(min(1.0, max(0.0, float(confidence))), 4), cluster=cluster, reason=reason)


def target_before(table: ClusterTable, i: int, direction: Direction, price: float, buffer_pct: float) -> float:
    """Take-profit just before cluster ``i``: before its near edge, or its level when price is already inside."""
    if direction == Direction.LONG:
        edge = table.low[i] if table.low[i] > price else table.level[i]
        return float(edge * (1.0 - buffer_pct / 100.0))
    edge = table.high[i] if table.high[i] < price else table.level[i]
    return float(edge * (1.0 + buffer_pct / 100.0))


def clear_of_clusters(table: ClusterTable, stop: float, direction: Direction, buffer_pct: float) -> float:
    """Move ``stop`` beyond every active cluster it sits in (range widened by ``buffer_pct``)."""
    if not len(table):
        return stop
    f = buffer_pct / 100.0
    lo = table.low * (1.0 - f)
    hi = table.high * (1.0 + f)
    act = table.active
    # each pass jumps past the clusters containing the stop; a jump can land in the next one,
    # so repeat (at most once per cluster)
    for _ in range(len(table)):
        inside = act & (lo <= stop) & (stop <= hi)
        if not inside.any():
            break
        stop = float(lo[inside].min() if direction == Direction.LONG else hi[inside].max())
        stop = math.nextafter(stop, -math.inf if direction == Direction.LONG else math.inf)
    return stop


def stop_inside_cluster(table: ClusterTable, stop: float) -> bool:
    """Whether ``stop`` lies within an active cluster's price range."""
    return bool(np.any(table.active & (table.low <= stop) & (stop <= table.high)))


def bias_factor(direction: Direction, bias: Bias, against: float) -> float:
    """``against`` when the magnet bias opposes ``direction``, else 1."""
    opposed = (direction == Direction.LONG and bias == Bias.BEARISH) or (
        direction == Direction.SHORT and bias == Bias.BULLISH)
    return against if opposed else 1.0


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
