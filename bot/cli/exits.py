"""liqbot's exit codes and which error gets which, in one place.

0 success; 1 an internal error or a state a person must look at (a halted live bot, a failed
lookahead check); 2 the user can fix it: bad usage or input, a setting, the network (with a
hint), a state folder locked by another liqbot; 130 interrupted (Ctrl-C), whatever was running.
"""

from __future__ import annotations

from bot.errors import ConfigError, DataError, LiqbotError, RetryableError, StateLockedError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
NETWORK_HINT = "check the network connection and the exchange's status, then run the same command again"


def exit_code(exc: LiqbotError) -> int:
    """The exit code of an error that reached the command line."""
    if isinstance(exc, (DataError, ConfigError, RetryableError, StateLockedError)):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def message_of(exc: BaseException) -> str:
    """The error as one line (whitespace folded), a network failure with what to check.

    Every configured secret is redacted: a provider's error body may echo the request's key.
    """
    from bot.logs import redact

    text = redact(" ".join(str(exc).split()))
    if isinstance(exc, RetryableError):
        text = f"{text} ({NETWORK_HINT})"
    return text
