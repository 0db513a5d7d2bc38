"""Outputs that are whole or absent: check the path before work, write a temporary file, rename.

A temporary file is named ``.<name>.tmp-<pid>-<random><suffix>`` beside its target, so a rename
is atomic (same folder) and a temporary left by a killed process is recognised and removed by
the next writer of the same target (its pid no longer runs).
"""

from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bot.errors import DataError

_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]{32}(?P<suffix>\.[^.]*)?$")


def check_output_file(path: Path, flag: str) -> Path:
    """``path`` can be written as a file: its folder exists and it is not itself a folder."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"is a folder, not a file: {path}", field=flag)
    if not path.parent.is_dir():
        raise DataError(f"the folder does not exist: {path.parent}", field=flag)
    if not os.access(path.parent, os.W_OK):
        raise DataError(f"the folder is not writable: {path.parent}", field=flag)
    return path


def check_output_dir(path: Path, flag: str) -> Path:
    """``path`` can hold an output folder: not an existing file, and its parent exists."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"is a file, not a folder: {path}", field=flag)
    if not path.exists() and not path.parent.is_dir():
        raise DataError(f"the folder above it does not exist: {path.parent}", field=flag)
    return path


def temp_name(path: Path) -> Path:
    """A fresh temporary path beside ``path`` (same suffix, so writers that look at it still work)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex}{path.suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: Path, name: str | None = None) -> int:
    """Delete temporaries in ``folder`` (of target ``name``, or any) left by processes that no longer run."""
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        m = _TEMP.match(entry.name)
        if m and (name is None or m["name"] == name) and not _alive(int(m["pid"])):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` (fsynced), on error it is removed."""
    path = Path(path)
    remove_stale_temps(path.parent, path.name)
    tmp = temp_name(path)
    try:
        yield tmp
        if tmp.exists():
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) so that readers see the old content or the new, never a part."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
