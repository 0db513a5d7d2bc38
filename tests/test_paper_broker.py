"""PaperBroker: docs/architecture.md §5 fill rules end to end, the broker contract, exact state round trip."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest

from bot.errors import RejectedError
from bot.execution.orders import (Liquidity, OrderIntent, OrderLeg, OrderSide, OrderState, OrderType, PositionSide,
                                  client_order_id)
from bot.execution.paper import PaperBroker
from bot.execution.protocol import BarDriven, Broker
from config.settings import PaperSettings

SYM = "BTC/USDT:USDT"
T0 = datetime(2025, 1, 6, 7, 0, tzinfo=timezone.utc)
BAR = timedelta(minutes=5)
SETTINGS = PaperSettings(starting_balance=10_000.0, taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0,
                         funding_interval_h=8, default_funding_rate=0.0001, venue_max_leverage=20.0)


def entry(signal: str = "s1", side: OrderSide = OrderSide.BUY, qty: float = 0.1, sl: float = 99_000.0,
          tp: float = 101_000.0) -> OrderIntent:
    cid = client_order_id(signal, OrderLeg.ENTRY)
    return OrderIntent(cid, SYM, side, OrderType.MARKET, OrderLeg.ENTRY, qty, signal, cid, T0, stop_loss=sl,
                       take_profit=tp)


def bracket(e: OrderIntent, leg: OrderLeg) -> OrderIntent:
    exit_side = OrderSide.SELL if e.side is OrderSide.BUY else OrderSide.BUY
    kind = OrderType.STOP_MARKET if leg is OrderLeg.STOP_LOSS else OrderType.LIMIT
    price = e.stop_loss if leg is OrderLeg.STOP_LOSS else e.take_profit
    return OrderIntent(client_order_id(e.signal_id, leg), SYM, exit_side, kind, leg, e.qty, e.signal_id,
                       e.position_id, T0, price=price, reduce_only=True)


def primed(price: float = 100_000.0) -> PaperBroker:
    broker = PaperBroker(SETTINGS)
    broker.on_open(SYM, T0, price)
    broker.on_bar(SYM, T0 + BAR, price, price, price, price)
    return broker


def open_long(broker: PaperBroker, at: float = 100_000.0) -> OrderIntent:
    e = entry()
    broker.submit(e)
    broker.on_open(SYM, T0 + BAR, at)
    broker.submit(bracket(e, OrderLeg.STOP_LOSS))
    broker.submit(bracket(e, OrderLeg.TAKE_PROFIT))
    return e


BROKERS: dict[str, Callable[[], PaperBroker]] = {"paper": primed}


@pytest.fixture(params=list(BROKERS))
def broker(request: pytest.FixtureRequest) -> PaperBroker:
    return BROKERS[request.param]()


# --- the contract every broker honours ------------------------------------------------------

def test_contract_protocols(broker: PaperBroker) -> None:
    assert isinstance(broker, Broker) and isinstance(broker, BarDriven)


def test_contract_submit_then_fetch_by_client_id(broker: PaperBroker) -> None:
    e = entry()
    placed = broker.submit(e)
    assert placed.state is OrderState.OPEN and broker.fetch_order(e.client_id) == placed
    assert [o.client_id for o in broker.open_orders()] == [e.client_id]
    assert broker.fetch_order("lq-e-unknown") is None


def test_contract_duplicate_client_id_is_rejected_not_placed_twice(broker: PaperBroker) -> None:
    broker.submit(entry())
    with pytest.raises(RejectedError):
        broker.submit(entry())
    assert len(broker.open_orders()) == 1


def test_contract_cancel_is_idempotent(broker: PaperBroker) -> None:
    e = entry()
    broker.submit(e)
    first = broker.cancel(e.client_id)
    assert first is not None and first.state is OrderState.CANCELED
    assert broker.cancel(e.client_id) == first
    assert broker.cancel("lq-e-nothing") is None and broker.open_orders() == []


def test_contract_reduce_only_without_position_is_rejected(broker: PaperBroker) -> None:
    with pytest.raises(RejectedError):
        broker.submit(bracket(entry(), OrderLeg.STOP_LOSS))


# --- paper fill rules -------------------------------------------------------------------------

def test_market_entry_fills_at_next_open_with_slippage_and_taker_fee() -> None:
    broker = primed()
    e = entry()
    broker.submit(e)
    assert broker.positions() == []
    fills = broker.on_open(SYM, T0 + BAR, 100_100.0)
    assert len(fills) == 1
    f = fills[0]
    assert f.price == pytest.approx(100_100.0 * 1.0002) and f.liquidity is Liquidity.TAKER
    assert f.fee == pytest.approx(f.qty * f.price * 0.0005)
    (pos,) = broker.positions()
    assert pos.side is PositionSide.LONG and pos.qty == pytest.approx(0.1) and pos.position_id == e.client_id
    assert broker.fetch_order(e.client_id).state is OrderState.FILLED  # type: ignore[union-attr]
    assert broker.balance().wallet == pytest.approx(10_000.0 - f.fee)


def test_take_profit_fills_as_maker_and_cancels_the_stop() -> None:
    broker = primed()
    e = open_long(broker)
    fills = broker.on_bar(SYM, T0 + 2 * BAR, 100_000.0, 101_500.0, 99_500.0, 101_200.0)
    assert len(fills) == 1 and fills[0].leg is OrderLeg.TAKE_PROFIT
    assert fills[0].price == 101_000.0 and fills[0].liquidity is Liquidity.MAKER
    assert broker.positions() == [] and broker.open_orders() == []
    sl = broker.fetch_order(client_order_id(e.signal_id, OrderLeg.STOP_LOSS))
    assert sl is not None and sl.state is OrderState.CANCELED


def test_stop_wins_a_bar_that_touches_both() -> None:
    broker = primed()
    open_long(broker)
    (f,) = broker.on_bar(SYM, T0 + 2 * BAR, 100_000.0, 101_500.0, 98_500.0, 100_000.0)
    assert f.leg is OrderLeg.STOP_LOSS and f.price == pytest.approx(99_000.0 * (1 - 0.0002))
    entry_fill = broker.fills()[0]
    expected = 10_000.0 + 0.1 * (f.price - entry_fill.price) - entry_fill.fee - f.fee
    assert broker.balance().wallet == pytest.approx(expected) and broker.balance().unrealized == 0


def test_funding_is_charged_at_funding_times_only_on_open_positions() -> None:
    broker = primed()
    open_long(broker)
    wallet = broker.balance().wallet
    ts = T0 + BAR
    while ts < datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc):
        ts += BAR
        broker.on_bar(SYM, ts, 100_000.0, 100_100.0, 99_900.0, 100_000.0, funding_rate=0.0002)
    (pos,) = broker.positions()
    assert pos.funding == pytest.approx(-0.1 * 100_000.0 * 0.0002)
    assert broker.balance().wallet == pytest.approx(wallet + pos.funding)


def test_margin_beyond_venue_leverage_is_rejected() -> None:
    broker = primed()
    with pytest.raises(RejectedError):
        broker.submit(entry(qty=3.0))  # 300k notional > 10k x 20


def test_short_round_trip_pnl() -> None:
    broker = primed(3000.0)
    cid = client_order_id("s2", OrderLeg.ENTRY)
    e = OrderIntent(cid, SYM, OrderSide.SELL, OrderType.MARKET, OrderLeg.ENTRY, 1.0, "s2", cid, T0,
                    stop_loss=3100.0, take_profit=2900.0)
    broker.submit(e)
    broker.on_open(SYM, T0 + BAR, 3000.0)
    broker.submit(bracket(e, OrderLeg.TAKE_PROFIT))
    (f,) = broker.on_bar(SYM, T0 + 2 * BAR, 3000.0, 3010.0, 2890.0, 2895.0)
    assert f.side is OrderSide.BUY and f.price == 2900.0
    entry_fill = broker.fills()[0]
    assert broker.balance().wallet == pytest.approx(
        10_000.0 + (entry_fill.price - 2900.0) - entry_fill.fee - f.fee)


def test_state_round_trip_continues_identically() -> None:
    a = primed()
    open_long(a)
    b = PaperBroker.from_state(SETTINGS, a.state())
    assert b.state() == a.state()
    bars = [(100_200.0, 100_400.0, 99_800.0, 100_300.0), (100_300.0, 101_200.0, 100_100.0, 101_100.0)]
    for i, (o, h, low, c) in enumerate(bars):
        ts = T0 + (2 + i) * BAR
        assert a.on_bar(SYM, ts, o, h, low, c) == b.on_bar(SYM, ts, o, h, low, c)
    assert a.state() == b.state() and a.balance() == b.balance()
