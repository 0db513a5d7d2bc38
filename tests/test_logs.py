"""Logging: JSON lines in the file, readable console lines, bound ids, secrets never written."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.logs import REDACTED, configure_logging, get_logger

API_KEY = "k3y-ABCDEF0123456789"
API_SECRET = "s3cr3t-ZYXWVU9876543210"


@pytest.fixture()
def logged(tmp_path: Path):
    stream = io.StringIO()
    file = tmp_path / "bot.log"
    configure_logging(level="DEBUG", file=file, console=True,
                      secrets=[SecretStr(API_KEY), SecretStr(API_SECRET), None], stream=stream)
    yield file, stream
    logging.getLogger().handlers.clear()


def _file_text(file: Path) -> str:
    for h in logging.getLogger().handlers:
        h.flush()
    return file.read_text(encoding="utf-8")


def test_file_gets_json_lines_with_bound_ids(logged) -> None:
    file, stream = logged
    log = get_logger("test", run_id="r-1", symbol="BTC/USDT:USDT")
    log.info("signal.emitted", signal_id="abc", price=1.5)
    lines = [json.loads(line) for line in _file_text(file).splitlines()]
    assert lines[-1]["event"] == "signal.emitted"
    assert lines[-1]["run_id"] == "r-1" and lines[-1]["symbol"] == "BTC/USDT:USDT"
    assert lines[-1]["signal_id"] == "abc" and lines[-1]["level"] == "info"
    assert "timestamp" in lines[-1]
    console = stream.getvalue()
    assert "signal.emitted" in console and not console.lstrip().startswith("{")


@pytest.mark.parametrize("emit", [
    lambda log: log.info("order.submitted", api_key=API_KEY),
    lambda log: log.info("order.submitted", headers={"X-MBX-APIKEY": API_KEY, "nested": [API_SECRET]}),
    lambda log: log.info(f"request signed with {API_SECRET}"),
    lambda log: log.warning("oops", detail=f"url=...&signature=abc&key={API_KEY}"),
    lambda log: log.info("object", obj=SecretStr(API_SECRET)),
    lambda log: log.info("tuple", creds=(API_KEY, API_SECRET)),
    lambda log: log.bind(secret=API_SECRET).info("bound"),
])
def test_secrets_never_reach_any_output(logged, emit) -> None:
    file, stream = logged
    emit(get_logger("test"))
    try:
        raise RuntimeError(f"exchange said: bad key {API_KEY}")
    except RuntimeError:
        get_logger("test").exception("order.failed")
    logging.getLogger("stdlib").error("stdlib logger with %s", API_SECRET)
    everything = _file_text(file) + stream.getvalue()
    assert API_KEY not in everything
    assert API_SECRET not in everything
    assert REDACTED in everything


def test_configured_keys_never_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: keys set in the environment never appear in the log file or on the terminal."""
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_KEY", API_KEY)
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_SECRET", API_SECRET)
    from bot.cli.main import _secrets
    from config.settings import load_settings
    secrets = _secrets(load_settings(env_file=None))
    assert {s.get_secret_value() for s in secrets} == {API_KEY, API_SECRET}
    log = get_logger("cli")
    configure_logging(level="INFO", file=tmp_path / "cli.log", console=True, secrets=secrets,
                      stream=io.StringIO())
    log.info("exchange.config", api_key=API_KEY, note=f"secret is {API_SECRET}")
    text = _file_text(tmp_path / "cli.log")
    logging.getLogger().handlers.clear()
    assert API_KEY not in text and API_SECRET not in text and REDACTED in text
