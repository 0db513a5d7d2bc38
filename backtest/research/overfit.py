"""Overfitting figures over a set of trials: the deflated Sharpe ratio and PBO by CSCV.

- Deflated Sharpe ratio (Bailey and Lopez de Prado, "The Deflated Sharpe Ratio", 2014): the
  probability that the true Sharpe ratio of the selected trial exceeds the Sharpe ratio one
  expects from the best of N unskilled trials, given the observed skewness and kurtosis of its
  returns and the number of observations. Sharpe ratios here are per period (not annualised).
- Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
  Borwein, Lopez de Prado and Zhu, "The Probability of Backtest Overfitting", 2015): the
  T x N matrix of per-period returns of N trials is cut into S even blocks; for every choice of
  S/2 blocks as in-sample (the rest out-of-sample) the in-sample best trial's relative rank
  out-of-sample is turned into a logit; PBO is the share of splits whose logit is <= 0 (the
  in-sample winner ranks at or below the out-of-sample median).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.stats import norm

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """E[max SR] of ``n_trials`` independent unskilled trials whose Sharpe ratios have variance ``var_sharpe``."""
    if n_trials < 1:
        raise ValueError("expected_max_sharpe needs at least one trial")
    if n_trials == 1 or var_sharpe <= 0:
        return 0.0
    n = float(n_trials)
    z = (1.0 - EULER_GAMMA) * norm.ppf(1.0 - 1.0 / n) + EULER_GAMMA * norm.ppf(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(var_sharpe) * z)


def probabilistic_sharpe(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """P(true SR > ``sr_benchmark``) for an observed per-period ``sr`` over ``n_obs`` returns (kurtosis non-excess)."""
    if n_obs < 2:
        return float("nan")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var <= 0:
        return float("nan")
    return float(norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)))


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """The DSR of a selected trial and what it rests on."""

    dsr: float
    sharpe: float            # observed, per period
    sr0: float               # expected max Sharpe of the unskilled trials, per period
    n_trials: int
    n_obs: int
    skew: float
    kurtosis: float


def deflated_sharpe(sr: float, n_trials: int, var_sharpe: float, n_obs: int, skew: float,
                    kurtosis: float) -> DeflatedSharpe:
    """The deflated Sharpe ratio of a trial with per-period ``sr`` chosen as the best of ``n_trials``."""
    sr0 = expected_max_sharpe(n_trials, var_sharpe)
    return DeflatedSharpe(dsr=probabilistic_sharpe(sr, sr0, n_obs, skew, kurtosis), sharpe=sr, sr0=sr0,
                          n_trials=n_trials, n_obs=n_obs, skew=skew, kurtosis=kurtosis)


def period_sharpe(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio of each column of a T x N matrix (0 where a column does not vary)."""
    r = np.asarray(returns, np.float64)
    sd = r.std(axis=0, ddof=1) if r.shape[0] > 1 else np.zeros(r.shape[1])
    mean = r.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), 0.0)


@dataclass(frozen=True, slots=True)
class PBOResult:
    """PBO and the logits of its splits."""

    pbo: float
    logits: np.ndarray
    n_splits: int
    n_blocks: int
    n_trials: int


def pbo_cscv(returns: np.ndarray, n_blocks: int = 8) -> PBOResult:
    """PBO of the N trials whose per-period returns are the columns of ``returns`` (T x N), by CSCV.

    Performance of a trial on a sub-sample is its per-period Sharpe ratio; the relative rank of the
    in-sample best among the N out-of-sample figures is ``rank / (N + 1)`` (rank 1 = worst), so
    its logit is 0 exactly at the median. Rows that do not fill ``n_blocks`` even blocks are
    dropped from the start (the oldest).
    """
    m = np.asarray(returns, np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("pbo_cscv needs a T x N matrix with N >= 2 trials")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"pbo_cscv needs an even number of blocks >= 2, got {n_blocks}")
    t = (m.shape[0] // n_blocks) * n_blocks
    if t < 2 * n_blocks:
        raise ValueError(f"pbo_cscv needs at least 2 rows per block: {m.shape[0]} rows, {n_blocks} blocks")
    blocks = np.split(m[m.shape[0] - t:], n_blocks)
    n = m.shape[1]
    logits = []
    for chosen in combinations(range(n_blocks), n_blocks // 2):
        rest = [b for b in range(n_blocks) if b not in chosen]
        is_perf = period_sharpe(np.vstack([blocks[b] for b in chosen]))
        oos_perf = period_sharpe(np.vstack([blocks[b] for b in rest]))
        best = int(np.argmax(is_perf))
        # rank 1..N of the IS winner among the OOS figures (ties share the average rank)
        rank = float(np.sum(oos_perf < oos_perf[best]) + 0.5 * (np.sum(oos_perf == oos_perf[best]) - 1) + 1)
        w = rank / (n + 1.0)
        logits.append(math.log(w / (1.0 - w)))
    lg = np.asarray(logits)
    return PBOResult(pbo=float(np.mean(lg <= 0)), logits=lg, n_splits=lg.size, n_blocks=n_blocks, n_trials=n)
