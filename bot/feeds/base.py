"""What every feed hands the runner: closed bars, grouped by close time, and how long to wait.

A feed is polled: ``poll(now)`` returns the bars that closed since the last poll (as
:class:`BarBatch` groups, one per close time, every symbol of that time together), whether
the feed is finished, how long the runner should wait before the next poll, and a notice
when data is stale or missing. Historic feeds (sim, replay) are paced by ``speed``; the live
feed by its polling schedule. Time comes from the injected clock, never read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator, Protocol

from bot.clock import parse_ts
from bot.domain import utc
from bot.errors import DataError
from bot.inputs.values import bounded_span


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``90s``, ``15m``, ``6h``, ``2d``, ``1w`` (a bare number is seconds) -> timedelta > 0."""
    return bounded_span(text, what)


def parse_span(text: str, what: str = "duration") -> timedelta:
    """A duration that may be zero (``0``, ``0s``, ``0d``); otherwise as :func:`parse_duration`."""
    if str(text).strip().rstrip("smhdw") in ("0", "0.0"):
        return timedelta(0)
    return parse_duration(text, what)


def parse_speed(text: str) -> float:
    """``max`` -> ``inf``; ``N`` -> N x real time (N > 0)."""
    if str(text).strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise DataError(f"expected 'max' or a positive number, got {text!r}", field="--speed")
    return value


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar of one symbol, with what was known about positioning at its close.

    ``ts`` is the bar's open time, ``close_ts`` the moment it was complete (its data is
    known from then on). ``oi_usd``, ``long_short_ratio`` and ``funding_rate`` are ``None``
    when the source does not carry them.
    """

    symbol: str
    ts: datetime
    close_ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    oi_usd: float | None = None
    long_short_ratio: float | None = None
    funding_rate: float | None = None

    def to_record(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"symbol": self.symbol, "ts": self.ts.isoformat(), "close_ts": self.close_ts.isoformat(),
                "open": self.open, "high": self.high, "low": self.low, "close": self.close, "volume": self.volume,
                "oi_usd": self.oi_usd, "long_short_ratio": self.long_short_ratio, "funding_rate": self.funding_rate}

    @classmethod
    def from_record(cls, rec: dict[str, object]) -> "Bar":
        """Inverse of :meth:`to_record`."""
        kw = dict(rec)
        kw["ts"] = parse_ts(str(kw["ts"]))
        kw["close_ts"] = parse_ts(str(kw["close_ts"]))
        return cls(**kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class BarBatch:
    """Every symbol's bar that closed at ``close_ts``. ``warmup`` bars feed the model only."""

    close_ts: datetime
    bars: tuple[Bar, ...]
    warmup: bool = False


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """One poll's result."""

    batches: tuple[BarBatch, ...] = ()
    done: bool = False
    wait_s: float = 0.0
    notice: str | None = None  # stale or missing data: say so, pause entries
    prices: dict[str, float] = field(default_factory=dict)  # live ticker between bars


class Feed(Protocol):
    """A source of closed bars for the runner."""

    symbols: tuple[str, ...]
    timeframe: timedelta

    def seek(self, after: datetime | None) -> None:
        """Resume after the batch that closed at ``after`` (already processed)."""
        ...

    def poll(self, now: datetime) -> FeedPoll:
        """Bars that closed since the last poll."""
        ...


class HistoricFeed:
    """Base of sim and replay: a finite, time-ordered sequence of batches, paced by ``speed``."""

    symbols: tuple[str, ...]
    timeframe: timedelta

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._iter: Iterator[BarBatch] | None = None
        self._after: datetime | None = None

    def batches(self) -> Iterator[BarBatch]:
        """Every batch in order (subclasses provide)."""
        raise NotImplementedError

    def seek(self, after: datetime | None) -> None:
        """Skip batches up to and including ``after``."""
        self._after = utc(after) if after is not None else None
        self._iter = None

    def poll(self, now: datetime) -> FeedPoll:
        """The next batch; ``wait_s`` paces by ``speed`` (0 at max speed)."""
        if self._iter is None:
            after = self._after
            self._iter = (b for b in self.batches() if after is None or b.close_ts > after)
        batch = next(self._iter, None)
        if batch is None:
            return FeedPoll(done=True)
        wait = 0.0 if batch.warmup or math.isinf(self.speed) else self.timeframe.total_seconds() / self.speed
        return FeedPoll(batches=(batch,), wait_s=wait)
