"""The rules of remote maps in the runner: at-or-before the bar's close, replays need a history endpoint."""

from __future__ import annotations

import json

from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.feeds.base import Bar
from bot.feeds.provider_maps import ProviderHeatmaps
from bot.heatmap.providers.sources import make_source
from config.settings import load_settings
from tests.provider_kit import SYM, T0, World, world


@pytest.fixture()
def w() -> Iterator[World]:
    yield from world(T0)


def bar(close: Any) -> Bar:
    return Bar(SYM, close - timedelta(minutes=5), close, 6e4, 6e4, 6e4, 6e4, 1.0)


def test_a_bar_decides_on_the_latest_map_received_at_or_before_its_close_never_a_later_one(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    maps = ProviderHeatmaps(make_source("perp-api", load_settings(env_file=None), live=True, sleep=lambda s: None),
                            (SYM,), live=True)
    close = T0 + timedelta(minutes=5)
    early, late = close - timedelta(seconds=4), close + timedelta(seconds=2)
    for t in (early, late):  # the fake publishes a new document every 5 s: two different maps
        w.clock.set(t)
        maps.poll(t)
    assert [s.ts for s in maps.lines[SYM].snaps] == [early, late]
    got = maps.snapshot(bar(close))
    assert got is not None and got.ts == early  # the one received after the close is not used
    assert got.assumptions["provider_ts"] != maps.lines[SYM].snaps[-1].assumptions["provider_ts"]
    nxt = maps.snapshot(bar(late + timedelta(seconds=10)))
    assert nxt is not None and nxt.ts == late
    assert maps.snapshot(bar(late + timedelta(seconds=16))) is None  # 3 cadences (15 s) old: stale, paused


def test_a_bar_before_any_map_gets_none(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    maps = ProviderHeatmaps(make_source("bastion", load_settings(env_file=None), live=True, sleep=lambda s: None),
                            (SYM,), live=True)
    w.clock.set(T0 + timedelta(seconds=1))
    maps.poll(T0 + timedelta(seconds=1))
    assert maps.snapshot(bar(T0)) is None


@pytest.mark.parametrize("source", ["bastion", "perp-api", "hyperliquid"])
def test_a_replay_on_a_source_without_history_is_refused_with_one_line(source: str, tmp_path: Path,
                                                                       run_cli: Any) -> None:
    candles = tmp_path / "c.json"
    candles.write_text(json.dumps([[1740787200000 + i * 300_000, 1, 1, 1, 1, 1] for i in range(12)]))
    code, out, err = run_cli("paper", "--feed", "replay", "--candles", str(candles), "--heatmap", source,
                             "--warmup", "0", "--state", str(tmp_path / "st"), "--no-status")
    assert code == 2 and err.count("\n") == 1
    assert "has no history endpoint" in err and "--heatmap store" in err


def test_heatmaps_dir_goes_with_store_only(tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("paper", "--heatmap", "kiyotaka", "--heatmaps", str(tmp_path), "--state",
                             str(tmp_path / "st"), "--no-status")
    assert code == 2 and "goes with --heatmap store" in err
