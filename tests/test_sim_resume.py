"""A second ``liqbot paper`` on the simulator carries the same market on for another ``--duration``.

Run 6 h, then again 6 h on the same state: the store must equal one uninterrupted 12 h run (same
trades, fills, equity rows, events), so there is no price jump at the resume bar; a run that was
interrupted finishes its own plan instead (the kill -9 tests cover that path).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.test_killrestart import START, check_history, dump

ARGS = ["--warmup", "2h", "--no-status", "--json", "--seed", "4"]


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_LOGGING__CONSOLE", "false")
    monkeypatch.setenv("LIQBOT_LOGGING__FILE", str(tmp_path / "bot.log"))
    monkeypatch.setenv("LIQBOT_FEED__SIM_START", START.isoformat())
    monkeypatch.chdir(tmp_path)


def paper(state: Path, duration: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    from bot.cli.main import main
    assert main(["paper", "--state", str(state), "--duration", duration, *ARGS]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_a_second_run_extends_the_same_market_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = paper(tmp_path / "a", "6h", capsys)
    second, note = paper(tmp_path / "a", "6h", capsys)
    whole, _ = paper(tmp_path / "b", "12h", capsys)
    assert first["run"]["steps"] == 24 + 72 and second["run"]["steps"] == 72 == whole["run"]["steps"] - 24 - 72
    assert second["run"]["resumed_at"] == first["run"]["last_bar"] == "2025-01-06T08:00:00+00:00"
    assert "resumed" in note and "72 more bars" in note
    check_history(tmp_path / "a")
    resumed, ref = dump(tmp_path / "a"), dump(tmp_path / "b")
    assert ref["fills"] and ref["equity"]
    for key in ref:
        assert resumed[key] == ref[key], key
    # the market itself: the resumed run's bar closes are the longer run's, bar for bar
    assert [r[0] for r in resumed["equity"]] == [r[0] for r in ref["equity"]]
    assert datetime.fromisoformat(whole["as_of"].replace("Z", "+00:00")) == \
        datetime.fromisoformat(second["as_of"].replace("Z", "+00:00"))


def test_another_seed_on_the_same_state_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main
    paper(tmp_path / "a", "1h", capsys)
    code = main(["paper", "--state", str(tmp_path / "a"), "--duration", "1h", "--warmup", "2h", "--no-status",
                 "--seed", "5"])
    _, err = capsys.readouterr()
    assert code == 2 and "holds another run" in err and "seed=4" in err
