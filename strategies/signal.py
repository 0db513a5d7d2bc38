"""The Signal: the one JSON contract between engine, runner, broker, backtester, log and review.

The model enforces what its numbers mean (docs/architecture.md §4): prices finite and positive,
LONG ``stop_loss < entry_price < take_profit`` (SHORT the mirror), ``risk_reward`` equal to
the ratio of the serialized prices, confidence in [0, 1], a notional equal to base x
multiplier, and an id derived from (symbol, strategy, timestamp, cluster_id).

``python -m strategies.signal --export`` writes ``config/signal.schema.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema,
                      model_validator)

from bot.domain import Bias, HeatmapSource, Side, iso, utc
# the tick rounding is compiled code shared with the backtester's fused loop (re-exported here)
from strategies.kernel_round import price_decimals, round_price  # noqa: F401

SCHEMA_VERSION = 1
RR_DECIMALS = 2
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "signal.schema.json"


class Direction(StrEnum):
    """The trade direction of a signal."""

    LONG = "LONG"
    SHORT = "SHORT"


class StrategyName(StrEnum):
    """Strategies that emit a direction (``oi_sizing`` only sizes, so it is not one)."""

    LIQUIDATION_HUNT = "liquidation_hunt"
    SUPPORT_RESISTANCE = "support_resistance"
    BREAKOUT = "breakout"
    CASCADE = "cascade"


UtcDatetime = Annotated[
    datetime,
    AfterValidator(utc),
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
PositivePrice = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def exact_risk_reward(direction: Direction, entry: float, stop: float, target: float) -> float:
    """Reward over risk of the given prices (may be <= 0 when the geometry is wrong)."""
    sign = 1.0 if direction == Direction.LONG else -1.0
    risk = sign * (entry - stop)
    reward = sign * (target - entry)
    return reward / risk if risk > 0 else -math.inf


def signal_id(symbol: str, strategy: str, ts: datetime, cluster_id: str) -> str:
    """Deterministic id: the same (symbol, strategy, timestamp, cluster) always gives the same id."""
    key = f"{symbol}|{StrategyName(strategy).value}|{iso(ts)}|{cluster_id}"
    return "sig-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              json_schema_serialization_defaults_required=True)


class PositionSize(_Frozen):
    """Base size, the OI-sizing multiplier, and their product."""

    base_usd: float = Field(gt=0, description="Configured base position, USD.")
    multiplier: float = Field(gt=0, description="OI-sizing multiplier applied to the base.")
    notional_usd: float = Field(gt=0, description="base_usd x multiplier, USD.")

    @model_validator(mode="after")
    def _product(self) -> "PositionSize":
        if abs(self.notional_usd - self.base_usd * self.multiplier) > 0.005 + 1e-9 * self.notional_usd:
            raise ValueError(f"notional_usd {self.notional_usd} != base_usd {self.base_usd} x "
                             f"multiplier {self.multiplier}")
        return self


class ClusterData(_Frozen):
    """The cluster that caused the signal."""

    cluster_id: str = Field(min_length=1)
    price_level: PositivePrice
    side: Side
    strength: float = Field(ge=0, le=1)
    open_interest: float = Field(ge=0, description="USD at risk in the cluster.")
    distance_from_price: float = Field(ge=0, description="Percent from the snapshot price.")
    leverage_tier: float = Field(ge=0)


class CascadeData(_Frozen):
    """The cascade read of one side of price: the run of clusters a cascade there would eat."""

    clusters: int = Field(ge=1, description="Clusters in the run (gaps at most clusters.cascade_gap_pct).")
    usd: float = Field(ge=0, description="Their summed USD at risk.")
    first_price: PositivePrice = Field(description="The nearest cluster's level: where the cascade starts.")
    end_price: PositivePrice = Field(description="The run's last cluster's level: where it ends.")


class MarketSentiment(_Frozen):
    """Magnet bias, positioning and the cascade read of both sides at the signal's time."""

    sentiment: Bias = Field(description="Magnet bias: a stronger short-liquidation magnet above is bullish.")
    long_short_ratio: float | None = Field(gt=0, description="Long/short account ratio; null when unknown.")
    total_oi_usd: float | None = Field(ge=0, description="Total open interest, USD; null when unknown.")
    magnet_asymmetry: float | None = Field(
        ge=0, description="USD of the strongest magnet above / below; null when nothing is below.")
    cascade_up: CascadeData | None = Field(
        None, description="The run of short-liquidation clusters above price; null when there is none.")
    cascade_down: CascadeData | None = Field(
        None, description="The run of long-liquidation clusters below price; null when there is none.")


class HeatmapRef(_Frozen):
    """Which heatmap snapshot the signal was computed from."""

    source: HeatmapSource
    snapshot_ts: UtcDatetime


class Signal(_Frozen):
    """One trading signal (docs/architecture.md §4). Frozen; its invariants are checked on construction."""

    id: str = Field(description="Deterministic from symbol, strategy, timestamp and cluster_id.")
    schema_version: Literal[1] = SCHEMA_VERSION
    timestamp: UtcDatetime
    symbol: str = Field(min_length=1)
    strategy: StrategyName
    signal: Direction
    entry_price: PositivePrice
    stop_loss: PositivePrice
    take_profit: PositivePrice
    risk_reward: float = Field(gt=0, description="|take_profit - entry| / |entry - stop_loss|, 2 decimals.")
    confidence: float = Field(ge=0, le=1)
    position_size: PositionSize
    reason: str = Field(min_length=1)
    cluster_data: ClusterData
    support_levels: tuple[PositivePrice, ...] = ()
    resistance_levels: tuple[PositivePrice, ...] = ()
    market_sentiment: MarketSentiment
    heatmap: HeatmapRef

    @model_validator(mode="after")
    def _invariants(self) -> "Signal":
        e, sl, tp = self.entry_price, self.stop_loss, self.take_profit
        if self.signal == Direction.LONG and not (sl < e < tp):
            raise ValueError(f"LONG needs stop_loss < entry_price < take_profit, got {sl} / {e} / {tp}")
        if self.signal == Direction.SHORT and not (tp < e < sl):
            raise ValueError(f"SHORT needs take_profit < entry_price < stop_loss, got {tp} / {e} / {sl}")
        exact = exact_risk_reward(self.signal, e, sl, tp)
        if abs(self.risk_reward - exact) > 0.5 * 10.0 ** -RR_DECIMALS + 1e-9:
            raise ValueError(f"risk_reward {self.risk_reward} does not match its prices ({exact:.4f})")
        expected = signal_id(self.symbol, self.strategy, self.timestamp, self.cluster_data.cluster_id)
        if self.id != expected:
            raise ValueError(f"id {self.id!r} is not the deterministic id {expected!r}")
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object (ISO timestamps, enums as strings)."""
        return self.model_dump(mode="json")


def export_schema() -> dict[str, Any]:
    """The JSON schema of a serialized Signal (what ``config/signal.schema.json`` holds)."""
    schema = Signal.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://liqbot/config/signal.schema.json", **schema}


def schema_text() -> str:
    """The schema file's exact text (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(export_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m strategies.signal --export [PATH]``: write the schema file."""
    parser = argparse.ArgumentParser(prog="python -m strategies.signal")
    parser.add_argument("--export", nargs="?", const=str(SCHEMA_PATH), metavar="PATH",
                        help=f"write the Signal JSON schema (default {SCHEMA_PATH})")
    args = parser.parse_args(argv)
    if args.export is None:
        print(schema_text(), end="")
        return 0
    Path(args.export).write_text(schema_text(), encoding="utf-8")
    print(f"wrote {args.export}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
