"""Bounded retries with exponential backoff for idempotent READS only.

Rules (after hynek/stamina and Freqtrade's ``retrier``): retry only ``RetryableError``; back off
exponentially with jitter; cap both the attempts and each delay; honour a server's Retry-After
up to a limit and give up at once when it asks for longer; never retry an order create (callers
of this module fetch data, they never trade). ``sleep`` is injected so tests run without waiting.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from bot.errors import RetryableError

T = TypeVar("T")


class RateLimitedError(RetryableError):
    """HTTP 429 (or a venue's equivalent): retry after ``retry_after`` seconds when the server says."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a read is retried.

    ``attempts`` counts the first try; the delay before retry ``n`` (1-based) is
    ``min(max_s, initial_s * 2**(n-1))`` scaled by a jitter factor in [0.5, 1], or the server's
    Retry-After when that is longer (up to ``retry_after_max_s``).
    """

    attempts: int = 4
    initial_s: float = 0.5
    max_s: float = 8.0
    retry_after_max_s: float = 60.0
    jitter: bool = True

    @classmethod
    def from_settings(cls, section: Any) -> "RetryPolicy":
        """The policy of a settings section with ``retry_attempts``, ``backoff_initial_s``,
        ``backoff_max_s`` and ``retry_after_max_s`` (``config.settings.DownloadSettings``)."""
        return cls(attempts=section.retry_attempts, initial_s=section.backoff_initial_s,
                   max_s=section.backoff_max_s, retry_after_max_s=section.retry_after_max_s)

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_s, self.initial_s * (2 ** (retry - 1)))
        if self.jitter:
            base *= 0.5 + 0.5 * (rng or random).random()
        if retry_after is not None:
            return max(base, min(retry_after, self.retry_after_max_s))
        return base


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, what: str,
                    sleep: Callable[[float], None] = time.sleep,
                    on_retry: Callable[[int, float, BaseException], None] | None = None) -> T:
    """Run ``fn``; retry it on ``RetryableError`` under ``policy``; other errors pass through.

    Giving up raises ``RetryableError`` naming ``what``, the attempts made and the last error.
    A Retry-After longer than ``policy.retry_after_max_s`` gives up at once (waiting that long
    inside a download would look like a hang).
    """
    attempts = max(1, policy.attempts)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except RetryableError as exc:
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None and retry_after > policy.retry_after_max_s:
                raise RateLimitedError(
                    f"{what}: server asks to retry after {retry_after:g} s, more than the "
                    f"{policy.retry_after_max_s:g} s allowed (download.retry_after_max_s): {exc}",
                    retry_after=retry_after) from exc
            if attempt == attempts:
                if isinstance(exc, RateLimitedError):  # the caller may still honour the Retry-After
                    raise RateLimitedError(f"{what}: gave up after {attempts} attempts: {exc}",
                                           retry_after=retry_after) from exc
                raise RetryableError(f"{what}: gave up after {attempts} attempts: {exc}") from exc
            wait = policy.delay(attempt, retry_after)
            if on_retry is not None:
                on_retry(attempt, wait, exc)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
