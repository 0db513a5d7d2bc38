"""Issue 16.1/16.5/16.6: every setting has a range and every bad value is one line at load, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_inputs_kit import assert_refused

# (environment variable, value, what the one line names)
BAD_ENV = [
    ("LIQBOT_PAPER__STARTING_BALANCE", "inf", "paper.starting_balance"),
    ("LIQBOT_PAPER__STARTING_BALANCE", "nan", "paper.starting_balance"),
    ("LIQBOT_PAPER__STARTING_BALANCE", "1e400", "paper.starting_balance"),
    ("LIQBOT_PAPER__STARTING_BALANCE", "-5", "paper.starting_balance"),
    ("LIQBOT_STRATEGIES__BASE_POSITION_USD", "1e400", "strategies.base_position_usd"),
    ("LIQBOT_STRATEGIES__BASE_POSITION_USD", "1e12", "strategies.base_position_usd"),
    ("LIQBOT_PAPER__FUNDING_INTERVAL_H", "7", "paper.funding_interval_h"),
    ("LIQBOT_PAPER__FUNDING_INTERVAL_H", "24", "paper.funding_interval_h"),
    ("LIQBOT_PAPER__DEFAULT_FUNDING_RATE", "0.5", "paper.default_funding_rate"),
    ("LIQBOT_PAPER__VENUE_MAX_LEVERAGE", "1e9", "paper.venue_max_leverage"),
    ("LIQBOT_CLUSTERS__IMPLIED_TIERS", "[5, -10, 20]", "clusters.implied_tiers"),
    ("LIQBOT_CLUSTERS__IMPLIED_TIERS", "[0]", "clusters.implied_tiers"),
    ("LIQBOT_SYNTHETIC__TIER_LEVERAGES", "[5, -1]", "synthetic.tier_leverages"),
    ("LIQBOT_SYNTHETIC__TIER_WEIGHTS", "[0.5, 0.5]", "tier_weights"),
    ("LIQBOT_SYNTHETIC__SPIKE_Z", "inf", "synthetic.spike_z"),
    ("LIQBOT_BACKTEST__INITIAL_CASH", "inf", "backtest.initial_cash"),
    ("LIQBOT_BACKTEST__WARMUP", "banana", "backtest.warmup"),
    ("LIQBOT_BACKTEST__WARMUP", "99999999w", "backtest.warmup"),
    ("LIQBOT_FEED__DURATION", "99999999w", "feed.duration"),
    ("LIQBOT_FEED__SIM_START", "yesterday-ish", "feed.sim_start"),
    ("LIQBOT_FEED__TIMEFRAME", "0m", "feed.timeframe"),
    ("LIQBOT_FEED__SIM_SEED", "-1", "feed.sim_seed"),
    ("LIQBOT_RISK__MAX_LEVERAGE", "nan", "risk.max_leverage"),
    ("LIQBOT_SYMBOLS", "[]", "symbols"),
    ("LIQBOT_SYMBOLS", "", "symbols"),
    ("LIQBOT_SYMBOLS", "[x", "symbols"),
    ("LIQBOT_SYMBOLS", "BTCUSDT", "symbols"),
    ("LIQBOT_SYMBOLS", "BTC/USDT:USDT,BTC/USDT:USDT", "symbols"),
    ("LIQBOT_STRATEGIES__ENABLED", "[x", "strategies"),
    ("LIQBOT_LOGGING__FILE", "/no/such/folder/liqbot.log", "logging.file"),
]


@pytest.mark.parametrize("command", [("config", "show"), ("status",)])
@pytest.mark.parametrize(("key", "value", "needle"), BAD_ENV)
def test_bad_setting_is_one_line_at_load(run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         command: tuple[str, ...], key: str, value: str, needle: str) -> None:
    monkeypatch.setenv(key, value)
    assert_refused(run_cli(*command), needle)
    assert not Path("/no").exists()  # a log folder is never created on the way to the refusal


@pytest.mark.parametrize("symbols", ["BTC/USDT:USDT,ETH/USDT:USDT", '["BTC/USDT:USDT", "ETH/USDT:USDT"]',
                                     " BTC/USDT:USDT , ETH/USDT:USDT "])
def test_symbols_env_takes_a_comma_list_or_json(run_cli, monkeypatch: pytest.MonkeyPatch, symbols: str) -> None:
    monkeypatch.setenv("LIQBOT_SYMBOLS", symbols)
    code, out, err = run_cli("config", "show")
    assert code == 0, err
    assert 'symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT"]' in out


TOML_CASES = {
    "binary": b"\x00\x01\xff\xfe\x89PNG\r\n\x1a\n" * 20,
    "not toml": b"[paper\nstarting_balance = \n",
    "5001-digit integer": b"[paper]\nstarting_balance = " + b"9" * 5001 + b"\n",
    "deeply nested array": b"symbols = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "empty symbols": b"symbols = []\n",
    "inf balance": b"[paper]\nstarting_balance = inf\n",
    "funding interval 7h": b"[paper]\nfunding_interval_h = 7\n",
    "negative tier": b"[clusters]\nimplied_tiers = [5, -10]\n",
    "unknown key": b"[paper]\nstarting_balanse = 1\n",
}


@pytest.mark.parametrize("name", sorted(TOML_CASES))
def test_bad_toml_is_one_line(run_cli, tmp_path: Path, name: str) -> None:
    path = tmp_path / "user.toml"
    path.write_bytes(TOML_CASES[name])
    assert_refused(run_cli("--config", str(path), "config", "show"))


def test_log_level_loud_is_one_line(run_cli) -> None:
    assert_refused(run_cli("--log-level", "LOUD", "status"), "--log-level", "LOUD")


def test_dotenv_line_that_does_not_parse_adds_no_stderr_line(run_cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("this is not a dotenv line 'at all\nLIQBOT_PAPER__STARTING_BALANCE=-1\n")
    assert_refused(run_cli("config", "show"), "paper.starting_balance")


def test_config_show_validates_exactly_as_paper(run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A value paper refuses is refused by config show first, with the same line."""
    monkeypatch.setenv("LIQBOT_FEED__DURATION", "0.5x")
    shown = assert_refused(run_cli("config", "show"))
    paper = assert_refused(run_cli("paper", "--state", str(tmp_path / "st")))
    assert shown == paper
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize("flag", ["--c", "--co", "--conf", "--confirm"])
def test_live_confirm_is_never_abbreviated(run_cli, flag: str, tmp_path: Path) -> None:
    assert_refused(run_cli("live", flag, "--state", str(tmp_path / "st")), flag)
    assert not (tmp_path / "st").exists()
