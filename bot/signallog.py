"""The signal log: JSON lines, append-only, crash-safe.

One line per emitted signal (the Signal JSON itself, so every such line validates against
``config/signal.schema.json``) and one per rejected candidate (``{"record": "rejected", ...}``).

Writing: each line is one ``os.write`` of the whole encoded line on an ``O_APPEND`` descriptor,
so concurrent writers never interleave inside a line and a crash leaves at most one torn line at
the end. On open, a file that does not end with a newline has a torn tail: it is reported
(``SignalLogWriter.torn_tail``) and kept, and a newline is written first so new lines start
fresh. Reading reports torn and malformed lines with their line numbers and goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from bot.errors import DataError
from bot.logs import get_logger
from strategies.engine import EngineResult
from strategies.filters import Rejection
from strategies.signal import Signal

REJECTED = "rejected"


class FsyncPolicy(StrEnum):
    """When the log is flushed to disk: after every line, on close only, or never (the OS decides)."""

    ALWAYS = "always"
    CLOSE = "close"
    NEVER = "never"


class ProblemKind(StrEnum):
    """What is wrong with a line."""

    TORN = "torn"            # the last line has no newline: a write was cut short
    MALFORMED = "malformed"  # not a JSON object
    INVALID = "invalid"      # JSON, but not a valid Signal or rejected record


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line the reader could not use, where it is, and why."""

    path: str
    line: int
    kind: ProblemKind
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"path": self.path, "line": self.line, "kind": self.kind.value, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind.value}: {self.message}"


def encode_line(obj: dict[str, Any]) -> bytes:
    """One compact JSON line (UTF-8, newline-terminated); NaN/inf are refused, never written."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def rejected_record(rejection: Rejection) -> dict[str, Any]:
    """The log record of a rejected candidate, marked as such."""
    return {"record": REJECTED, **rejection.to_dict()}


def _digest(line: bytes) -> bytes:
    return hashlib.blake2b(line, digest_size=16).digest()


class SignalLogWriter:
    """Appends signals and rejections to a JSONL file. Use as a context manager.

    Idempotent: a record already in the file (byte for byte) is not written again; ``skipped``
    counts those.
    """

    def __init__(self, path: Path | str, fsync: FsyncPolicy | str = FsyncPolicy.ALWAYS) -> None:
        self.path = Path(path)
        self.fsync = FsyncPolicy(fsync)
        self._deferred = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.torn_tail: LineProblem | None = self._check_tail()
        self._seen = self._existing_lines()
        self.skipped = 0
        if self.torn_tail is not None:
            get_logger(__name__).warning("signallog.torn_tail", path=str(self.path), line=self.torn_tail.line)
            self._write(b"\n")  # keep the torn bytes; the next record starts on its own line

    def _existing_lines(self) -> set[bytes]:
        """Digests of the complete lines already in the log.

        A bot restarted after a crash replays the steps its store had not committed; equal inputs
        give byte-identical records, and each must stay one line in the log, not two.
        """
        seen: set[bytes] = set()
        if self._fd is None or os.fstat(self._fd).st_size == 0:
            return seen
        with open(self.path, "rb") as fh:
            for raw in fh:
                if raw.endswith(b"\n"):
                    seen.add(_digest(raw))
        return seen

    def _append(self, line: bytes) -> None:
        key = _digest(line)
        if key in self._seen:
            self.skipped += 1
            return
        self._write(line)
        self._seen.add(key)

    def _check_tail(self) -> LineProblem | None:
        size = os.fstat(self._fd).st_size if self._fd is not None else 0
        if size == 0:
            return None
        with open(self.path, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return None
            fh.seek(0)
            data = fh.read(size)
        line = data.count(b"\n") + 1
        tail = data[data.rfind(b"\n") + 1:]
        return LineProblem(str(self.path), line, ProblemKind.TORN,
                           f"torn last line ({len(tail)} bytes without a newline), kept as is")

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError("signal log is closed")
        written = os.write(self._fd, data)
        if written != len(data):  # a regular file only writes short when the disk is full
            raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        if self.fsync == FsyncPolicy.ALWAYS and not self._deferred:
            os.fsync(self._fd)

    def defer_sync(self) -> None:
        """Sync at :meth:`sync` calls instead of after every line (a batched replay syncs once per batch)."""
        self._deferred = True

    def sync(self) -> None:
        """fsync what was written so far (unless the policy is ``never``)."""
        if self._fd is not None and self.fsync != FsyncPolicy.NEVER:
            os.fsync(self._fd)

    def write_signal(self, signal: Signal) -> None:
        """Append one emitted signal."""
        self._append(encode_line(signal.to_json_dict()))

    def write_rejection(self, rejection: Rejection) -> None:
        """Append one rejected candidate, marked ``"record": "rejected"``."""
        self._append(encode_line(rejected_record(rejection)))

    def write_result(self, result: EngineResult) -> None:
        """Append every signal, then every rejection, of one engine run."""
        for s in result.signals:
            self.write_signal(s)
        for r in result.rejected:
            self.write_rejection(r)

    def close(self) -> None:
        """fsync (unless the policy is ``never``) and close; idempotent."""
        if self._fd is None:
            return
        try:
            if self.fsync != FsyncPolicy.NEVER:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "SignalLogWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class LoggedSignal:
    """A signal read back from a log, with where it came from."""

    path: str
    line: int
    signal: Signal


@dataclass(frozen=True, slots=True)
class LoggedRejection:
    """A rejected-candidate record read back from a log."""

    path: str
    line: int
    record: dict[str, Any]


@dataclass
class LogRead:
    """Everything read from one or more logs: signals, rejections, and the lines that were not usable."""

    signals: list[LoggedSignal] = field(default_factory=list)
    rejected: list[LoggedRejection] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)
    lines: int = 0

    def extend(self, other: "LogRead") -> None:
        """Append another read (multi-file reviews)."""
        self.signals += other.signals
        self.rejected += other.rejected
        self.problems += other.problems
        self.lines += other.lines


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def parse_line(raw: bytes, path: str, line: int) -> LoggedSignal | LoggedRejection | LineProblem:
    """One log line -> a signal, a rejected record, or the problem with it."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return LineProblem(path, line, ProblemKind.MALFORMED, f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return LineProblem(path, line, ProblemKind.MALFORMED, f"not a JSON object but {type(obj).__name__}")
    if obj.get("record") == REJECTED:
        if not isinstance(obj.get("rule"), str) or not isinstance(obj.get("candidate"), dict):
            return LineProblem(path, line, ProblemKind.INVALID, "rejected record without rule or candidate")
        return LoggedRejection(path, line, obj)
    try:
        return LoggedSignal(path, line, Signal.model_validate(obj))
    except ValidationError as exc:
        return LineProblem(path, line, ProblemKind.INVALID, _first_error(exc))


def read_log(path: Path | str) -> LogRead:
    """Read one log; never raises on bad lines (they become ``problems``), only on a missing file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError("no such signal log", field="LOG", source=str(p)) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a signal log", field="LOG", source=str(p)) from None
    out = LogRead()
    chunks = data.split(b"\n")
    torn = chunks.pop()  # after the last newline: empty unless the last write was cut short
    for n, raw in enumerate(chunks, start=1):
        if not raw.strip():
            continue
        out.lines += 1
        item = parse_line(raw, str(p), n)
        if isinstance(item, LoggedSignal):
            out.signals.append(item)
        elif isinstance(item, LoggedRejection):
            out.rejected.append(item)
        else:
            out.problems.append(item)
    if torn.strip():
        out.lines += 1
        n = len(chunks) + 1
        item = parse_line(torn, str(p), n)
        if isinstance(item, LineProblem):
            out.problems.append(LineProblem(str(p), n, ProblemKind.TORN,
                                            f"torn last line ({len(torn)} bytes without a newline): {item.message}"))
        else:  # a whole record that only lacks its newline is used, and still reported
            (out.signals if isinstance(item, LoggedSignal) else out.rejected).append(item)  # type: ignore[arg-type]
            out.problems.append(LineProblem(str(p), n, ProblemKind.TORN, "last line lacks its newline (record used)"))
    return out


def read_logs(paths: Sequence[Path | str] | Iterable[Path | str]) -> LogRead:
    """Read several logs in order."""
    out = LogRead()
    for p in paths:
        out.extend(read_log(p))
    return out
