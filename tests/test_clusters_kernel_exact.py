"""The fast paths of the cluster kernels give exactly what the plain definitions give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings as hsettings, strategies as st

from bot.clusters.kernel import lex_argsort, quantile_kernel
from bot.clusters.kernel_group import _significant, local_maxima, prominences


def sorted_quantile(values: np.ndarray, q: float) -> float:
    """Linear interpolation between the order statistics of a full sort (the definition)."""
    s = np.sort(values)
    k = q * (s.size - 1)
    lo = int(k)
    return float(s[lo]) if lo + 1 >= s.size else float(s[lo] + (k - lo) * (s[lo + 1] - s[lo]))


@hsettings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]), st.integers(0, 2 ** 32 - 1),
       st.sampled_from(["lognormal", "ties", "ascending", "descending"]))
def test_the_quantile_is_the_exact_order_statistic_interpolation(n, q, seed, kind) -> None:
    rng = np.random.default_rng(seed)
    values = {"lognormal": lambda: rng.lognormal(15, 2, n), "ties": lambda: rng.integers(0, 4, n).astype(float),
              "ascending": lambda: np.sort(rng.normal(size=n)),
              "descending": lambda: np.sort(rng.normal(size=n))[::-1].copy()}[kind]()
    before = values.copy()
    assert quantile_kernel(values, q) == sorted_quantile(values, q)
    assert np.array_equal(values, before)  # the input is left alone


rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 2)), max_size=60)


@hsettings(max_examples=300, deadline=None)
@given(rows)
def test_lex_argsort_is_the_stable_sort_by_three_keys(data) -> None:
    a, b, c = (np.array([float(r[i]) for r in data]) for i in range(3))
    assert lex_argsort(a, b, c).tolist() == np.lexsort((c, b, a)).tolist()  # lexsort is stable


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 8), min_size=3, max_size=40), st.floats(0.0, 1.0))
def test_the_early_exit_significance_test_matches_the_prominence(values, frac) -> None:
    x = np.array(values, dtype=np.float64)
    peaks = local_maxima(x)
    prom = prominences(x, peaks)
    for p, pr in zip(peaks.tolist(), prom.tolist()):
        need = (1.0 - frac) * x[p]
        assert _significant(x, p, need) == (pr >= need)
