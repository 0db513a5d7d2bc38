"""Known answers of the research loop's figures: expectancy, profit factor, Sharpe, Sortino, Calmar, DSR, PBO."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.research.metrics import (Objective, calmar, daily_returns, expectancy_r, figures, max_drawdown, profit_factor,
                              sharpe, skew_kurtosis, sortino)
from backtest.research.overfit import deflated_sharpe, expected_max_sharpe, pbo_cscv, probabilistic_sharpe


def test_expectancy_and_profit_factor_by_hand() -> None:
    assert expectancy_r(np.array([2.0, -1.0, -1.0, 0.5])) == pytest.approx(0.125)
    assert expectancy_r(np.array([])) is None
    assert profit_factor(np.array([30.0, -10.0, -5.0, 0.0])) == pytest.approx(2.0)
    assert profit_factor(np.array([5.0])) == math.inf
    assert profit_factor(np.array([])) is None


def test_sharpe_and_sortino_by_hand() -> None:
    r = np.array([0.01, -0.01, 0.02, 0.0])
    sd = math.sqrt((0.005**2 + 0.015**2 + 0.015**2 + 0.005**2) / 3)
    assert sharpe(r, 365) == pytest.approx(0.005 / sd * math.sqrt(365))
    # downside deviation: sqrt(mean(min(r, 0)^2)) = sqrt(0.0001 / 4) = 0.005
    assert sortino(r, 365) == pytest.approx(0.005 / 0.005 * math.sqrt(365))
    assert sharpe(np.array([0.01, 0.01]), 365) is None  # no variation: undefined, not infinite
    assert sortino(np.array([0.01, 0.02]), 365) is None


def test_drawdown_and_calmar_by_hand() -> None:
    assert max_drawdown(np.array([100, 120, 90, 130, 65.0])) == pytest.approx(0.5)
    assert max_drawdown(np.array([1, 2, 3.0])) == 0.0
    # 1 -> 1.21 over two years is 10 % a year; the dip to 0.8 is a 20 % drawdown
    assert calmar(np.array([1.0, 0.8, 1.21]), 2.0) == pytest.approx(0.1 / 0.2)
    assert calmar(np.array([1.0, 1.21]), 2.0) is None


def test_daily_returns_take_each_days_last_value() -> None:
    day = 86_400 * 10**9
    close = np.array([day // 2, day - 1, day + 5, 2 * day + 7, 2 * day + 9])
    value = np.array([101.0, 102.0, 99.96, 100.0, 110.0])
    got = daily_returns(value, close, 100.0)
    assert got == pytest.approx([0.02, 99.96 / 102 - 1, 110 / 99.96 - 1])


def test_figures_pick_the_objective() -> None:
    f = figures(np.array([1.0, -1.0, 2.0]), np.array([10.0, -10.0, 20.0]), np.array([0.01, -0.005, 0.02, 0.0]))
    assert f.trades == 3 and f.value(Objective.EXPECTANCY_R) == pytest.approx(2 / 3)
    assert f.value(Objective.PROFIT_FACTOR) == pytest.approx(3.0)
    assert f.return_pct == pytest.approx(100 * (1.01 * 0.995 * 1.02 - 1))
    assert f.max_drawdown_pct == pytest.approx(0.5)


def test_skew_kurtosis_of_a_symmetric_sample() -> None:
    s, k = skew_kurtosis(np.array([-1.0, 1.0, -1.0, 1.0]))
    assert s == pytest.approx(0.0) and k == pytest.approx(1.0)


def test_deflated_sharpe_reproduces_the_papers_example() -> None:
    # Bailey and Lopez de Prado (2014), section 5: annualised SR 2.5 over 5 years of daily returns,
    # N = 100 trials whose annualised SRs have variance 0.5, skew -3, kurtosis 10 -> SR0 0.1132, DSR 0.9004
    sr = 2.5 / math.sqrt(250)
    var = 0.5 / 250
    assert expected_max_sharpe(100, var) == pytest.approx(0.1132, abs=5e-5)
    d = deflated_sharpe(sr, 100, var, 1250, -3.0, 10.0)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)
    assert expected_max_sharpe(1, var) == 0.0


def test_probabilistic_sharpe_under_normal_returns() -> None:
    # skew 0, kurtosis 3: sigma(SR)^2 = (1 + SR^2 / 2) / (n - 1)
    z = 0.1 * math.sqrt(100) / math.sqrt(1 + 0.5 * 0.01)
    assert probabilistic_sharpe(0.1, 0.0, 101, 0.0, 3.0) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))))


def test_pbo_by_hand_three_trials_two_blocks() -> None:
    # block A: trial 0 best (SR 1.41), trial 1 middle (0.71), trial 2 worst (0); block B: 2 best, 0 middle, 1 worst
    a = np.array([[0.03, 0.02, 0.01], [0.01, 0.00, -0.01]])
    b = np.array([[0.02, 0.01, 0.03], [0.00, -0.01, 0.01]])
    res = pbo_cscv(np.vstack([a, b]), n_blocks=2)
    # IS=A picks trial 0, OOS rank 2 of 3 -> w = 2/4 -> logit 0; IS=B picks trial 2, OOS rank 1 -> logit ln(1/3)
    assert res.n_splits == 2
    assert sorted(res.logits) == pytest.approx([math.log(1 / 3), 0.0])
    assert res.pbo == 1.0


def test_pbo_is_one_when_the_winner_always_reverses() -> None:
    m = np.array([[0.02, -0.01], [0.03, -0.02], [-0.01, 0.02], [-0.02, 0.03]])
    assert pbo_cscv(m, n_blocks=2).pbo == 1.0


def test_pbo_is_zero_when_one_trial_dominates_everywhere() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (160, 1))
    m = noise + np.arange(6) * 0.002  # same noise, higher mean: higher Sharpe on every sub-sample
    res = pbo_cscv(m, n_blocks=8)
    assert res.n_splits == 70  # C(8, 4)
    assert res.pbo == 0.0
    assert res.logits == pytest.approx(np.full(70, math.log(6 / 1)))


def test_pbo_of_pure_noise_is_one_half_on_average() -> None:
    # one matrix's 70 splits are strongly correlated (a trial lucky overall is lucky in both halves),
    # so the property holds over many noise matrices, not for each one
    rng = np.random.default_rng(11)
    pbos = [pbo_cscv(rng.normal(0, 0.01, (240, 20)), n_blocks=8).pbo for _ in range(60)]
    assert 0.4 < float(np.mean(pbos)) < 0.6


def test_pbo_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="even number"):
        pbo_cscv(np.zeros((40, 3)), n_blocks=3)
    with pytest.raises(ValueError, match="N >= 2"):
        pbo_cscv(np.zeros((40, 1)))
