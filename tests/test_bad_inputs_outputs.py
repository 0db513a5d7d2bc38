"""Issue 16.3: every output path is checked before any work, written to a temporary file and renamed
on success; a failing or killed run leaves the previous outputs exactly as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs_kit import assert_refused, tree_digest

REPO = Path(__file__).resolve().parents[1]
BTC5 = "binance-usdm/BTC_USDT_USDT-5m-futures.feather"
OI = "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"
FUNDING = "binance-usdm/BTC_USDT_USDT-1h-funding_rate.feather"


def _backtest(data: Path, *extra: str) -> list[str]:
    return ["backtest", "--candles", str(data / BTC5), "--oi", str(data / OI), "--from", "2025-02-01",
            "--to", "2025-02-08", "--warmup", "12h", "--strategies", "liquidation_hunt", *extra]


@pytest.fixture()
def old_outputs(tmp_path: Path) -> dict[str, Path]:
    """Outputs of an earlier run that a failing run must leave untouched."""
    paths = {"signals": tmp_path / "s.jsonl", "json": tmp_path / "bt.json", "report": tmp_path / "r.html"}
    paths["signals"].write_text('{"old": "signal log"}\n')
    paths["json"].write_text('{"old": "result"}')
    paths["report"].write_text("<html>old report</html>")
    return paths


def _outs(p: dict[str, Path]) -> list[str]:
    return ["--signals", str(p["signals"]), "--json", str(p["json"]), "--report", str(p["report"])]


BAD_BACKTESTS = {
    "missing candles": lambda d, t: ["backtest", "--candles", str(t / "nope.feather")],
    "unknown strategy": lambda d, t: _backtest(d, "--strategies", "liquidation_hnt"),
    "--to before --from": lambda d, t: _backtest(d, "--from", "2025-02-08", "--to", "2025-02-01"),
    "funding file as candles": lambda d, t: ["backtest", "--candles", str(d / FUNDING)],
    "bad fine candles": lambda d, t: _backtest(d, "--fine-candles",
                                               str(d / "binance-usdm/BTC_USDT_USDT-1h-futures.feather")),
    "warmup over the window": lambda d, t: _backtest(d, "--warmup", "30d"),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(BAD_BACKTESTS))
def test_failing_backtest_leaves_old_outputs_intact(shared_data: Path, tmp_path: Path, run_cli,
                                                    old_outputs: dict[str, Path], name: str) -> None:
    before = tree_digest(tmp_path)
    assert_refused(run_cli(*BAD_BACKTESTS[name](shared_data, tmp_path), *_outs(old_outputs)))
    after = {k: v for k, v in tree_digest(tmp_path).items() if k != "liqbot.log"}
    assert after == {k: v for k, v in before.items() if k != "liqbot.log"}  # no 0-byte file, no partial log


@pytest.mark.shared_data
@pytest.mark.parametrize(("flag", "target", "needle"), [
    ("--json", "missing/bt.json", "folder does not exist"),
    ("--report", ".", "is a folder"),
    ("--signals", "missing/s.jsonl", "folder does not exist"),
    ("--signals", ".", "is a folder"),
])
def test_output_paths_are_checked_before_the_run(shared_data: Path, tmp_path: Path, run_cli, flag: str,
                                                 target: str, needle: str) -> None:
    assert_refused(run_cli(*_backtest(shared_data, flag, str(tmp_path / target))), flag, needle)
    assert not (tmp_path / "missing").exists()


def test_heatmap_build_out_a_file_is_one_line(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "store"
    out.write_text("a file")
    assert_refused(run_cli("heatmap", "build", "--candles", str(tmp_path / "c.csv"), "--oi", str(tmp_path / "o.csv"),
                           "--out", str(out)), "--out", "not a folder")
    assert out.read_text() == "a file"


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    env.update(PYTHONPATH=str(REPO), LIQBOT_LOGGING__FILE=str(tmp / "liqbot.log"))
    return env


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 600) -> bool:
    """kill -9 ``proc`` as soon as ``ready()`` holds; False when it ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the run never reached the point to kill it")


@pytest.mark.shared_data
def test_kill_9_during_backtest_keeps_old_outputs(shared_data: Path, tmp_path: Path,
                                                 old_outputs: dict[str, Path]) -> None:
    before = {k: p.read_bytes() for k, p in old_outputs.items()}
    cmd = [sys.executable, "-m", "bot.cli.main", *_backtest(shared_data), *_outs(old_outputs)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    temps = lambda: [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # noqa: E731
    killed = _kill_when(proc, lambda: any(p.stat().st_size > 0 for p in temps()))
    assert killed, "the backtest finished before it could be killed"
    assert {k: p.read_bytes() for k, p in old_outputs.items()} == before  # previous outputs intact
    left = temps()
    assert all(p.name.startswith(".") for p in left)  # only a hidden temporary, never a partial s.jsonl
    # the next writer of the same output removes what the killed one left
    from bot.atomic import remove_stale_temps
    remove_stale_temps(tmp_path, old_outputs["signals"].name)
    assert not [p for p in temps() if p.name.startswith(f".{old_outputs['signals'].name}")]


@pytest.mark.shared_data
def test_kill_9_during_heatmap_build_leaves_whole_days(shared_data: Path, tmp_path: Path) -> None:
    from bot.heatmap.store import SnapshotStore
    out = tmp_path / "store"
    args = ["heatmap", "build", "--candles", str(shared_data / BTC5), "--oi", str(shared_data / OI),
            "--symbol", "BTC", "--from", "2025-02-01", "--to", "2025-02-20T23:59", "--out", str(out)]
    first = subprocess.run([sys.executable, "-m", "bot.cli.main", *args, "--every", "1h"], cwd=tmp_path,
                           env=_env(tmp_path), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    parts = lambda: sorted(out.rglob("part-*.parquet"))  # noqa: E731
    old = set(parts())
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli.main", *args, "--every", "5m"], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, lambda: len(set(parts()) - old) >= 3)
    assert killed, "the build finished before it could be killed"
    ts = SnapshotStore(out).read_columns("BTC/USDT:USDT").ts  # every part readable
    per_day = np.unique(ts.astype("datetime64[D]"), return_counts=True)[1]
    assert set(per_day.tolist()) <= {24, 288}  # each day is the old build or the new one, never half
    assert 288 in per_day and 24 in per_day  # the kill fell between the first and the last day
    rerun = subprocess.run([sys.executable, "-m", "bot.cli.main", *args, "--every", "5m"], cwd=tmp_path,
                           env=_env(tmp_path), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # stale temporaries removed by the next writer
