"""Time as an injected dependency: a clock to read and a sleeper to wait.

The runner never calls ``datetime.now`` or ``time.sleep`` itself, so tests drive a day of
bars in milliseconds with :class:`FakeClock` and time predicates are testable (a clock that
is read directly is how age checks go wrong unnoticed).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from bot.domain import utc


@runtime_checkable
class Clock(Protocol):
    """Reads the current time (aware UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


@runtime_checkable
class Sleeper(Protocol):
    """Waits; may return early when asked to stop."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (non-positive: return at once)."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(timezone.utc)


class SystemSleeper:
    """Real sleep that a signal handler can cut short through :meth:`wake`."""

    def __init__(self) -> None:
        self._wake = threading.Event()

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; returns early after :meth:`wake`."""
        if seconds > 0:
            self._wake.wait(seconds)

    def wake(self) -> None:
        """End the current and every later sleep at once (used on shutdown)."""
        self._wake.set()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = utc(start or datetime(2025, 1, 1, tzinfo=timezone.utc))

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move forward ``seconds`` (negative moves back: a clock jump)."""
        self._now = self._now + timedelta(seconds=seconds)

    def set(self, ts: datetime) -> None:
        """Jump to ``ts``."""
        self._now = utc(ts)


class FakeSleeper:
    """Sleeping advances the fake clock instead of waiting; the total is recorded."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (non-positive: no-op)."""
        if seconds > 0:
            self.slept.append(seconds)
            self.clock.advance(seconds)


def parse_ts(text: str) -> datetime:
    """An ISO-8601 timestamp (``Z`` or an offset; naive means UTC) as an aware UTC datetime."""
    return utc(datetime.fromisoformat(str(text)))


def monotonic_ms() -> float:
    """Monotonic milliseconds, for latency measurements only (never for decisions)."""
    return time.perf_counter() * 1000.0
