"""ccxt fetching against a fake Binance on 127.0.0.1: paging, shapes, and ccxt errors mapped."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from bot.errors import DataError, FatalError, RetryableError
from bot.marketdata.fetch import MarketFetcher, MarketSeries, PriceType, make_exchange, map_ccxt_error
from bot.retry import RateLimitedError, RetryPolicy
from tests.fakes.binance_public import FakeMarket, install, kline, open_interest
from tests.fakes.http_server import FakeHttpServer, Reply

DAY = 86_400_000
HOUR = 3_600_000
FIVE = 300_000
T0 = 1_735_689_600_000  # 2025-01-01T00:00Z
SYMBOL = "BTC/USDT:USDT"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02, retry_after_max_s=5.0)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture()
def binance() -> Iterator[FakeHttpServer]:
    """A fake Binance with 6 days of data from T0 and a 3-hour hole on day 2."""
    market = FakeMarket(T0, T0 + 6 * DAY, gaps=[(T0 + DAY + 6 * HOUR, T0 + DAY + 9 * HOUR)])
    with FakeHttpServer() as server:
        install(server, market)
        yield server


def fetcher(server: FakeHttpServer, sleeps: Sleeps | None = None, timeout_ms: int = 500) -> MarketFetcher:
    exchange = make_exchange("binanceusdm", timeout_ms=timeout_ms, api_base=server.url)
    return MarketFetcher(exchange, FAST, sleep=sleeps if sleeps is not None else Sleeps())


def test_point_exchange_at_rewrites_every_api_url(binance: FakeHttpServer) -> None:
    exchange = make_exchange("binanceusdm", api_base=binance.url)
    urls = exchange.urls["api"]
    assert urls["fapiPublic"] == binance.url + "/fapi/v1"
    assert urls["fapiData"] == binance.url + "/futures/data"
    assert all(v.startswith(binance.url) for v in urls.values() if isinstance(v, str))


def test_candles_page_through_a_window_with_a_gap(binance: FakeHttpServer) -> None:
    f = fetcher(binance)
    frame = f.fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + 4 * DAY - 1, timeframe="5m")
    assert list(frame.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert len(frame) == 4 * 288 - 36  # 3 hours missing
    assert frame["ts"].is_monotonic_increasing and frame["ts"].is_unique
    expected = kline(T0, FIVE)
    assert frame.iloc[0].tolist() == pytest.approx([T0, *map(float, expected[1:6])])
    klines = binance.hits("/fapi/v1/klines")
    assert len(klines) == 2  # 1152 bars at <= 1000 per request
    assert all(int(r.query["limit"]) <= 1000 for r in klines)
    # page 1 covers 1000 bar slots (36 of them in the hole): page 2 starts after its last bar
    assert int(klines[1].query["startTime"]) == T0 + 1000 * FIVE
    assert len(binance.hits("/fapi/v1/exchangeInfo")) == 1  # markets come from the fake, loaded once


def test_mark_price_candles_use_their_endpoint(binance: FakeHttpServer) -> None:
    frame = fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1, price=PriceType.MARK)
    assert len(frame) == 12
    assert binance.hits("/fapi/v1/markPriceKlines") and not binance.hits("/fapi/v1/klines")


def test_open_interest_history_windows_respect_the_500_limit(binance: FakeHttpServer) -> None:
    frame = fetcher(binance).fetch(MarketSeries.OPEN_INTEREST, SYMBOL, T0, T0 + 3 * DAY - 1, timeframe="5m")
    assert list(frame.columns) == ["ts", "oi_coin", "oi_usd"]
    assert len(frame) == 3 * 288 - 36
    assert frame["oi_coin"].iat[0] == pytest.approx(open_interest(T0), rel=1e-6)
    calls = binance.hits("/futures/data/openInterestHist")
    spans = [int(c.query["endTime"]) - int(c.query["startTime"]) for c in calls]
    assert all(int(c.query["limit"]) <= 500 for c in calls) and max(spans) < 500 * FIVE


def test_funding_history_every_eight_hours(binance: FakeHttpServer) -> None:
    frame = fetcher(binance).fetch(MarketSeries.FUNDING, SYMBOL, T0, T0 + 5 * DAY - 1)
    assert list(frame.columns) == ["ts", "funding_rate"]
    assert set(np.diff(frame["ts"])) == {8 * HOUR, 16 * HOUR}  # 08:00 of day 2 is in the hole
    assert len(frame) == 14
    assert frame["funding_rate"].between(0, 0.001).all()


def test_range_beyond_the_data_is_just_empty(binance: FakeHttpServer) -> None:
    frame = fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0 + 10 * DAY, T0 + 11 * DAY)
    assert frame.empty and list(frame.columns)[0] == "ts"


def test_pages_report_progress_in_order(binance: FakeHttpServer) -> None:
    pages = list(fetcher(binance).pages(MarketSeries.CANDLES, SYMBOL, T0, T0 + 4 * DAY - 1))
    covered = [p.covered_ms for p in pages]
    assert covered == sorted(covered) and covered[-1] == 4 * DAY


def test_429_with_retry_after_is_retried(binance: FakeHttpServer) -> None:
    binance.script("/fapi/v1/klines", Reply(status=429, body={"code": -1003, "msg": "Too many requests"},
                                            headers={"Retry-After": "2"}))
    sleeps = Sleeps()
    f = fetcher(binance, sleeps)
    frame = f.fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1)
    assert len(frame) == 12
    assert sleeps == [2.0] and f.stats.retries == 1


def test_timeout_is_retried_then_succeeds(binance: FakeHttpServer) -> None:
    binance.script("/fapi/v1/fundingRate", Reply(body=[], delay_s=2.0))
    f = fetcher(binance, timeout_ms=500)
    frame = f.fetch(MarketSeries.FUNDING, SYMBOL, T0, T0 + DAY - 1)
    assert len(frame) == 3 and f.stats.retries == 1


def test_persistent_timeouts_give_up_with_a_clear_error(binance: FakeHttpServer) -> None:
    binance.script("/fapi/v1/klines", *[Reply(body=[], delay_s=2.0)] * 3)
    with pytest.raises(RetryableError, match=r"binanceusdm candles BTC/USDT:USDT: gave up after 3 attempts: "
                                             r".*RequestTimeout"):
        fetcher(binance, timeout_ms=500).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1)


@pytest.mark.parametrize("body", [b'[[1735689600000,"1",', b"<html>maintenance</html>", b'{"rows": []}'])
def test_malformed_body_is_a_data_error_not_an_empty_page(binance: FakeHttpServer, body: bytes) -> None:
    binance.script("/fapi/v1/klines", Reply(body=body))
    with pytest.raises(DataError, match="malformed response: expected a JSON list"):
        fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1)


def test_non_numeric_values_are_a_data_error(binance: FakeHttpServer) -> None:
    row = kline(T0, FIVE)
    row[4] = "n/a"
    binance.script("/fapi/v1/klines", Reply(body=[row]))
    with pytest.raises(DataError, match=r"candles: close\[0\]: missing or non-finite value"):
        fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1)


def test_unknown_symbol_is_a_data_error(binance: FakeHttpServer) -> None:
    with pytest.raises(DataError, match="BadSymbol"):
        fetcher(binance).fetch(MarketSeries.CANDLES, "DOGE/USDT:USDT", T0, T0 + HOUR)


def test_unknown_exchange_and_timeframe_are_data_errors(binance: FakeHttpServer) -> None:
    with pytest.raises(DataError, match="unknown ccxt exchange id"):
        make_exchange("nosuchexchange")
    with pytest.raises(DataError, match="unknown timeframe"):
        fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR, timeframe="7x")


def test_bad_credentials_are_fatal(binance: FakeHttpServer) -> None:
    binance.script("/fapi/v1/klines", Reply(status=401, body={"code": -2015, "msg": "Invalid API-key"}))
    with pytest.raises(FatalError, match="authentication failed"):
        fetcher(binance).fetch(MarketSeries.CANDLES, SYMBOL, T0, T0 + HOUR - 1)
    assert len(binance.hits("/fapi/v1/klines")) == 1  # never retried


@pytest.mark.parametrize("name, kind", [
    ("RateLimitExceeded", RateLimitedError), ("DDoSProtection", RateLimitedError),
    ("RequestTimeout", RetryableError), ("ExchangeNotAvailable", RetryableError),
    ("AuthenticationError", FatalError), ("BadResponse", DataError), ("BadSymbol", DataError),
])
def test_ccxt_error_mapping(name: str, kind: type) -> None:
    import ccxt
    assert isinstance(map_ccxt_error(getattr(ccxt, name)("x"), "w"), kind)
