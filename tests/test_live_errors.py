"""ccxt exceptions map to liqbot errors by the reaction they demand, per operation."""

from __future__ import annotations

import ccxt
import pytest

from bot.errors import AmbiguousError, FatalError, RejectedError, RetryableError
from bot.live.errors import ClockSkewError, Op, OrderRateLimited, map_ccxt_error, venue_code
from bot.retry import RateLimitedError

CASES = [
    # (ccxt error, CREATE, CANCEL, READ)
    (ccxt.RequestTimeout("timed out"), AmbiguousError, AmbiguousError, RetryableError),
    (ccxt.NetworkError("connection reset"), AmbiguousError, AmbiguousError, RetryableError),
    (ccxt.ExchangeNotAvailable("502"), AmbiguousError, AmbiguousError, RetryableError),
    (ccxt.BadResponse("not json"), AmbiguousError, AmbiguousError, RetryableError),
    (ccxt.DDoSProtection("418"), OrderRateLimited, RateLimitedError, RateLimitedError),
    (ccxt.RateLimitExceeded('{"code":-1003}'), OrderRateLimited, RateLimitedError, RateLimitedError),
    (ccxt.InvalidNonce('{"code":-1021}'), RejectedError, ClockSkewError, ClockSkewError),
    (ccxt.AuthenticationError('{"code":-2015}'), FatalError, FatalError, FatalError),
    (ccxt.PermissionDenied("no futures"), FatalError, FatalError, FatalError),
    (ccxt.InsufficientFunds('{"code":-2019}'), RejectedError, RejectedError, RejectedError),
    (ccxt.InvalidOrder('{"code":-4164}'), RejectedError, RejectedError, RejectedError),
    (ccxt.InvalidOrder('binanceusdm {"code":-4116,"msg":"ClientOrderId is duplicated."}'),
     AmbiguousError, AmbiguousError, RejectedError),
    (ccxt.ExchangeError('{"code": -1006, "msg": "execution status unknown"}'),
     AmbiguousError, AmbiguousError, RejectedError),
]


@pytest.mark.parametrize(("exc", "create", "cancel", "read"), CASES, ids=lambda v: type(v).__name__)
def test_reaction_depends_on_the_operation(exc: Exception, create: type, cancel: type, read: type) -> None:
    for op, expected in ((Op.CREATE, create), (Op.CANCEL, cancel), (Op.READ, read)):
        mapped = map_ccxt_error(exc, op, "what")
        assert type(mapped) is expected, (op, mapped)
        assert str(mapped).startswith("what: ")


def test_retry_after_travels_with_rate_limits() -> None:
    err = map_ccxt_error(ccxt.DDoSProtection("429"), Op.READ, "read", retry_after=3.0)
    assert isinstance(err, RateLimitedError) and err.retry_after == 3.0
    err = map_ccxt_error(ccxt.DDoSProtection("429"), Op.CREATE, "create", retry_after=3.0)
    assert isinstance(err, RejectedError) and err.retry_after == 3.0  # type: ignore[attr-defined]


def test_non_ccxt_errors_pass_through() -> None:
    with pytest.raises(KeyError):
        map_ccxt_error(KeyError("bug"), Op.READ, "read")


def test_venue_code() -> None:
    assert venue_code(ccxt.ExchangeError('binanceusdm {"code":-2019,"msg":"Margin is insufficient."}')) == -2019
    assert venue_code(ccxt.ExchangeError("no code here")) is None
