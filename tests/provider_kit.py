"""Shared set-up of the provider tests: a fake exchange market + fake providers, and a paper-live run on them."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from bot.clock import FakeClock, FakeSleeper
from bot.signallog import read_log
from strategies.signal import Signal
from tests.fakes.binance_public import FakeMarket, install, kline
from tests.fakes.heatmap_providers import (COINGLASS_KEY, KIYOTAKA_KEY, install_bastion, install_coinglass,
                                           install_kiyotaka, install_perp_api)
from tests.fakes.http_server import FakeHttpServer
from tests.fakes.hyperliquid_info import FakeHyperliquid, install_hyperliquid
from tests.fakes.hyperliquid_info import accounts as hl_accounts
from tests.test_runner_livefeed import install_live_routes

SYM = "BTC/USDT:USDT"
TF = timedelta(minutes=5)
HTTP_SOURCES = ("kiyotaka", "coinglass", "bastion", "perp-api", "hyperliquid")


def ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def key(s: Signal) -> tuple[Any, ...]:
    """What parity compares: id, time, strategy, side and the three prices."""
    return (s.id, s.timestamp, s.strategy.value, s.signal.value, s.entry_price, s.stop_loss, s.take_profit)


@dataclass
class World:
    """One fake exchange market and every fake provider on one server, on one fake clock."""

    server: FakeHttpServer
    clock: FakeClock
    t0: datetime

    def env(self) -> dict[str, str]:
        """The settings that point every provider at the fakes (keys included)."""
        url = self.server.url
        return {"LIQBOT_PROVIDERS__KIYOTAKA_BASE_URL": url, "LIQBOT_PROVIDERS__KIYOTAKA_API_KEY": KIYOTAKA_KEY,
                "LIQBOT_PROVIDERS__COINGLASS_BASE_URL": url, "LIQBOT_PROVIDERS__COINGLASS_API_KEY": COINGLASS_KEY,
                "LIQBOT_PROVIDERS__BASTION_BASE_URL": url, "LIQBOT_PROVIDERS__PERP_API_BASE_URL": url,
                "LIQBOT_PROVIDERS__HYPERLIQUID_BASE_URL": url, "LIQBOT_DOWNLOAD__EXCHANGE_API_BASE": url}


def world(t0: datetime, perp_key: str | None = None, perp_fault_at: Any = None,
          kiyotaka_key: str = KIYOTAKA_KEY, coinglass_key: str = COINGLASS_KEY) -> Iterator[World]:
    """Start the server; the providers' clock is the runner's fake clock."""
    clock = FakeClock(t0 + timedelta(seconds=5))
    with FakeHttpServer() as srv:
        install(srv, FakeMarket(ms(t0 - timedelta(days=3)), ms(t0 + timedelta(days=3))))
        install_live_routes(srv)
        now = lambda: clock.now().timestamp()  # noqa: E731
        install_kiyotaka(srv, key=kiyotaka_key, scale=100.0)
        install_coinglass(srv, key=coinglass_key, clock=now, peaks=True)
        install_bastion(srv, clock=now)
        install_perp_api(srv, clock=now, key=perp_key, fault_at=perp_fault_at)
        install_hyperliquid(srv, FakeHyperliquid(hl_accounts(60), clock=now))
        yield World(srv, clock, t0)


def paper_live(w: World, settings: Any, source: str, state: Path, hours: float, warmup: timedelta) -> Any:
    """A paper run on the live feed (ccxt against the fake exchange) and ``source``'s live maps."""
    from bot.cli.commands.paper import PaperPlan, build_runner
    from bot.feeds.live import LiveFeed
    from bot.marketdata.fetch import make_exchange
    plan = PaperPlan(feed="live", symbols=(SYM,), speed=float("inf"), duration=None, warmup=warmup, state=state,
                     seed=7)
    feed = LiveFeed(make_exchange("binanceusdm", timeout_ms=2000, api_base=w.server.url), (SYM,), TF,
                    warmup=warmup, prices_s=60, oi_s=300)
    args = argparse.Namespace(heatmap=source, heatmaps=None)
    runner = build_runner(settings, plan, args=args, clock=w.clock, sleeper=FakeSleeper(w.clock),
                          feed=(feed, {"feed": "live", "symbols": [SYM]}))
    try:
        runner.run(until=w.t0 + timedelta(hours=hours, seconds=10))
    finally:
        runner.signal_log.close()
        runner.store.close()
    return runner


def write_candles(w: World, path: Path, start: datetime, end: datetime) -> Path:
    """The fake exchange's 5m candles of ``[start, end)`` as a freqtrade JSON file (for ``backtest``)."""
    rows = []
    t = ms(start)
    while t < ms(end):
        k = kline(t, 300_000)
        rows.append([k[0], float(k[1]), float(k[2]), float(k[3]), float(k[4]), float(k[5])])
        t += 300_000
    path.write_text(json.dumps(rows))
    return path


def signals(path: Path) -> list[Signal]:
    """The signals of a signal log."""
    return [x.signal for x in read_log(path).signals]


T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def paper_replay(w: World, settings: Any, source: str, state: Path, candles: Path, start: datetime, end: datetime,
                 warmup: str) -> Any:
    """``paper --feed replay`` on ``candles`` with ``source``'s history endpoint; the wall clock is ``w.clock``."""
    from bot.cli.commands.paper import build_runner, plan_from
    args = argparse.Namespace(feed="replay", symbols=[SYM], speed="max", duration=None, state=state, seed=None,
                              warmup=warmup, candles=candles, oi=None, ls_ratio=None, funding=None, heatmaps=None,
                              from_=start.isoformat(), to=end.isoformat(), heatmap=source)
    plan = plan_from(args, settings)
    runner = build_runner(settings, plan, args=args, clock=w.clock, sleeper=FakeSleeper(w.clock))
    try:
        runner.run()
    finally:
        runner.signal_log.close()
        runner.store.close()
    return runner
