"""A full round trip through real ccxt (binanceusdm) against the fake exchange.

signal -> market entry -> reduce-only stop (algo service) and take-profit (limit) -> the
target fills -> the stop is cancelled -> the trade is closed in the store with fees and PnL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.execution.orders import ExitReason, OrderLeg, OrderState, client_order_id
from bot.risk import TradingState
from bot.store import Store
from tests.fakes.binance_exchange import FakeBinance, working_orders
from tests.fakes.binance_venue import MAKER_FEE, TAKER_FEE
from tests.live_kit import long_signal, opened, session


@pytest.fixture()
def fake() -> FakeBinance:
    with FakeBinance() as ex:
        yield ex


def test_signal_to_closed_trade(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    assert live.start() == []
    signal = long_signal(entry=60_000.0, stop=59_000.0, target=61_500.0, notional=3_000.0)
    sl, tp = (client_order_id(signal.id, leg) for leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT))

    entry = live.enter(signal)
    assert entry is not None and entry.state is OrderState.OPEN  # accepted (ACK); the fill is read by sync
    assert fake.venue.leverage == {"BTCUSDT": 3} and fake.venue.margin_type == {"BTCUSDT": "ISOLATED"}

    live.step()  # the entry fill is read; the protective legs go on the exchange
    assert working_orders(fake) == sorted([sl, tp])
    stop = next(a for a in fake.venue.algos.values() if a.client_algo_id == sl)
    target = next(o for o in fake.venue.orders.values() if o.client_id == tp)
    assert (stop.order_type, stop.side, stop.reduce_only, stop.trigger_price, stop.qty) == \
        ("STOP_MARKET", "SELL", True, 59_000.0, 0.05)
    assert (target.type, target.side, target.reduce_only, target.price, target.qty) == \
        ("LIMIT", "SELL", True, 61_500.0, 0.05)

    fake.tick(61_600.0)  # trades through the target
    live.step()  # target fill read; the position is flat, so the stop is cancelled at the exchange
    assert working_orders(fake) == []
    assert stop.status == "CANCELED"
    live.step()  # the stop's cancellation reaches the store

    store: Store = live.store
    states = {o.client_id: o.state for o in store.orders()}
    assert states == {entry.client_id: OrderState.FILLED, sl: OrderState.CANCELED, tp: OrderState.FILLED}
    [trade] = store.trades()
    fees = 0.05 * 60_000.0 * TAKER_FEE + 0.05 * 61_500.0 * MAKER_FEE
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.gross_pnl == pytest.approx(0.05 * 1_500.0)
    assert trade.fees == pytest.approx(fees)
    assert trade.net_pnl == pytest.approx(0.05 * 1_500.0 - fees)
    assert store.positions() == [] and fake.venue.positions == {}
    assert fake.venue.wallet == pytest.approx(10_000.0 + trade.net_pnl)
    assert [f.leg for f in store.fills()] == [OrderLeg.ENTRY, OrderLeg.TAKE_PROFIT]
    assert store.risk_state()["state"] == TradingState.ACTIVE.value
    store.close()


def test_stop_fill_maps_back_to_the_stop_and_cancels_the_target(fake: FakeBinance, tmp_path: Path) -> None:
    live, signal = opened(fake, tmp_path)
    fake.tick(58_900.0)  # the stop triggers: a market order with its own id fills
    live.step()
    live.step()
    sl, tp = (client_order_id(signal.id, leg) for leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT))
    states = {o.client_id: o.state for o in live.store.orders()}
    assert states[sl] is OrderState.FILLED and states[tp] is OrderState.CANCELED
    [trade] = live.store.trades()
    assert trade.exit_reason is ExitReason.STOP_LOSS and trade.gross_pnl == pytest.approx(0.05 * -1_100.0)
    assert working_orders(fake) == [] and fake.venue.positions == {}
    live.store.close()


def test_a_stop_that_cannot_be_placed_closes_the_position_at_market(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    live.start()
    signal = long_signal()
    fake.tick(58_800.0)  # the market gapped below the signal's stop: the exchange refuses the stop (-2021)
    live.enter(signal)  # entry fills -> stop rejected -> market exit, all in the entry's step
    live.step()  # exit fill read; the target left working is cancelled
    live.step()
    states = {o.intent.leg: o.state for o in live.store.orders()}
    assert states[OrderLeg.STOP_LOSS] is OrderState.REJECTED and states[OrderLeg.EXIT] is OrderState.FILLED
    assert states[OrderLeg.TAKE_PROFIT] is OrderState.CANCELED
    [trade] = live.store.trades()
    assert trade.exit_reason is ExitReason.MARKET_EXIT and trade.exit_price == pytest.approx(58_800.0)
    assert fake.venue.positions == {} and working_orders(fake) == []
    live.store.close()
