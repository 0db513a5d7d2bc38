"""Candidates (what a strategy proposes), built from the kernels' candidate rows.

The exit rules every strategy shares (a take-profit before its cluster, a stop never inside a
live cluster, prices on the tick) are kernels in ``strategies.kernel_lib``; this module turns
their rows into ``Candidate`` objects with their strategy's reason text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from bot.domain import Bias, Cluster, iso
from strategies import kernel as K
from strategies.levels import ClusterTable, cluster_table
from strategies.params import Params
from strategies.records import fill
from strategies.registry import spec_of_code
from strategies.signal import Direction, StrategyName, exact_risk_reward, signal_id

if TYPE_CHECKING:
    from bot.domain import HeatmapSnapshot, MagnetRead, MarketContext
    from strategies.spec import StrategySpec

BIAS_CODE = {Bias.BEARISH: K.BIAS_BEARISH, Bias.NEUTRAL: K.BIAS_NEUTRAL, Bias.BULLISH: K.BIAS_BULLISH}


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


def row_reason(row: np.ndarray, tab: np.ndarray, price: float, params: Any) -> str:
    """The reason of kernel candidate ``row`` over table ``tab``: its strategy's own text (``params``: the
    engine record)."""
    spec = spec_of_code(int(row[K.C_STRATEGY]))
    return spec.reason(row, tab, price, params[spec.name.value])


def candidates_from_rows(rows: np.ndarray, table: ClusterTable, symbol: str, ts: datetime, price: float,
                         params: Any) -> list[Candidate]:
    """``Candidate`` objects for kernel rows (``strategies.kernel`` columns), in row order."""
    out: list[Candidate] = []
    for row in rows:
        out.append(Candidate(
            symbol=symbol, ts=ts, strategy=spec_of_code(int(row[K.C_STRATEGY])).name,
            direction=Direction.LONG if row[K.C_DIRECTION] == K.D_LONG else Direction.SHORT,
            entry=float(row[K.C_ENTRY]), stop_loss=float(row[K.C_STOP]), take_profit=float(row[K.C_TARGET]),
            confidence=float(row[K.C_CONFIDENCE]), cluster=table.clusters[int(row[K.C_CLUSTER])],
            reason=row_reason(row, table.tab, price, params)))
    return out


def strategy_candidates(spec: "StrategySpec", params: Params, snapshot: "HeatmapSnapshot",
                        clusters: Sequence[Cluster], ctx: "MarketContext", magnets: "MagnetRead") -> list[Candidate]:
    """Candidates of one strategy alone (``spec``) with ``params``, through the engine's own kernels."""
    from strategies.engine_params import default_params
    table = cluster_table(clusters, snapshot.ts)
    p = default_params()
    p["on"][spec.name.value] = True
    fill(p[spec.name.value], params)
    atr = ctx.atr if ctx.atr is not None else math.nan
    rows = K.candidates_kernel(table.tab, float(snapshot.price), float(atr), BIAS_CODE[magnets.bias], p)
    return candidates_from_rows(rows, table, snapshot.symbol, snapshot.ts, snapshot.price, p)
