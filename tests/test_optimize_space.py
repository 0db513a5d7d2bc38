"""Search spaces, settings overrides, best-parameter TOML and walk-forward windows (no backtests)."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.errors import ConfigError, DataError
from bot.search_space import Choice, Range
from config.settings import load_settings
from backtest.research.space import apply_params, grid, select_space, to_toml
from backtest.research.windows import WalkForward, cut

ENABLED = ["liquidation_hunt", "support_resistance", "breakout", "oi_sizing"]
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_named_spaces_split_strategy_and_model_parameters() -> None:
    strat = select_space("strategies", "combined", ENABLED)
    model = select_space("model", "combined", ENABLED)
    assert strat and model and not set(strat) & set(model)
    assert all(k.startswith("strategies.") for k in strat)
    assert all(k.startswith(("synthetic.", "clusters.")) for k in model)
    assert {"strategies.cooldown_bars", "strategies.min_rr", "strategies.liquidation_hunt.atr_mult",
            "strategies.oi_sizing.high_mult", "synthetic.half_life_h", "clusters.bin_pct"} <= set(strat) | set(model)
    assert set(select_space("all", "combined", ENABLED)) == set(strat) | set(model)


def test_a_single_strategy_study_leaves_out_the_other_strategies() -> None:
    hunt = select_space("strategies", "liquidation_hunt", ENABLED)
    assert "strategies.liquidation_hunt.min_strength" in hunt
    assert "strategies.oi_sizing.high_mult" in hunt  # sizing applies to every strategy
    assert "strategies.min_rr" in hunt
    assert not any(k.startswith(("strategies.breakout.", "strategies.support_resistance.")) for k in hunt)


def test_named_keys_and_sections() -> None:
    got = select_space("strategies.min_rr,strategies.breakout", "combined", ENABLED)
    assert list(got)[0] == "strategies.min_rr"
    assert {k for k in got if k != "strategies.min_rr"} == {k for k in got if k.startswith("strategies.breakout.")}
    with pytest.raises(DataError, match="no searchable parameter 'strategies.min_rrr'"):
        select_space("strategies.min_rrr", "combined", ENABLED)


def test_apply_params_validates_like_a_config_file() -> None:
    s = load_settings(None, env_file=None)
    t = apply_params(s, {"strategies.liquidation_hunt.atr_mult": 2.5, "synthetic.half_life_h": 24.0,
                         "strategies.cooldown_bars": 6})
    assert t.strategies.liquidation_hunt.atr_mult == 2.5 and t.synthetic.half_life_h == 24.0
    assert t.strategies.cooldown_bars == 6 and t.strategies.breakout == s.strategies.breakout
    assert s.strategies.liquidation_hunt.atr_mult == 1.5  # the original is untouched
    with pytest.raises(ConfigError, match="min_strength"):
        apply_params(s, {"strategies.liquidation_hunt.min_strength": 1.5})
    with pytest.raises(ConfigError, match="unknown setting 'strategies.nope'"):
        apply_params(s, {"strategies.nope": 1})


def test_best_toml_is_a_config_the_settings_loader_accepts(tmp_path: Path) -> None:
    params = {"strategies.liquidation_hunt.atr_mult": 0.7123456789012345, "strategies.cooldown_bars": 30,
              "synthetic.spike": True, "strategies.min_rr": 2.25, "clusters.bin_pct": 0.3}
    path = tmp_path / "best.toml"
    path.write_text(to_toml(params, ["chosen from 40 trials"]), encoding="utf-8")
    assert path.read_text().startswith("# chosen from 40 trials\n")
    s = load_settings(path, env_file=None)
    assert s.strategies.liquidation_hunt.atr_mult == 0.7123456789012345  # floats survive exactly
    assert s.strategies.cooldown_bars == 30 and s.synthetic.spike is True
    assert s.strategies.min_rr == 2.25 and s.clusters.bin_pct == 0.3
    assert apply_params(load_settings(None, env_file=None), params).model_dump() == s.model_dump()
    assert tomllib.loads(path.read_text())["strategies"]["liquidation_hunt"]["atr_mult"] == 0.7123456789012345


def test_grid_spans_every_range_and_choice() -> None:
    space = {"a": Range(1.0, 3.0), "b": Range(0.1, 10.0, log=True), "n": Range(0, 10, integer=True),
             "c": Choice((False, True))}
    g = grid(space, 54)  # 54 / 2 choices = 27 = 3^3 points over the three ranges
    assert g["a"] == [1.0, 2.0, 3.0] and g["b"] == pytest.approx([0.1, 1.0, 10.0])
    assert g["n"] == [0, 5, 10] and g["c"] == [False, True]


def test_rolling_and_anchored_windows() -> None:
    wf = WalkForward.parse("train=90d,test=30d")
    assert wf.step == timedelta(days=30) and not wf.anchored
    wins = cut(T0, T0 + timedelta(days=200), wf)
    assert len(wins) == 3  # tests end on days 120, 150, 180; 210 > 200
    for a, b in zip(wins, wins[1:]):
        assert b.train_start - a.train_start == timedelta(days=30)
    for w in wins:
        assert w.train_end == w.test_start and w.train_end - w.train_start == timedelta(days=90)
        assert w.test_end - w.test_start == timedelta(days=30)
    anch = cut(T0, T0 + timedelta(days=200), WalkForward.parse("train=90d,test=30d,step=60d,anchored"))
    assert [w.train_start for w in anch] == [T0, T0]
    assert [w.train_end - T0 for w in anch] == [timedelta(days=90), timedelta(days=150)]


@pytest.mark.parametrize("spec", ["train=90d", "test=30d", "train=90d,test=0d", "train=90d,test=30d,foo=1",
                                  "train=x,test=30d"])
def test_bad_walk_forward_specs(spec: str) -> None:
    with pytest.raises((DataError, ConfigError)):
        WalkForward.parse(spec)


def test_a_history_shorter_than_one_window_is_an_error() -> None:
    with pytest.raises(DataError, match="shorter than one train"):
        cut(T0, T0 + timedelta(days=100), WalkForward.parse("train=90d,test=30d"))


def test_the_progress_bar_counts_trials_over_all_windows() -> None:
    from bot.cli.commands.optimize import TrialProgress
    with TrialProgress(enabled=True) as bar:
        bar(0, 2, 3, 3, 0.25)
        bar(1, 2, 1, 3, None)
        task = bar._progress.tasks[0]
        assert (task.completed, task.total) == (4, 6)  # rich's time-left column needs the total
        assert task.description == "window 2/2" and task.fields["best"] == "-"
    with TrialProgress(enabled=False) as off:
        off(0, 1, 1, 1, 0.5)
        assert off._progress is None


def _doc(exp: float, pf: float, ret: float, psr: float, pbo: float) -> dict:
    fig = {"trades": 100, "expectancy_r": exp, "profit_factor": pf, "return_pct": ret, "max_drawdown_pct": 1.0}
    return {"stitched": {"figures": fig, "psr_vs_zero": psr, "windows": 10, "windows_traded": 10},
            "speed": {"trials": 300}, "overfitting": {"pbo_median": pbo, "dsr_median": 0.5}, "best": None}


@pytest.mark.parametrize("exp, pf, ret, psr, pbo, words", [
    (0.2, 1.3, 4.0, 0.97, 0.2, "holds up"),
    (0.2, 1.3, 4.0, 0.80, 0.2, "is positive but not distinguishable from luck"),   # could be luck
    (0.2, 1.3, 4.0, 0.97, 0.6, "is positive but not distinguishable from luck"),   # IS winners rank low OOS
    (-0.1, 1.1, 0.6, 0.60, 0.7, "does not hold up"),                            # PF > 1 but negative R
])
def test_the_verdict_needs_a_positive_and_significant_record(exp: float, pf: float, ret: float, psr: float,
                                                             pbo: float, words: str) -> None:
    from backtest.research.walkforward import verdict
    got = verdict(_doc(exp, pf, ret, psr, pbo))
    assert f"walk-forward {words}" in got and "from 300 trials" in got
