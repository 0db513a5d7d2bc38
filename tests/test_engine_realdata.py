"""The engine over real BTC 5m candles with synthetic heatmaps, and the review of the log it writes.

Pipeline per bar (what the paper runner does): synthetic snapshot (known at the bar close) ->
ClusterTracker -> magnet read -> MarketContext (CoinGlass OI and long/short ratio known at that
time, ATR of the candles) -> Engine.run -> SignalLog. Figures for a longer window:
``python -m tests.test_engine_realdata --from 2024-12-31 --to 2025-05-21 --log /tmp/signals.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.clusters.magnets import magnet_read
from bot.decide import atr_series
from bot.clusters.tracker import ClusterTracker
from bot.domain import MarketContext
from bot.marketdata.files import load_candles, load_long_short_ratio, load_open_interest
from bot.signallog import SignalLogWriter
from bot.synthetic.inputs import known_at
from bot.synthetic.model import SyntheticParams, build_heatmaps
from config.settings import Settings, load_settings
from strategies.engine import Engine, EngineResult

CANDLES = "binance-usdm/BTC_USDT_USDT-5m-futures.feather"
OI = "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"
LS = "coinglass-btc/api_futures_global_long_short_account_ratio_history.parquet"
SYMBOL = "BTC/USDT:USDT"


@dataclass
class Replay:
    """What a replay emitted."""

    results: list[EngineResult]
    bars: int

    @property
    def signals(self) -> list:
        return [s for r in self.results for s in r.signals]

    @property
    def rejected(self) -> list:
        return [x for r in self.results for x in r.rejected]


def replay(data: Path, start: str, end: str, settings: Settings, log: Path | None = None,
           warmup: str = "1D") -> Replay:
    """Run the engine on every bar opening in [start, end); the tracker starts ``warmup`` earlier."""
    candles = load_candles(data / CANDLES)
    oi, ls = load_open_interest(data / OI), load_long_short_ratio(data / LS)
    candles = candles[candles.index < pd.Timestamp(end, tz="UTC")]
    series = build_heatmaps(candles, oi, SyntheticParams.from_settings(settings.synthetic), ls_ratio=ls,
                            symbol=SYMBOL)
    pos = np.searchsorted(candles.index.as_unit("ns").asi8, series.bar_open)
    high, low, close = (candles[c].to_numpy() for c in ("high", "low", "close"))
    bar_atr = atr_series(high, low, close)[pos]  # the runner's ATR window
    oi_at = known_at(oi.index.as_unit("ns").asi8, oi["oi_usd"].to_numpy(), series.ts)
    ls_at = known_at(ls.index.as_unit("ns").asi8, ls["long_short_ratio"].to_numpy(), series.ts)
    first = int(np.searchsorted(series.ts, pd.Timestamp(start, tz="UTC").value, side="right"))
    warm = int(np.searchsorted(series.ts, (pd.Timestamp(start, tz="UTC") - pd.Timedelta(warmup)).value))
    tracker, engine = ClusterTracker(settings.clusters, SYMBOL), Engine(settings.strategies)
    writer = SignalLogWriter(log, fsync="never") if log is not None else None
    results = []
    try:
        for i in range(warm, len(series)):
            snap = series.snapshot(i)
            clusters = tracker.update(snap, float(high[pos[i]]), float(low[pos[i]]))
            if i < first:
                continue
            ctx = MarketContext.from_total(SYMBOL, snap.ts, snap.price, float(oi_at[i]), float(ls_at[i]),
                                           atr=float(bar_atr[i]) if np.isfinite(bar_atr[i]) else None)
            magnets = magnet_read(clusters, snap.price, settings.clusters.bias_threshold)
            result = engine.run(snap, clusters, ctx, magnets)
            results.append(result)
            if writer is not None:
                writer.write_result(result)
    finally:
        if writer is not None:
            writer.close()
    return Replay(results, len(series) - first)


@pytest.mark.shared_data
def test_real_data_signals_keep_the_contract_and_review_counts_them(shared_data: Path, tmp_path: Path,
                                                                   run_cli) -> None:
    log = tmp_path / "signals.jsonl"
    settings = load_settings(env_file=None)
    run = replay(shared_data, "2025-02-01", "2025-02-15", settings, log)
    signals, rejected = run.signals, run.rejected
    assert run.bars == 14 * 288
    per_strategy = Counter(s.strategy.value for s in signals)
    assert sum(per_strategy.values()) > 0 and len(per_strategy) >= 2  # more than one strategy fires
    assert all(len(r.signals) <= 1 for r in run.results)
    assert all(s.risk_reward >= settings.strategies.min_rr for s in signals)
    assert {s.position_size.multiplier for s in signals} <= {1.5, 1.8}  # CoinGlass OI is > $5B throughout
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(signals) + len(rejected)

    code, out, err = run_cli("signals", "review", str(log), "--candles", str(shared_data / CANDLES), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["signals_read"], doc["rejected_read"], doc["problems"]) == (len(signals), len(rejected), [])
    assert {r["strategy"]: r["count"] for r in doc["stats"]} == dict(per_strategy)
    everything = {r["strategy"]: r for r in doc["outcomes"]}["all"]
    assert everything["take_profit"] + everything["stop_loss"] + everything["open"] == len(signals)
    assert everything["no_data"] == 0

    again = replay(shared_data, "2025-02-01", "2025-02-02", settings)  # same inputs, same signals, id for id
    first_day = [s for s in signals if s.timestamp < pd.Timestamp("2025-02-02", tz="UTC")]
    assert again.signals == first_day


def main() -> int:
    """Print the per-strategy counts and the multiplier spread of a replay, and write its log."""
    from tests.conftest import shared_data_dir
    parser = argparse.ArgumentParser(prog="python -m tests.test_engine_realdata")
    parser.add_argument("--from", dest="start", default="2024-12-31")
    parser.add_argument("--to", dest="end", default="2025-05-21")
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    if args.log.exists():
        args.log.unlink()
    run = replay(shared_data_dir(), args.start, args.end, load_settings(env_file=None), args.log)
    signals = run.signals
    print(f"bars {run.bars}, signals {len(signals)}, rejected candidates {len(run.rejected)}")
    print("signals per strategy:", dict(sorted(Counter(s.strategy.value for s in signals).items())))
    print("signals per side:", dict(sorted(Counter(s.signal.value for s in signals).items())))
    print("rejections per (strategy, rule):",
          dict(sorted(Counter((r.candidate.strategy.value, r.rule.value) for r in run.rejected).items())))
    mult = np.array([s.position_size.multiplier for s in signals])
    print("multiplier counts:", dict(sorted(Counter(mult.tolist()).items())))
    if mult.size:
        print(f"multiplier min {mult.min()} median {np.median(mult)} max {mult.max()} mean {mult.mean():.3f}")
    print("log lines:", sum(1 for _ in args.log.open(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
