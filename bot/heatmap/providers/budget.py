"""A request budget: a provider's rate limit as weight per rolling minute, plus a server's "not before".

Each provider states its limit differently (Kiyotaka: weight per request times a depth multiplier;
CoinGlass: requests per minute of the plan; Hyperliquid: 1200 weight per minute per IP, 2 per
``clearinghouseState``). One object covers them all: a request of weight ``w`` may go at ``now``
when the weights spent in the last 60 s plus ``w`` stay within ``per_minute`` and no Retry-After
is pending. Time is passed in, never read, so the budget is tested without waiting.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


class RequestBudget:
    """Weight per rolling minute; ``defer`` records a server's Retry-After."""

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be > 0")
        self.per_minute = float(per_minute)
        self._spent: deque[tuple[datetime, float]] = deque()
        self._not_before: datetime | None = None
        self.denied = 0

    def _expire(self, now: datetime) -> None:
        while self._spent and now - self._spent[0][0] >= WINDOW:
            self._spent.popleft()

    def used(self, now: datetime) -> float:
        """Weight spent in the minute before ``now``."""
        self._expire(now)
        return sum(w for _, w in self._spent)

    def wait_s(self, weight: float, now: datetime) -> float:
        """Seconds until a request of ``weight`` fits (0: now)."""
        if weight > self.per_minute:
            raise ValueError(f"a request of weight {weight:g} never fits a budget of {self.per_minute:g}/min")
        self._expire(now)
        wait = 0.0
        if self._not_before is not None and now < self._not_before:
            wait = (self._not_before - now).total_seconds()
        total = sum(w for _, w in self._spent)
        for at, w in self._spent:  # the oldest spends leave the window first
            if total + weight <= self.per_minute:
                break
            total -= w
            wait = max(wait, (at + WINDOW - now).total_seconds())
        return wait

    def try_spend(self, weight: float, now: datetime) -> bool:
        """Spend ``weight`` at ``now`` when it fits; False (and counted) when it does not."""
        if self.wait_s(weight, now) > 0:
            self.denied += 1
            return False
        self._spent.append((now, float(weight)))
        return True

    def defer(self, until: datetime) -> None:
        """No request before ``until`` (a 429's Retry-After)."""
        if self._not_before is None or until > self._not_before:
            self._not_before = until
