"""Replay of real Binance BTC 5m candles with CoinGlass OI through the paper loop (shared data)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.errors import DataError
from bot.feeds.replay import ReplayFeed, ReplayFiles

pytestmark = pytest.mark.shared_data


def files(data: Path) -> ReplayFiles:
    return ReplayFiles(candles=data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather",
                       oi=data / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet",
                       ls_ratio=data / "coinglass-btc" / "api_futures_global_long_short_account_ratio_history.parquet",
                       funding=data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")


def test_replay_bars_are_point_in_time(shared_data: Path) -> None:
    start = datetime(2025, 2, 1, tzinfo=timezone.utc)
    feed = ReplayFeed("BTC/USDT:USDT", files(shared_data), speed=math.inf, start=start,
                      duration=timedelta(days=1), warmup=timedelta(hours=12))
    batches = list(feed.batches())
    assert len(batches) == 12 * 12 + 288 and sum(b.warmup for b in batches) == 144
    from bot.marketdata.files import load_open_interest
    oi = load_open_interest(files(shared_data).oi)
    for b in batches[::37]:
        bar = b.bars[0]
        known = oi[oi.index <= pd.Timestamp(bar.close_ts)]
        assert bar.oi_usd == known["oi_usd"].iloc[-1]  # the last value known at the bar's close, never later
        assert bar.close_ts - bar.ts == timedelta(minutes=5)
    settled = [b.bars[0] for b in batches if b.bars[0].funding_rate is not None]
    assert settled and all(bar.close_ts.hour % 8 == 0 and bar.close_ts.minute == 0 for bar in settled)


def test_stale_open_interest_counts_as_missing(shared_data: Path) -> None:
    # the CoinGlass series ends 2025-05-21 20:00 (known at): OI older than 8 h is not carried
    feed = ReplayFeed("BTC/USDT:USDT", files(shared_data), speed=math.inf,
                      start=datetime(2025, 5, 21, 12, tzinfo=timezone.utc), duration=timedelta(days=1))
    known = ~np.isnan(feed.oi)
    assert known[0] and not known[-1]
    # a file that holds nothing inside the window is refused, not replayed as "no data" (issue 16.1)
    with pytest.raises(DataError, match="no overlap"):
        ReplayFeed("BTC/USDT:USDT", files(shared_data), speed=math.inf,
                   start=datetime(2025, 6, 1, tzinfo=timezone.utc), duration=timedelta(hours=2))


def test_replay_through_the_cli(shared_data: Path, tmp_path: Path, run_cli: Any) -> None:
    f = files(shared_data)
    code, out, err = run_cli("paper", "--feed", "replay", "--speed", "max", "--symbols", "BTC/USDT:USDT",
                             "--candles", str(f.candles), "--oi", str(f.oi), "--ls-ratio", str(f.ls_ratio),
                             "--funding", str(f.funding), "--from", "2025-01-10", "--to", "2025-01-13",
                             "--warmup", "1d", "--state", str(tmp_path / "st"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["run"]["steps"] == 3 * 288 and summary["signals"]["total"] > 0
    assert summary["equity"] is not None
