"""Settings: defaults, precedence (TOML < .env < environment), one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Settings, load_settings
from bot.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os
    for key in list(os.environ):
        if key.startswith("LIQBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_match_default_toml() -> None:
    s = load_settings(env_file=None)
    assert isinstance(s, Settings)
    assert s.symbols == ["BTC/USDT:USDT"]
    assert s.clusters.bin_pct == pytest.approx(0.15)
    assert s.exchange.api_key is None


def test_every_field_is_documented_in_default_toml() -> None:
    """Each settings key appears in config/default.toml (set or commented) with a comment above it."""
    from pydantic import BaseModel
    text = Path(__file__).resolve().parents[1].joinpath("config", "default.toml").read_text()

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, fld in model.model_fields.items():
            ann = fld.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                out += keys(ann, f"{prefix}{name}.")
            else:
                out.append(f"{prefix}{name}")
        return out

    for dotted in keys(Settings):
        section, _, leaf = dotted.rpartition(".")
        if section:
            head = section.split(".")[0]
            assert f"[{head}]" in text, f"section [{head}] missing from default.toml"
        assert f"{leaf} =" in text or f"# {leaf} =" in text, f"{dotted} not documented in default.toml"


def test_precedence_toml_then_dotenv_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[clusters]\nbin_pct = 0.3\nsmooth_bins = 2\nmatch_pct = 1.0\n")
    dotenv = tmp_path / ".env"
    dotenv.write_text("LIQBOT_CLUSTERS__SMOOTH_BINS=3\nLIQBOT_CLUSTERS__MATCH_PCT=2.0\n")
    monkeypatch.setenv("LIQBOT_CLUSTERS__MATCH_PCT", "4.0")
    s = load_settings(user, env_file=dotenv)
    assert s.clusters.bin_pct == pytest.approx(0.3)      # from the user TOML
    assert s.clusters.smooth_bins == 3                    # .env beats the TOML
    assert s.clusters.match_pct == pytest.approx(4.0)     # environment beats .env


@pytest.mark.parametrize("toml_text, expected", [
    ("[clusters]\nbin_pc = 0.3\n", "config: clusters.bin_pc: unknown setting"),
    ("[clusters]\nbin_pct = -1\n", "config: clusters.bin_pct:"),
    ("[clusters]\nbin_pct = 'wide'\n", "config: clusters.bin_pct:"),
    ("nonsense = 1\n", "config: nonsense: unknown setting"),
    ("[logging]\nlevel = 'LOUD'\n", "config: logging.level:"),
    ("[clusters\n", "not valid TOML"),
])
def test_bad_toml_is_one_line_naming_the_key(tmp_path: Path, toml_text: str, expected: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml_text)
    with pytest.raises(ConfigError) as info:
        load_settings(f, env_file=None)
    msg = str(info.value)
    assert expected in msg
    assert "\n" not in msg


@pytest.mark.parametrize("key, value, expected", [
    ("LIQBOT_CLUSTERS__BIN_PCT", "abc", "clusters.bin_pct"),
    ("LIQBOT_CLUSTER__BIN_PCT", "0.2", "unknown setting 'cluster'"),
    ("LIQBOT_CLUSTERS__NOPE", "1", "unknown setting 'clusters.nope'"),
])
def test_bad_env_is_one_line_naming_the_key(monkeypatch: pytest.MonkeyPatch, key: str, value: str,
                                            expected: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert expected in str(info.value)


def test_api_keys_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_KEY", "AKIA-very-secret-key")
    s = load_settings(env_file=None)
    assert isinstance(s.exchange.api_key, SecretStr)
    assert "AKIA-very-secret-key" not in repr(s)
    assert "AKIA-very-secret-key" not in str(s.model_dump())


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", env_file=None)


def test_cli_reports_bad_config_with_exit_2(run_cli, tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[clusters]\nbin_pc = 0.3\n")
    code, out, err = run_cli("--config", str(f), "config", "show")
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0
    assert "clusters.bin_pc" in err


def test_config_show_masks_secrets(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_SECRET", "very-secret-value-123")
    code, out, err = run_cli("config", "show", "--json")
    assert code == 0
    import json
    doc = json.loads(out)
    assert doc["exchange"]["api_secret"] == "**********"
    assert "very-secret-value-123" not in out + err


def test_shared_data_variable_is_not_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``LIQBOT_SHARED_DATA`` points tests and benchmarks at the market data; settings must accept it."""
    monkeypatch.setenv("LIQBOT_SHARED_DATA", str(tmp_path))
    monkeypatch.setenv("LIQBOT_CLUSTERS__BIN_PCT", "0.2")
    assert load_settings(env_file=None).clusters.bin_pct == 0.2
