"""The state store fails closed: a database that is not what liqbot wrote stops everything.

:func:`check_file` looks at the bytes before SQLite opens them (a missing file is the only case
that creates a new store: an empty or foreign file is never re-initialised); :func:`check_open`
runs SQLite's integrity check and verifies liqbot's schema and the records the bot acts on (the
risk state above all: a record that does not parse, or that disagrees with its state column,
must never let the bot trade as ACTIVE). Every refusal is one ``DataError`` line naming the file
and what to do.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bot.errors import DataError

SQLITE_MAGIC = b"SQLite format 3\x00"
WHAT_TO_DO = "liqbot will not use or re-create it: move it away (or restore a backup) and run again"
# How many problems integrity_check reports; one is enough to refuse, the first is named.
_CHECK_ROWS = 1


def refuse(path: Path, problem: str) -> DataError:
    """The one-line error of a store that is not what liqbot wrote."""
    return DataError(f"{problem}; {WHAT_TO_DO}", source=f"state store {path}")


def check_file(path: Path) -> bool:
    """True when ``path`` holds an SQLite database to open; False when it does not exist (a new store)."""
    if not path.exists():
        return False
    if not path.is_file():
        raise refuse(path, "is not a file")
    size = path.stat().st_size
    if size == 0:
        raise refuse(path, "is empty (0 bytes): its trades, positions and risk state are gone")
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        raise refuse(path, "is not an SQLite database (damaged header)")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise refuse(path, f"has a damaged header (page size {page_size})")
    if size % page_size:
        raise refuse(path, f"is truncated ({size} bytes, not whole {page_size}-byte pages)")
    pages = int.from_bytes(head[28:32], "big")
    counted = head[24:28] == head[92:96]  # the header's page count is valid only then (SQLite file format)
    if counted and pages and pages * page_size > size:
        raise refuse(path, f"is truncated (the header counts {pages} pages, the file holds {size // page_size})")
    return True


def check_open(conn: sqlite3.Connection, path: Path, tables: tuple[str, ...]) -> None:
    """Integrity, liqbot's schema and the risk record of an opened existing store."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({_CHECK_ROWS})").fetchall()
        if not rows or rows[0][0] != "ok":
            first = rows[0][0] if rows else "no answer"
            raise refuse(path, f"fails SQLite's integrity check ({' '.join(str(first).split())})")
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_migrations" not in present:
            raise refuse(path, "is not a liqbot store (no schema_migrations table)")
        versions = conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
        if not versions:
            raise refuse(path, "is not a liqbot store (no schema version recorded)")
        missing = [t for t in tables if t not in present]
        if missing:
            raise refuse(path, f"lacks the table(s) {', '.join(missing)}")
        _check_records(conn, path)
    except sqlite3.DatabaseError as exc:
        raise refuse(path, f"cannot be read ({exc})") from None


def _check_records(conn: sqlite3.Connection, path: Path) -> None:
    from bot.risk import RiskState, TradingState
    for state, record in conn.execute("SELECT state, record FROM risk_state").fetchall():
        rec = _json(record, path, "risk_state.record")
        if not isinstance(rec, dict) or "state" not in rec:
            raise refuse(path, f"risk_state.record holds no risk state ({str(record)[:40]!r}) while the state "
                               f"column says {state}")
        if state not in TradingState.__members__ or rec["state"] != state:
            raise refuse(path, f"risk_state disagrees with itself (column {state!r}, record {rec['state']!r})")
        try:
            RiskState.from_record(rec)
        except (KeyError, TypeError, ValueError) as exc:
            raise refuse(path, f"risk_state.record does not parse ({exc})") from None
    for table in ("positions", "orders"):
        for (record,) in conn.execute(f"SELECT record FROM {table}"):  # noqa: S608 (fixed names)
            if not isinstance(_json(record, path, f"{table}.record"), dict):
                raise refuse(path, f"{table}.record is not a record")


def _json(text: Any, path: Path, where: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise refuse(path, f"{where} is not valid JSON") from None
