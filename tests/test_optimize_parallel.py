"""Studies shared through one Optuna storage: two worker processes, a fixed-seed grid with 1 and 2 workers,
and a resumed study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.shared_data

SPAN = ["--from", "2025-03-01", "--to", "2025-03-07"]
GRID_SPACE = "strategies.cooldown_bars,strategies.liquidation_hunt.atr_mult,strategies.min_rr"


def inputs(data: Path) -> list[str]:
    return ["--candles", str(data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"),
            "--funding", str(data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")]


def liqbot(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIQBOT_LOGGING__FILE": str(cwd / "liqbot.log")}
    return subprocess.Popen([sys.executable, "-m", "bot.cli.main", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p: subprocess.Popen[str]) -> str:
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    return out


def results(storage: str, study: str) -> dict[str, float | None]:
    s = optuna.load_study(study_name=study, storage=storage)
    return {json.dumps(t.params, sort_keys=True): t.value for t in s.trials}


def test_two_worker_processes_share_one_study(shared_data: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/shared.db"
    args = ["optimize", *inputs(shared_data), *SPAN, "--space", GRID_SPACE, "--sampler", "random", "--trials", "10",
            "--min-trades", "1", "--storage", storage, "--study", "shared", "--json", "-"]
    a, b = liqbot(args, tmp_path), liqbot(args, tmp_path)  # two machines joining one study look like this
    finish(a), finish(b)
    study = optuna.load_study(study_name="shared", storage=storage)
    done = [t for t in study.trials if t.state.is_finished()]
    assert 10 <= len(done) <= 11  # a worker may start one trial before it sees the other's last one finish
    assert len({t.user_attrs["worker"] for t in done}) == 2  # both processes ran trials


def test_a_fixed_seed_grid_gives_the_same_results_with_one_and_two_workers(shared_data: Path, tmp_path: Path) -> None:
    out = {}
    for jobs in (1, 2):
        storage = f"sqlite:///{tmp_path}/grid{jobs}.db"
        doc = json.loads(finish(liqbot(["optimize", *inputs(shared_data), *SPAN, "--space", GRID_SPACE,
                                        "--sampler", "grid", "--trials", "8", "--seed", "5", "--min-trades", "1",
                                        "--jobs", str(jobs), "--storage", storage, "--study", "grid", "--json", "-"],
                                       tmp_path)))
        out[jobs] = (results(storage, "grid"), doc)
    (r1, d1), (r2, d2) = out[1], out[2]
    assert len(r1) == 8  # 2 x 2 x 2 grid, every point once
    assert r1 == r2
    assert d1["best"]["params"] == d2["best"]["params"] and d1["best"]["is_value"] == d2["best"]["is_value"]


def test_rerunning_a_study_continues_it(shared_data: Path, tmp_path: Path, run_cli: Any) -> None:
    storage = f"sqlite:///{tmp_path}/resume.db"
    base = ["optimize", *inputs(shared_data), *SPAN, "--space", GRID_SPACE, "--sampler", "tpe", "--seed", "1",
            "--min-trades", "1", "--storage", storage, "--study", "resume", "--json", "-"]
    code, _, err = run_cli(*base, "--trials", "3")
    assert code == 0, err
    first = [(t.number, t.params, t.value) for t in optuna.load_study(study_name="resume", storage=storage).trials]
    code, out, err = run_cli(*base, "--trials", "5")
    assert code == 0, err
    again = [(t.number, t.params, t.value) for t in optuna.load_study(study_name="resume", storage=storage).trials]
    assert len(again) == 5 and again[:3] == first
    assert json.loads(out)["speed"]["trials"] == 5
    # the same study name with another setup is refused instead of mixing two searches
    code, _, err = run_cli(*base, "--trials", "5", "--objective", "sharpe")
    assert code == 2 and "another setup" in err
