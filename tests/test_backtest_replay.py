"""The batched replay equals the bar-by-bar path: quality gate, fused loop, synthetic and recorded heatmaps, prescreen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from backtest.replay import MarketData, StoredRows, SyntheticRows, quality_flags, replay, replay_python
from bot.feeds.base import Bar
from bot.feeds.quality import QualityGate
from bot.feeds.replay import ReplayFiles
from bot.signallog import SignalLogWriter
from bot.synthetic.model import SyntheticParams
from config.settings import Settings

SYMBOL = "BTC/USDT:USDT"
START = datetime(2025, 2, 3, tzinfo=timezone.utc)


def files(data: Path) -> ReplayFiles:
    return ReplayFiles(candles=data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather",
                       oi=data / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet",
                       ls_ratio=data / "coinglass-btc" / "api_futures_global_long_short_account_ratio_history.parquet",
                       funding=data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")


def test_quality_flags_equal_the_runner_gate() -> None:
    step = 300_000_000_000
    k = np.array([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17], dtype=np.int64)  # gaps before 5, 13
    open_ns = 1_735_689_600_000_000_000 + k * step
    n = k.size
    ohlcv = np.tile([100.0, 101.0, 99.0, 100.5, 10.0], (n, 1))
    ohlcv[7, 1] = 99.5      # high below close: dropped
    ohlcv[12, 4] = np.nan   # bad volume: dropped
    oi = np.full(n, 5e9)
    oi[9] = -1.0            # a known OI must be positive
    ls = np.full(n, np.nan)
    valid, trade = quality_flags(open_ns, ohlcv, oi, ls, step, resume_after=3)
    gate = QualityGate(timedelta(minutes=5), 900.0, 3)
    for i in range(n):
        ts = datetime.fromtimestamp(open_ns[i] / 1e9, timezone.utc)
        o, h, low, c, v = ohlcv[i]
        bar = Bar(SYMBOL, ts, ts + timedelta(minutes=5), o, h, low, c, v, oi_usd=oi[i], long_short_ratio=None)
        verdict = gate.check(bar, bar.close_ts)
        assert (valid[i], trade[i]) == (verdict.valid, verdict.trade), i
    assert valid.sum() == n - 3 and 0 < trade.sum() < valid.sum()


@pytest.mark.shared_data
def test_batched_replay_equals_bar_by_bar(shared_data: Path) -> None:
    s = Settings()
    end = START + timedelta(days=3)
    data = MarketData.load(SYMBOL, files(shared_data), start=START, end=end, warmup=timedelta(hours=12))
    params = SyntheticParams.from_settings(s.synthetic)
    batch = replay(data, SyntheticRows(data, params), s)
    one = replay_python(SYMBOL, files(shared_data), s, start=START, end=end, warmup=timedelta(hours=12),
                        synthetic_params=params)
    assert batch.signals and batch.suppressed > 0
    assert [(j, x.to_json_dict()) for j, x in batch.signals] == [(j, x.to_json_dict()) for j, x in one.signals]
    assert (batch.rejected, batch.suppressed, batch.engine_bars) == (one.rejected, one.suppressed, one.engine_bars)


@pytest.mark.shared_data
def test_fused_loop_and_stepwise_paths_write_the_same_log(shared_data: Path, tmp_path: Path) -> None:
    """The fused numba loop, ``Decider.step`` with the prescreen and without it: byte-identical signal
    logs (signals and every rejected candidate, in order), counts and the clusters kept for the report."""
    s = Settings()
    data = MarketData.load(SYMBOL, files(shared_data), start=START, end=START + timedelta(days=2),
                           warmup=timedelta(hours=6))
    rows = SyntheticRows(data, SyntheticParams.from_settings(s.synthetic))
    keep_from = int(data.close_ns[data.valid][-1] - 6 * 3600e9)
    runs = {}
    for name, options in {"fused": {}, "screened": {"fused": False},
                          "plain": {"fused": False, "prescreen": False}}.items():
        path = tmp_path / f"log-{name}.jsonl"
        with SignalLogWriter(path, fsync="never") as log:
            out = replay(data, rows, s, log=log, keep_clusters_from_ns=keep_from, **options)
        runs[name] = (path.read_bytes(), out.candidate_bars, out.rejected, out.suppressed, out.engine_bars,
                      [c.to_dict() for c in out.clusters])
    assert runs["fused"] == runs["screened"] == runs["plain"]
    log_bytes, _, rejected, suppressed, _, clusters = runs["fused"]
    assert log_bytes.count(b"\n") > 10 and rejected > 10 and suppressed > 10 and len(clusters) > 72


@pytest.mark.shared_data
def test_recorded_heatmaps_replay_like_the_runner_reads_them(shared_data: Path, tmp_path: Path) -> None:
    from bot.heatmap.store import SnapshotStore
    from bot.synthetic.model import build_heatmaps
    s = Settings()
    end = START + timedelta(days=2)
    data = MarketData.load(SYMBOL, files(shared_data), start=START, end=end, warmup=timedelta(hours=6))
    # hourly snapshots: the runner reuses each one for 12 bars, ids and all
    series = build_heatmaps(data.candles(), None, SyntheticParams.from_settings(s.synthetic), every="1h",
                            symbol=SYMBOL)
    SnapshotStore(tmp_path / "store").write_series(series, SYMBOL)
    batch = replay(data, StoredRows(tmp_path / "store", data), s)
    one = replay_python(SYMBOL, files(shared_data), s, start=START, end=end, warmup=timedelta(hours=6),
                        heatmaps_dir=tmp_path / "store")
    assert batch.engine_bars == one.engine_bars > 0
    assert [(j, x.to_json_dict()) for j, x in batch.signals] == [(j, x.to_json_dict()) for j, x in one.signals]
    rows = StoredRows(tmp_path / "store", data)
    distinct = {id(rows.snapshot(j)) for j in range(len(rows))}
    assert len(distinct) <= len(rows) // 10  # hourly snapshots held across the 5m bars


def _store(tmp: Path, data: "MarketData", every: str, s: Settings) -> Path:
    from bot.heatmap.store import SnapshotStore
    from bot.synthetic.model import build_heatmaps
    series = build_heatmaps(data.candles(), None, SyntheticParams.from_settings(s.synthetic), every=every,
                            symbol=SYMBOL)
    SnapshotStore(tmp / f"store-{every}").write_series(series, SYMBOL)
    return tmp / f"store-{every}"


@pytest.mark.shared_data
@pytest.mark.parametrize("every", ["5m", "1h"])
def test_stored_heatmaps_on_the_fused_loop_write_the_same_log_as_bar_by_bar(shared_data: Path, tmp_path: Path,
                                                                             every: str) -> None:
    """Recorded maps through the fused loop and through ``Decider.step``: byte-identical signal logs,
    the same counts and kept clusters (every bar's own map, and hourly maps held over 12 bars)."""
    s = Settings()
    data = MarketData.load(SYMBOL, files(shared_data), start=START, end=START + timedelta(days=2),
                           warmup=timedelta(hours=6))
    store = _store(tmp_path, data, every, s)
    # from the first snapshot on (what run_backtest trims the candles to)
    data = MarketData.load(SYMBOL, files(shared_data), start=START + timedelta(hours=1) - timedelta(minutes=5),
                           end=START + timedelta(days=2), warmup=timedelta(hours=6))
    rows = StoredRows(store, data)
    assert rows.fused_series() is not None
    keep_from = int(data.close_ns[data.valid][-1] - 6 * 3600e9)
    runs = {}
    for name, options in {"fused": {}, "stepwise": {"fused": False}}.items():
        path = tmp_path / f"log-{name}.jsonl"
        with SignalLogWriter(path, fsync="never") as log:
            out = replay(data, rows, s, log=log, keep_clusters_from_ns=keep_from, **options)
        assert ("fused_loop_s" in out.timings) == (name == "fused")
        runs[name] = (path.read_bytes(), [(j, x.to_json_dict()) for j, x in out.signals], out.candidate_bars,
                      out.rejected, out.suppressed, out.engine_bars, [c.to_dict() for c in out.clusters])
    assert runs["fused"] == runs["stepwise"]
    log_bytes, signals, *_ = runs["fused"]
    assert len(signals) > 3 and log_bytes.count(b"\n") > 10
    assert all(x["heatmap"]["source"] == "synthetic" for _, x in signals)


@pytest.mark.shared_data
def test_candles_outside_the_store_are_trimmed_with_a_note_or_refused(shared_data: Path, tmp_path: Path) -> None:
    from backtest.run import BacktestSpec, run_backtest
    from bot.errors import DataError
    s = Settings()
    day = MarketData.load(SYMBOL, files(shared_data), start=START + timedelta(days=1), end=START + timedelta(days=2))
    store = _store(tmp_path, day, "5m", s)
    spec = BacktestSpec(SYMBOL, files(shared_data), start=START, end=START + timedelta(days=4),
                        warmup=timedelta(hours=6), heatmaps_dir=store)
    result = run_backtest(s, spec)
    assert len(result.notes) == 1 and "trimmed to" in result.notes[0]
    first = int(day.close_ns[0])
    trading = result.data.close_ns[result.data.warmup_bars:]  # the warmup is candles before the first map
    assert result.data.warmup_bars == 72 and trading[0] >= first > result.data.close_ns[0]
    assert trading[-1] <= int(day.close_ns[-1]) + day.bar_ns
    assert result.replay.engine_bars > 0 and result.coverage["heatmap_store"]["snapshots"] == len(day)
    with pytest.raises(DataError, match="do not overlap"):
        run_backtest(s, spec.replace(start=START + timedelta(days=5), end=START + timedelta(days=6)))
