"""Running the app on uvicorn: in the foreground (``liqbot serve``) or in a thread (tests, ``liqbot bench``)."""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn

from bot.errors import FatalError


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn settings: no access log (a ``?token=`` would be written into it), no server header."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, server_header=False,
                          lifespan="off", timeout_graceful_shutdown=2)


def run(app: Any, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM, then return: a stop request is a normal end (exit 0)."""
    stops: list[int] = []
    # uvicorn shuts down gracefully on these, then re-raises them against the handlers it found:
    # ours only note the stop, so the process is not killed by its own signal after a clean shutdown
    previous = {sig: signal.signal(sig, lambda signum, frame: stops.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(uvicorn_config(app, host, port, log_level="info")).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 20.0) -> Iterator[str]:
    """A real uvicorn on ``host`` (``port=0``: a free port) in a daemon thread; yields its base URL."""
    server = uvicorn.Server(uvicorn_config(app, host, port))
    thread = threading.Thread(target=server.run, name="liqbot-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise FatalError(f"liqbot serve did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
