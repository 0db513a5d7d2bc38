"""Whether the user interrupted the running command (Ctrl-C), for the exit code 130.

Commands that stop cleanly on SIGINT (the paper and live runners finish their step, save and
print their summary) call ``note`` from their signal handler; ``liqbot``'s main then exits 130
as it does when a KeyboardInterrupt escapes, so a script sees the same code either way.
"""

from __future__ import annotations

import signal

_state = {"interrupted": False}


def note(signum: int) -> None:
    """Record a stop request; only SIGINT (Ctrl-C) counts as an interruption, SIGTERM is a normal stop."""
    if signum == signal.SIGINT:
        _state["interrupted"] = True


def was_interrupted() -> bool:
    """Whether ``note`` saw a SIGINT since the last ``reset``."""
    return _state["interrupted"]


def reset() -> None:
    """Forget earlier interruptions (a new command starts)."""
    _state["interrupted"] = False
