"""Time arguments of the CLI (``--since``, ``--to``): one parser, one set of rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from bot.errors import DataError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d|w)$", re.I)
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: datetime, *, field: str = "--since") -> datetime:
    """An aware UTC datetime from a CLI time argument.

    Accepted: ``now``; ISO-8601 (``2025-01-01``, ``2025-01-01T12:00``, ``...Z``, with offset;
    naive means UTC); epoch seconds, milliseconds or microseconds (told apart by magnitude);
    a duration before ``now`` (``90m``, ``12h``, ``30d``, ``2w``).
    """
    try:
        return _parse_time(text, now, field)
    except (OverflowError, OSError, ValueError):  # 99999999w before now, epoch 1e30: no representable time
        raise DataError(f"not a representable time: {text!r}", field=field) from None


def _parse_time(text: str, now: datetime, field: str) -> datetime:
    value = text.strip()
    if value.lower() == "now":
        return now
    match = _DURATION.match(value)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2).lower()])
    if re.fullmatch(r"\d+(\.\d+)?", value):
        number = float(value)
        seconds = number if number < 1e11 else number / 1e3 if number < 1e14 else number / 1e6
        return datetime.fromtimestamp(seconds, timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(f"not a time: {text!r} (use ISO-8601, epoch s/ms, 'now' or a duration like 30d)",
                        field=field) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(round(ts.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc)
