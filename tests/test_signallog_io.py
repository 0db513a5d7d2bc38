"""The signal log: one os.write per line on O_APPEND, torn tails reported and kept, bad lines reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.domain import Bias, Side
from bot.errors import DataError
from bot.signallog import FsyncPolicy, ProblemKind, SignalLogWriter, read_log, read_logs
from strategies.engine import Engine, EngineResult
from tests.strategy_fakes import cluster, context, magnets, settings, snapshot

P = 100_000.0


def result() -> EngineResult:
    """One emitted signal and one rejected candidate."""
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.9, price=P)
    down = cluster("l", P * 0.988, Side.LONG, strength=0.7, price=P)
    r = Engine(settings()).run(snapshot(P), [up, down], context(P, atr=200.0), magnets(Bias.BULLISH))
    assert len(r.signals) == 1 and len(r.rejected) == 1
    return r


def one_signal_log(path: Path) -> tuple[EngineResult, bytes]:
    """A log holding one signal line; returns the engine result and the line's bytes."""
    r = result()
    with SignalLogWriter(path) as log:
        log.write_signal(r.signals[0])
    return r, path.read_bytes()


def test_round_trip_of_signals_and_marked_rejections(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    r = result()
    with SignalLogWriter(path) as log:
        assert log.torn_tail is None
        log.write_result(r)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == r.signals[0].to_json_dict()  # an emitted line is the Signal JSON itself
    assert json.loads(lines[1])["record"] == "rejected" and json.loads(lines[1])["rule"] == "conflict"
    read = read_log(path)
    assert [s.signal for s in read.signals] == r.signals
    assert [(x.line, x.record["rule"]) for x in read.rejected] == [(2, "conflict")]
    assert read.problems == [] and read.lines == 2


def test_each_line_is_one_os_write_on_an_append_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "signals.jsonl"
    writes: list[bytes] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr("bot.signallog.os.write", recording_write)
    with SignalLogWriter(path, fsync="never") as log:
        import fcntl
        assert fcntl.fcntl(log._fd, fcntl.F_GETFL) & os.O_APPEND
        log.write_result(result())
    assert len(writes) == 2 and all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)
    assert b"".join(writes) == path.read_bytes()


@pytest.mark.parametrize("policy,expected", [("always", 3), ("close", 1), ("never", 0)])
def test_fsync_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, expected: int) -> None:
    calls: list[int] = []
    monkeypatch.setattr("bot.signallog.os.fsync", lambda fd: calls.append(fd))
    with SignalLogWriter(tmp_path / "s.jsonl", fsync=FsyncPolicy(policy)) as log:
        log.write_result(result())
    assert len(calls) == expected


def test_a_torn_tail_is_reported_kept_and_new_lines_start_fresh(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    r, whole = one_signal_log(path)
    path.write_bytes(whole + whole[:57])  # a crash in the middle of the second write
    with SignalLogWriter(path) as log:
        assert log.torn_tail is not None and log.torn_tail.line == 2
        log.write_rejection(r.rejected[0])
    data = path.read_bytes()
    assert data.startswith(whole + whole[:57] + b"\n")  # the torn bytes are still there
    read = read_log(path)
    assert len(read.signals) == 1 and len(read.rejected) == 1 and read.rejected[0].line == 3
    assert [(p.line, p.kind) for p in read.problems] == [(2, ProblemKind.MALFORMED)]


def test_reader_reports_a_torn_last_line_and_a_garbage_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    r, good = one_signal_log(path)
    bad_signal = json.dumps({**r.signals[0].to_json_dict(), "risk_reward": 9.99}).encode() + b"\n"
    path.write_bytes(good + b"garbage {\n" + bad_signal + b"[1, 2]\n" + good + good[:40])
    read = read_log(path)
    assert len(read.signals) == 2 and [s.line for s in read.signals] == [1, 5]
    assert [(p.line, p.kind) for p in read.problems] == [
        (2, ProblemKind.MALFORMED), (3, ProblemKind.INVALID), (4, ProblemKind.MALFORMED), (6, ProblemKind.TORN)]
    assert "risk_reward" in read.problems[1].message
    assert read.lines == 6


def test_a_last_record_missing_only_its_newline_is_used_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    _, line = one_signal_log(path)
    path.write_bytes(line.rstrip(b"\n"))
    read = read_log(path)
    assert len(read.signals) == 1 and [(p.line, p.kind) for p in read.problems] == [(1, ProblemKind.TORN)]


def test_several_logs_and_a_missing_one(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for p in (a, b):
        with SignalLogWriter(p) as log:
            log.write_result(result())
    read = read_logs([a, b])
    assert len(read.signals) == 2 and {s.path for s in read.signals} == {str(a), str(b)}
    with pytest.raises(DataError, match="no such signal log"):
        read_log(tmp_path / "missing.jsonl")


def test_nan_is_never_written(tmp_path: Path) -> None:
    from bot.signallog import encode_line
    with pytest.raises(ValueError):
        encode_line({"x": float("nan")})


def test_a_replayed_step_after_a_restart_does_not_duplicate_lines(tmp_path: Path) -> None:
    """A bot killed before its store commit replays the step: the same records stay one line each."""
    path = tmp_path / "signals.jsonl"
    r = result()
    with SignalLogWriter(path) as log:
        log.write_result(r)
    first = path.read_bytes()
    with SignalLogWriter(path) as log:  # the restarted bot replays the same step
        log.write_result(r)
        assert log.skipped == 2
    assert path.read_bytes() == first
    read = read_log(path)
    assert len(read.signals) == 1 and len(read.rejected) == 1 and read.problems == []
