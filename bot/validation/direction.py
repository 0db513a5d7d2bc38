"""``magnets.direction``: does the stronger magnet tell which way price goes?

At each sample (hourly) take the magnet above (level U, USD u) and below (D, d) and the price P.
Outcome y = 1 when a later bar's high reaches U before any bar's low reaches D within the
horizon (7 days), 0 the other way round; undecided samples and same-bar ties are dropped and
counted. The baseline is the driftless random walk in log price (gambler's ruin):
p0 = d_dn / (d_up + d_dn), d_up = ln(U/P), d_dn = ln(P/D). The tilt adds the magnets' USD:
p = sigmoid(logit p0 + b ln(u/d)), with b fitted by maximum likelihood on the train samples only.
Skill on the test samples: 1 - loss(p) / loss(p0) for the log-loss and the Brier score (> 0: the
magnets add information). ``bull_minus_bear``: mean(y - p0) over BULLISH reads minus over
BEARISH reads (the product's bias classes: asymmetry u/d above ``bias_threshold`` or below its
inverse); > 0 when the bias points the right way beyond what distance alone explains.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.validation.bootstrap import block_ci
from bot.validation.history import Magnets
from bot.validation.numbers import ci_pair as _ci
from bot.validation.numbers import rnd as _r
from bot.validation.outcomes import FirstHit, first_hit

EPS = 1e-6
HORIZON_NS = 7 * 86_400 * 1_000_000_000


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def fit_tilt(p0: np.ndarray, x: np.ndarray, y: np.ndarray, iters: int = 50) -> float:
    """Maximum-likelihood b of p = sigmoid(logit p0 + b x) (1-D Newton; 0 without samples or signal)."""
    if y.size == 0 or not np.any(x != 0):
        return 0.0
    z0, b = _logit(p0), 0.0
    for _ in range(iters):
        p = _sigmoid(z0 + b * x)
        grad = float(np.sum((y - p) * x))
        hess = float(np.sum(p * (1 - p) * x * x))
        if hess <= 0:
            break
        step = grad / hess
        b += float(np.clip(step, -5, 5))
        if abs(step) < 1e-10:
            break
    return b


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss (NaN without samples)."""
    if y.size == 0:
        return float("nan")
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the probability (NaN without samples)."""
    return float(np.mean((p - y) ** 2)) if y.size else float("nan")


def skill(loss_model: float, loss_base: float) -> float:
    """1 - model / baseline (NaN when the baseline loss is not positive)."""
    return 1.0 - loss_model / loss_base if loss_base > 0 else float("nan")


def direction_samples(m: Magnets, open_ns: np.ndarray, high: np.ndarray, low: np.ndarray,
                      horizon_ns: int = HORIZON_NS) -> dict[str, np.ndarray]:
    """Per sample with both magnets: time, p0, x = ln(u/d), asymmetry, first-hit code."""
    both = np.isfinite(m.above_level) & np.isfinite(m.below_level) & (m.above_usd > 0) & (m.below_usd > 0)
    ts, price = m.ts[both], m.price[both]
    up, dn = m.above_level[both], m.below_level[both]
    code, _ = first_hit(open_ns, high, low, ts, up, dn, horizon_ns)
    d_up, d_dn = np.log(up / price), np.log(price / dn)
    return {"ts": ts, "p0": d_dn / (d_up + d_dn), "x": np.log(m.above_usd[both] / m.below_usd[both]),
            "asym": m.above_usd[both] / m.below_usd[both], "code": code, "no_magnet": np.array(int((~both).sum()))}


def direction_section(samples: dict[str, np.ndarray], split_ns: int | None, bias_threshold: float,
                      *, n_boot: int = 1000) -> dict[str, Any]:
    """The ``magnets.direction`` block: counts, b fitted on train (with CI), test skills with CIs."""
    code = samples["code"]
    decided = (code == FirstHit.UP) | (code == FirstHit.DOWN)
    ts = samples["ts"]
    train = decided & (ts < split_ns) if split_ns is not None else decided
    test = decided & (ts >= split_ns) if split_ns is not None else decided
    y = (code == FirstHit.UP).astype(np.float64)
    p0, x, asym = samples["p0"], samples["x"], samples["asym"]
    tr = np.flatnonzero(train)
    b = fit_tilt(p0[tr], x[tr], y[tr])
    b_ci = block_ci(ts[tr], lambda i: fit_tilt(p0[tr][i], x[tr][i], y[tr][i]), n_boot=min(n_boot, 300))

    def part(mask: np.ndarray) -> dict[str, Any]:
        idx = np.flatnonzero(mask)
        yy, pb, pm = y[idx], p0[idx], _sigmoid(_logit(p0[idx]) + b * x[idx])
        bull, bear = asym[idx] > bias_threshold, asym[idx] < 1.0 / bias_threshold

        def sk(i: np.ndarray) -> float:
            return skill(log_loss(pm[i], yy[i]), log_loss(pb[i], yy[i]))

        def sk_brier(i: np.ndarray) -> float:
            return skill(brier(pm[i], yy[i]), brier(pb[i], yy[i]))

        def bmb(i: np.ndarray) -> float:
            e = yy[i] - pb[i]
            bu, be = bull[i], bear[i]
            return float(e[bu].mean() - e[be].mean()) if bu.any() and be.any() else float("nan")

        t = ts[idx]
        return {"n": int(idx.size), "up_rate": _r(yy.mean()) if idx.size else None,
                "p0_mean": _r(pb.mean()) if idx.size else None,
                "logloss_base": _r(log_loss(pb, yy)), "logloss_model": _r(log_loss(pm, yy)),
                "skill_logloss": _r(sk(np.arange(idx.size))), "ci": _ci(block_ci(t, sk, n_boot=n_boot)),
                "skill_brier": _r(sk_brier(np.arange(idx.size))),
                "brier_ci": _ci(block_ci(t, sk_brier, n_boot=n_boot)),
                "bull_n": int(bull.sum()), "bear_n": int(bear.sum()), "neutral_n": int((~bull & ~bear).sum()),
                "bull_minus_bear": _r(bmb(np.arange(idx.size))),
                "bull_minus_bear_ci": _ci(block_ci(t, bmb, n_boot=n_boot)),
                "reliability": _reliability(pm, yy)}

    return {"horizon_h": HORIZON_NS / 3.6e12, "b": _r(b), "b_ci": _ci(b_ci),
            "counts": {"samples": int(code.size), "decided": int(decided.sum()),
                       "undecided": int((code == FirstHit.UNDECIDED).sum()), "ties": int((code == FirstHit.TIE).sum()),
                       "no_magnet": int(samples["no_magnet"])},
            "train": part(train), "test": part(test)}


def _reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed up-rate per decile bin of the predicted probability."""
    out = []
    edges = np.linspace(0, 1, bins + 1)
    k = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    for b in range(bins):
        sel = k == b
        if sel.any():
            out.append({"p": round(float(p[sel].mean()), 4), "observed": round(float(y[sel].mean()), 4),
                        "n": int(sel.sum())})
    return out

