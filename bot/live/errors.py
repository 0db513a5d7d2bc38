"""ccxt exceptions -> liqbot errors, split by the reaction they demand (docs/architecture.md §9).

The same ccxt class means different things depending on what was asked: a timeout on a
read is worth another try, a timeout on an order create leaves the order's fate unknown
(reconcile by client id, never resubmit). So the mapping takes the operation:

=====================  ==============  ==============  ==================
ccxt                   CREATE          CANCEL          READ / SETUP
=====================  ==============  ==============  ==================
rate limit (429/418)   OrderRateLim.   RateLimited     RateLimited
timeout, disconnect,   Ambiguous       Ambiguous       Retryable
5xx, bad response
timestamp (-1021)      Rejected        Retryable       Retryable
auth, permissions      Fatal           Fatal           Fatal
refused (4xx code)     Rejected        Rejected        Rejected
=====================  ==============  ==============  ==================

A 429/418 refuses the request before the matching engine sees it, so a create hit by one
is definitely not placed. Some Binance codes say more than their ccxt class: -4116 (the
client order id exists: an earlier submit did arrive) and -1006/-1007 ("execution status
unknown") are ambiguous whatever ccxt calls them.
"""

from __future__ import annotations

import re
from enum import StrEnum

import ccxt

from bot.errors import AmbiguousError, FatalError, LiqbotError, RejectedError, RetryableError
from bot.retry import RateLimitedError

AMBIGUOUS_CODES = frozenset({-4116, -1006, -1007})
_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')


class Op(StrEnum):
    """What the failed call was doing."""

    CREATE = "create"
    CANCEL = "cancel"
    READ = "read"
    SETUP = "setup"  # leverage, margin mode, markets, clock


class OrderRateLimited(RejectedError):
    """An order create refused by a rate limit (nothing placed); ``retry_after`` seconds if known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClockSkewError(RetryableError):
    """The exchange refused the request's timestamp (-1021): resync the clock, then a read may retry."""


def venue_code(exc: BaseException) -> int | None:
    """The exchange's numeric error code in a ccxt message (``{"code":-2019,...}``), if any."""
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def map_ccxt_error(exc: BaseException, op: Op, what: str, *, retry_after: float | None = None) -> LiqbotError:
    """The liqbot error for ``exc`` raised by a ccxt call doing ``op``; non-ccxt errors pass through."""
    if not isinstance(exc, ccxt.BaseError):
        raise exc
    text = f"{what}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    trading = op in (Op.CREATE, Op.CANCEL)
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        if op is Op.CREATE:
            return OrderRateLimited(text, retry_after=retry_after)
        return RateLimitedError(text, retry_after=retry_after)
    if isinstance(exc, ccxt.InvalidNonce):
        return RejectedError(text) if op is Op.CREATE else ClockSkewError(text)
    if trading and venue_code(exc) in AMBIGUOUS_CODES:
        return AmbiguousError(text)
    if isinstance(exc, ccxt.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        return FatalError(text)
    if isinstance(exc, ccxt.OperationFailed):  # timeouts, disconnects, 5xx, unreadable answers
        return AmbiguousError(text) if trading else RetryableError(text)
    if isinstance(exc, ccxt.ExchangeError):  # the exchange answered with a refusal
        return RejectedError(text)
    return AmbiguousError(text) if trading else RetryableError(text)
