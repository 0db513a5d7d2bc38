"""What a chart of the run needs per step: the bar and the tracker's clusters (schema migration 2).

The runner writes one ``bars`` row per closed bar and one ``cluster_frames`` row per bar with a
heatmap snapshot, inside the step's transaction, so ``liqbot serve`` can draw candles and the
clusters' life (active, broken, faded) without re-running the tracker. A frame holds the clusters
columnar (one JSON array per field, times as epoch milliseconds): about 4 KB for 40 clusters.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from bot.domain import Cluster, Side, utc

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FLOATS = ("price_level", "leverage_tier", "open_interest", "strength", "distance_from_price", "price_low",
           "price_high", "peak_open_interest", "peak_strength")
_TIMES = ("first_seen", "last_seen", "last_updated")


@dataclass(frozen=True, slots=True)
class ClusterFrame:
    """The tracker's clusters of one symbol after the bar that closed at ``ts`` (snapshot price ``price``)."""

    symbol: str
    ts: datetime
    price: float
    clusters: tuple[Cluster, ...]


def epoch_ms(ts: datetime) -> int:
    """An aware datetime as integer milliseconds since the epoch."""
    return (utc(ts) - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """Inverse of :func:`epoch_ms`."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no NaN


def encode_clusters(clusters: Sequence[Cluster]) -> str:
    """Columnar compact JSON of ``clusters`` (lossless for every field but sub-millisecond times)."""
    cols: dict[str, Any] = {"cluster_id": [c.cluster_id for c in clusters],
                            "side": "".join("L" if c.side is Side.LONG else "S" for c in clusters),
                            "active": [int(c.active) for c in clusters],
                            "liquidation_count": [c.liquidation_count for c in clusters],
                            "broken_at": [epoch_ms(c.broken_at) if c.broken_at else None for c in clusters]}
    for name in _FLOATS:
        cols[name] = [_num(getattr(c, name)) for c in clusters]
    for name in _TIMES:
        cols[name] = [epoch_ms(getattr(c, name)) for c in clusters]
    return json.dumps(cols, separators=(",", ":"))


def decode_columns(text: str) -> dict[str, Any]:
    """The columnar mapping of a stored frame (what the dashboard reads, no objects built)."""
    cols: dict[str, Any] = json.loads(text)
    return cols


def decode_clusters(text: str) -> list[Cluster]:
    """``Cluster`` objects of a stored frame, in stored order."""
    cols = decode_columns(text)
    out = []
    nan = float("nan")
    for k, cid in enumerate(cols["cluster_id"]):
        floats = {name: nan if cols[name][k] is None else float(cols[name][k]) for name in _FLOATS}
        times = {name: from_ms(cols[name][k]) for name in _TIMES}
        broken = cols["broken_at"][k]
        out.append(Cluster(cluster_id=cid, side=Side.LONG if cols["side"][k] == "L" else Side.SHORT,
                           active=bool(cols["active"][k]), liquidation_count=int(cols["liquidation_count"][k]),
                           broken_at=from_ms(broken) if broken is not None else None, **floats, **times))
    return out
