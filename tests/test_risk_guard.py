"""Risk guard: limits on entries, trips that only escalate, persistence, explicit reset."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from bot.risk import (Exposure, RiskGuard, RiskState, TradingState, check_entry, on_equity, on_step, reset)
from config.settings import RiskSettings

LIMITS = RiskSettings(max_open_positions=2, max_notional_per_symbol=5_000.0, max_leverage=2.0,
                      max_daily_loss_pct=5.0, max_drawdown_pct=10.0, max_consecutive_errors=3)
T0 = datetime(2025, 1, 6, 1, 0, tzinfo=timezone.utc)


def exposure(**kw: float) -> Exposure:
    base = dict(equity=10_000.0, open_positions=0, symbol_notional=0.0, total_notional=0.0)
    base.update(kw)
    return Exposure(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("exp, notional, allowed", [
    (exposure(), 1_000.0, True),
    (exposure(open_positions=2), 1_000.0, False),
    (exposure(symbol_notional=4_500.0), 1_000.0, False),
    (exposure(total_notional=19_500.0), 1_000.0, False),
    (exposure(equity=0.0), 1_000.0, False),
])
def test_entry_limits(exp: Exposure, notional: float, allowed: bool) -> None:
    decision = check_entry(RiskState(), LIMITS, exp, notional)
    assert decision.allowed is allowed and (decision.reason is None) is allowed


def test_daily_loss_trips_reducing_and_blocks_entries() -> None:
    s = on_equity(RiskState(), LIMITS, T0, 10_000.0)
    s = on_equity(s, LIMITS, T0 + timedelta(hours=1), 9_600.0)
    assert s.state is TradingState.ACTIVE
    s = on_equity(s, LIMITS, T0 + timedelta(hours=2), 9_499.0)
    assert s.state is TradingState.REDUCING and "daily loss" in (s.reason or "")
    assert not check_entry(s, LIMITS, exposure(), 100.0).allowed


def test_the_day_restarts_at_midnight_but_a_trip_does_not_clear() -> None:
    s = on_equity(RiskState(), LIMITS, T0, 10_000.0)
    s = on_equity(s, LIMITS, T0 + timedelta(hours=1), 9_400.0)
    s = on_equity(s, LIMITS, T0 + timedelta(days=1), 9_400.0)
    assert s.day_start_equity == 9_400.0 and s.state is TradingState.REDUCING


def test_drawdown_from_peak_halts() -> None:
    s = RiskState()
    for day, equity in enumerate([10_000.0, 11_000.0, 10_500.0, 10_000.0, 9_850.0]):
        s = on_equity(s, LIMITS, T0 + timedelta(days=day), equity)
    assert s.peak_equity == 11_000.0 and s.state is TradingState.HALTED


def test_consecutive_errors_halt_and_a_clean_step_resets_the_count() -> None:
    s = on_step(on_step(RiskState(), LIMITS, T0, "boom"), LIMITS, T0, "boom")
    s = on_step(s, LIMITS, T0, None)
    assert s.consecutive_errors == 0 and s.state is TradingState.ACTIVE
    for _ in range(3):
        s = on_step(s, LIMITS, T0, "boom")
    assert s.state is TradingState.HALTED


@given(st.lists(st.floats(5_000.0, 15_000.0), min_size=1, max_size=40))
def test_trips_only_escalate(equities: list[float]) -> None:
    s, rank = RiskState(), 0
    order = [TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]
    for i, equity in enumerate(equities):
        s = on_equity(s, LIMITS, T0 + timedelta(hours=i), equity)
        assert order.index(s.state) >= rank
        rank = order.index(s.state)


def test_state_survives_a_restart_and_needs_an_explicit_reset() -> None:
    guard = RiskGuard(LIMITS)
    guard.on_equity(T0, 10_000.0)
    guard.on_equity(T0 + timedelta(days=1), 8_000.0)
    assert guard.trading_state is TradingState.HALTED
    restarted = RiskGuard(LIMITS, RiskState.from_record(guard.state.to_record()))
    assert restarted.state == guard.state
    restarted.on_equity(T0 + timedelta(days=2), 8_000.0)
    assert restarted.trading_state is TradingState.HALTED
    cleared = reset(restarted.state, T0 + timedelta(days=2), 8_000.0)
    assert cleared.state is TradingState.ACTIVE
    assert on_equity(cleared, LIMITS, T0 + timedelta(days=2, hours=1), 8_000.0).state is TradingState.ACTIVE
