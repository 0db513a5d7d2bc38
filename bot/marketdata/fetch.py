"""Historical market data through ccxt: candles, open interest history, funding history.

This is the one market-data module that imports ccxt (docs/architecture.md §2). It pages with
``since``/``until``/``limit`` in bounded windows, lets ccxt throttle to ``exchange.rateLimit``
(``enableRateLimit``), retries READS on transient errors with bounded backoff, and maps ccxt
exceptions to ``bot.errors`` here and nowhere else:

- ``RateLimitExceeded``/``DDoSProtection`` -> ``RateLimitedError`` (Retry-After honoured),
  ``RequestTimeout``/``NetworkError`` -> ``RetryableError``;
- ``AuthenticationError`` -> ``FatalError``;
- ``BadSymbol``/``BadRequest``/``BadResponse`` and a body that is not the JSON list the endpoint
  documents -> ``DataError`` (ccxt silently turns a malformed body into ``[]``, which would
  otherwise read as "no more data");
- any other ``ExchangeError`` -> ``RejectedError``.

Frames come back with an int64 ``ts`` column (epoch ms, UTC; the bar OPEN time for candles, the
sample time for open interest, the funding time for funding) and named float columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import ccxt
import numpy as np
import pandas as pd

from bot.errors import DataError, FatalError, LiqbotError, RejectedError, RetryableError
from bot.httpclient import parse_retry_after
from bot.retry import RateLimitedError, RetryPolicy, call_with_retry


from bot.marketdata.series import (COLUMNS, FUNDING_STEP_MS, PAGE_LIMIT,  # noqa: E402  re-exported
                                   MarketSeries, PriceType)


def make_exchange(exchange_id: str, *, timeout_ms: int = 10_000, api_base: str | None = None) -> ccxt.Exchange:
    """A ccxt exchange for public market data (no keys), optionally pointed at ``api_base``."""
    cls = getattr(ccxt, exchange_id, None)
    if cls is None or not isinstance(cls, type):
        raise DataError(f"unknown ccxt exchange id {exchange_id!r}", field="--exchange")
    exchange = cls({"enableRateLimit": True, "timeout": int(timeout_ms)})
    # the raw JSON is needed to tell an empty answer from a malformed one
    exchange.enableLastJsonResponse = True
    if api_base:
        point_exchange_at(exchange, api_base)
    return exchange


def point_exchange_at(exchange: ccxt.Exchange, base_url: str) -> None:
    """Rewrite every ``urls['api']`` entry to ``base_url`` + the entry's path (tests, proxies).

    For binanceusdm ``fapiPublic`` becomes ``<base>/fapi/v1`` and ``fapiData``
    ``<base>/futures/data``, so one local server answers every endpoint.
    """
    base = base_url.rstrip("/")

    def rewrite(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return base + urlsplit(value).path
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def map_ccxt_error(exc: Exception, what: str) -> LiqbotError:
    """The liqbot error for a ccxt exception (the only place such a mapping exists for reads)."""
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return RateLimitedError(f"{what}: rate limited: {text}", retry_after=None)
    if isinstance(exc, ccxt.NetworkError):  # RequestTimeout, ExchangeNotAvailable, ...
        return RetryableError(f"{what}: {type(exc).__name__}: {text}")
    if isinstance(exc, ccxt.AuthenticationError):
        return FatalError(f"{what}: authentication failed: {text}")
    if isinstance(exc, (ccxt.BadSymbol, ccxt.BadRequest, ccxt.BadResponse, ccxt.NotSupported)):
        return DataError(f"{type(exc).__name__}: {text}", source=what)
    if isinstance(exc, ccxt.ExchangeError):
        return RejectedError(f"{what}: exchange refused: {text}")
    if isinstance(exc, ccxt.BaseError):
        return RetryableError(f"{what}: {type(exc).__name__}: {text}")
    raise exc


@dataclass(frozen=True, slots=True)
class Page:
    """One request's rows and how much of the asked range (ms from ``since``) is now covered."""

    frame: pd.DataFrame
    covered_ms: int


@dataclass
class FetchStats:
    """What one fetch did: requests sent, retries, rows kept."""

    requests: int = 0
    retries: int = 0
    rows: int = 0


class MarketFetcher:
    """Pages one ccxt exchange's history endpoints into frames."""

    def __init__(self, exchange: ccxt.Exchange, policy: RetryPolicy = RetryPolicy(), *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.exchange = exchange
        self.policy = policy
        self.sleep = sleep
        self.stats = FetchStats()
        self._markets_loaded = False

    def fetch(self, kind: MarketSeries, symbol: str, since_ms: int, until_ms: int, *,
              timeframe: str = "5m", price: PriceType = PriceType.LAST) -> pd.DataFrame:
        """Rows with ``since_ms <= ts <= until_ms``, ascending, unique ``ts`` (all pages joined)."""
        frames = [page.frame for page in self.pages(kind, symbol, since_ms, until_ms,
                                                     timeframe=timeframe, price=price)]
        # pages are disjoint and ascending: concatenating keeps ``ts`` unique and sorted
        return pd.concat(frames, ignore_index=True) if frames else _frame(MarketSeries(kind), [], 0, 0)

    def pages(self, kind: MarketSeries, symbol: str, since_ms: int, until_ms: int, *,
              timeframe: str = "5m", price: PriceType = PriceType.LAST) -> Iterator[Page]:
        """One validated frame per request, in time order, for ``since_ms <= ts <= until_ms``.

        ``timeframe`` is the candle size or the open-interest period (ignored for funding).
        A caller that keeps the pages it has seen can save them when a later page fails, and
        resume from there.
        """
        kind = MarketSeries(kind)
        self._load_markets()
        step = FUNDING_STEP_MS if kind is MarketSeries.FUNDING else self.timeframe_ms(timeframe)
        limit = PAGE_LIMIT[kind]
        next_after = 1 if kind is MarketSeries.FUNDING else step
        start = since_ms
        while start <= until_ms:
            window_end = min(until_ms, start + limit * step - 1)
            frame = _frame(kind, self._page(kind, symbol, start, window_end, limit, timeframe, price),
                           start, until_ms)
            # a full window continues after its last row (the next bar on the grid; funding
            # times are not on an exact grid), a short or empty one after its end
            start = int(frame["ts"].iat[-1]) + next_after if len(frame) else window_end + 1
            self.stats.rows += len(frame)
            yield Page(frame, min(start, until_ms + 1) - since_ms)

    # ------------------------------------------------------------------ internals

    def _load_markets(self) -> None:
        if not self._markets_loaded:
            self._call(lambda: self.exchange.load_markets(), "load_markets", expect_list=False)
            self._markets_loaded = True

    def timeframe_ms(self, timeframe: str) -> int:
        """Milliseconds of a ccxt timeframe such as ``5m``; unknown -> ``DataError``."""
        try:
            return int(self.exchange.parse_timeframe(timeframe) * 1000)
        except Exception:  # ccxt raises a bare NotSupported/ValueError mix here
            raise DataError(f"unknown timeframe {timeframe!r}", field="--timeframe") from None

    def _page(self, kind: MarketSeries, symbol: str, start: int, end: int, limit: int,
              timeframe: str, price: PriceType) -> list[list[float]]:
        ex = self.exchange
        params: dict[str, Any] = {"until": end}
        what = f"{ex.id} {kind.value} {symbol}"
        if kind is MarketSeries.CANDLES:
            if price is not PriceType.LAST:
                params["price"] = price.value
            raw = self._call(lambda: ex.fetch_ohlcv(symbol, timeframe, since=start, limit=limit, params=params), what)
            return [list(r[:6]) for r in raw]
        if kind is MarketSeries.OPEN_INTEREST:
            raw = self._call(lambda: ex.fetch_open_interest_history(symbol, timeframe, since=start, limit=limit,
                                                                     params=params), what)
            return [[r.get("timestamp"), r.get("openInterestAmount"), r.get("openInterestValue")] for r in raw]
        raw = self._call(lambda: ex.fetch_funding_rate_history(symbol, since=start, limit=limit, params=params), what)
        return [[r.get("timestamp"), r.get("fundingRate")] for r in raw]

    def _call(self, fn: Callable[[], Any], what: str, *, expect_list: bool = True) -> Any:
        def attempt() -> Any:
            self.stats.requests += 1
            self.exchange.last_json_response = None
            try:
                result = fn()
            except ccxt.BaseError as exc:
                err = map_ccxt_error(exc, what)
                if isinstance(err, RateLimitedError):
                    headers = getattr(self.exchange, "last_response_headers", None) or {}
                    err.retry_after = parse_retry_after(_header(headers, "Retry-After"))
                raise err from None
            body = self.exchange.last_json_response
            if expect_list and not isinstance(body, list):
                got = "not JSON" if body is None else f"JSON {type(body).__name__}"
                raise DataError(f"malformed response: expected a JSON list, got {got}", source=what)
            return result

        def count_retry(n: int, wait: float, exc: BaseException) -> None:
            self.stats.retries += 1

        return call_with_retry(attempt, self.policy, what=what, sleep=self.sleep, on_retry=count_retry)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _frame(kind: MarketSeries, rows: list[list[float]], since_ms: int, until_ms: int) -> pd.DataFrame:
    """Validated frame: finite values, in range, unique ascending ``ts``."""
    columns = COLUMNS[kind]
    if not rows:
        return pd.DataFrame({"ts": np.empty(0, np.int64), **{c: np.empty(0) for c in columns}})
    arr = np.array(rows, dtype=object)
    ts = pd.to_numeric(pd.Series(arr[:, 0]), errors="coerce").to_numpy(dtype=float)
    values = pd.DataFrame(arr[:, 1:], columns=list(columns)).apply(pd.to_numeric, errors="coerce")
    bad_ts = np.flatnonzero(~np.isfinite(ts))
    if bad_ts.size:
        raise DataError("missing or non-numeric timestamp", field="ts", position=int(bad_ts[0]), source=kind.value)
    finite = np.isfinite(values.to_numpy(dtype=float))
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(f"missing or non-finite value at ts={int(ts[row])}", field=columns[col],
                        position=int(row), source=kind.value)
    frame = pd.DataFrame({"ts": ts.astype(np.int64), **{c: values[c].to_numpy(float) for c in columns}})
    frame = frame[(frame["ts"] >= since_ms) & (frame["ts"] <= until_ms)]
    frame = frame.drop_duplicates("ts", keep="last").sort_values("ts", kind="stable")
    return frame.reset_index(drop=True)

