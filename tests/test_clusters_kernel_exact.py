"""The fast paths of the cluster kernels give exactly what the plain definitions give."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.clusters.kernel import lex_argsort, lex_merge_argsort, quantile_kernel
from bot.clusters.kernel_profile import _significant, local_maxima, prominences
from bot.clusters.kernel_strength import quantile_near


def sorted_quantile(values: np.ndarray, q: float) -> float:
    """Linear interpolation between the order statistics of a full sort (the definition)."""
    s = np.sort(values)
    k = q * (s.size - 1)
    lo = int(k)
    return float(s[lo]) if lo + 1 >= s.size else float(s[lo] + (k - lo) * (s[lo + 1] - s[lo]))


@hsettings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]), st.integers(0, 2 ** 32 - 1),
       st.sampled_from(["lognormal", "ties", "few", "ascending", "descending"]))
def test_the_quantile_is_the_exact_order_statistic_interpolation(n, q, seed, kind) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, n, kind)
    before = values.copy()
    assert quantile_kernel(values, q) == sorted_quantile(values, q)
    assert np.array_equal(values, before)  # the input is left alone


def _values(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    return {"lognormal": lambda: rng.lognormal(15, 2, n), "ties": lambda: rng.integers(0, 4, n).astype(float),
            "few": lambda: rng.choice(np.array([-2.5, 0.1, 0.3, 7.0])[:int(rng.integers(1, 5))], n),
            "ascending": lambda: np.sort(rng.normal(size=n)),
            "descending": lambda: np.sort(rng.normal(size=n))[::-1].copy()}[kind]()


@hsettings(max_examples=300, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([0.5, 0.9, 0.95, 0.99, 1.0]), st.integers(0, 2 ** 32 - 1),
       st.sampled_from(["lognormal", "ties", "few", "ascending"]),
       st.sampled_from([0.0, -1.0, np.inf, np.nan, 0.5, 0.99, 0.9985, 1.0, 1.0015, 1.005, 2.0]))
def test_the_warm_started_quantile_is_exact_for_any_guess(n, q, seed, kind, factor) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, n, kind)
    if kind == "lognormal":  # the strength ring's case: a guess near the answer, and crowded duplicates
        values = np.concatenate([values, np.repeat(values[: n // 4], 3)])
    truth = sorted_quantile(values, q)
    guess = factor * truth if np.isfinite(factor) and factor > 0 else factor
    before = values.copy()
    assert quantile_near(values, q, guess) == truth
    assert np.array_equal(values, before)


rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 2)), max_size=60)


@hsettings(max_examples=300, deadline=None)
@given(rows)
def test_lex_argsort_is_the_stable_sort_by_three_keys(data) -> None:
    a, b, c = (np.array([float(r[i]) for r in data]) for i in range(3))
    assert lex_argsort(a, b, c).tolist() == np.lexsort((c, b, a)).tolist()  # lexsort is stable


@hsettings(max_examples=300, deadline=None)
@given(rows, st.integers(0, 60), st.booleans())
def test_merging_two_sorted_runs_is_the_stable_sort(data, split, presort) -> None:
    a, b, c = (np.array([float(r[i]) for r in data]) for i in range(3))
    split = min(split, a.size)
    if presort:  # the usual case: both runs already in order
        for lo, hi in ((0, split), (split, a.size)):
            o = np.lexsort((c[lo:hi], b[lo:hi], a[lo:hi])) + lo
            a[lo:hi], b[lo:hi], c[lo:hi] = a[o], b[o], c[o]
    assert lex_merge_argsort(a, b, c, split).tolist() == np.lexsort((c, b, a)).tolist()


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 8), min_size=3, max_size=40), st.floats(0.0, 1.0))
def test_the_early_exit_significance_test_matches_the_prominence(values, frac) -> None:
    x = np.array(values, dtype=np.float64)
    peaks = local_maxima(x)
    prom = prominences(x, peaks)
    for p, pr in zip(peaks.tolist(), prom.tolist()):
        need = (1.0 - frac) * x[p]
        assert _significant(x, p, need) == (pr >= need)
