"""One liqbot trades on another's map: the first bot's ``/api/heatmap`` read through the perp-api parser.

The runner has no live perp-api heatmap source yet, so the second bot gets the first one's map two ways
that need nothing else: (1) the shared decision step (``bot.decide.Decider``, what the runner calls per
bar) fed bar by bar with what ``/api/heatmap/BTCUSDT?at=...`` answers; (2) a full second ``liqbot paper``
run on the same simulator bars, its heatmaps recorded from those answers into a snapshot store
(``--heatmaps``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.clock import parse_ts
from bot.decide import Decider
from bot.domain import HeatmapSource, iso
from bot.heatmap.parsers import parse_heatmap
from bot.heatmap.store import SnapshotStore
from bot.serve.server import serve_in_thread
from config.settings import load_settings
from tests.serve_kit import REPO, SYM, app_for


def first_bots_map(state: Path) -> tuple[dict[str, Any], list[Any]]:
    """The first bot's bars and, per stepped bar, its map as the cluster API serves it (parsed)."""
    with serve_in_thread(app_for(state)) as base, httpx.Client(base_url=base, timeout=30) as http:
        chart = http.get("/api/bot/chart/BTCUSDT", params={"start": "2000-01-01T00:00:00Z", "max_frames": 5000}).json()
        snaps = []
        for frame in chart["frames"]:
            r = http.get("/api/heatmap/BTCUSDT", params={"at": frame["ts"]})
            assert r.status_code == 200, r.text
            if not r.json()["clusters"]:  # no cluster at this bar: the API says so, there is no map to trade
                assert r.json()["total_clusters"] == 0
                continue
            (snap,) = parse_heatmap(r.content, "perp-api")
            assert snap.ts == parse_ts(frame["ts"]) and snap.source is HeatmapSource.PERP_API
            snaps.append(snap)
    assert len(snaps) > len(chart["frames"]) // 2  # the first 2 h (warmup) and quiet bars have none
    return chart["bars"], snaps


def test_the_decision_step_trades_on_the_served_map(sim_state: Path) -> None:
    bars, snaps = first_bots_map(sim_state)
    index = {ts: i for i, ts in enumerate(bars["ts"])}
    decider = Decider(load_settings(env_file=None), SYM, 300.0)
    signals = []
    for k, snap in enumerate(snaps):
        i = index[iso(snap.ts - timedelta(minutes=5))]  # the bar that closed at the snapshot
        decided = decider.step(snap, bars["high"][i], bars["low"][i], bars["close"][i], oi_usd=bars["oi_usd"][i],
                               ls_ratio=bars["long_short_ratio"][i], trade=k >= 24)
        signals += decided.signals
    assert len(snaps) > 200 and len(signals) > 0
    assert all(s.heatmap.source is HeatmapSource.PERP_API for s in signals)


def test_a_second_paper_bot_trades_on_the_first_ones_map(sim_state: Path, tmp_path: Path) -> None:
    _, snaps = first_bots_map(sim_state)
    recorded = tmp_path / "from-api"
    assert SnapshotStore(recorded).write(snaps) == len(snaps)
    env = {**os.environ, "LIQBOT_LOGGING__FILE": str(tmp_path / "liqbot.log"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "bot.cli.main", "paper", "--duration", "1d", "--warmup", "2h",
                           "--heatmaps", str(recorded), "--state", str(tmp_path / "second"), "--json", "--no-status"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["signals"]["total"] > 0 and summary["fills"] > 0
    logged = [json.loads(x) for x in (tmp_path / "second" / "signals.jsonl").read_text().splitlines() if x.strip()]
    emitted = [x for x in logged if x.get("record") is None]
    assert emitted and all(x["heatmap"]["source"] == "perp-api" for x in emitted)
