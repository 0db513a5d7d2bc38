"""End to end: the Runner ``liqbot live`` runs, on one fake Binance USDT-M exchange through real ccxt.

The live feed reads scripted 5m candles and positioning from the fake's public endpoints, the
synthetic heatmap model and the cluster tracker run on them, a fixed engine emits one LONG
Signal on one bar (the strategies' own signals are covered by the engine tests), and the
ccxt broker trades it through the LiveVenue: entry -> reduce-only stop and target on the
exchange -> the price trades through the target -> the stop is cancelled -> a closed trade in
the store. The bot is restarted with the position open and again after it closed: startup
reconciliation passes and nothing is sent or stored twice. A fake clock drives the loop
(sleeping advances it and moves the fake market on schedule); every run ends at a set time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.cli.commands.live import live_feed
from bot.cli.commands.paper import PaperPlan, build_runner
from bot.clock import FakeClock, FakeSleeper
from bot.execution.orders import ExitReason, OrderLeg, OrderState, client_order_id
from bot.live.exchange import make_live_exchange
from bot.live.venue import ccxt_venue
from bot.runner import Runner
from bot.signallog import read_log
from bot.store import Decision
from config.settings import FeedSettings, Settings
from strategies.engine import EngineResult
from strategies.signal import Signal
from tests.fakes.binance_exchange import FakeBinance, working_orders
from tests.fakes.binance_venue import MAKER_FEE, TAKER_FEE
from tests.live_kit import SYMBOL, long_signal, settings

TF = timedelta(minutes=5)
WARMUP = timedelta(hours=1)
ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"


def floor5(ts: datetime) -> datetime:
    return datetime.fromtimestamp(int(ts.timestamp()) // 300 * 300, timezone.utc)


# t0: the close of the last warmup bar; the run happens in the exchange's recent past, so
# the exchange's own (wall-clock) fill times come after every decision time
T0 = floor5(datetime.now(timezone.utc)) - timedelta(hours=2)
SIGNAL_BAR = T0 + 2 * TF   # the engine emits on the bar closing here
RALLY = T0 + 3 * TF + timedelta(minutes=2)   # the exchange trades through the target


def candles() -> list[tuple[int, float, float, float, float, float]]:
    """Flat at 60,000 through warmup and the entry, a rally bar to 61,600, flat after."""
    rows = []
    t = T0 - WARMUP - TF
    while t < T0 + timedelta(hours=2):
        o = 60_000.0 if t <= T0 + 3 * TF else 61_600.0  # the bar opening at T0 + 15m rallies
        c = 60_000.0 if t < T0 + 3 * TF else 61_600.0
        rows.append((int(t.timestamp() * 1000), o, max(o, c), min(o, c), c, 40.0))
        t += TF
    return rows


@dataclass
class OneSignalEngine:
    """An engine fake: ``signal`` on the bar whose snapshot is ``at``; records every bar it saw."""

    signal: Signal
    at: datetime
    seen: list[datetime] = field(default_factory=list)

    def run(self, snapshot: Any, clusters: Any, ctx: Any, magnets: Any) -> EngineResult:
        self.seen.append(snapshot.ts)
        return EngineResult(signals=[self.signal] if snapshot.ts == self.at else [])


class MarketSleeper(FakeSleeper):
    """Sleeping advances the fake clock and applies the exchange's scheduled price moves."""

    def __init__(self, clock: FakeClock, fake: FakeBinance, moves: list[tuple[datetime, float]]) -> None:
        super().__init__(clock)
        self.fake = fake
        self.moves = sorted(moves)

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        while self.moves and self.moves[0][0] <= self.clock.now():
            self.fake.tick(self.moves.pop(0)[1])


@pytest.fixture()
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as ex:
        ex.tape.candles["BTCUSDT"] = candles()
        yield ex


def cfg(fake: FakeBinance) -> Settings:
    base = settings(fake, reconcile_interval_s=60.0)
    return base.model_copy(update={"feed": FeedSettings(live_prices_s=60.0, live_oi_s=300.0)})


def start_bot(fake: FakeBinance, state: Path, clock: FakeClock, sleeper: FakeSleeper, engine: Any) -> Runner:
    """What ``liqbot live`` builds (a fresh process: a new ccxt client, feed and venue)."""
    config = cfg(fake)
    plan = PaperPlan(feed="live", symbols=(SYMBOL,), speed=math.inf, duration=None, warmup=WARMUP, state=state,
                     seed=0)
    exchange = make_live_exchange(config.exchange, config.live)
    exchange.enableRateLimit = False  # ccxt's throttle sleeps in real time
    feed, meta = live_feed(config, plan)
    feed.exchange.enableRateLimit = False
    return build_runner(config, plan, clock=clock, sleeper=sleeper, feed=(feed, meta), engine=engine,
                        venue=ccxt_venue(exchange, config.live, plan.symbols, clock, sleeper))


def stop(runner: Runner) -> None:
    runner.signal_log.close()
    runner.store.close()


def creates(fake: FakeBinance) -> list[str]:
    """Client ids of every create that reached the exchange."""
    return sorted([r.params.get("newClientOrderId", "") for r in fake.calls("POST", ORDER)]
                  + [r.params.get("clientAlgoId", "") for r in fake.calls("POST", ALGO)])


def test_live_runner_trades_a_signal_to_a_closed_trade_and_restarts_clean(fake: FakeBinance, tmp_path: Path) -> None:
    state = tmp_path / "state"
    signal = long_signal(entry=60_000.0, stop=59_000.0, target=61_500.0, notional=3_000.0, ts=SIGNAL_BAR)
    entry, sl, tp = (client_order_id(signal.id, leg) for leg in (OrderLeg.ENTRY, OrderLeg.STOP_LOSS,
                                                                  OrderLeg.TAKE_PROFIT))
    engine = OneSignalEngine(signal, SIGNAL_BAR)
    clock = FakeClock(T0 + timedelta(seconds=5))
    sleeper = MarketSleeper(clock, fake, [(RALLY, 61_600.0)])

    # run 1: warmup, the signal, the entry and its protective legs; stopped with the position open
    runner = start_bot(fake, state, clock, sleeper, engine)
    assert runner.problems == []
    runner.run(until=SIGNAL_BAR + timedelta(minutes=2))
    assert SIGNAL_BAR in engine.seen and min(engine.seen) > T0  # warmup bars feed the model only
    assert fake.venue.position("BTCUSDT") == (0.05, 60_000.0)
    stop_order = next(a for a in fake.venue.algos.values() if a.client_algo_id == sl)
    target = next(o for o in fake.venue.orders.values() if o.client_id == tp)
    assert (stop_order.side, stop_order.order_type, stop_order.reduce_only, stop_order.trigger_price) == \
        ("SELL", "STOP_MARKET", True, 59_000.0)
    assert (target.side, target.type, target.reduce_only, target.price) == ("SELL", "LIMIT", True, 61_500.0)
    assert working_orders(fake) == sorted([sl, tp])
    assert [p.qty for p in runner.store.positions()] == [0.05]
    stop(runner)

    # run 2: a restart with the position open; the target fills, the stop is cancelled
    runner = start_bot(fake, state, clock, sleeper, engine)
    assert runner.problems == []
    runner.run(until=T0 + 4 * TF - timedelta(seconds=30))  # the rally bar has not closed yet
    assert [t.exit_reason for t in runner.store.trades()] == [ExitReason.TAKE_PROFIT]  # read between bars
    runner.run(until=T0 + 6 * TF)
    assert working_orders(fake) == [] and stop_order.status == "CANCELED" and fake.venue.positions == {}
    store = runner.store
    assert {o.client_id: o.state for o in store.orders()} == \
        {entry: OrderState.FILLED, sl: OrderState.CANCELED, tp: OrderState.FILLED}
    [trade] = store.trades()
    fees = 0.05 * 60_000.0 * TAKER_FEE + 0.05 * 61_500.0 * MAKER_FEE
    assert trade.exit_reason is ExitReason.TAKE_PROFIT and trade.signal_id == signal.id
    assert trade.net_pnl == pytest.approx(0.05 * 1_500.0 - fees)
    assert store.positions() == [] and store.risk_state()["state"] == "ACTIVE"
    assert [(d.signal_id, d.decision, d.client_id) for d in store.decisions()] == \
        [(signal.id, Decision.SUBMITTED, entry)]
    before = (store.orders(), store.fills(), store.trades(), creates(fake))
    assert before[3] == sorted([entry, sl, tp])
    stop(runner)

    # run 3: a restart after the close; reconciliation passes, nothing is sent or stored twice
    runner = start_bot(fake, state, clock, sleeper, engine)
    assert runner.problems == []
    runner.run(until=T0 + 9 * TF)
    store = runner.store
    assert (store.orders(), store.fills(), store.trades(), creates(fake)) == before
    assert datetime.fromisoformat(store.kv_get("cursor")) > T0 + 5 * TF  # it kept trading bars
    assert sorted(engine.seen) == sorted(set(engine.seen))  # no bar was decided twice across restarts
    assert store.risk_state()["state"] == "ACTIVE"
    stop(runner)
    assert [s.signal.id for s in read_log(state / "signals.jsonl").signals] == [signal.id]


def test_a_halted_live_runner_keeps_reading_the_exchange_and_never_enters(fake: FakeBinance, tmp_path: Path) -> None:
    fake.venue.place("BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0, False, "placed-by-hand")
    signal = long_signal(ts=SIGNAL_BAR)
    clock = FakeClock(T0 + timedelta(seconds=5))
    sleeper = MarketSleeper(clock, fake, [])
    runner = start_bot(fake, tmp_path / "state", clock, sleeper, OneSignalEngine(signal, SIGNAL_BAR))
    assert any("placed-by-hand" in p for p in runner.problems)
    runner.run(until=T0 + 4 * TF)
    assert creates(fake) == [] and fake.venue.positions == {}
    [decision] = runner.store.decisions()
    assert decision.decision is Decision.DENIED and "HALTED" in (decision.reason or "")
    assert len(fake.calls("GET", "/fapi/v1/userTrades")) > 4  # settled on every bar and between bars
    assert runner.store.risk_state()["state"] == "HALTED"
    stop(runner)
