"""Fault scenarios against the fake exchange through real ccxt (research B11 item 10).

Each drives the Runner on a live venue (``tests.live_kit.LiveBot``: a bar step per ``enter`` and
``step``) and asserts the final store, exchange and risk state, never log text.
Client timeouts are 0.6 s and delayed replies 1.5 s, so a timeout costs well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.execution.orders import OrderLeg, OrderState, client_order_id, new_order
from bot.runner import entry_intent
from bot.risk import TradingState
from tests.fakes.binance_exchange import FakeBinance, Fault, working_orders
from tests.live_kit import SLOW_S, SYMBOL, LiveBot, long_signal, opened, session, settings

pytestmark = pytest.mark.faults
ORDER = "/fapi/v1/order"


@pytest.fixture()
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as ex:
        yield ex


def states(live: LiveBot) -> dict[str, OrderState]:
    return {o.client_id: o.state for o in live.store.orders()}


def risk(live: LiveBot) -> str:
    return str((live.store.risk_state() or {})["state"])


def creates(fake: FakeBinance, cid: str) -> int:
    """How many creates for ``cid`` reached the server (a create is never retried)."""
    return sum(1 for r in fake.calls("POST", ORDER) if r.params.get("newClientOrderId") == cid)


def legs(signal_id: str) -> list[str]:
    return sorted(client_order_id(signal_id, leg) for leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT))


def test_create_accepted_then_timed_out_is_found_not_resubmitted(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    live.start()
    signal = long_signal()
    fake.fault("POST", ORDER, Fault(delay_s=SLOW_S, apply=True))
    entry = live.enter(signal)
    assert entry is not None and entry.state is OrderState.UNKNOWN
    live.step()  # resolved by client id: it exists and filled
    live.step()
    assert states(live)[entry.client_id] is OrderState.FILLED
    assert creates(fake, entry.client_id) == 1
    assert [p.qty for p in live.store.positions()] == [0.05] and fake.venue.position("BTCUSDT")[0] == 0.05
    assert working_orders(fake) == legs(signal.id)
    assert risk(live) == TradingState.ACTIVE


def test_create_timed_out_before_acceptance_is_settled_after_grace(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    live.start()
    fake.fault("POST", ORDER, Fault(delay_s=SLOW_S, apply=False))
    entry = live.enter(long_signal())
    assert entry is not None and entry.state is OrderState.UNKNOWN
    live.step()  # one "does not exist" inside the grace period proves nothing
    assert states(live)[entry.client_id] is OrderState.UNKNOWN
    live.clock.advance(live.settings.live.unknown_grace_s)
    live.step()
    assert states(live)[entry.client_id] is OrderState.REJECTED
    assert creates(fake, entry.client_id) == 1 and fake.venue.orders == {}
    assert live.store.positions() == [] and fake.venue.positions == {}
    assert risk(live) == TradingState.ACTIVE


def test_rate_limit_burst(fake: FakeBinance, tmp_path: Path) -> None:
    slept: list[float] = []
    live = session(fake, tmp_path)
    live.broker.sleep = slept.append
    live.start()
    first, second = long_signal(), long_signal(ts=long_signal().timestamp.replace(hour=13))
    fake.fault("POST", ORDER, Fault(status=429, code=-1003, msg="Too many requests.", retry_after=1))
    refused = live.enter(first)
    assert refused is not None and refused.state is OrderState.REJECTED  # a 429 refuses before matching
    # reads ride out a 429/418 burst within the retry budget, honouring Retry-After
    fake.fault("GET", ORDER, Fault(status=429, code=-1003, retry_after=1), Fault(status=418, code=-1003, retry_after=2))
    placed = live.enter(second)
    live.step()
    assert states(live)[placed.client_id] is OrderState.FILLED  # type: ignore[union-attr]
    assert 1.0 in slept and 2.0 in slept
    # a ban longer than retry_after_max_s fails each step at once; enough of them halt the bot
    for _ in range(live.settings.risk.max_consecutive_errors):
        fake.fault("GET", "/fapi/v1/userTrades", Fault(status=418, code=-1003, retry_after=600))
        live.step()
    assert risk(live) == TradingState.HALTED
    assert all(o.client_id != refused.client_id for o in fake.venue.orders.values())
    assert fake.venue.position("BTCUSDT")[0] == 0.05
    assert working_orders(fake) == legs(second.id)


def test_insufficient_margin_rejects_the_entry(fake: FakeBinance, tmp_path: Path) -> None:
    fake.venue.wallet = 500.0  # 3,000 USD at 3x needs 1,000 of margin
    live = session(fake, tmp_path)
    live.start()
    entry = live.enter(long_signal())
    assert entry is not None and entry.state is OrderState.REJECTED
    assert "InsufficientFunds" in (live.store.get_order(entry.client_id).reason or "")  # type: ignore[union-attr]
    live.step()
    assert fake.venue.orders == {} and fake.venue.positions == {} and live.store.positions() == []
    assert risk(live) == TradingState.ACTIVE


def test_partial_fill_then_cancel(fake: FakeBinance, tmp_path: Path) -> None:
    live, signal = opened(fake, tmp_path)
    fake.venue.limit_fill_cap = 0.02  # thin book: the target fills 0.02 of 0.05
    fake.tick(61_600.0)
    live.step()
    sl, tp = client_order_id(signal.id, OrderLeg.STOP_LOSS), client_order_id(signal.id, OrderLeg.TAKE_PROFIT)
    assert states(live)[tp] is OrderState.PARTIALLY_FILLED
    assert [p.qty for p in live.store.positions()] == [pytest.approx(0.03)]
    fake.tick(58_900.0)  # the stop closes the rest; the target's remainder is cancelled
    live.step()
    live.step()
    target = live.store.get_order(tp)
    assert target is not None and target.state is OrderState.CANCELED and target.filled_qty == pytest.approx(0.02)
    assert states(live)[sl] is OrderState.FILLED
    [trade] = live.store.trades()
    assert trade.qty == pytest.approx(0.05) and trade.gross_pnl == pytest.approx(0.02 * 1_500 - 0.03 * 1_100)
    assert working_orders(fake) == [] and fake.venue.positions == {} and live.store.positions() == []
    assert risk(live) == TradingState.ACTIVE


def test_order_invisible_for_a_while_after_creation(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    live.start()
    fake.venue.hide_next = 4  # the exchange denies the order on its next four queries
    fake.fault("POST", ORDER, Fault(delay_s=SLOW_S, apply=True))
    signal = long_signal()
    entry = live.enter(signal)
    seen = []
    for _ in range(4):
        live.clock.advance(2.0)  # well inside the grace period
        live.step()
        seen.append(states(live)[entry.client_id])  # type: ignore[union-attr]
    assert OrderState.REJECTED not in seen and seen[-1] is OrderState.FILLED
    live.step()
    assert creates(fake, entry.client_id) == 1  # type: ignore[union-attr]
    assert [p.qty for p in live.store.positions()] == [0.05] and working_orders(fake) == legs(signal.id)
    assert risk(live) == TradingState.ACTIVE


def test_crash_between_exchange_call_and_store_write(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path)
    live.start()
    placed, lost = long_signal(), long_signal(ts=long_signal().timestamp.replace(hour=14))
    intents = [entry_intent(s, live.clock.now()) for s in (placed, lost)]
    live.store.record_intents([new_order(i) for i in intents])  # write-ahead of both
    live.broker.submit(intents[0])  # the exchange took the first; then the process died
    live.store.close()

    again = session(fake, tmp_path)
    assert again.start() == []
    again.step()
    assert states(again)[intents[0].client_id] is OrderState.FILLED
    assert states(again)[intents[1].client_id] is OrderState.CANCELED  # never reached the exchange
    assert creates(fake, intents[0].client_id) == 1 and creates(fake, intents[1].client_id) == 0
    assert [p.qty for p in again.store.positions()] == [0.05] and working_orders(fake) == legs(placed.id)
    assert risk(again) == TradingState.ACTIVE


def test_restart_with_an_order_unknown_to_the_store_halts(fake: FakeBinance, tmp_path: Path) -> None:
    fake.venue.place("BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0, False, "placed-by-hand")
    live = session(fake, tmp_path)
    problems = live.start()
    assert any("placed-by-hand" in p for p in problems)
    assert risk(live) == TradingState.HALTED
    assert live.enter(long_signal()) is None
    assert working_orders(fake) == ["placed-by-hand"]  # halted, nothing flattened or cancelled
    assert live.store.orders() == []


def test_a_position_the_store_does_not_know_halts(fake: FakeBinance, tmp_path: Path) -> None:
    fake.venue.place("BTCUSDT", "SELL", "MARKET", 0.02, 0.0, False, "opened-by-hand")
    live = session(fake, tmp_path)
    problems = live.start()
    assert problems and risk(live) == TradingState.HALTED
    live.step()  # halted: still syncing, never entering, never flattening
    assert fake.venue.position("BTCUSDT")[0] == -0.02 and live.store.orders() == []
    assert risk(live) == TradingState.HALTED


def test_a_fresh_store_ignores_the_accounts_closed_history(fake: FakeBinance, tmp_path: Path) -> None:
    fake.venue.place("BTCUSDT", "BUY", "MARKET", 0.02, 0.0, False, "old-1")
    fake.venue.place("BTCUSDT", "SELL", "MARKET", 0.02, 0.0, True, "old-2")  # flat again
    live = session(fake, tmp_path)
    assert live.start() == []
    live.step()
    assert risk(live) == TradingState.ACTIVE and live.store.fills() == []


def test_restart_with_an_order_missing_at_the_exchange_halts(fake: FakeBinance, tmp_path: Path) -> None:
    live, signal = opened(fake, tmp_path)
    live.store.close()
    tp = client_order_id(signal.id, OrderLeg.TAKE_PROFIT)
    gone = next(o.order_id for o in fake.venue.orders.values() if o.client_id == tp)
    del fake.venue.orders[gone]  # purged at the exchange while the bot was down

    again = session(fake, tmp_path)
    problems = again.start()
    assert any(tp in p for p in problems)
    assert risk(again) == TradingState.HALTED
    assert states(again)[tp] is OrderState.OPEN  # not guessed
    assert fake.venue.position("BTCUSDT")[0] == 0.05


def test_clock_jump_outside_recv_window(fake: FakeBinance, tmp_path: Path) -> None:
    live = session(fake, tmp_path, settings(fake))
    live.start()
    live.broker.configure(SYMBOL)
    fake.clock_offset_ms = 30_000  # the exchange's clock is now 30 s ahead of ours: reads resync and retry
    # the step's reads come before its create, so the create's own -1021 is scripted
    fake.fault("POST", ORDER, Fault(status=400, code=-1021,
                                    msg="Timestamp for this request is outside of the recvWindow."))
    first, second = long_signal(), long_signal(ts=long_signal().timestamp.replace(hour=15))
    refused = live.enter(first)
    assert refused is not None and refused.state is OrderState.REJECTED  # -1021: not placed, clock resynced
    assert live.broker.exchange.options["timeDifference"] < -25_000
    placed = live.enter(second)
    live.step()
    assert states(live)[placed.client_id] is OrderState.FILLED  # type: ignore[union-attr]
    assert creates(fake, refused.client_id) == 1 and fake.venue.position("BTCUSDT")[0] == 0.05
    assert working_orders(fake) == legs(second.id)
    assert risk(live) == TradingState.ACTIVE
