"""The rolling strength reference: quantile, window, cold start, state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.clusters.strength import StrengthReference, quantile


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e12), min_size=1, max_size=50), st.floats(0.0, 1.0))
def test_quantile_equals_numpy(values, q) -> None:
    a = np.array(values)
    assert quantile(a, q) == pytest.approx(float(np.quantile(a, q)), rel=1e-12, abs=1e-9)


def test_the_window_keeps_the_newest_sizes() -> None:
    ref = StrengthReference(window=4, quantile=1.0)
    ref.push(np.array([1.0, 2.0, 3.0]))
    ref.push(np.array([4.0, 5.0]))
    assert ref.sizes() == [2.0, 3.0, 4.0, 5.0] and len(ref) == 4
    ref.push(np.arange(10.0))
    assert ref.sizes() == [6.0, 7.0, 8.0, 9.0]


def test_cold_start_reads_against_the_current_sizes() -> None:
    ref = StrengthReference(window=10, quantile=0.5)
    assert ref.strengths(np.array([1.0, 2.0, 4.0])).tolist() == [0.5, 1.0, 1.0]
    assert ref.strengths(np.array([])).size == 0
    assert ref.strengths(np.zeros(2)).tolist() == [0.0, 0.0]


def test_state_round_trip_continues_identically() -> None:
    a = StrengthReference(window=5, quantile=0.9)
    a.push(np.arange(1.0, 8.0))
    b = StrengthReference.from_state(5, 0.9, a.state())
    for chunk in (np.array([10.0]), np.array([0.5, 0.7, 30.0])):
        a.push(chunk)
        b.push(chunk)
        assert a.sizes() == b.sizes()
        assert a.reference(np.empty(0)) == b.reference(np.empty(0))
