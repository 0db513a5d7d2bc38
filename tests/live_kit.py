"""Shared pieces of the live-trading tests: settings, a CcxtBroker on the fake exchange, a Signal,
and :class:`LiveBot`, the real Runner on a live venue with bars and signals handed in by the test.

``LiveBot`` keeps everything real but the market data and the strategy: the runner, its
LiveVenue, the CcxtBroker through ccxt on the fake exchange, the store, the risk guard, the
synthetic heatmap model. A bar is made on demand (contiguous, so the quality gate trades it)
and a :class:`FixedEngine` emits exactly the Signals the test queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.clock import FakeClock, FakeSleeper
from bot.execution.orders import Order, OrderLeg, client_order_id
from bot.feeds.base import Bar, BarBatch, FeedPoll
from bot.feeds.heatmaps import SyntheticHeatmaps
from bot.live.ccxt_broker import CcxtBroker, KnownOrders
from bot.live.exchange import make_live_exchange
from bot.live.venue import LiveVenue
from bot.risk import TradingState
from bot.runner import Runner, StepInfo
from bot.store import Store
from bot.synthetic.model import SyntheticParams
from config.settings import ExchangeSettings, LiveSettings, RiskSettings, Settings
from strategies.engine import EngineResult
from strategies.signal import (ClusterData, Direction, HeatmapRef, MarketSentiment, PositionSize, Signal, StrategyName,
                               exact_risk_reward, signal_id)
from tests.fakes.binance_exchange import API_KEY, API_SECRET, FakeBinance

SYMBOL = "BTC/USDT:USDT"
CLIENT_TIMEOUT_MS = 600  # faults delay replies past this
SLOW_S = 1.5
BAR = timedelta(minutes=1)
OI_USD = 5e9


def settings(fake: FakeBinance, **live: Any) -> Settings:
    """Settings that trade on ``fake``: short client timeout, instant retries, keys from the fake.

    The guard's leverage cap is loose so that the exchange, not the guard, refuses what a
    test makes it refuse (margin).
    """
    exchange = ExchangeSettings(api_key=SecretStr(API_KEY), api_secret=SecretStr(API_SECRET),
                                timeout_ms=CLIENT_TIMEOUT_MS)
    base = dict(api_base=fake.url, backoff_initial_s=0.0, backoff_max_s=0.0, unknown_grace_s=20.0)
    return Settings(exchange=exchange, live=LiveSettings(**(base | live)), symbols=[SYMBOL],
                    risk=RiskSettings(max_leverage=20.0))


def broker(fake: FakeBinance, cfg: Settings | None = None, known: KnownOrders | None = None,
           clock: FakeClock | None = None) -> CcxtBroker:
    """A connected CcxtBroker on ``fake`` (retries do not sleep)."""
    cfg = cfg or settings(fake)
    exchange = make_live_exchange(cfg.exchange, cfg.live)
    exchange.enableRateLimit = False  # the fake has no limits; scripted 429s test the reaction
    out = CcxtBroker(exchange, cfg.live, cfg.symbols, known=known, clock=clock, sleep=lambda s: None)
    out.connect()
    return out


@dataclass
class FixedEngine:
    """An engine fake: emits the queued Signals of the snapshot's symbol, once each."""

    queue: list[Signal] = field(default_factory=list)

    def run(self, snapshot: Any, clusters: Any, ctx: Any, magnets: Any) -> EngineResult:
        """The queued signals of ``snapshot.symbol`` (removed from the queue)."""
        mine = [s for s in self.queue if s.symbol == snapshot.symbol]
        self.queue = [s for s in self.queue if s.symbol != snapshot.symbol]
        return EngineResult(signals=mine)


class HandFeed:
    """The runner's feed when the test hands bars in (``LiveBot.bar``); polling yields nothing."""

    def __init__(self, symbols: tuple[str, ...], timeframe: timedelta) -> None:
        self.symbols = symbols
        self.timeframe = timeframe
        self.cursor: datetime | None = None

    def seek(self, after: datetime | None) -> None:
        """Resume after the stored cursor."""
        self.cursor = after

    def poll(self, now: datetime) -> FeedPoll:
        """No bars unless handed in."""
        return FeedPoll(wait_s=1.0)


@dataclass
class LiveBot:
    """The Runner on a LiveVenue over the fake exchange; ``enter`` and ``step`` are bar steps."""

    runner: Runner
    fake: FakeBinance
    clock: FakeClock
    engine: FixedEngine
    settings: Settings

    @property
    def store(self) -> Store:
        """The runner's store."""
        return self.runner.store

    @property
    def broker(self) -> CcxtBroker:
        """The ccxt broker behind the venue."""
        return self.runner.broker  # type: ignore[return-value]

    def start(self) -> list[str]:
        """Startup reconciliation; the mismatches (they halt)."""
        return self.runner.start()

    def bar(self) -> StepInfo:
        """One closed bar at the exchange's price, right after the last one (the gate trades it)."""
        feed: HandFeed = self.runner.feed  # type: ignore[assignment]
        close = feed.cursor + BAR if feed.cursor is not None else self.clock.now()
        feed.cursor = close
        price = self.fake.venue.prices["BTCUSDT"]
        bar = Bar(SYMBOL, close - BAR, close, price, price, price, price, 1.0, oi_usd=OI_USD)
        return self.runner.step(BarBatch(close, (bar,)), self.clock.now())

    def enter(self, signal: Signal) -> Order | None:
        """A bar on which the engine emits ``signal``: the entry as the exchange answered, if sent."""
        self.engine.queue.append(signal)
        cid = client_order_id(signal.id, OrderLeg.ENTRY)
        return next((o for o in self.bar().placed if o.client_id == cid), None)

    def step(self) -> StepInfo:
        """A bar without a signal (settles with the exchange first)."""
        return self.bar()

    def tend(self) -> TradingState:
        """Between bars: settle with the exchange."""
        return self.runner.tend(self.clock.now())


def session(fake: FakeBinance, state: Path, cfg: Settings | None = None, clock: FakeClock | None = None) -> LiveBot:
    """A LiveBot on ``fake`` with its store in ``state`` and a fake clock that sleeping advances (not started)."""
    cfg = cfg or settings(fake)
    clock = clock or FakeClock(datetime.now(timezone.utc))
    store = Store.open(state)
    sleeper = FakeSleeper(clock)
    venue = LiveVenue(broker(fake, cfg, known=store, clock=clock), store, cfg.live, clock, sleeper)
    engine = FixedEngine()
    symbols = tuple(cfg.symbols)
    runner = Runner(settings=cfg, feed=HandFeed(symbols, BAR), store=store, venue=venue,
                    heatmaps=SyntheticHeatmaps(SyntheticParams(), symbols, BAR), engine=engine, clock=clock,
                    sleeper=sleeper, historic=False)
    return LiveBot(runner, fake, clock, engine, cfg)


def opened(fake: FakeBinance, state: Path, signal: Signal | None = None) -> tuple[LiveBot, Signal]:
    """A started bot holding a filled long entry with its stop and target on the exchange."""
    live = session(fake, state)
    live.start()
    signal = signal or long_signal()
    live.enter(signal)
    live.step()
    return live, signal


def long_signal(entry: float = 60_000.0, stop: float = 59_000.0, target: float = 61_500.0,
                notional: float = 3_000.0, ts: datetime | None = None) -> Signal:
    """A valid LONG Signal on BTC with the given prices."""
    ts = ts or datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    sid = signal_id(SYMBOL, StrategyName.LIQUIDATION_HUNT, ts, "c-short-61500")
    return Signal(id=sid, timestamp=ts, symbol=SYMBOL, strategy=StrategyName.LIQUIDATION_HUNT, signal=Direction.LONG,
                  entry_price=entry, stop_loss=stop, take_profit=target,
                  risk_reward=round(exact_risk_reward(Direction.LONG, entry, stop, target), 2), confidence=0.7,
                  position_size=PositionSize(base_usd=notional, multiplier=1.0, notional_usd=notional),
                  reason="short liquidations above", cluster_data=ClusterData(
                      cluster_id="c-short-61500", price_level=target, side="short", strength=0.8,
                      open_interest=5e6, distance_from_price=2.5, leverage_tier=25),
                  market_sentiment=MarketSentiment(sentiment="BULLISH_BIAS", long_short_ratio=1.1, total_oi_usd=6e9,
                                                   magnet_asymmetry=1.5),
                  heatmap=HeatmapRef(source="synthetic", snapshot_ts=ts))
