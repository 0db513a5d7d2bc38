"""Checks of single values: settings (called by ``config.settings`` validators) and CLI arguments.

Settings validators raise ``ValueError`` (pydantic turns it into a one-line ``ConfigError`` naming
the key); argument checks raise ``DataError`` naming the flag.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.inputs import bounds

_SPAN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SYMBOL = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$")


def span_seconds(text: str) -> float | None:
    """Seconds of ``30m``/``6h``/``2d``/``1w`` (a bare number is seconds), or None when not a span."""
    m = _SPAN.match(str(text))
    return float(m[1]) * _UNIT_S[m[2]] if m else None


def check_span(text: str) -> str:
    """A duration setting that stays within ``bounds.MAX_SPAN`` (bars are allocated per span)."""
    seconds = span_seconds(text)
    if seconds is None:
        raise ValueError(f"expected a duration like 30m, 6h, 2d, got {text!r}")
    if seconds > bounds.MAX_SPAN.total_seconds():
        raise ValueError(f"{text!r} is longer than the {bounds.MAX_SPAN.days} days liqbot runs or warms up for")
    return text


def bounded_span(text: str, what: str) -> timedelta:
    """A command-line duration: positive and within ``bounds.MAX_SPAN`` (``DataError`` naming ``what``)."""
    seconds = span_seconds(text)
    if seconds is None or seconds <= 0:
        raise DataError(f"expected a positive duration like 30m, 6h, 2d; got {text!r}", field=what)
    if seconds > bounds.MAX_SPAN.total_seconds():
        raise DataError(f"{text!r} is longer than {bounds.MAX_SPAN.days} days", field=what)
    return timedelta(seconds=seconds)


def check_time(text: str) -> str:
    """An ISO-8601 time setting (naive = UTC)."""
    try:
        datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 time: {text!r}") from None
    return text


def check_timeframe(text: str) -> str:
    """A bar length like ``1m``, ``5m``, ``1h`` (positive, at most a week)."""
    seconds = span_seconds(text)
    if not seconds or seconds <= 0 or seconds > 7 * 86400:
        raise ValueError(f"expected a positive bar length like 1m, 5m, 1h, got {text!r}")
    return text


def check_funding_interval(hours: int) -> int:
    """Exchanges settle funding every 1, 2, 4 or 8 hours from 00:00 UTC."""
    if hours not in bounds.FUNDING_INTERVALS_H:
        raise ValueError(f"funding is settled every {', '.join(map(str, bounds.FUNDING_INTERVALS_H))} hours, "
                         f"not every {hours}")
    return hours


def check_log_file(path: Path | None) -> Path | None:
    """An absolute log file's folder must exist (liqbot never creates folders it was not asked for); a
    relative one lives in the state folder, which the command itself checks or creates."""
    if path is None or not path.is_absolute():
        return path
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a log file")
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"the folder of the log file does not exist: {parent}")
    return path


def split_symbols(text: str) -> list[str]:
    """``LIQBOT_SYMBOLS``: a JSON list (``["BTC/USDT:USDT"]``) or a comma list (``BTC/USDT:USDT,ETH/USDT:USDT``)."""
    value = text.strip()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError("not a JSON list of symbols; use [\"BTC/USDT:USDT\"] or BTC/USDT:USDT,ETH/USDT:USDT") \
                from None
        if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
            raise ValueError("expected a list of symbol strings")
        return parsed
    return [part.strip() for part in value.split(",")] if value else []


def check_symbols(symbols: list[str]) -> list[str]:
    """Non-empty, ccxt-unified-looking (``BASE/QUOTE[:SETTLE]``), no duplicates."""
    if not symbols:
        raise ValueError("at least one symbol is needed, e.g. [\"BTC/USDT:USDT\"]")
    for s in symbols:
        if not _SYMBOL.match(s):
            raise ValueError(f"not a ccxt symbol: {s!r} (expected BASE/QUOTE:SETTLE, e.g. BTC/USDT:USDT)")
    if len(set(symbols)) != len(symbols):
        raise ValueError("a symbol is listed twice")
    return symbols


def non_negative_int(text: str) -> int:
    """argparse ``type=`` of counts and seeds: a whole number >= 0 (argparse prints the one-line reason)."""
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse ``type=`` of a simulator seed: a whole number in [0, 2**32 - 1] (numpy's seed range)."""
    import argparse
    value = non_negative_int(text)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 4294967295], got {text!r}")
    return value


def finite_number(value: Any, what: str, *, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite float within [low, high], else ``DataError`` naming ``what``."""
    x = float(value)
    if not math.isfinite(x) or x < low or x > high:
        raise DataError(f"must be a finite number in [{low:g}, {high:g}], got {value!r}", field=what)
    return x


def check_window(start: datetime | None, end: datetime | None, *, start_flag: str = "--from",
                 end_flag: str = "--to") -> None:
    """``--to`` must come after ``--from``."""
    if start is not None and end is not None and end <= start:
        raise DataError(f"must be after {start_flag} ({start.astimezone(timezone.utc).isoformat()})", field=end_flag)
