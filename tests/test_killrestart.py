"""kill -9 at random points, restart, and prove nothing was lost or duplicated.

For each seed, the paper bot runs as a real subprocess (``python -m bot.cli.main paper``) on the
simulator; it is SIGKILLed at random points of its run (chosen by watching its own store's
cursor, plus a random delay so kills land inside steps too), restarted on the same state folder,
and finally allowed to finish. Then:

1. the store's own history must be consistent: one intent per order, every state change legal
   and ending in the stored state, fills unique and summing to each order's filled quantity,
   open positions equal to the fold of the fills;
2. everything it holds (orders, fills, trades, positions, equity, signal links, risk, the event
   history and the recorded snapshots) must equal an uninterrupted run of the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.execution.ledger import apply_fill
from bot.execution.orders import TRANSITIONS, Fill, Order, OrderState, from_record
from tests.conftest import REPO

SEEDS = list(range(10))
KILLS_PER_SEED = 2
ARGS = ["--duration", "6h", "--warmup", "2h", "--no-status", "--json"]
START = datetime.fromisoformat("2025-01-06T00:00:00+00:00")
TRADING_BARS = 72
WARMUP_BARS = 24


def _env(tmp: Path, batch: int = 1) -> dict[str, str]:
    """The bot's environment; ``batch`` steps per commit (1: every step, as live runs commit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    env.update(LIQBOT_LOGGING__CONSOLE="false", LIQBOT_LOGGING__FILE=str(tmp / "bot.log"),
               LIQBOT_FEED__SIM_START=START.isoformat(), PYTHONPATH=str(REPO),
               LIQBOT_FEED__COMMIT_EVERY_BARS=str(batch), LIQBOT_FEED__COMMIT_EVERY_S="3600")
    return env


def _command(state: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "bot.cli.main", "paper", "--state", str(state), "--seed", str(seed), *ARGS]


def _cursor(db: Path) -> datetime | None:
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            row = conn.execute("SELECT value FROM kv WHERE key = 'cursor'").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return None  # not created yet, or busy
    return datetime.fromisoformat(json.loads(row[0])) if row else None


def run_with_kills(state: Path, seed: int, tmp: Path, batch: int = 1, seen: set[datetime] | None = None) -> int:
    """Run to completion, SIGKILLing ``KILLS_PER_SEED`` times at random points; returns kills done.

    ``seen`` collects the cursors observed while the first process runs (it starts at the first bar).
    """
    rng = np.random.default_rng(1000 + seed)
    kills = 0
    for attempt in range(KILLS_PER_SEED + 5):
        proc = subprocess.Popen(_command(state, seed), env=_env(tmp, batch), cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        if kills < KILLS_PER_SEED:
            target = START + timedelta(minutes=5 * (WARMUP_BARS + int(rng.integers(1, TRADING_BARS))))
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                cursor = _cursor(state / "liqbot.sqlite")
                if cursor is not None and seen is not None and attempt == 0:
                    seen.add(cursor)
                if cursor is not None and cursor >= target:
                    break
                time.sleep(0.005 if batch > 1 else 0.01)
            # land inside a step (inside a batch when batched), not only between them
            time.sleep(float(rng.uniform(0.0, 0.03 if batch == 1 else 0.06)))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        return kills
    raise AssertionError("the bot never finished")


def dump(state: Path) -> dict[str, Any]:
    """Everything the store and the snapshot store hold, in a comparable form."""
    conn = sqlite3.connect(f"file:{state / 'liqbot.sqlite'}?mode=ro", uri=True)
    out: dict[str, Any] = {}
    for table, order in (("orders", "client_id"), ("fills", "trade_id"), ("trades", "position_id"),
                         ("positions", "symbol"), ("equity", "ts"), ("signal_orders", "signal_id"),
                         ("risk_state", "id")):
        out[table] = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    out["events"] = conn.execute("SELECT ts, kind, key, payload FROM events ORDER BY seq").fetchall()
    out["outbox"] = conn.execute("SELECT COUNT(*) FROM snapshot_outbox").fetchone()[0]
    conn.close()
    from bot.heatmap.store import SnapshotStore
    snaps = SnapshotStore(state / "snapshots")
    out["snapshots"] = {s: snaps.read_table(s, columns=["ts", "price"]).to_pylist() for s in snaps.symbols()}
    return out


def check_history(state: Path) -> None:
    """The store agrees with its own append-only history."""
    from bot.store import Store
    with Store.open(state, readonly=True) as store:
        orders = {o.client_id: o for o in store.orders()}
        events = store.events()
        fills = store.fills()
        positions = {p.symbol: p for p in store.positions()}
    born = [e.key for e in events if e.kind in ("order.intent", "order.adopted")]
    assert sorted(born) == sorted(orders), "every order has exactly one intent event"
    state_of: dict[str, OrderState] = {}
    for e in events:
        if e.kind in ("order.intent", "order.adopted"):
            state_of[e.key] = from_record(Order, e.payload).state
        elif e.kind == "order.state":
            old, new = OrderState(e.payload["from"]), OrderState(e.payload["to"])
            assert state_of[e.key] == old and (new == old or new in TRANSITIONS[old]), e
            state_of[e.key] = new
    assert state_of == {cid: o.state for cid, o in orders.items()}
    fill_events = [from_record(Fill, e.payload) for e in events if e.kind == "fill"]
    assert sorted(f.trade_id for f in fill_events) == sorted(f.trade_id for f in fills)
    assert len({f.trade_id for f in fills}) == len(fills)
    for cid, order in orders.items():
        filled = sum(f.qty for f in fills if f.client_id == cid)
        assert filled == pytest.approx(order.filled_qty, rel=1e-9, abs=1e-12), cid
    book: dict[str, Any] = {}
    for f in fills:
        pos, _ = apply_fill(book.get(f.symbol), f, orders[f.client_id].intent)
        book.pop(f.symbol, None) if pos is None else book.__setitem__(f.symbol, pos)
    assert {s: (p.position_id, p.qty) for s, p in book.items()} == \
        {s: (p.position_id, p.qty) for s, p in positions.items()}


def test_kill9_and_restart_loses_and_duplicates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.main import main

    for key, value in _env(tmp_path).items():  # the uninterrupted reference runs in-process: same CLI path
        if key.startswith("LIQBOT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    for seed in SEEDS:
        (tmp_path / f"seed{seed}").mkdir()
        assert main(["paper", "--state", str(tmp_path / f"seed{seed}" / "ref"), "--seed", str(seed), *ARGS]) == 0

    def one(seed: int) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
        work = tmp_path / f"seed{seed}"
        kills = run_with_kills(work / "killed", seed, work)
        return seed, kills, dump(work / "ref"), dump(work / "killed")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, SEEDS))
    total_kills = 0
    for seed, kills, ref, killed in results:
        total_kills += kills
        check_history(tmp_path / f"seed{seed}" / "killed")
        check_history(tmp_path / f"seed{seed}" / "ref")
        assert ref["fills"], f"seed {seed}: the reference run must trade"
        for key in ref:
            assert killed[key] == ref[key], f"seed {seed}: {key} differs after {kills} kill(s)"
    assert total_kills >= len(SEEDS)  # the kills really happened (most land mid-run)


def test_sigterm_stops_cleanly_after_the_current_step(tmp_path: Path) -> None:
    state = tmp_path / "st"
    # paced at 20x real time: a trading bar every 15 s, so the signal arrives while the bot waits
    cmd = [sys.executable, "-m", "bot.cli.main", "paper", "--state", str(state), "--seed", "1", "--speed", "20",
           "--duration", "6h", "--warmup", "1h", "--no-status", "--json"]
    proc = subprocess.Popen(cmd, env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    first_trading = START + timedelta(hours=1, minutes=5)
    while time.monotonic() < deadline and proc.poll() is None:
        cursor = _cursor(state / "liqbot.sqlite")
        if cursor is not None and cursor >= first_trading:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    summary = json.loads(out)
    assert summary["run"]["stopped"] is True
    assert _cursor(state / "liqbot.sqlite") == first_trading  # stopped after the step it was in
    check_history(state)


BATCH = 8
BATCH_SEEDS = [0, 3, 5, 8]


def test_kill9_inside_a_commit_batch_resumes_from_the_last_batch(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay committing every 8 steps, killed inside batches, lands on exactly the uninterrupted result.

    The references run in-process: one batched like the killed run, one committing every step
    (batching must change nothing that is stored); the cursor a reader sees moves a whole batch at a time.
    """
    from bot.cli.main import main

    monkeypatch.chdir(tmp_path)
    refs: dict[tuple[int, int], dict[str, Any]] = {}
    for seed in BATCH_SEEDS:
        (tmp_path / f"seed{seed}").mkdir()
        for batch in (1, BATCH):
            for key, value in _env(tmp_path, batch).items():
                if key.startswith("LIQBOT_"):
                    monkeypatch.setenv(key, value)
            ref = tmp_path / f"seed{seed}" / f"ref{batch}"
            assert main(["paper", "--state", str(ref), "--seed", str(seed), *ARGS]) == 0
            refs[seed, batch] = dump(ref)

    def one(seed: int) -> tuple[int, int, set[datetime], dict[str, Any]]:
        work = tmp_path / f"seed{seed}"
        seen: set[datetime] = set()
        kills = run_with_kills(work / "killed", seed, work, batch=BATCH, seen=seen)
        return seed, kills, seen, dump(work / "killed")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, BATCH_SEEDS))
    total_kills = 0
    for seed, kills, seen, killed in results:
        total_kills += kills
        check_history(tmp_path / f"seed{seed}" / "killed")
        assert refs[seed, BATCH]["fills"], f"seed {seed}: the reference run must trade"
        for key in refs[seed, 1]:
            assert refs[seed, BATCH][key] == refs[seed, 1][key], f"seed {seed}: batching changed {key}"
            assert killed[key] == refs[seed, 1][key], f"seed {seed}: {key} differs after {kills} kill(s)"
        bars = {int((c - START) / timedelta(minutes=5)) for c in seen}
        assert bars and all(b % BATCH == 0 for b in bars), f"seed {seed}: cursor moved inside a batch: {bars}"
    assert total_kills >= len(BATCH_SEEDS)
