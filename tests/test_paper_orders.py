"""Order domain: the explicit state table, deterministic client ids, lossless records."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from bot.errors import DataError
from bot.execution.orders import (TRANSITIONS, Fill, IllegalTransition, Liquidity, Order, OrderIntent, OrderLeg,
                                  OrderSide, OrderState, OrderType, Position, PositionSide, check_transition,
                                  client_order_id, from_record, new_order, to_record)

TS = datetime(2025, 1, 6, 12, 0, tzinfo=timezone.utc)


def intent(leg: OrderLeg = OrderLeg.ENTRY, **kw: object) -> OrderIntent:
    base = dict(client_id=client_order_id("sig-1", leg), symbol="BTC/USDT:USDT", side=OrderSide.BUY,
                type=OrderType.MARKET, leg=leg, qty=0.01, signal_id="sig-1", position_id="lq-e-x", created_at=TS,
                stop_loss=94000.0, take_profit=97000.0)
    base.update(kw)
    return OrderIntent(**base)  # type: ignore[arg-type]


@given(st.sampled_from(list(OrderState)), st.sampled_from(list(OrderState)))
def test_transition_follows_the_table_exactly(a: OrderState, b: OrderState) -> None:
    if a == b or b in TRANSITIONS[a]:
        assert check_transition(a, b) is b
    else:
        with pytest.raises(IllegalTransition):
            check_transition(a, b)


@pytest.mark.parametrize("terminal", [OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED])
def test_terminal_states_go_nowhere(terminal: OrderState) -> None:
    assert terminal.is_terminal and not TRANSITIONS[terminal]
    with pytest.raises(IllegalTransition):
        check_transition(terminal, OrderState.OPEN)


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(OrderState)


def test_client_order_id_is_deterministic_short_and_venue_safe() -> None:
    ids = {leg: client_order_id("sig-abc", leg) for leg in OrderLeg}
    assert ids == {leg: client_order_id("sig-abc", leg) for leg in OrderLeg}
    assert len(set(ids.values())) == len(OrderLeg)
    for cid in ids.values():
        assert len(cid) <= 36 and re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", cid)
    assert client_order_id("sig-abd", OrderLeg.ENTRY) != ids[OrderLeg.ENTRY]


def test_order_transition_returns_a_checked_copy() -> None:
    order = new_order(intent())
    assert order.state is OrderState.PENDING_SUBMIT
    opened = order.transition(OrderState.OPEN, TS, exchange_id="x1")
    assert opened.exchange_id == "x1" and order.state is OrderState.PENDING_SUBMIT
    filled = opened.transition(OrderState.FILLED, TS, filled_qty=0.01, avg_price=95000.0)
    assert filled.remaining == 0
    with pytest.raises(IllegalTransition):
        filled.transition(OrderState.OPEN, TS)


@pytest.mark.parametrize("bad", [dict(qty=0.0), dict(qty=float("nan")), dict(type=OrderType.LIMIT),
                                 dict(leg=OrderLeg.STOP_LOSS, type=OrderType.STOP_MARKET, price=1.0),
                                 dict(stop_loss=-1.0)])
def test_bad_intents_are_data_errors(bad: dict) -> None:
    with pytest.raises(DataError):
        intent(**bad)


def test_records_round_trip() -> None:
    order = new_order(intent()).transition(OrderState.OPEN, TS, exchange_id="paper-1")
    assert from_record(Order, to_record(order)) == order
    fill = Fill("t-1", order.client_id, "BTC/USDT:USDT", OrderSide.BUY, OrderLeg.ENTRY, 0.01, 95000.0, 0.475,
                Liquidity.TAKER, TS, order.client_id)
    assert from_record(Fill, to_record(fill)) == fill
    pos = Position("p", "BTC/USDT:USDT", PositionSide.SHORT, 0.5, 3300.0, TS, "sig", 3400.0, 3100.0, fees=1.0)
    assert from_record(Position, to_record(pos)) == pos


def test_position_side_helpers() -> None:
    assert PositionSide.LONG.entry_side is OrderSide.BUY and PositionSide.LONG.exit_side is OrderSide.SELL
    assert PositionSide.SHORT.sign == -1.0
    pos = Position("p", "X", PositionSide.SHORT, 2.0, 100.0, TS, "s")
    assert pos.unrealized(90.0) == pytest.approx(20.0)
