"""The simulator: deterministic by seed, consistent bars, clustered volatility, cascades that flush OI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bot.feeds.base import parse_duration, parse_speed
from bot.feeds.sim import SimFeed, simulate
from bot.errors import DataError

T0 = datetime(2025, 1, 6, tzinfo=timezone.utc)
TF = timedelta(minutes=5)


@pytest.fixture(scope="module")
def btc() -> object:
    return simulate("BTC/USDT:USDT", 3000, T0, TF, seed=11)


def test_same_seed_same_market_other_seed_other_market(btc) -> None:  # type: ignore[no-untyped-def]
    again = simulate("BTC/USDT:USDT", 3000, T0, TF, seed=11)
    assert np.array_equal(btc.close, again.close) and np.array_equal(btc.oi_usd, again.oi_usd)
    assert not np.array_equal(btc.close, simulate("BTC/USDT:USDT", 3000, T0, TF, seed=12).close)
    assert not np.array_equal(btc.close[:50] / btc.close[0],
                              simulate("ETH/USDT:USDT", 3000, T0, TF, seed=11).close[:50] / 3300.0)


@pytest.mark.parametrize("n", [100, 2048, 2500])
def test_a_shorter_run_is_a_prefix_of_a_longer_one(btc, n: int) -> None:  # type: ignore[no-untyped-def]
    short = simulate("BTC/USDT:USDT", n, T0, TF, seed=11)
    for name in ("open", "high", "low", "close", "volume", "oi_usd", "long_short_ratio", "funding_rate"):
        assert np.array_equal(getattr(short, name), getattr(btc, name)[:n]), name


def test_bars_are_consistent_and_contiguous(btc) -> None:  # type: ignore[no-untyped-def]
    assert np.all(np.isfinite(btc.close)) and np.all(btc.low > 0)
    assert np.all(btc.high >= np.maximum(btc.open, btc.close)) and np.all(btc.low <= np.minimum(btc.open, btc.close))
    assert np.array_equal(btc.open[1:], btc.close[:-1])
    assert np.all(np.diff(btc.ts) == np.timedelta64(300, "s")) and np.all(btc.volume > 0)


def test_volatility_clusters(btc) -> None:  # type: ignore[no-untyped-def]
    r = np.abs(np.diff(np.log(btc.close)))
    lag1 = np.corrcoef(r[:-1], r[1:])[0, 1]
    assert lag1 > 0.1  # |returns| are autocorrelated under GARCH, ~0 under i.i.d. noise


def test_open_interest_builds_and_cascades_flush_it(btc) -> None:  # type: ignore[no-untyped-def]
    assert btc.oi_usd[288] > btc.oi_usd[0] * 1.2  # leveraged OI builds from nothing
    liq = btc.liq_long_usd + btc.liq_short_usd
    big = np.flatnonzero(liq > np.quantile(liq[liq > 0], 0.9))
    big = big[big > 0]
    drop = btc.oi_usd[big] - btc.oi_usd[big - 1]
    assert np.mean(drop < 0) > 0.6  # OI falls on most big liquidation bars
    # a long cascade pushes the bar down: its close is below its open more often than not
    longs = np.flatnonzero(btc.liq_long_usd > np.quantile(btc.liq_long_usd[btc.liq_long_usd > 0], 0.9))
    assert np.mean(btc.close[longs] < btc.open[longs]) > 0.7


def test_feed_batches_warmup_then_trading_for_every_symbol() -> None:
    feed = SimFeed(("BTC/USDT:USDT", "ETH/USDT:USDT"), T0, TF, warmup_bars=3, bars=5, seed=1, speed=float("inf"))
    batches = list(feed.batches())
    assert len(batches) == 8 and [b.warmup for b in batches] == [True] * 3 + [False] * 5
    assert {b.symbol for b in batches[0].bars} == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert batches[0].close_ts == T0 + TF and batches[0].bars[0].ts == T0
    feed.seek(batches[4].close_ts)
    assert feed.poll(T0).batches[0] == batches[5]


def test_historic_pacing_follows_speed() -> None:
    feed = SimFeed(("BTC/USDT:USDT",), T0, TF, warmup_bars=1, bars=2, seed=1, speed=60.0)
    polls = [feed.poll(T0) for _ in range(4)]
    assert [p.wait_s for p in polls[:3]] == [0.0, 5.0, 5.0] and polls[3].done


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("2d", 172800), ("1.5h", 5400), ("30", 30)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "0m", "-1h", "2 days", "abc"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(DataError):
        parse_duration(bad)


def test_parse_speed() -> None:
    assert parse_speed("max") == float("inf") and parse_speed("10") == 10.0
    with pytest.raises(DataError):
        parse_speed("0")
