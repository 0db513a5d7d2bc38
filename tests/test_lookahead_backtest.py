"""The lookahead check passes on the real pipeline and catches a step that peeks one bar ahead."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backtest.lookahead import check_lookahead
from backtest.run import BacktestSpec, run_backtest
from bot.feeds.replay import ReplayFiles
from config.settings import Settings

pytestmark = pytest.mark.shared_data


def spec(data: Path) -> BacktestSpec:
    files = ReplayFiles(candles=data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather",
                        oi=data / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet",
                        funding=data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")
    start = datetime(2025, 3, 2, tzinfo=timezone.utc)
    return BacktestSpec("BTC/USDT:USDT", files, start=start, end=start + timedelta(days=3),
                        warmup=timedelta(hours=12))


class PeekAhead:
    """A broken heatmap source: bar j sees the snapshot of bar j + 1 (when the data has one)."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def snapshot(self, j: int) -> Any:
        return self.rows.snapshot(min(j + 1, len(self.rows) - 1))


def test_signals_and_trades_before_each_cut_are_unchanged(shared_data: Path) -> None:
    s = Settings()
    full = run_backtest(s, spec(shared_data), fingerprints=True)
    report = check_lookahead(s, spec(shared_data), full, cuts=3)
    assert report.ok, report.to_dict()
    assert len(report.cuts) == 3
    assert sum(c.signals for c in report.cuts) > 0 and sum(c.trades for c in report.cuts) > 0


def test_a_step_that_reads_the_next_bar_is_caught(shared_data: Path) -> None:
    s = Settings()
    full = run_backtest(s, spec(shared_data), fingerprints=True, wrap_rows=PeekAhead)
    report = check_lookahead(s, spec(shared_data), full, cuts=3, wrap_rows=PeekAhead)
    assert not report.ok
    # every cut sees it: the cut run's last bar decided on another snapshot than the full run's
    assert all(any("differ from the full run" in p for p in c.problems) for c in report.cuts)
