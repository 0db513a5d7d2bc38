"""The pure fill rules: slippage, stop-wins, trade-through targets, gaps, funding."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, strategies as st

from bot.execution import fills as rules
from bot.execution.orders import OrderLeg, OrderSide, PositionSide

T0 = datetime(2025, 1, 6, tzinfo=timezone.utc)


def test_market_slippage_is_adverse() -> None:
    assert rules.market_fill_price(100.0, OrderSide.BUY, 10) == pytest.approx(100.1)
    assert rules.market_fill_price(100.0, OrderSide.SELL, 10) == pytest.approx(99.9)


def test_stop_wins_when_a_bar_touches_both() -> None:
    hit = rules.bracket_exit(PositionSide.LONG, 99.0, 101.0, 100.0, 102.0, 98.0, 0)
    assert hit == (OrderLeg.STOP_LOSS, 99.0)
    hit = rules.bracket_exit(PositionSide.SHORT, 101.0, 99.0, 100.0, 102.0, 98.0, 0)
    assert hit == (OrderLeg.STOP_LOSS, 101.0)


def test_target_needs_price_to_trade_through() -> None:
    assert rules.bracket_exit(PositionSide.LONG, 95.0, 101.0, 100.0, 101.0, 99.5, 0) is None
    assert rules.bracket_exit(PositionSide.LONG, 95.0, 101.0, 100.0, 101.01, 99.5, 0) == (OrderLeg.TAKE_PROFIT, 101.0)
    assert rules.bracket_exit(PositionSide.SHORT, 105.0, 99.0, 100.0, 100.5, 98.9, 0) == (OrderLeg.TAKE_PROFIT, 99.0)


def test_stop_touch_is_enough_and_gaps_fill_at_the_open() -> None:
    assert rules.bracket_exit(PositionSide.LONG, 99.0, None, 100.0, 100.0, 99.0, 0) == (OrderLeg.STOP_LOSS, 99.0)
    leg, price = rules.bracket_exit(PositionSide.LONG, 99.0, None, 97.0, 97.5, 96.0, 10)  # type: ignore[misc]
    assert leg is OrderLeg.STOP_LOSS and price == pytest.approx(97.0 * 0.999)
    leg, price = rules.bracket_exit(PositionSide.SHORT, 101.0, None, 103.0, 104.0, 102.0, 10)  # type: ignore[misc]
    assert price == pytest.approx(103.0 * 1.001)


@given(st.lists(st.tuples(st.booleans(), st.floats(0.5, 1.5), st.floats(1.0, 1.5), st.floats(0.5, 1.0),
                          st.floats(0.8, 1.2)), min_size=1, max_size=30))
def test_vector_and_scalar_rules_agree(rows: list[tuple[bool, float, float, float, float]]) -> None:
    sign = np.array([1.0 if r[0] else -1.0 for r in rows])
    open_ = np.array([r[4] for r in rows])
    high = np.maximum(open_, np.array([r[2] for r in rows]))
    low = np.minimum(open_, np.array([r[3] for r in rows]))
    stop = np.where(sign > 0, 0.9, 1.1) * np.array([r[1] for r in rows])
    target = np.where(sign > 0, 1.1, 0.9) * np.array([r[1] for r in rows])
    code, price = rules.bracket_exits(sign, stop, target, open_, high, low, 5)
    for i in range(len(rows)):
        side = PositionSide.LONG if sign[i] > 0 else PositionSide.SHORT
        hit = rules.bracket_exit(side, stop[i], target[i], open_[i], high[i], low[i], 5)
        if hit is None:
            assert code[i] == rules.NO_EXIT
        else:
            assert code[i] == (rules.STOP_EXIT if hit[0] is OrderLeg.STOP_LOSS else rules.TARGET_EXIT)
            assert price[i] == pytest.approx(hit[1])
            # an exit is never better than its level
            better = (price[i] > stop[i]) if sign[i] > 0 else (price[i] < stop[i])
            assert not (hit[0] is OrderLeg.STOP_LOSS and better)


def test_funding_times_are_the_venue_instants() -> None:
    times = rules.funding_times(datetime(2025, 1, 6, 7, 55, tzinfo=timezone.utc),
                                datetime(2025, 1, 6, 16, 0, tzinfo=timezone.utc), 8)
    assert [t.hour for t in times] == [8, 16]
    assert rules.funding_times(T0, T0, 8) == []
    assert len(rules.funding_times(T0, datetime(2025, 1, 9, tzinfo=timezone.utc), 8)) == 9


def test_positive_funding_longs_pay_shorts_receive() -> None:
    assert rules.funding_amount(1.0, 2.0, 100.0, 0.0001) == pytest.approx(-0.02)
    assert rules.funding_amount(-1.0, 2.0, 100.0, 0.0001) == pytest.approx(0.02)
    assert rules.fee(-1000.0, 0.0005) == pytest.approx(0.5)
