"""Errors split by the reaction they demand.

Every layer raises one of these; the CLI maps them to exit codes (``bot.cli.exits``):
``DataError``, ``ConfigError``, ``RetryableError`` (the network, with a hint) and
``StateLockedError`` -> exit 2 with one line on stderr, anything else -> exit 1.
"""

from __future__ import annotations


class LiqbotError(Exception):
    """Base class of every error liqbot raises on purpose."""


class DataError(LiqbotError):
    """Input data is malformed or violates an invariant: reject it, never guess.

    ``field`` names what is wrong and ``position`` where (an index, a row,
    a byte offset), so the one-line message is actionable.
    """

    def __init__(self, message: str, *, field: str | None = None, position: object | None = None,
                 source: str | None = None) -> None:
        self.field = field
        self.position = position
        self.source = source
        parts = []
        if source:
            parts.append(source)
        where = field or ""
        if position is not None:
            where = f"{where}[{position}]" if where else f"at {position}"
        if where:
            parts.append(where)
        parts.append(message)
        super().__init__(": ".join(parts))


class ConfigError(LiqbotError):
    """A setting is unknown or has a bad value: the user must fix the config."""


class RetryableError(LiqbotError):
    """A transient failure (rate limit, timeout on a read): safe to retry with backoff."""


class AmbiguousError(LiqbotError):
    """The outcome is unknown (timeout on an order create): reconcile, never resubmit."""


class RejectedError(LiqbotError):
    """The counterparty refused the request (insufficient margin, invalid order)."""


class FatalError(LiqbotError):
    """Something that must stop the bot (bad credentials, reconciliation mismatch)."""


class StateLockedError(FatalError):
    """The state folder is held by another liqbot process: wait for it or choose another ``--state``."""
