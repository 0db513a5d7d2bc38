"""Say on stderr when numba compiles, with one progress line per kernel, instead of going silent.

A first run on an empty cache spends most of a minute in numba's compiler; ``compile_notice``
listens to numba's ``numba:compile`` events (fired only for real compiles, never for a cache
load) and prints ``compiling liqbot's kernels (once) ...`` at the first one, then the name and
seconds of every outermost compile (a kernel's callees compile inside it and are counted with
it). On a terminal the kernel's name appears when its compile starts, so a 15 s compile is not
silence; when piped, one whole line per kernel. stdout is never touched (``--json`` stays clean).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

HEADER = "liqbot: compiling liqbot's kernels (once; later runs load them from the cache) ..."


@dataclass
class CompileLog:
    """What the listener saw: ``(kernel, seconds, callees)`` per outermost compile."""

    kernels: list[tuple[str, float, int]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Total compile seconds."""
        return sum(s for _, s, _ in self.kernels)


def kernel_name(dispatcher: Any) -> str:
    """``module.qualname`` of a numba dispatcher's Python function."""
    func = dispatcher.py_func
    return f"{func.__module__}.{func.__qualname__}"


@contextmanager
def compile_notice(stream: IO[str] | None = None, *, header: bool = True) -> Iterator[CompileLog]:
    """Within the block, report every numba compile on ``stream`` (stderr by default)."""
    from numba.core import event

    out = stream if stream is not None else sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())
    log = CompileLog()

    class Notice(event.Listener):
        def __init__(self) -> None:
            self.depth = 0
            self.callees = 0
            self.started = 0.0
            self.name = ""

        def on_start(self, ev: Any) -> None:
            if self.depth == 0:
                if header and not log.kernels:
                    print(HEADER, file=out, flush=True)
                self.name, self.callees, self.started = kernel_name(ev.data["dispatcher"]), 0, time.perf_counter()
                if tty:
                    print(f"  [{len(log.kernels) + 1}] {self.name} ...", end="", file=out, flush=True)
            else:
                self.callees += 1
            self.depth += 1

        def on_end(self, ev: Any) -> None:
            self.depth -= 1
            if self.depth:
                return
            seconds = time.perf_counter() - self.started
            log.kernels.append((self.name, seconds, self.callees))
            more = f" (+{self.callees} callees)" if self.callees else ""
            done = f" {seconds:.1f} s{more}, {log.seconds:.0f} s so far"
            line = done if tty else f"  [{len(log.kernels)}] {self.name}{done}"
            print(line, file=out, flush=True)

    listener = Notice()
    event.register("numba:compile", listener)  # type: ignore[no-untyped-call]  # numba has no annotations here
    try:
        yield log
    finally:
        event.unregister("numba:compile", listener)  # type: ignore[no-untyped-call]
        if log.kernels and header:
            print(f"liqbot: compiled {len(log.kernels)} kernels in {log.seconds:.1f} s; cached for later runs",
                  file=out, flush=True)
