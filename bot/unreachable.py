"""A remote service that could not be reached at all: bad input of the network kind (exit 2, with a hint).

``paper --feed live`` that has never reached the exchange, and ``download`` whose reads gave up,
end with one line that says what failed and what to check, instead of retrying for the whole
run ("as of None") or exiting 1 as for an internal error.
"""

from __future__ import annotations

from bot.errors import DataError

EXCHANGE_HINT = ("check the network, exchange.id and download.exchange_api_base "
                 "(LIQBOT_DOWNLOAD__EXCHANGE_API_BASE, for a proxy or a local mirror)")


class UnreachableError(DataError):
    """The first connection to a remote service failed (or every retry of a read gave up)."""


def unreachable(what: str, reason: object, hint: str = EXCHANGE_HINT, note: str = "") -> UnreachableError:
    """The one-line error: what could not be reached, why (cut to 240 characters), what was kept, what to check."""
    text = " ".join(str(reason).split())[:240]
    return UnreachableError(f"cannot reach {what}: {text}" + (f" ({note})" if note else "") + f"; {hint}")
