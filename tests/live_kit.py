"""Shared pieces of the live-trading tests: settings, a CcxtBroker on the fake exchange, a Signal."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.clock import FakeClock, FakeSleeper
from bot.live.ccxt_broker import CcxtBroker, KnownOrders
from bot.live.exchange import make_live_exchange
from bot.live.session import LiveSession, entry_intent
from bot.store import Store
from config.settings import ExchangeSettings, LiveSettings, Settings
from strategies.signal import (ClusterData, Direction, HeatmapRef, MarketSentiment, PositionSize, Signal, StrategyName,
                               exact_risk_reward, signal_id)
from tests.fakes.binance_exchange import API_KEY, API_SECRET, FakeBinance

SYMBOL = "BTC/USDT:USDT"
CLIENT_TIMEOUT_MS = 600  # faults delay replies past this
SLOW_S = 1.5


def settings(fake: FakeBinance, **live: Any) -> Settings:
    """Settings that trade on ``fake``: short client timeout, instant retries, keys from the fake."""
    exchange = ExchangeSettings(api_key=SecretStr(API_KEY), api_secret=SecretStr(API_SECRET),
                                timeout_ms=CLIENT_TIMEOUT_MS)
    base = dict(api_base=fake.url, backoff_initial_s=0.0, backoff_max_s=0.0, unknown_grace_s=20.0)
    return Settings(exchange=exchange, live=LiveSettings(**(base | live)), symbols=[SYMBOL])


def broker(fake: FakeBinance, cfg: Settings | None = None, known: KnownOrders | None = None,
           clock: FakeClock | None = None) -> CcxtBroker:
    """A connected CcxtBroker on ``fake`` (retries do not sleep)."""
    cfg = cfg or settings(fake)
    exchange = make_live_exchange(cfg.exchange, cfg.live)
    exchange.enableRateLimit = False  # the fake has no limits; scripted 429s test the reaction
    out = CcxtBroker(exchange, cfg.live, cfg.symbols, known=known, clock=clock, sleep=lambda s: None)
    out.connect()
    return out


def session(fake: FakeBinance, state: Path, cfg: Settings | None = None,
            clock: FakeClock | None = None) -> LiveSession:
    """A LiveSession on ``fake`` with its store in ``state`` and a fake clock that sleeping advances."""
    cfg = cfg or settings(fake)
    clock = clock or FakeClock(datetime.now(timezone.utc))
    store = Store.open(state)
    return LiveSession(broker(fake, cfg, known=store, clock=clock), store, cfg, clock, FakeSleeper(clock))


def opened(fake: FakeBinance, state: Path, signal: Signal | None = None) -> tuple[LiveSession, Signal]:
    """A started session holding a filled long entry with its stop and target on the exchange."""
    live = session(fake, state)
    live.start()
    signal = signal or long_signal()
    live.enter(entry_intent(signal, live.clock.now()))
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
