"""A small scriptable HTTP server on 127.0.0.1 for tests (no network beyond loopback).

Routes answer per path (any method: GET, POST, PUT, DELETE; the handler sees ``Request.method``
and ``Request.body``): a fixed ``Reply`` or a handler ``fn(Request) -> Reply``; ``script``
queues one-shot replies (a 429 with Retry-After, a 503, a slow reply that trips a client
timeout, a malformed body) that are served before the route's normal answer. Every request
is recorded. Delays wait on the server's stop event, so ``stop()`` never hangs on a sleeping
handler thread. Use it as a context manager or through the ``fake_http`` fixture::

    with FakeHttpServer() as srv:
        srv.route("/v1/points", Reply(body={"series": []}))
        srv.script("/v1/points", Reply(status=429, headers={"Retry-After": "1"}))
        get(srv.url + "/v1/points")
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest


@dataclass(frozen=True)
class Request:
    """One request as the server saw it: header names lower-case, query values the last of repeats."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Reply:
    """What to answer: ``body`` bytes/str as is, anything else as JSON."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json"


Handler = Callable[[Request], Reply]
NOT_FOUND = Reply(status=404, body={"code": -1, "msg": "no such route"})


class FakeHttpServer:
    """Threaded HTTP server bound to 127.0.0.1 on a free port."""

    def __init__(self, port: int = 0, on_request: Callable[[Request], None] | None = None) -> None:
        self._port = port
        self._on_request = on_request
        self._routes: dict[str, Handler] = {}
        self._prefixes: list[tuple[str, Handler]] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ configuration

    def route(self, path: str, answer: Reply | Handler) -> None:
        """Answer requests for exactly ``path`` (query ignored) with ``answer``."""
        self._routes[path] = answer if callable(answer) else (lambda _req, r=answer: r)

    def route_prefix(self, prefix: str, handler: Handler) -> None:
        """Answer every path starting with ``prefix`` (checked after exact routes)."""
        self._prefixes.append((prefix, handler))

    def script(self, path: str, *replies: Reply) -> None:
        """Queue one-shot replies for ``path``, served in order before its route."""
        with self._lock:
            self._scripts[path].extend(replies)

    def hits(self, path: str) -> list[Request]:
        """Recorded requests for ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeHttpServer":
        """Bind to 127.0.0.1 (port 0: a free one) and serve in a daemon thread."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler_class())
        self._server.daemon_threads = True
        server = self._server  # a short poll interval keeps stop() quick
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                                        name="fake-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake sleeping handlers, stop serving, close the socket, join the thread."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "FakeHttpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _answer(self, request: Request) -> Reply:
        if self._on_request is not None:
            self._on_request(request)
        with self._lock:
            self.requests.append(request)
            queue = self._scripts.get(request.path)
            if queue:
                return queue.popleft()
        handler = self._routes.get(request.path)
        if handler is None:
            handler = next((h for p, h in self._prefixes if request.path.startswith(p)), None)
        return handler(request) if handler is not None else NOT_FOUND

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so no handler thread lingers in keep-alive
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                try:
                    reply = server._answer(request)
                except Exception as exc:  # a broken test handler must show up as a 500, not a hang
                    reply = Reply(status=500, body={"code": -1, "msg": f"handler error: {exc!r}"})
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return
                body, ctype = reply.payload()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": ctype, **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to do

            # every method goes through the same routes (``Request.method`` tells them apart)
            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return _Handler


@pytest.fixture()
def fake_http() -> Iterator[FakeHttpServer]:
    """A started ``FakeHttpServer``, stopped (threads joined) at teardown."""
    server = FakeHttpServer().start()
    try:
        yield server
    finally:
        server.stop()
