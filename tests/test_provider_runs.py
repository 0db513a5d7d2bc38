"""Paper runs on every remote heatmap source against its fake, and the recorded store's parity.

Replay (``--feed replay``) on the shared BTC candles asks Kiyotaka's HISTORY endpoint for each bar's
map (the fake's map moves with those candles' price); CoinGlass, whose history is a range ending now,
replays in ``test_provider_live`` on the fake market with a fake wall clock. Every snapshot
traded on is recorded under ``STATE/snapshots`` with its source and stamp, and
``liqbot backtest --heatmaps STORE`` on the same candles emits the same signals (ids and prices).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from bot.heatmap.store import SnapshotStore
from bot.signallog import read_log
from strategies.signal import Signal
from tests.fakes.heatmap_providers import KIYOTAKA_KEY, install_kiyotaka
from tests.fakes.http_server import FakeHttpServer

SYMBOL = "BTC/USDT:USDT"
SPAN = ["--from", "2025-01-10", "--to", "2025-01-11T12:00", "--warmup", "6h"]


def key(s: Signal) -> tuple[Any, ...]:
    return (s.id, s.timestamp, s.strategy.value, s.signal.value, s.entry_price, s.stop_loss, s.take_profit)


def candle_prices(path: Path) -> Callable[[int], float]:
    """Epoch ms -> the close of the last 5m candle closed by then (the fake providers' market)."""
    from bot.marketdata.files import load_candles
    candles = load_candles(path)
    closes_at = candles.index.as_unit("ms").asi8 + 300_000
    close = candles["close"].to_numpy(dtype=float)

    def price(ts_ms: int) -> float:
        i = int(np.searchsorted(closes_at, ts_ms, side="right")) - 1
        return float(close[max(i, 0)])

    return price


@pytest.fixture()
def candles(shared_data: Path) -> Path:
    return shared_data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"


@pytest.fixture()
def provider_server(candles: Path) -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as srv:
        price = candle_prices(candles)
        install_kiyotaka(srv, price=price, scale=100.0)
        yield srv


def replay_and_backtest(run_cli: Any, tmp_path: Path, candles: Path, source: str) -> tuple[list[Signal],
                                                                                         list[Signal], Path]:
    state = tmp_path / f"paper-{source}"
    code, out, err = run_cli("paper", "--feed", "replay", "--speed", "max", "--symbols", SYMBOL, "--candles",
                             str(candles), *SPAN, "--heatmap", source, "--state", str(state), "--json")
    assert code == 0, err
    assert json.loads(out)["run"]["steps"] > 300
    store = state / "snapshots"
    code, out, err = run_cli("backtest", "--candles", str(candles), *SPAN, "--heatmaps", str(store),
                             "--signals", str(tmp_path / f"bt-{source}.jsonl"), "--json")
    assert code == 0, err
    paper = [x.signal for x in read_log(state / "signals.jsonl").signals]
    backtest = [x.signal for x in read_log(tmp_path / f"bt-{source}.jsonl").signals]
    return paper, backtest, store


@pytest.mark.shared_data
@pytest.mark.parametrize("source", ["kiyotaka"])
def test_replay_on_provider_history_records_what_it_traded_and_backtest_matches(
        source: str, provider_server: FakeHttpServer, candles: Path, tmp_path: Path, run_cli: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_BASE_URL", provider_server.url)
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_API_KEY", KIYOTAKA_KEY)
    paper, backtest, store = replay_and_backtest(run_cli, tmp_path, candles, source)
    assert provider_server.hits("/v1/points")  # the history endpoint was asked
    snaps = list(SnapshotStore(store).read(SYMBOL))
    assert len(snaps) > 10 and {s.source.value for s in snaps} == {source}
    assert all("provider_ts" in s.assumptions and "stale_after_s" in s.assumptions for s in snaps)
    print(f"{source}: {len(snaps)} snapshots recorded, {len(paper)} signals paper, {len(backtest)} backtest")
    assert len(paper) >= 5  # the map is traded on, not merely read
    assert [key(s) for s in backtest] == [key(s) for s in paper]
