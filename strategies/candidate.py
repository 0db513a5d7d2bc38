"""Candidates (what a strategy proposes) and the honest-exit helpers every strategy shares.

Exit rules (docs/architecture.md §4): a take-profit sits *before* the cluster it targets (cascades
wick through a cluster, but our fill must come first); a stop-loss never sits inside a live
cluster (stops parked on a liquidation level are the first thing a cascade takes out).
Prices are rounded to the tick here, so the risk/reward the engine checks is the one the
serialized numbers give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bot.domain import Bias, Cluster, iso
from strategies import kernel as K
from strategies.kernel_params import BIAS_CODE, default_params
from strategies.levels import ClusterTable, cluster_table
from strategies.reasons import price_text, row_reason, usd_text  # noqa: F401  (re-exported)
from strategies.signal import Direction, StrategyName, exact_risk_reward, price_decimals, round_price, signal_id

if TYPE_CHECKING:
    from bot.domain import HeatmapSnapshot, MagnetRead, MarketContext


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
                     confidence=K.round_decimals(min(1.0, max(0.0, float(confidence))), K.CONFIDENCE_DECIMALS),
                     cluster=cluster, reason=reason)


def target_before(table: ClusterTable, i: int, direction: Direction, price: float, buffer_pct: float) -> float:
    """Take-profit just before cluster ``i``: before its near edge, or its level when price is already inside."""
    return float(K.target_before_nb(table.tab, int(i), direction == Direction.LONG, float(price), float(buffer_pct)))


def clear_of_clusters(table: ClusterTable, stop: float, direction: Direction, buffer_pct: float) -> float:
    """Move ``stop`` beyond every active cluster it sits in (range widened by ``buffer_pct``)."""
    return float(K.clear_of_clusters_nb(table.tab, float(stop), direction == Direction.LONG, float(buffer_pct)))


def stop_inside_cluster(table: ClusterTable, stop: float) -> bool:
    """Whether ``stop`` lies within an active cluster's price range."""
    return bool(K.stop_inside_cluster_nb(table.tab, float(stop)))


def bias_factor(direction: Direction, bias: Bias, against: float) -> float:
    """``against`` when the magnet bias opposes ``direction``, else 1."""
    opposed = (direction == Direction.LONG and bias == Bias.BEARISH) or (
        direction == Direction.SHORT and bias == Bias.BULLISH)
    return against if opposed else 1.0


STRATEGY_OF_CODE = (StrategyName.LIQUIDATION_HUNT, StrategyName.SUPPORT_RESISTANCE, StrategyName.BREAKOUT)


def candidates_from_rows(rows: np.ndarray, table: ClusterTable, symbol: str, ts: datetime, price: float,
                         params: np.ndarray) -> list[Candidate]:
    """``Candidate`` objects for kernel rows (``strategies.kernel`` columns), in row order."""
    out: list[Candidate] = []
    for row in rows:
        out.append(Candidate(
            symbol=symbol, ts=ts, strategy=STRATEGY_OF_CODE[int(row[K.C_STRATEGY])],
            direction=Direction.LONG if row[K.C_DIRECTION] == K.D_LONG else Direction.SHORT,
            entry=float(row[K.C_ENTRY]), stop_loss=float(row[K.C_STOP]), take_profit=float(row[K.C_TARGET]),
            confidence=float(row[K.C_CONFIDENCE]), cluster=table.clusters[int(row[K.C_CLUSTER])],
            reason=row_reason(row, table.tab, price, params)))
    return out


def strategy_candidates(code_flag: int, fill: Callable[[np.ndarray], None], snapshot: "HeatmapSnapshot",
                        clusters: Sequence[Cluster], ctx: "MarketContext", magnets: "MagnetRead") -> list[Candidate]:
    """Candidates of one strategy (its ``P_*_ON`` flag and its parameters written by ``fill``)."""
    table = cluster_table(clusters, snapshot.ts)
    p = default_params()
    p[code_flag] = 1.0
    fill(p)
    atr = ctx.atr if ctx.atr is not None else math.nan
    rows = K.candidates_kernel(table.tab, float(snapshot.price), float(atr), BIAS_CODE[magnets.bias], p)
    return candidates_from_rows(rows, table, snapshot.symbol, snapshot.ts, snapshot.price, p)
