"""structlog setup: JSON lines to the log file, readable lines on a terminal, secrets redacted.

The redaction processor is the last line of defence: it replaces every configured secret
value, wherever it appears (any field, nested containers, inside longer strings), and masks
fields whose names look secret, before any renderer sees the event.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, MutableMapping

import structlog
from pydantic import SecretStr

REDACTED = "**redacted**"
_SECRET_NAME = re.compile(r"(secret|password|passphrase|api[_-]?key|token|signature|private)", re.I)


class Redactor:
    """structlog processor that removes secret values from every event."""

    def __init__(self, secrets: Iterable[str | SecretStr | None]) -> None:
        values = []
        for s in secrets:
            if s is None:
                continue
            raw = s.get_secret_value() if isinstance(s, SecretStr) else str(s)
            if len(raw) >= 4:  # very short values would redact ordinary text
                values.append(raw)
        # longest first so a secret containing another is replaced whole
        self._values = sorted(set(values), key=len, reverse=True)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, str):
            for secret in self._values:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, Mapping):
            return {k: (REDACTED if isinstance(k, str) and _SECRET_NAME.search(k) and v not in (None, "")
                        else self._scrub(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return type(value)(self._scrub(v) for v in value) if not isinstance(value, set) else [
                self._scrub(v) for v in value]
        if isinstance(value, BaseException):
            return self._scrub(repr(value))
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self._scrub(str(value)) if self._values else value

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            if _SECRET_NAME.search(key) and event[key] not in (None, ""):
                event[key] = REDACTED
            else:
                event[key] = self._scrub(event[key])
        return event


def _render_exc_then_redact(redactor: Redactor) -> list[Any]:
    # exception text is rendered into the event first so that the redactor sees it too
    return [structlog.processors.format_exc_info, redactor]


def configure_logging(level: str = "INFO", file: Path | None = None, console: bool = True,
                      secrets: Iterable[str | SecretStr | None] = (), stream: Any = None,
                      max_bytes: int = 0, backups: int = 0) -> Redactor:
    """Configure structlog and the stdlib root logger once for the process.

    ``file`` rotates at ``max_bytes`` keeping ``backups`` older files (``liqbot.log.1`` ...);
    ``max_bytes=0`` never rotates. Returns the redactor so callers (and tests) can check what it protects.
    """
    global _ACTIVE
    redactor = _ACTIVE = Redactor(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *_render_exc_then_redact(redactor),
    ]
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(file, encoding="utf-8", maxBytes=max_bytes, backupCount=backups)
        fh.setFormatter(structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.JSONRenderer(default=str)]))
        root.addHandler(fh)
    if console:
        out = stream if stream is not None else sys.stderr
        ch = logging.StreamHandler(out)
        colors = bool(getattr(out, "isatty", lambda: False)())
        ch.setFormatter(structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.dev.ConsoleRenderer(colors=colors)]))
        root.addHandler(ch)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return redactor


_ACTIVE: Redactor | None = None


def redact_cut(text: str) -> str:
    """:func:`redact` for text cut at an arbitrary length: a secret's prefix at the end is redacted too."""
    text = redact(text)
    for secret in (_ACTIVE._values if _ACTIVE is not None else ()):
        for k in range(len(secret) - 1, 3, -1):
            if text.endswith(secret[:k]):
                return text[:-k] + REDACTED
    return text


def redact(text: str) -> str:
    """``text`` with every secret of the configured settings replaced (error lines printed outside logging)."""
    return text if _ACTIVE is None else str(_ACTIVE._scrub(text))


def get_logger(name: str | None = None, **context: Any) -> structlog.stdlib.BoundLogger:
    """A logger with bound context ids (symbol, run_id, signal_id, ...).

    Stays lazy (no ``.bind()`` on the proxy): a logger made at import time, before
    ``configure_logging`` runs, must still go through the configured chain and its redactor.
    """
    return structlog.get_logger(name, **context)
