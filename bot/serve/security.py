"""Who may talk to ``liqbot serve``: loopback by default, a token for anything else, read-only.

- :func:`check_bind`: binding any address but a loopback one without ``serve.token`` is refused at
  start (a ConfigError: one line, exit 2).
- :class:`TokenGuard` (ASGI middleware): when a token is set, every request must carry it, as
  ``Authorization: Bearer <token>`` or ``?token=<token>`` (what an ``EventSource`` can send); the
  comparison is constant-time (``hmac.compare_digest``). Only GET and HEAD pass: the server is
  read-only. Every response carries headers that keep other sites' pages out (no CORS unless
  origins are configured, no framing, no sniffing).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from pydantic import SecretStr

from bot.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                  b"frame-ancestors 'none'"),
)
READ_METHODS = frozenset({"GET", "HEAD"})
# FastAPI's /docs page loads Swagger UI from its CDN: the page's own policy must not block it
CSP_EXEMPT = ("/docs", "/redoc")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: SecretStr | None) -> None:
    """Refuse a non-loopback bind without a token."""
    if not is_loopback(host) and (token is None or not token.get_secret_value()):
        raise ConfigError(f"serve: binding {host} (not loopback) needs a token: set serve.token "
                          "(LIQBOT_SERVE__TOKEN) or bind 127.0.0.1")


def token_matches(given: str, token: SecretStr) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return hmac.compare_digest(given.encode("utf-8"), token.get_secret_value().encode("utf-8"))


def presented_token(scope: Scope) -> str | None:
    """The token a request carries (Bearer header first, then the ``token`` query parameter)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return credential.strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


class TokenGuard:
    """ASGI middleware: read-only methods, the token when one is set, security headers on every answer."""

    def __init__(self, app: Any, token: SecretStr | None) -> None:
        self.app = app
        self.token = token if token is not None and token.get_secret_value() else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in READ_METHODS and scope["method"] != "OPTIONS":
            await _refuse(send, 405, "read-only server: only GET and HEAD are allowed")
            return
        if self.token is not None:
            given = presented_token(scope)
            if given is None or not token_matches(given, self.token):
                await _refuse(send, 401, "a valid token is required (Authorization: Bearer ... or ?token=...)")
                return

        exempt = scope["path"].startswith(CSP_EXEMPT)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                if exempt:
                    present.add(b"content-security-policy")
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"success": False, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
