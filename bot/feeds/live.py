"""Live feed: the exchange's public market data through ccxt, polled on a schedule (no keys).

Every ``prices_s`` it reads the newest candles and the ticker of each symbol; every ``oi_s`` the
open interest, the long/short ratio and the funding rate. A bar is handed to the runner once it
has closed by the injected clock. At the first poll it also reads ``warmup`` of history (candles
and open-interest history) for the heatmap model, or, after a restart, everything since the
stored cursor.

Failures never stop the loop and never reach the strategies: a slow, failing or malformed
reply yields no bars and a notice; open interest older than ``max_age`` counts as missing, and
no new closed bar for ``stale_after`` is reported as stale. The ccxt exchange object comes from
``bot.marketdata.fetch`` (the one market-data module that imports ccxt), which also maps its
errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from bot.domain import iso, utc
from bot.errors import DataError, LiqbotError, RetryableError
from bot.feeds.base import Bar, BarBatch, FeedPoll

MAX_HISTORY_BARS = 1000  # one request (ccxt caps Binance klines here)
FUNDING_HOURS = 8


@dataclass(slots=True)
class _Known:
    """A value and when it became known."""

    value: float
    at: datetime


class LiveFeed:
    """Polls one ccxt exchange for closed bars of several symbols."""

    def __init__(self, exchange: Any, symbols: tuple[str, ...], timeframe: timedelta, *, warmup: timedelta,
                 prices_s: float = 10.0, oi_s: float = 30.0, clusters_s: float = 5.0,
                 stale_after_s: float = 900.0, max_age: timedelta = timedelta(hours=8)) -> None:
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.warmup = warmup
        self.prices_s, self.oi_s, self.clusters_s = prices_s, oi_s, clusters_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.max_age = max_age
        self._tf = self._ccxt_timeframe(timeframe)
        self._after: dict[str, datetime | None] = dict.fromkeys(self.symbols)
        self._started = False
        self._next_prices: datetime | None = None
        self._next_oi: datetime | None = None
        self._oi: dict[str, _Known] = {}
        self._oi_hist: dict[str, list[tuple[datetime, float]]] = {}
        self._ratio: dict[str, _Known] = {}
        self._funding: dict[str, _Known] = {}
        self.prices: dict[str, float] = {}
        self._markets_loaded = False
        self._warm_until: datetime | None = None
        self.reached = False  # one read has succeeded: from then on failures are notices, retried
        self._network_failure: str | None = None

    @classmethod
    def from_settings(cls, settings: Any, symbols: tuple[str, ...], timeframe: timedelta) -> "LiveFeed":
        """A feed on ``settings.exchange`` (``download.exchange_api_base`` redirects every call)."""
        from bot.feeds.base import parse_duration
        from bot.marketdata.fetch import make_exchange
        exchange = make_exchange(settings.exchange.id, timeout_ms=settings.exchange.timeout_ms,
                                 api_base=settings.download.exchange_api_base or None)
        f = settings.feed
        return cls(exchange, symbols, timeframe, warmup=parse_duration(f.warmup, "feed.warmup"),
                   prices_s=f.live_prices_s, oi_s=f.live_oi_s, clusters_s=f.live_clusters_s,
                   stale_after_s=f.stale_after_s, max_age=timedelta(hours=settings.synthetic.oi_max_age_h))

    @staticmethod
    def _ccxt_timeframe(tf: timedelta) -> str:
        s = int(tf.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s % size == 0:
                return f"{s // size}{unit}"
        raise DataError(f"timeframe {tf} is not whole minutes", field="feed.timeframe")

    def seek(self, after: datetime | None) -> None:
        """Hand out only bars closing after ``after`` (the stored cursor)."""
        self._after = dict.fromkeys(self.symbols, utc(after) if after else None)

    # --- polling ----------------------------------------------------------------------------

    def poll(self, now: datetime) -> FeedPoll:
        """Run the reads that are due; return the bars that closed since the last poll."""
        now = utc(now)
        notices: list[str] = []
        if self._next_oi is None or now >= self._next_oi:
            for symbol in self.symbols:
                self._guard(notices, f"{symbol} open interest", lambda s=symbol: self._read_positioning(s, now))
            self._next_oi = now + timedelta(seconds=self.oi_s)
        bars: list[Bar] = []
        if self._next_prices is None or now >= self._next_prices:
            for symbol in self.symbols:
                got = self._guard(notices, f"{symbol} candles", lambda s=symbol: self._read_bars(s, now))
                bars += got or []
            self._next_prices = now + timedelta(seconds=self.prices_s)
        for symbol in self.symbols:
            last = self._after.get(symbol)
            if last is not None and now - last > self.stale_after + self.timeframe:
                notices.append(f"{symbol}: stale data, no closed bar since {iso(last)}")
        warm_until = self._warm_until
        by_close: dict[datetime, list[Bar]] = {}
        for bar in bars:
            by_close.setdefault(bar.close_ts, []).append(bar)
        batches = tuple(BarBatch(ts, tuple(by_close[ts]), warmup=warm_until is not None and ts <= warm_until)
                        for ts in sorted(by_close))
        if not self.reached and self._network_failure:  # never reached the exchange: one line, exit 2
            from bot.unreachable import unreachable
            raise unreachable(f"the exchange ({getattr(self.exchange, 'id', 'ccxt')})", self._network_failure)
        self._started = True
        wait = min(self._next_prices, self._next_oi) - now
        return FeedPoll(batches=batches, wait_s=max(wait.total_seconds(), 0.0), notice="; ".join(notices) or None,
                        prices=dict(self.prices))

    def _guard(self, notices: list[str], what: str, fn: Callable[[], Any]) -> Any:
        """Run one read; a failure becomes a notice (the loop and the strategies never see it)."""
        from bot.marketdata.fetch import map_ccxt_error
        try:
            try:
                got = fn()
                self.reached = True
                return got
            except (LiqbotError, ValueError, TypeError, KeyError, IndexError):
                raise
            except Exception as exc:  # ccxt's own errors: mapped where ccxt is imported
                raise map_ccxt_error(exc, what) from None
        except (LiqbotError, ValueError, TypeError, KeyError, IndexError) as exc:
            notices.append(f"{what}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
            if isinstance(exc, RetryableError) and self._network_failure is None:
                self._network_failure = notices[-1]
            return None

    def _load_markets(self) -> None:
        if not self._markets_loaded:
            self.exchange.load_markets()
            self._markets_loaded = True

    def _read_bars(self, symbol: str, now: datetime) -> list[Bar]:
        self._load_markets()
        after = self._after[symbol]
        if after is None:
            after = now - self.warmup
            if self._warm_until is None and self.warmup.total_seconds() > 0:
                self._warm_until = now  # history read at the first poll only feeds the model
        since = after - self.timeframe + timedelta(seconds=1)
        limit = min(MAX_HISTORY_BARS, int((now - since) / self.timeframe) + 2)
        checked = getattr(self.exchange, "enableLastJsonResponse", False)
        if checked:
            self.exchange.last_json_response = None
        rows = self.exchange.fetch_ohlcv(symbol, self._tf, since=int(since.timestamp() * 1000), limit=limit)
        # ccxt turns a body that is not a JSON list into [], which would read as "no new bar"
        body = self.exchange.last_json_response if checked else rows
        if not isinstance(rows, list) or not isinstance(body, list):
            got = "not JSON" if body is None else type(body).__name__
            raise DataError(f"malformed candles reply ({got})", source=symbol)
        out = []
        for row in rows:
            if not (isinstance(row, (list, tuple)) and len(row) >= 6):
                raise DataError(f"malformed candle row {row!r}", source=symbol)
            opened = utc(datetime.fromtimestamp(int(row[0]) / 1000).astimezone())
            close_ts = opened + self.timeframe
            if close_ts > now or (self._after[symbol] is not None and close_ts <= self._after[symbol]):
                continue  # still forming, or already handed out
            o, h, low, c, v = (float(x) for x in row[1:6])
            out.append(Bar(symbol, opened, close_ts, o, h, low, c, v, oi_usd=self._oi_at(symbol, close_ts),
                           long_short_ratio=self._fresh(self._ratio.get(symbol), close_ts),
                           funding_rate=self._settled_funding(symbol, opened, close_ts)))
            self._after[symbol] = close_ts
        if out:
            self.prices[symbol] = out[-1].close
        return out

    def _read_positioning(self, symbol: str, now: datetime) -> None:
        self._load_markets()
        ex = self.exchange
        if not self._started:
            start = self._after[symbol] or now - self.warmup
            hist = ex.fetch_open_interest_history(symbol, self._tf, since=int(start.timestamp() * 1000),
                                                  limit=500)
            self._oi_hist[symbol] = [(utc(datetime.fromtimestamp(r["timestamp"] / 1000).astimezone()),
                                      float(r["openInterestValue"])) for r in hist
                                     if r.get("openInterestValue") is not None]
        oi = ex.fetch_open_interest(symbol)
        amount = oi.get("openInterestAmount")
        value = oi.get("openInterestValue")
        ticker = ex.fetch_ticker(symbol)
        last = ticker.get("last")
        if last is not None and math.isfinite(float(last)):
            self.prices[symbol] = float(last)
        if value is None and amount is not None and last is not None:
            value = float(amount) * float(last)
        if value is None or not math.isfinite(float(value)) or float(value) <= 0:
            raise DataError(f"malformed open interest {oi!r}", source=symbol)
        self._oi[symbol] = _Known(float(value), now)
        ratios = ex.fetch_long_short_ratio_history(symbol, self._tf, limit=1)
        if ratios and ratios[-1].get("longShortRatio"):
            self._ratio[symbol] = _Known(float(ratios[-1]["longShortRatio"]), now)
        rate = ex.fetch_funding_rate(symbol).get("fundingRate")
        if rate is not None:
            self._funding[symbol] = _Known(float(rate), now)

    # --- point-in-time values -----------------------------------------------------------

    def _fresh(self, known: _Known | None, at: datetime) -> float | None:
        if known is None or known.at > at + self.timeframe or at - known.at > self.max_age:
            return None
        return known.value

    def _oi_at(self, symbol: str, close_ts: datetime) -> float | None:
        hist = [v for t, v in self._oi_hist.get(symbol, []) if t <= close_ts and close_ts - t <= self.max_age]
        live = self._fresh(self._oi.get(symbol), close_ts)
        if live is not None:
            return live
        return hist[-1] if hist else None

    def _settled_funding(self, symbol: str, opened: datetime, close_ts: datetime) -> float | None:
        period = FUNDING_HOURS * 3600
        if int(close_ts.timestamp()) // period == int(opened.timestamp()) // period:
            return None
        known = self._funding.get(symbol)
        return known.value if known is not None else None
