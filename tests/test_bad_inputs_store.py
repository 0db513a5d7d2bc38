"""Issue 16.4: the state store fails closed. A table of generated corruptions of a real state folder
(made by a short simulator run); each one, for ``status`` and for ``paper``: one stderr line naming the
file and what to do, exit 2, nothing re-initialised (the damaged bytes stay exactly as they were)."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from tests.bad_inputs_kit import assert_refused, tree_digest

DB = "liqbot.sqlite"


@pytest.fixture(scope="module")
def good_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real state folder: a 6-hour simulator run with trades, positions, risk state and blobs."""
    from bot.cli.main import main
    root = tmp_path_factory.mktemp("store")
    state = root / "state"
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["paper", "--state", str(state), "--duration", "6h", "--warmup", "2h", "--json",
                     "--no-status"]) == 0
    finally:
        os.chdir(cwd)
    with sqlite3.connect(state / DB) as conn:
        assert conn.execute("SELECT COUNT(*) FROM trades").fetchone()[0] > 0
        assert conn.execute("SELECT COUNT(*) FROM risk_state").fetchone()[0] == 1
    return state


def _page_size(db: Path) -> int:
    return int.from_bytes(db.read_bytes()[16:18], "big")


def _write_at(db: Path, offset: int, data: bytes) -> None:
    with open(db, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def _pages(db: Path, *, in_use: bool) -> list[int]:
    """Page numbers (1-based) holding data, or the free ones (SQLite's dbstat view)."""
    conn = sqlite3.connect(db)
    try:
        used = {r[0] for r in conn.execute("SELECT pageno FROM dbstat")}
        total = conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    return sorted(used) if in_use else sorted(set(range(1, total + 1)) - used)


def _scribble(db: Path, pages: list[int], seed: int) -> None:
    ps = _page_size(db)
    rng = random.Random(seed)
    for n in pages:
        _write_at(db, (n - 1) * ps, rng.randbytes(ps))


def _scribble_pages(first_from_end: int, count: int) -> Callable[[Path], None]:
    """Scribble ``count`` in-use pages, starting ``first_from_end`` from the last page holding data."""
    def corrupt(db: Path) -> None:
        used = _pages(db, in_use=True)
        start = len(used) - first_from_end
        _scribble(db, used[start:start + count], first_from_end * 100 + count)
    return corrupt


def _zero_page(n: int) -> Callable[[Path], None]:
    def corrupt(db: Path) -> None:
        ps = _page_size(db)
        _write_at(db, (n - 1) * ps, b"\x00" * ps)
    return corrupt


def _truncate(keep: Callable[[int, int], int]) -> Callable[[Path], None]:
    def corrupt(db: Path) -> None:
        size, ps = db.stat().st_size, _page_size(db)
        os.truncate(db, keep(size, ps))
    return corrupt


def _sql(*statements: str) -> Callable[[Path], None]:
    def corrupt(db: Path) -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            for st in statements:
                conn.execute(st)
        finally:
            conn.close()
        for side in ("-wal", "-shm"):
            Path(f"{db}{side}").unlink(missing_ok=True)
    return corrupt


def _replace(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def corrupt(db: Path) -> None:
        db.unlink()
        make(db)
    return corrupt


def _foreign(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('someone else''s database')")
    conn.commit()
    conn.close()


def _empty_sqlite(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("VACUUM")
    conn.close()


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "emptied to 0 bytes": _truncate(lambda size, ps: 0),
    "truncated to 50 bytes": _truncate(lambda size, ps: 50),
    "truncated to the first page": _truncate(lambda size, ps: ps),
    "truncated to half": _truncate(lambda size, ps: (size // ps // 2) * ps),
    "truncated by one page": _truncate(lambda size, ps: size - ps),
    "truncated mid-page": _truncate(lambda size, ps: size - ps // 2),
    "header zeroed": lambda db: _write_at(db, 0, b"\x00" * 100),
    "magic scribbled": lambda db: _write_at(db, 0, b"NotSQLite format"),
    "page size damaged": lambda db: _write_at(db, 16, b"\x03\x00"),
    "page 1 zeroed": _zero_page(1),
    "page 2 zeroed": _zero_page(2),
    "page 3 zeroed": _zero_page(3),
    "last page scribbled": _scribble_pages(1, 1),
    "last 3 pages scribbled": _scribble_pages(3, 3),
    "tail page 10 scribbled": _scribble_pages(10, 1),
    "middle pages scribbled": lambda db: _scribble_pages(len(_pages(db, in_use=True)) // 2, 2)(db),
    "random bytes of the same size": lambda db: db.write_bytes(random.Random(1).randbytes(db.stat().st_size)),
    "a text file": _replace(lambda db: db.write_text("liqbot state, honest\n")),
    "a directory": _replace(lambda db: db.mkdir()),
    "a foreign SQLite database": _replace(_foreign),
    "an empty SQLite database": _replace(_empty_sqlite),
    "trades table dropped": _sql("DROP TABLE trades"),
    "risk_state table dropped": _sql("DROP TABLE risk_state"),
    "schema_migrations dropped": _sql("DROP TABLE schema_migrations"),
    "schema_migrations emptied": _sql("DELETE FROM schema_migrations"),
    "risk record emptied to {} with state HALTED": _sql("UPDATE risk_state SET state = 'HALTED', record = '{}'"),
    "risk record not JSON": _sql("UPDATE risk_state SET record = 'HALTED?'"),
    "risk record disagrees with its column": _sql(
        "UPDATE risk_state SET state = 'HALTED', record = json_set(record, '$.state', 'ACTIVE')"),
    "risk state column unknown": _sql("UPDATE risk_state SET state = 'PANIC', record = json_set(record, '$.state', "
                                      "'PANIC')"),
    "risk record with a bad time": _sql("UPDATE risk_state SET record = json_set(record, '$.since', 'soon')"),
    "position record not JSON": _sql("INSERT INTO positions VALUES ('ZZZ/USDT:USDT', 'p-x', 'long', 1.0, 100.0, "
                                     "'2025-01-06T00:00:00Z', '{')"),
    "order record not JSON": _sql("UPDATE orders SET record = 'null' WHERE rowid = (SELECT MIN(rowid) FROM orders)"),
}


@pytest.mark.parametrize("command", ["status", "paper"])
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_damaged_store_stops_everything(good_state: Path, tmp_path: Path, run_cli, name: str, command: str) -> None:
    state = tmp_path / "state"
    shutil.copytree(good_state, state)
    CORRUPTIONS[name](state / DB)
    before = tree_digest(state)
    argv = ["status", "--state", str(state)] if command == "status" else \
        ["paper", "--state", str(state), "--duration", "1h", "--no-status"]
    line = assert_refused(run_cli(*argv), str(state / DB))
    assert "move it away" in line or "not a file" in line
    # nothing re-initialised, repaired or added
    assert _without_sqlite_side_files(tree_digest(state)) == _without_sqlite_side_files(before)


def _without_sqlite_side_files(digest: dict[str, str]) -> dict[str, str]:
    """SQLite itself makes the -wal/-shm files of a WAL database a reader opens; they are not the store."""
    return {k: v for k, v in digest.items() if not k.endswith(("-wal", "-shm"))}


def test_the_table_has_25_or_more_corruptions() -> None:
    assert len(CORRUPTIONS) >= 25


def test_scribbled_free_pages_lose_nothing(good_state: Path, tmp_path: Path, run_cli) -> None:
    """Pages on SQLite's free list hold no data (they are overwritten when reused): scribbling them is no
    corruption, so the store opens and reads exactly as before. This is the one damage it cannot see."""
    state = tmp_path / "state"
    shutil.copytree(good_state, state)
    code, before, err = run_cli("status", "--state", str(state), "--json")
    assert code == 0, err
    free = _pages(state / DB, in_use=False)
    if not free:  # a store that keeps no free pages (vacuumed) has none to scribble: every page is checked
        with sqlite3.connect(state / DB) as conn:
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        return
    _scribble(state / DB, free[-3:], 7)
    code, after, err = run_cli("status", "--state", str(state), "--json")
    assert code == 0, err
    assert json.loads(after) == json.loads(before)


def test_a_missing_store_in_an_existing_folder_is_created(good_state: Path, tmp_path: Path, run_cli) -> None:
    """Only a missing file makes a new store (the folder may hold other things)."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "notes.txt").write_text("mine")
    code, out, err = run_cli("paper", "--state", str(state), "--duration", "1h", "--warmup", "1h", "--json",
                             "--no-status")
    assert code == 0, err
    assert json.loads(out)["run"]["steps"] > 0
    assert (state / "notes.txt").read_text() == "mine"


def test_state_is_a_file_is_one_line(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "state"
    path.write_text("not a folder")
    for argv in (["status", "--state", str(path)], ["paper", "--state", str(path), "--duration", "1h"]):
        assert_refused(run_cli(*argv), "not a state folder")
    assert path.read_text() == "not a folder"
