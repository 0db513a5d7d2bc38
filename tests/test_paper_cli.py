"""``liqbot paper`` end to end on the simulator: one JSON document, resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.feeds.heatmaps import snapshot_from_bytes, snapshot_to_bytes


def test_paper_json_summary_then_a_second_run_carries_the_market_on(tmp_path: Path, run_cli: Any) -> None:
    state = str(tmp_path / "st")
    code, out, _ = run_cli("paper", "--duration", "6h", "--warmup", "1h", "--state", state, "--json")
    assert code == 0
    summary = json.loads(out)  # exactly one JSON document on stdout
    assert summary["run"]["steps"] == 72 + 12 and summary["equity"] > 0
    assert summary["fills"] >= 1 and summary["signals"]["total"] >= 1
    code, out, err = run_cli("paper", "--duration", "6h", "--warmup", "1h", "--state", state, "--json")
    again = json.loads(out)  # another 6 h of the same simulated market (tests/test_sim_resume.py: exactly)
    assert code == 0 and again["run"]["steps"] == 72 and again["run"]["resumed_at"] == summary["run"]["last_bar"]
    assert "resumed" in err and again["fills"] >= summary["fills"]
    code, out, _ = run_cli("status", "--state", state, "--json")
    assert code == 0 and json.loads(out)["equity"] == again["equity"]
    assert (tmp_path / "st" / "signals.jsonl").stat().st_size > 0
    assert any((tmp_path / "st" / "snapshots").rglob("*.parquet"))


def test_paper_text_summary(tmp_path: Path, run_cli: Any) -> None:
    code, out, _ = run_cli("paper", "--duration", "2h", "--warmup", "1h", "--state", str(tmp_path / "st"))
    assert code == 0 and "win rate" in out and "equity" in out


def test_recorded_snapshots_replay_as_a_backtester_would(tmp_path: Path, run_cli: Any) -> None:
    from bot.heatmap.store import SnapshotStore
    from bot.store import Store
    state = tmp_path / "st"
    run_cli("paper", "--duration", "3h", "--warmup", "1h", "--state", str(state), "--json")
    with Store.open(state, readonly=True) as store:
        cursor = store.kv_get("cursor")
        assert store.outbox() == []  # everything reached the snapshot store
    snaps = list(SnapshotStore(state / "snapshots").read("BTC/USDT:USDT"))
    assert len(snaps) == 12 + 36 and snaps[-1].ts.isoformat() == cursor  # warmup and trading bars
    assert all(len(s) > 0 for s in snaps)


def test_snapshot_payload_round_trip(tmp_path: Path, run_cli: Any) -> None:
    from bot.heatmap.store import SnapshotStore
    run_cli("paper", "--duration", "1h", "--warmup", "1h", "--state", str(tmp_path / "st"), "--json")
    snap = next(iter(SnapshotStore(tmp_path / "st" / "snapshots").read("BTC/USDT:USDT")))
    back = snapshot_from_bytes(snapshot_to_bytes(snap))
    assert back.ts == snap.ts and back.price == snap.price and (back.prices == snap.prices).all()
    assert (back.long_usd == snap.long_usd).all() and dict(back.assumptions) == dict(snap.assumptions)


def test_bad_input_is_one_line_exit_2(tmp_path: Path, run_cli: Any) -> None:
    for argv in (["paper", "--duration", "soon", "--state", str(tmp_path / "a")],
                 ["paper", "--speed", "0", "--state", str(tmp_path / "b")],
                 ["paper", "--feed", "replay", "--state", str(tmp_path / "c")],
                 ["status", "--state", str(tmp_path / "missing")]):
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (argv, err)


def test_a_recorded_paper_run_replays_to_the_same_signals_and_fills(tmp_path: Path, run_cli: Any) -> None:
    """Paper run on the simulator -> its recorded snapshots + its bars as files -> replay: same decisions."""
    import math
    from datetime import datetime, timedelta, timezone

    import numpy as np
    import pandas as pd

    from bot.feeds.sim import SimFeed
    from bot.store import Store

    start = datetime(2025, 1, 6, tzinfo=timezone.utc)
    code, _, err = run_cli("paper", "--duration", "8h", "--warmup", "2h", "--seed", "5",
                           "--state", str(tmp_path / "sim"), "--json")
    assert code == 0, err
    bars = [b.bars[0] for b in SimFeed(("BTC/USDT:USDT",), start, timedelta(minutes=5), 24, 96, 5,
                                       math.inf).batches()]
    ms = lambda ts: int(ts.timestamp() * 1000)  # noqa: E731
    pd.DataFrame({"ts": [ms(b.ts) for b in bars], "open": [b.open for b in bars], "high": [b.high for b in bars],
                  "low": [b.low for b in bars], "close": [b.close for b in bars],
                  "volume": [b.volume for b in bars]}).to_csv(tmp_path / "candles.csv", index=False)
    pd.DataFrame({"ts": [ms(b.close_ts) for b in bars], "oi_usd": [b.oi_usd for b in bars]}).to_csv(
        tmp_path / "oi.csv", index=False)
    pd.DataFrame({"ts": [ms(b.close_ts) for b in bars], "long_short_ratio": [b.long_short_ratio for b in bars]}
                 ).to_csv(tmp_path / "ls.csv", index=False)
    settled = [b for b in bars if b.funding_rate is not None]
    pd.DataFrame({"ts": [ms(b.close_ts) for b in settled], "funding_rate": [b.funding_rate for b in settled]}
                 ).to_csv(tmp_path / "funding.csv", index=False)
    code, _, err = run_cli("paper", "--feed", "replay", "--candles", str(tmp_path / "candles.csv"),
                           "--oi", str(tmp_path / "oi.csv"), "--ls-ratio", str(tmp_path / "ls.csv"),
                           "--funding", str(tmp_path / "funding.csv"), "--heatmaps", str(tmp_path / "sim" / "snapshots"),
                           "--warmup", "2h", "--state", str(tmp_path / "replay"), "--json")
    assert code == 0, err
    with Store.open(tmp_path / "sim", readonly=True) as a, Store.open(tmp_path / "replay", readonly=True) as b:
        assert a.decisions() and [(d.signal_id, d.decision) for d in a.decisions()] == \
            [(d.signal_id, d.decision) for d in b.decisions()]
        assert [(f.trade_id, f.price, f.qty) for f in a.fills()] == [(f.trade_id, f.price, f.qty) for f in b.fills()]
        assert np.allclose([e[3] for e in a.equity_curve()], [e[3] for e in b.equity_curve()])
