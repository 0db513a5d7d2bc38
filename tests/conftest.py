"""Shared fixtures: the real market data folder, and CLI invocation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.serve_kit"]  # the serve tests' session fixture (one paper run)

# The "compiling liqbot's kernels" notice has its own tests; elsewhere the first test that happens to
# compile a kernel must not add lines to the one-line error promises the tests check.
os.environ.setdefault("LIQBOT_LOGGING__COMPILE_NOTICE", "false")


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository (or ``LIQBOT_SHARED_DATA``)."""
    env = os.environ.get("LIQBOT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder; missing -> fail under CI=true, skip elsewhere."""
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"shared data folder missing under CI=true: {path}")
        pytest.skip(f"shared data folder missing: {path}")
    return path


@pytest.fixture()
def run_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``liqbot`` in-process; returns (exit_code, stdout, stderr). Logs go to tmp_path."""
    from bot.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIQBOT_LOGGING__FILE", str(tmp_path / "liqbot.log"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
