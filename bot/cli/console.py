"""rich consoles for command output: the terminal's width on a terminal, full width when piped.

rich falls back to 80 columns when stdout is not a terminal, which cut tables written to a file
or a pipe; a pipe gets ``PIPE_WIDTH`` instead, wide enough that no table is cut or wrapped.
"""

from __future__ import annotations

import sys
from typing import Any

PIPE_WIDTH = 1000


def output_width(stream: Any = None) -> int | None:
    """``None`` (rich measures the terminal) on a terminal, ``PIPE_WIDTH`` otherwise."""
    out = stream if stream is not None else sys.stdout
    return None if getattr(out, "isatty", lambda: False)() else PIPE_WIDTH


def stdout_console(**kwargs: Any) -> Any:
    """A rich ``Console`` on stdout at ``output_width()`` (other keyword arguments passed on)."""
    from rich.console import Console
    kwargs.setdefault("width", output_width())
    return Console(**kwargs)
