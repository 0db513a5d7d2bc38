"""The conventions every ``liqbot`` command shares (bot.cli.main, bot.cli.exits, bot.cli.console)."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.cli.console import PIPE_WIDTH, output_width, stdout_console
from bot.cli.main import _subparsers, build_parser, command_names, command_of
from bot.logs import configure_logging, get_logger

ROOT = Path(__file__).resolve().parents[1]


def test_version(run_cli: Any) -> None:
    code, out, err = run_cli("--version")
    assert code == 0 and out.startswith("liqbot ") and out.split()[1][0].isdigit() and err == ""


def test_no_parser_accepts_abbreviations() -> None:
    parsers = [build_parser(), *_subparsers(build_parser())]
    assert len(parsers) > 20 and not [p.prog for p in parsers if p.allow_abbrev]


def test_conf_never_becomes_confirm_live(run_cli: Any) -> None:
    code, out, err = run_cli("live", "--conf", "x.toml")
    assert code == 2 and out == "" and err == "liqbot: error: unrecognized arguments: --conf x.toml\n"


def test_config_is_accepted_after_the_command_too(run_cli: Any, tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[clusters]\nbin_pct = 0.3\n")
    for argv in (("--config", str(user), "config", "show", "--json"), ("config", "show", "--json", "--config",
                                                                        str(user))):
        code, out, err = run_cli(*argv)
        assert code == 0, err
        assert json.loads(out)["clusters"]["bin_pct"] == 0.3
    code, out, _ = run_cli("config", "show", "--json")
    assert json.loads(out)["clusters"]["bin_pct"] != 0.3


@pytest.mark.parametrize("argv", [
    ("nosuch",), ("heatmap", "show"), ("backtest",), ("config", "show", "--config", "/nonexistent.toml"),
    ("bench", "--only", "nosuch", "other"), ("status", "--state", "/nonexistent/state"),
])
def test_every_refusal_is_one_line_with_one_prefix_and_exit_2(run_cli: Any, argv: tuple[str, ...]) -> None:
    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("liqbot: error: ") and err.count("liqbot:") == 1, err


def test_bench_only_takes_several_names_as_the_readme_shows() -> None:
    args = build_parser(["bench"]).parse_args(["bench", "--only", "clusters_1500", "backtest_14m", "--json"])
    assert args.only == ["clusters_1500", "backtest_14m"] and args.json
    args = build_parser(["bench"]).parse_args(["bench", "--only", "a", "--only", "b"])
    assert args.only == ["a", "b"]


def test_only_the_named_command_is_imported_and_help_lists_every_command() -> None:
    assert command_of(["--config", "paper", "status"]) == "status"  # "paper" is the --config value here
    assert command_of(["--log-level", "DEBUG", "backtest", "--candles", "x"]) == "backtest"
    assert command_of(["--help"]) is None
    code = ("import sys; from bot.cli.main import main; code = main(['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith(('bot.cli.commands.', 'pandas', 'numba', "
            "'config.settings'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert all(name in done.stdout for name in command_names())


def test_tables_take_the_terminal_width_and_the_full_width_when_piped() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert output_width(io.StringIO()) == PIPE_WIDTH and output_width(Tty()) is None
    from rich.table import Table
    buf = io.StringIO()
    console = stdout_console(file=buf)
    table = Table("id", "reason")
    table.add_row("sig-" + "a" * 40, "x" * 300)
    console.print(table)
    assert "x" * 300 in buf.getvalue()  # one row, never cut or wrapped at 80 columns


def test_a_locked_state_folder_is_exit_2(run_cli: Any, tmp_path: Path) -> None:
    from bot.store import Store
    store = Store.open(tmp_path / "state")
    try:
        code, _, err = run_cli("paper", "--state", str(tmp_path / "state"), "--duration", "1h", "--no-status")
    finally:
        store.close()
    assert code == 2 and "is in use by another liqbot process" in err and err.count("\n") == 1


def test_the_log_lives_in_the_state_folder_and_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.main import log_file
    from config.settings import load_settings
    monkeypatch.delenv("LIQBOT_LOGGING__FILE", raising=False)
    settings = load_settings(env_file=None)
    args = argparse.Namespace(state=tmp_path / "st")
    assert log_file(settings, args) == tmp_path / "st" / "liqbot.log"
    assert log_file(settings, argparse.Namespace()) == settings.state_dir / "liqbot.log"
    path = tmp_path / "st" / "liqbot.log"
    configure_logging(file=path, console=False, max_bytes=2_000, backups=2)
    try:
        log = get_logger("rotation")
        for i in range(200):
            log.info("line", i=i, pad="p" * 40)
    finally:
        configure_logging(console=False)
        logging.getLogger().handlers.clear()
    assert path.stat().st_size <= 2_000 and (tmp_path / "st" / "liqbot.log.1").is_file()
    assert (tmp_path / "st" / "liqbot.log.2").is_file() and not (tmp_path / "st" / "liqbot.log.3").exists()


def test_ctrl_c_exits_130_after_the_paper_summary(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIQBOT_LOGGING__CONSOLE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "paper", "--state", str(tmp_path / "s"),
                             "--speed", "1", "--duration", "2d", "--no-status", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    log = tmp_path / "s" / "liqbot.log"
    while not (log.is_file() and "runner.started" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the runner is stepping at real-time speed, its stop handler installed
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert json.loads(out)["run"]["stopped"] is True
