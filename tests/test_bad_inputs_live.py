"""Issue 16.8/16.9: the live guard refuses keys that cannot be real, before any state folder exists;
a second ``paper`` on a busy state folder refuses at once."""

from __future__ import annotations

import os
import random
import re
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.errors import ConfigError
from bot.inputs.keys import placeholder_reason
from tests.bad_inputs_kit import assert_refused
from tests.fakes.binance_exchange import API_KEY, API_SECRET

REPO = Path(__file__).resolve().parents[1]

PLACEHOLDER_KEYS = [
    "insert-api-key-here", "dummy-key-1234567890", "${BINANCE_API_KEY}", "$BINANCE_API_KEY_VALUE", "your_api_key",
    "your_api_key_here", "YOUR-BINANCE-API-KEY", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "XXXX-XXXX-XXXX-XXXX-XXXX",
    "changeme", "changeme-changeme-changeme", "CHANGE_ME_PLEASE_1234", "aaaaaaaaaaaaaaaaaaaaaaaa",
    "1234567890123456789012", "abcdefghijklmnopqrstuvwxyz", "0000000000000000000000000000", "<your api key>",
    "<API_KEY>AAAAAAAAAAAAAAAAA", "{{ binance_api_key }}", "%BINANCE_API_KEY%", "placeholder-for-the-key",
    "example-key-Ab3dE9fG2hJ", "replace-with-your-key", "sample_key_0a9b8c7d6e5f", "test-key-9f8e7d6c5b4a",
    "my-binance-key-7Gq2Lp9", "api-key-goes-in-here-x", "k3Yd8fQw 2Lz9Xv7Tn4Rb6Hs1",
    "abcdabcdabcdabcdabcdabcd", "Q9wE2rT7Q9wE2rT7Q9wE2rT7", "fake_key_for_ci_only_123", "todo-real-key-later-99",
    "short", "....................", "redacted-redacted-redacted", "null-null-null-null-null",
]
PLACEHOLDER_SECRETS = ["your_api_secret", "s3cr3t", "insert-secret-here-please", "${BINANCE_API_SECRET}",
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "dummy-secret-0987654321", "changeme123456789"]


_GUARD_LINE = re.compile(r"^liqbot: error: exchange\.api_(key|secret) looks like a placeholder, not a real key "
                         r"\((fewer than 16 characters|holds spaces or quotes|an unexpanded variable or template|"
                         r"a placeholder word|too few distinct characters|a counting sequence|a repeated pattern)\): "
                         r"set LIQBOT_EXCHANGE__API_(KEY|SECRET)$")


def _keys_in_env(folder: Path, key: str, secret: str) -> None:
    """Keys as the environment gives them (literally: a .env would expand ``${...}`` first)."""
    os.environ["LIQBOT_EXCHANGE__API_KEY"] = key
    os.environ["LIQBOT_EXCHANGE__API_SECRET"] = secret


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_KEY", "")
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_SECRET", "")


@pytest.mark.parametrize("key", PLACEHOLDER_KEYS)
def test_placeholder_key_is_refused_before_any_state(run_cli, tmp_path: Path, key: str) -> None:
    _keys_in_env(tmp_path, key, API_SECRET)
    line = assert_refused(run_cli("live", "--confirm-live", "--state", str(tmp_path / "st")), "exchange.api_key")
    assert _GUARD_LINE.match(line), line  # the value is never echoed: a refused one may still be a real key
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize("secret", PLACEHOLDER_SECRETS)
def test_placeholder_secret_is_refused_before_any_state(run_cli, tmp_path: Path, secret: str) -> None:
    _keys_in_env(tmp_path, API_KEY, secret)
    line = assert_refused(run_cli("live", "--confirm-live", "--state", str(tmp_path / "st")), "exchange.api_secret")
    assert _GUARD_LINE.match(line), line
    assert not (tmp_path / "st").exists()


def test_key_equal_to_secret_is_refused(run_cli, tmp_path: Path) -> None:
    _keys_in_env(tmp_path, API_KEY, API_KEY)
    line = assert_refused(run_cli("live", "--confirm-live", "--state", str(tmp_path / "st")), "same value")
    assert API_KEY not in line and not (tmp_path / "st").exists()


def test_random_real_looking_keys_pass() -> None:
    """2,000 random 64-character keys (the shape of Binance's) and the fake exchange's keys all pass."""
    from bot.live.exchange import check_keys
    from config.settings import ExchangeSettings
    rng = random.Random(16)
    alphabet = string.ascii_letters + string.digits
    refused = [k for k in ("".join(rng.choice(alphabet) for _ in range(64)) for _ in range(2000))
               if placeholder_reason(k) is not None]
    assert refused == []
    assert check_keys(ExchangeSettings(api_key=SecretStr(API_KEY), api_secret=SecretStr(API_SECRET))) == \
        (API_KEY, API_SECRET)
    with pytest.raises(ConfigError):
        check_keys(ExchangeSettings(api_key=SecretStr("dummy-key-1234567890"), api_secret=SecretStr(API_SECRET)))


def test_second_paper_on_a_busy_folder_refuses_at_once(tmp_path: Path) -> None:
    """The lock is taken before the feed and the heatmap model do their work (issue 16.9)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    env.update(PYTHONPATH=str(REPO), LIQBOT_LOGGING__FILE=str(tmp_path / "liqbot.log"))
    state = tmp_path / "st"
    cmd = [sys.executable, "-m", "bot.cli.main", "paper", "--state", str(state), "--no-status"]
    first = subprocess.Popen([*cmd, "--duration", "4w", "--speed", "1"], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (state / "liqbot.sqlite").exists():
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run([*cmd, "--duration", "1h"], cwd=tmp_path, env=env, capture_output=True, text=True)
        # a busy folder is refused like bad input (bot.cli.exits): exit 2, one line, nothing on stdout
        assert_refused((second.returncode, second.stdout, second.stderr), f"state folder {state} is in use")
        assert first.poll() is None  # the first run is untouched
    finally:
        first.kill()
        first.wait()
