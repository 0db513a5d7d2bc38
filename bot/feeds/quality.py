"""The data-quality gate between feeds and strategies (pure checks, small persisted state).

A bar is *invalid* (dropped: not used for fills, the model or the strategies) when its
numbers are not finite and positive, its OHLC are inconsistent, or it is not newer than the
previous bar of its symbol. A valid bar is *held back from the strategies* (it still moves
the paper venue and the heatmap model, so stops keep working and the model stays current)
while it is stale or until ``resume_after`` contiguous bars have followed a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import parse_ts
from bot.domain import iso, utc
from bot.feeds.base import Bar


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate decided for one bar."""

    valid: bool           # usable at all (venue, model)
    trade: bool           # may feed the strategies
    reason: str | None = None


def bar_problem(bar: Bar) -> str | None:
    """Why ``bar`` is malformed, or ``None``."""
    values = (bar.open, bar.high, bar.low, bar.close)
    if not all(math.isfinite(v) and v > 0 for v in values):
        return f"non-finite or non-positive price in {values}"
    if not (math.isfinite(bar.volume) and bar.volume >= 0):
        return f"bad volume {bar.volume!r}"
    if bar.high < max(bar.open, bar.close) or bar.low > min(bar.open, bar.close) or bar.low > bar.high:
        return f"inconsistent OHLC {values}"
    for name in ("oi_usd", "long_short_ratio"):
        v = getattr(bar, name)
        if v is not None and not (math.isfinite(v) and v > 0):
            return f"bad {name} {v!r}"
    return None


class QualityGate:
    """Per-symbol continuity and staleness state; ``check`` is called once per bar in order."""

    def __init__(self, timeframe: timedelta, stale_after_s: float, resume_after: int) -> None:
        self.timeframe = timeframe
        self.stale_after = timedelta(seconds=stale_after_s)
        self.resume_after = resume_after
        self._last: dict[str, datetime] = {}
        self._since_gap: dict[str, int] = {}

    def check(self, bar: Bar, now: datetime) -> Verdict:
        """Judge ``bar`` as of ``now`` and advance the symbol's state when it is valid."""
        problem = bar_problem(bar)
        if problem:
            return Verdict(False, False, f"{bar.symbol} {iso(bar.ts)}: {problem}")
        last = self._last.get(bar.symbol)
        if last is not None and bar.ts <= last:
            return Verdict(False, False, f"{bar.symbol} {iso(bar.ts)}: not after the previous bar {iso(last)}")
        missing = 0 if last is None else int((bar.ts - last) / self.timeframe) - 1
        self._last[bar.symbol] = bar.ts
        count = 1 if missing > 0 else self._since_gap.get(bar.symbol, self.resume_after) + 1
        self._since_gap[bar.symbol] = count
        age = utc(now) - bar.close_ts
        if age > self.stale_after:
            return Verdict(True, False, f"{bar.symbol}: stale data, last bar closed {age.total_seconds():.0f}s ago")
        if missing > 0:
            return Verdict(True, False, f"{bar.symbol}: gap of {missing} bar(s) before {iso(bar.ts)}; "
                                        f"entries pause for {self.resume_after} bars")
        if count <= self.resume_after:
            return Verdict(True, False, f"{bar.symbol}: resuming after a gap ({count}/{self.resume_after})")
        return Verdict(True, True)

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"last": {s: iso(t) for s, t in self._last.items()}, "since_gap": dict(self._since_gap)}

    def restore(self, state: dict[str, Any] | None) -> None:
        """Load what :meth:`state` saved."""
        if not state:
            return
        self._last = {s: parse_ts(t) for s, t in state["last"].items()}
        self._since_gap = {s: int(n) for s, n in state["since_gap"].items()}
