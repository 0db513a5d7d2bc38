"""The request budget: weight per rolling minute and a server's Retry-After."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.heatmap.providers.budget import RequestBudget

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_spends_up_to_the_limit_then_waits_for_the_oldest_to_leave_the_window() -> None:
    budget = RequestBudget(per_minute=10)
    for k in range(5):  # five requests of weight 2 at 0, 10, ..., 40 s
        assert budget.try_spend(2, T0 + timedelta(seconds=10 * k))
    assert budget.used(T0 + timedelta(seconds=40)) == 10
    assert not budget.try_spend(2, T0 + timedelta(seconds=45)) and budget.denied == 1
    assert budget.wait_s(2, T0 + timedelta(seconds=45)) == pytest.approx(15.0)  # the t=0 spend leaves at 60 s
    assert budget.wait_s(4, T0 + timedelta(seconds=45)) == pytest.approx(25.0)  # two must leave
    assert budget.try_spend(2, T0 + timedelta(seconds=60))


def test_retry_after_defers_every_request() -> None:
    budget = RequestBudget(per_minute=1200)
    budget.defer(T0 + timedelta(seconds=30))
    assert budget.wait_s(2, T0) == pytest.approx(30.0)
    assert not budget.try_spend(2, T0 + timedelta(seconds=29))
    assert budget.try_spend(2, T0 + timedelta(seconds=30))


def test_a_request_heavier_than_the_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="never fits"):
        RequestBudget(per_minute=10).wait_s(11, T0)
