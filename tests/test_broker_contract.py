"""One contract for every Broker: the paper broker and the ccxt broker on the fake exchange.

A ``Market`` wraps each broker with the one thing the protocol does not cover, moving the
price: the paper venue is handed a bar, the fake exchange ticks. Everything asserted below
goes through the Broker protocol only. Like the runner, a test reads ``fills()`` after the
market moved (the ccxt broker cancels a closed position's remaining leg when it reads the
closing fill; the paper venue does it as it fills).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Protocol

import pytest

from bot.errors import RejectedError
from bot.execution.orders import (OrderIntent, OrderLeg, OrderSide, OrderState, OrderType, PositionSide,
                                  client_order_id)
from bot.execution.paper import PaperBroker
from bot.execution.protocol import Broker
from config.settings import PaperSettings
from tests.fakes.binance_exchange import FakeBinance
from tests.live_kit import SYMBOL, broker

T0 = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
SIGNAL = "sig-contract"
QTY = 0.05


class Market(Protocol):
    broker: Broker

    def move(self, price: float) -> None: ...


class PaperMarket:
    def __init__(self) -> None:
        self.broker = PaperBroker(PaperSettings(slippage_bps=0.0, taker_fee=0.0005, maker_fee=0.0002))
        self.ts = T0
        self.move(60_000.0)

    def move(self, price: float) -> None:
        self.ts += timedelta(minutes=5)
        self.broker.on_open(SYMBOL, self.ts - timedelta(minutes=5), price)
        self.broker.on_bar(SYMBOL, self.ts, price, price, price, price)


class FakeExchangeMarket:
    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.broker = broker(fake)

    def move(self, price: float) -> None:
        self.fake.tick(price)


@pytest.fixture(params=["paper", "ccxt"])
def market(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Market]:
    if request.param == "paper":
        yield PaperMarket()
        return
    with FakeBinance() as fake:
        yield FakeExchangeMarket(fake)


def intent(leg: OrderLeg, kind: OrderType, side: OrderSide, price: float | None = None, qty: float = QTY,
           signal: str = SIGNAL) -> OrderIntent:
    cid = client_order_id(signal, leg)
    return OrderIntent(cid, SYMBOL, side, kind, leg, qty, signal, client_order_id(signal, OrderLeg.ENTRY), T0,
                       price=price, reduce_only=leg is not OrderLeg.ENTRY, stop_loss=59_000.0, take_profit=61_500.0)


ENTRY = intent(OrderLeg.ENTRY, OrderType.MARKET, OrderSide.BUY)
STOP = intent(OrderLeg.STOP_LOSS, OrderType.STOP_MARKET, OrderSide.SELL, 59_000.0)
TARGET = intent(OrderLeg.TAKE_PROFIT, OrderType.LIMIT, OrderSide.SELL, 61_500.0)


def enter(market: Market) -> None:
    market.broker.submit(ENTRY)
    market.move(60_000.0)
    market.broker.fills()


def test_market_entry_fills_and_opens_a_position(market: Market) -> None:
    accepted = market.broker.submit(ENTRY)
    assert accepted.client_id == ENTRY.client_id and accepted.state in (OrderState.OPEN, OrderState.FILLED)
    market.move(60_000.0)
    order = market.broker.fetch_order(ENTRY.client_id)
    assert order is not None and order.state is OrderState.FILLED and order.filled_qty == pytest.approx(QTY)
    [fill] = market.broker.fills()
    assert (fill.client_id, fill.leg, fill.side) == (ENTRY.client_id, OrderLeg.ENTRY, OrderSide.BUY)
    assert fill.qty == pytest.approx(QTY) and fill.price == pytest.approx(60_000.0)
    assert fill.fee == pytest.approx(QTY * 60_000.0 * 0.0005)
    [position] = market.broker.positions()
    assert (position.symbol, position.side) == (SYMBOL, PositionSide.LONG)
    assert position.qty == pytest.approx(QTY) and position.entry_price == pytest.approx(60_000.0)


def test_unknown_client_id_is_none(market: Market) -> None:
    assert market.broker.fetch_order("lq-e-doesnotexist") is None
    assert market.broker.cancel("lq-e-doesnotexist") is None


def test_protective_legs_rest_reduce_only(market: Market) -> None:
    enter(market)
    market.broker.submit(STOP)
    market.broker.submit(TARGET)
    working = market.broker.open_orders(SYMBOL)
    assert sorted(o.client_id for o in working) == sorted([STOP.client_id, TARGET.client_id])
    assert all(o.intent.reduce_only and o.state is OrderState.OPEN for o in working)


def test_cancel_is_idempotent(market: Market) -> None:
    enter(market)
    market.broker.submit(TARGET)
    first = market.broker.cancel(TARGET.client_id)
    again = market.broker.cancel(TARGET.client_id)
    assert first is not None and again is not None
    assert first.state is OrderState.CANCELED and again.state is OrderState.CANCELED
    assert market.broker.open_orders(SYMBOL) == []


def test_target_fill_closes_the_position_and_cancels_the_stop(market: Market) -> None:
    before = market.broker.balance().wallet
    enter(market)
    market.broker.submit(STOP)
    market.broker.submit(TARGET)
    market.move(61_600.0)
    fills = market.broker.fills()
    assert [f.leg for f in fills] == [OrderLeg.ENTRY, OrderLeg.TAKE_PROFIT]
    target, stop = (market.broker.fetch_order(i.client_id) for i in (TARGET, STOP))
    assert target is not None and target.state is OrderState.FILLED
    assert stop is not None and stop.state is OrderState.CANCELED
    assert market.broker.positions() == [] and market.broker.open_orders(SYMBOL) == []
    pnl = QTY * (61_500.0 - 60_000.0) - sum(f.fee for f in fills)
    assert market.broker.balance().wallet == pytest.approx(before + pnl)


def test_reduce_only_without_a_position_is_rejected(market: Market) -> None:
    with pytest.raises(RejectedError):
        market.broker.submit(TARGET)
    assert market.broker.open_orders(SYMBOL) == []


def test_insufficient_margin_is_rejected(market: Market) -> None:
    with pytest.raises(RejectedError):
        market.broker.submit(intent(OrderLeg.ENTRY, OrderType.MARKET, OrderSide.BUY, qty=10.0, signal="sig-big"))
    market.move(60_000.0)
    assert market.broker.positions() == []


def test_fills_since_is_inclusive(market: Market) -> None:
    enter(market)
    market.broker.submit(TARGET)
    market.move(61_600.0)
    every = market.broker.fills()
    later = market.broker.fills(every[-1].ts)
    assert [f.trade_id for f in later] == [f.trade_id for f in every if f.ts >= every[-1].ts]
    assert every[-1].trade_id in {f.trade_id for f in later}
    assert len({f.trade_id for f in every}) == len(every) == 2
