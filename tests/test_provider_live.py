"""Paper-live runs on each remote source: the live feed through ccxt against the fake exchange, the maps
polled from the provider's fake, every traded-on map recorded, and ``backtest --heatmaps STORE`` on
the same candles emitting the same signals (ids and prices)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.heatmap.store import SnapshotStore
from config.settings import load_settings
from tests.provider_kit import (HTTP_SOURCES, SYM, T0, World, key, paper_live, paper_replay, signals, world,
                                write_candles)

HOURS = 12
WARMUP = timedelta(hours=2)


@pytest.fixture()
def w() -> Iterator[World]:
    yield from world(T0)


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_paper_live_on_provider_maps_records_them_and_backtest_replays_the_same_signals(
        source: str, w: World, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LIQBOT_PROVIDERS__PERP_API_CADENCE_S", "20")  # the 5 s default: 8,640 polls, 90 s of test
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_INTERVAL", "MINUTE")
    monkeypatch.setenv("LIQBOT_PROVIDERS__COINGLASS_CADENCE_S", "60")
    settings = load_settings(env_file=None)
    state = tmp_path / "state"
    runner = paper_live(w, settings, source, state, HOURS, WARMUP)
    maps = runner.heatmaps
    assert maps.polls > 0 and not maps.faults
    snaps = list(SnapshotStore(state / "snapshots").read(SYM))
    assert snaps and {s.source.value for s in snaps} == {source}
    assert all(s.ts <= T0 + timedelta(hours=HOURS) for s in snaps)
    paper = signals(state / "signals.jsonl")
    candles = write_candles(w, tmp_path / "candles.json", T0 - WARMUP, T0 + timedelta(hours=HOURS))
    code, out, err = run_cli("backtest", "--candles", str(candles), "--from", (T0 - WARMUP).isoformat(),
                             "--to", (T0 + timedelta(hours=HOURS)).isoformat(), "--warmup", "2h",
                             "--heatmaps", str(state / "snapshots"), "--signals", str(tmp_path / "bt.jsonl"), "--json")
    assert code == 0, err
    backtest = signals(tmp_path / "bt.jsonl")
    doc = json.loads(out.strip().splitlines()[-1])
    run = doc["run"]
    # the backtest trades the bars the store covers: from the first recorded map on, and says so
    first = min(s.ts for s in snaps)
    covered = HOURS * 12 - max(0, -(-int((first - T0).total_seconds()) // 300) - 1)  # bars closing before it
    print(f"{source}: first map {first.isoformat()}, trading bars {run['trading_bars']}, notes {doc.get('notes')}")
    assert run["warmup_bars"] == 24 and run["trading_bars"] == covered
    print(f"{source}: polls {maps.polls}, {len(snaps)} snapshots recorded, signals paper {len(paper)} "
          f"backtest {len(backtest)}")
    assert paper, "the run traded on the provider's map"
    assert [key(s) for s in backtest] == [key(s) for s in paper]


@pytest.mark.parametrize("source", ["kiyotaka", "coinglass"])
def test_replay_asks_the_history_endpoint_and_backtest_replays_the_same_signals(
        source: str, w: World, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_INTERVAL", "MINUTE")
    settings = load_settings(env_file=None)
    end = T0 + timedelta(hours=HOURS)
    w.clock.set(end + timedelta(hours=1))  # the providers' "now": the history is there
    candles = write_candles(w, tmp_path / "candles.json", T0 - WARMUP, end)
    state = tmp_path / "state"
    runner = paper_replay(w, settings, source, state, candles, T0 - WARMUP, end, "2h")
    path = "/v1/points" if source == "kiyotaka" else "/api/futures/liquidation/aggregated-heatmap/model2"
    hits = len(w.server.hits(path))
    assert 1 <= hits <= 3  # history read in chunks ahead of the bars, not once per bar
    snaps = list(SnapshotStore(state / "snapshots").read(SYM))
    assert snaps and {s.source.value for s in snaps} == {source}
    paper = signals(state / "signals.jsonl")
    code, out, err = run_cli("backtest", "--candles", str(candles), "--from", (T0 - WARMUP).isoformat(),
                             "--to", end.isoformat(), "--warmup", "2h", "--heatmaps", str(state / "snapshots"),
                             "--signals", str(tmp_path / "bt.jsonl"), "--json")
    assert code == 0, err
    backtest = signals(tmp_path / "bt.jsonl")
    print(f"{source} replay: {hits} history requests, {len(snaps)} snapshots recorded, signals paper {len(paper)} "
          f"backtest {len(backtest)}")
    assert paper and [key(s) for s in backtest] == [key(s) for s in paper]
    assert runner.heatmaps.faults == []
