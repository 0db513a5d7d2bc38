"""Plain HTTP GET with the standard library, mapped to liqbot's error kinds.

Used by the exchange archive reader and the heatmap provider clients (ccxt has its own
transport). Status mapping: 429 -> ``RateLimitedError`` (with Retry-After), 408/5xx and
timeouts/connection failures -> ``RetryableError``, 401/403 -> ``FatalError`` (a key problem
the user must fix), 404 -> ``NotFoundError``, other 4xx -> ``DataError``. Header values are
never put into messages: they may hold API keys.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping

from bot.errors import DataError, FatalError, RetryableError
from bot.retry import RateLimitedError, RetryPolicy, call_with_retry

USER_AGENT = "liqbot/0.1 (+https://github.com/)"


class NotFoundError(DataError):
    """HTTP 404: the resource does not exist (for a daily archive file: a gap)."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


def http_get(url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float,
             what: str) -> bytes:
    """One GET; returns the body of a 2xx response or raises the mapped liqbot error."""
    return _send(urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})}), timeout_s, what)


def http_post_json(url: str, payload: object, *, headers: Mapping[str, str] | None = None, timeout_s: float,
                   what: str) -> bytes:
    """One POST of ``payload`` as JSON (an info-style read, e.g. Hyperliquid ``/info``); errors as ``http_get``."""
    import json
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "User-Agent": USER_AGENT, "Content-Type": "application/json", **(headers or {})})
    return _send(request, timeout_s, what)


def _send(request: urllib.request.Request, timeout_s: float, what: str) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http/https only)
            return response.read()
    except urllib.error.HTTPError as exc:
        raise _status_error(exc, what) from None
    except (TimeoutError, socket.timeout) as exc:
        raise RetryableError(f"{what}: timed out after {timeout_s:g} s") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise RetryableError(f"{what}: timed out after {timeout_s:g} s") from exc
        raise RetryableError(f"{what}: connection failed: {exc.reason}") from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        raise RetryableError(f"{what}: connection broken: {type(exc).__name__}") from exc


def _status_error(exc: urllib.error.HTTPError, what: str) -> Exception:
    code = exc.code
    try:
        from bot.logs import redact_cut
        # the body is cut at 200 bytes: a cut inside an echoed key must not leave its prefix readable
        snippet = redact_cut(exc.read(200).decode("utf-8", "replace").strip().replace("\n", " "))
    except (OSError, http.client.HTTPException):
        snippet = ""
    detail = f"HTTP {code}" + (f": {snippet}" if snippet else "")
    if code == 429:
        return RateLimitedError(f"{what}: rate limited ({detail})",
                                retry_after=parse_retry_after(exc.headers.get("Retry-After")))
    if code == 408 or code >= 500:
        return RetryableError(f"{what}: server error ({detail})")
    if code in (401, 403):
        return FatalError(f"{what}: the API key was rejected ({detail}); check the key in settings")
    if code == 404:
        return NotFoundError(f"not found ({detail})", source=what)
    return DataError(f"request refused ({detail})", source=what)


def get_with_retry(url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float,
                   policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep,
                   on_retry: Callable[[int, float, BaseException], None] | None = None) -> bytes:
    """``http_get`` retried under ``policy`` (GET is idempotent; 404/4xx are not retried)."""
    return call_with_retry(lambda: http_get(url, headers=headers, timeout_s=timeout_s, what=what),
                           policy, what=what, sleep=sleep, on_retry=on_retry)

