"""Typed params, the explicit registry and the [strategies] settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import ConfigError
from config.settings import load_settings
from strategies.hunt import HuntParams
from strategies.registry import ALL_NAMES, STRATEGIES, build_params, params_class
from strategies.signal import StrategyName
from strategies.sizing import OISizingParams


def test_registry_holds_the_strategies_and_sizing_with_their_params() -> None:
    assert ALL_NAMES == ("liquidation_hunt", "support_resistance", "breakout", "cascade", "oi_sizing")
    assert set(STRATEGIES) == set(StrategyName)
    assert params_class("liquidation_hunt") is HuntParams
    assert params_class("oi_sizing") is OISizingParams


def test_documented_defaults() -> None:
    hunt = build_params("liquidation_hunt")
    assert (hunt.min_strength, hunt.max_distance_pct, hunt.min_usd) == (0.6, 2.0, 2e6)
    assert build_params("support_resistance").min_strength == 0.5
    assert build_params("support_resistance").band_pct == 1.0
    sizing = build_params("oi_sizing")
    assert (sizing.high_oi_usd, sizing.mid_oi_usd, sizing.high_mult, sizing.mid_mult, sizing.low_mult) == (
        5e9, 1e9, 1.5, 1.0, 0.5)
    assert (sizing.crowded_long_ratio, sizing.crowded_short_ratio, sizing.favoured_mult) == (1.2, 0.8, 1.2)


def test_unknown_parameter_suggests_the_close_one() -> None:
    with pytest.raises(ValidationError, match=r"unknown parameter 'min_strenght' \(did you mean 'min_strength'\?\)"):
        build_params("liquidation_hunt", {"min_strenght": 0.7})
    with pytest.raises(ValidationError, match="known: "):
        build_params("breakout", {"zzz": 1})


def test_unknown_strategy_suggests_the_close_one() -> None:
    with pytest.raises(ValueError, match="did you mean 'breakout'"):
        params_class("breakuot")


def test_params_are_typed_and_frozen() -> None:
    with pytest.raises(ValidationError):
        HuntParams(min_strength=1.5)
    with pytest.raises(ValidationError):
        HuntParams(max_distance_pct=float("nan"))
    with pytest.raises(ValidationError):
        HuntParams().min_strength = 0.1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="mid_oi_usd"):
        OISizingParams(mid_oi_usd=9e9)


def test_settings_section_loads_defaults_and_user_tables(tmp_path: Path) -> None:
    s = load_settings(env_file=None).strategies
    # every registered strategy but cascade (opt-in: the default book stays the four-stage one)
    assert s.enabled == [n for n in ALL_NAMES if n != "cascade"] and s.min_rr == 1.5 and s.base_position_usd == 1000.0
    user = tmp_path / "user.toml"
    user.write_text('[strategies]\nenabled = ["breakout"]\n[strategies.liquidation_hunt]\nmin_strength = 0.7\n'
                    '[strategies.oi_sizing.per_symbol."ETH/USDT:USDT"]\nhigh_oi_usd = 2e9\nmid_oi_usd = 4e8\n',
                    encoding="utf-8")
    s = load_settings(user, env_file=None).strategies
    assert s.enabled == ["breakout"] and s.liquidation_hunt.min_strength == 0.7
    assert s.oi_sizing.thresholds("ETH/USDT:USDT") == (2e9, 4e8)


@pytest.mark.parametrize("text,match", [
    ("[strategies.liquidation_hunt]\nmin_strenght = 0.7\n", "did you mean 'min_strength'"),
    ('[strategies]\nenabled = ["suport_resistance"]\n', "did you mean 'support_resistance'"),
    ("[strategies]\nmin_rr = -1\n", "strategies.min_rr"),
])
def test_bad_strategy_settings_are_one_line_config_errors(tmp_path: Path, text: str, match: str) -> None:
    user = tmp_path / "bad.toml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(user, env_file=None)
    assert "\n" not in str(info.value)


def test_env_overrides_a_strategy_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_STRATEGIES__LIQUIDATION_HUNT__MIN_STRENGTH", "0.75")
    assert load_settings(env_file=None).strategies.liquidation_hunt.min_strength == 0.75


def test_filter_limits_and_the_strategies_section_share_one_declaration() -> None:
    from config.settings import StrategySettings
    from strategies.filters import FilterLimits
    assert FilterLimits.of(StrategySettings()) == FilterLimits()
    for name, field in FilterLimits.model_fields.items():
        mine = StrategySettings.model_fields[name]
        assert (mine.default, mine.metadata, mine.description) == (field.default, field.metadata, field.description)
