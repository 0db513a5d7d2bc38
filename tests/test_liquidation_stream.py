"""Realized liquidations recorded from the exchange's stream (ccxt.pro against a local Binance WebSocket)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from bot.feeds.liquidation_stream import LiquidationRecorder
from bot.heatmap.liquidations import LiquidationStore
from bot.marketdata.fetch import make_exchange
from tests.fakes.binance_public import FakeMarket, install
from tests.fakes.binance_ws import FakeBinanceWs, force_order
from tests.fakes.http_server import FakeHttpServer

SYM = "BTC/USDT:USDT"
T = 1740787200000  # 2025-03-01


def test_force_orders_streamed_through_ccxt_land_in_the_liquidation_store(tmp_path: Path) -> None:
    with FakeHttpServer() as rest, FakeBinanceWs() as ws:
        install(rest, FakeMarket(T - 86_400_000, T + 86_400_000))
        markets = make_exchange("binanceusdm", api_base=rest.url).load_markets()
        store = LiquidationStore(tmp_path / "snapshots")
        rec = LiquidationRecorder("binanceusdm", (SYM,), store, markets=markets, ws_url=ws.url).start()
        try:
            assert ws.subscribed.wait(10), "ccxt subscribed to btcusdt@forceOrder"
            ws.push("btcusdt@forceOrder", force_order("BTCUSDT", "SELL", 59_000.0, 0.5, T))
            ws.push("btcusdt@forceOrder", force_order("BTCUSDT", "BUY", 61_500.5, 0.25, T + 1000))
            deadline = time.monotonic() + 10
            while rec.written < 2 and time.monotonic() < deadline:
                rec.poll(datetime.now(timezone.utc))
                time.sleep(0.05)
        finally:
            rec.stop()
        events = store.read(SYM)
        assert list(events["side"]) == ["long", "short"]  # a forced SELL liquidated a long
        assert list(events["price"]) == [59_000.0, 61_500.5] and list(events["qty"]) == [0.5, 0.25]
        assert list(events["usd"]) == [29_500.0, 15_375.125]
        assert set(events["source"]) == {"ccxt:binanceusdm"} and rec.errors == 0


def test_a_paper_live_run_records_the_exchange_liquidations_beside_its_snapshots(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import argparse
    from datetime import timedelta

    from bot.cli.commands.paper import PaperPlan, build_runner, running
    from bot.clock import FakeSleeper
    from bot.feeds.live import LiveFeed
    from config.settings import load_settings
    from tests.provider_kit import T0, world

    for w in world(T0):
        with FakeBinanceWs() as ws:
            for k, v in w.env().items():
                monkeypatch.setenv(k, v)
            monkeypatch.setenv("LIQBOT_PROVIDERS__LIQUIDATIONS_WS_URL", ws.url)
            settings = load_settings(env_file=None)
            state = tmp_path / "state"
            plan = PaperPlan(feed="live", symbols=(SYM,), speed=float("inf"), duration=None,
                             warmup=timedelta(hours=1), state=state, seed=7)
            feed = LiveFeed(make_exchange("binanceusdm", timeout_ms=2000, api_base=w.server.url), (SYM,),
                            timedelta(minutes=5), warmup=timedelta(hours=1), prices_s=60, oi_s=300)
            runner = build_runner(settings, plan, args=argparse.Namespace(heatmap="perp-api", heatmaps=None),
                                  clock=w.clock, sleeper=FakeSleeper(w.clock), feed=(feed, {"feed": "live"}))
            assert ws.subscribed.wait(15)
            t = int(T0.timestamp() * 1000)
            ws.push("btcusdt@forceOrder", force_order("BTCUSDT", "SELL", 59_800.0, 1.5, t + 60_000))
            ws.push("btcusdt@forceOrder", force_order("BTCUSDT", "BUY", 60_400.0, 0.75, t + 120_000))

            class Line:
                def close(self) -> None: ...
            with running(runner, FakeSleeper(w.clock), Line()):  # type: ignore[arg-type]
                runner.run(until=T0 + timedelta(hours=1))
            events = LiquidationStore(state / "snapshots").read(SYM)
            assert list(events["side"]) == ["long", "short"] and list(events["usd"]) == [89_700.0, 45_300.0]
            assert SYM in __import__("bot.heatmap.store", fromlist=["SnapshotStore"]).SnapshotStore(
                state / "snapshots").symbols()  # the events sit beside the recorded maps
