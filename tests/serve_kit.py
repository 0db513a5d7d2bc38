"""Fixtures of the serve tests: a real paper run's state (the simulator), copied per test that writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYM = "BTC/USDT:USDT"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def paper_state(root: Path) -> Path:
    """Run ``liqbot paper`` on the simulator (a day, 2 h warmup) into ``root/state``; returns the folder."""
    state = root / "state"
    env = {**os.environ, "LIQBOT_LOGGING__FILE": str(root / "liqbot.log"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "bot.cli.main", "paper", "--duration", "1d", "--warmup", "2h",
                           "--state", str(state), "--json", "--no-status"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return state


@pytest.fixture(scope="session")
def sim_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished paper run's state folder (read-only use only: copy it with ``state_copy`` to write)."""
    return paper_state(tmp_path_factory.mktemp("serve-sim"))


@pytest.fixture()
def state_copy(sim_state: Path, tmp_path: Path) -> Path:
    """A private copy of the paper run's state, for tests that write into it."""
    dest = tmp_path / "state"
    shutil.copytree(sim_state, dest, ignore=shutil.ignore_patterns("liqbot.lock"))
    return dest


def app_for(state: Path, **kw: object) -> object:
    """The real app over ``state``."""
    from bot.serve.app import ServeConfig, create_app
    return create_app(ServeConfig(state_dir=state, **kw))  # type: ignore[arg-type]
