"""Chart rows in the store (migration 2): bars and the tracker's cluster frames, written in the step."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.domain import Cluster, Side
from bot.feeds.base import Bar
from bot.store import StepWrite, Store
from bot.store.frames import ClusterFrame, decode_clusters, encode_clusters

SYM = "BTC/USDT:USDT"
T0 = datetime(2025, 1, 6, tzinfo=timezone.utc)


def cluster(cid: str, level: float, side: Side, *, active: bool = True, broken: datetime | None = None) -> Cluster:
    return Cluster(cluster_id=cid, price_level=level, side=side, leverage_tier=25.0, open_interest=2.5e6,
                   liquidation_count=100, strength=0.75, distance_from_price=1.25, active=active, first_seen=T0,
                   last_seen=T0 + timedelta(minutes=5), last_updated=T0 + timedelta(minutes=5), price_low=level - 10,
                   price_high=level + 10, broken_at=broken, peak_open_interest=3e6, peak_strength=0.9)


def test_encode_decode_is_lossless() -> None:
    clusters = [cluster("a1", 95_000.0, Side.LONG), cluster("b2", 99_000.5, Side.SHORT, active=False,
                                                               broken=T0 + timedelta(minutes=10))]
    assert decode_clusters(encode_clusters(clusters)) == clusters


def test_nan_is_stored_as_null_and_read_back_as_nan() -> None:
    c = cluster("n", 1.0, Side.LONG)
    object.__setattr__(c, "leverage_tier", float("nan"))
    (back,) = decode_clusters(encode_clusters([c]))
    assert math.isnan(back.leverage_tier)


def test_step_writes_bars_and_frames_in_its_transaction(tmp_path: Path) -> None:
    bar = Bar(SYM, T0, T0 + timedelta(minutes=5), 96_000.0, 96_100.0, 95_900.0, 96_050.0, 12.5, oi_usd=8e9,
              long_short_ratio=1.1)
    frame = ClusterFrame(SYM, bar.close_ts, 96_050.0, (cluster("a1", 95_000.0, Side.LONG),))
    with Store.open(tmp_path / "s") as store:
        store.commit_step(StepWrite(ts=bar.close_ts, bars=[bar], frames=[frame]))
        store.commit_step(StepWrite(ts=bar.close_ts, bars=[bar], frames=[frame]))  # a replayed step rewrites
        rows = store.conn.execute("SELECT * FROM bars").fetchall()
        frames = store.conn.execute("SELECT symbol, ts, price, clusters FROM cluster_frames").fetchall()
    assert rows == [(SYM, "2025-01-06T00:00:00Z", 96_000.0, 96_100.0, 95_900.0, 96_050.0, 12.5, 8e9, 1.1, None)]
    assert len(frames) == 1 and frames[0][:3] == (SYM, "2025-01-06T00:05:00Z", 96_050.0)
    assert decode_clusters(frames[0][3]) == list(frame.clusters)
