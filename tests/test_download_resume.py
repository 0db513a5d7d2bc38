"""Pure pieces of the download shell: resume ranges, gap finding, atomic files, time arguments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.timeargs import parse_time
from bot.errors import DataError
from bot.marketdata.resume import (Gap, default_file_name, find_gaps, merge, missing_ranges, modal_step,
                                   read_existing, resolve_output, write_atomic)

FIVE = 300_000
H = 3_600_000
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_missing_ranges_fresh_head_and_tail() -> None:
    assert missing_ranges(None, 0, 10 * FIVE, FIVE) == [(0, 10 * FIVE)]
    ts = np.arange(4, 8) * FIVE
    assert missing_ranges(ts, 0, 10 * FIVE, FIVE) == [(0, 4 * FIVE - 1), (7 * FIVE + 1, 10 * FIVE)]
    assert missing_ranges(ts, 4 * FIVE, 7 * FIVE, FIVE) == []  # nothing new
    assert missing_ranges(ts, 4 * FIVE - 60_000, 7 * FIVE + 60_000, FIVE) == []  # less than a bar either side


def test_find_gaps_head_interior_tail() -> None:
    ts = np.array([2, 3, 4, 7, 8]) * FIVE
    assert find_gaps(ts, FIVE, 0, 10 * FIVE) == [Gap(0, FIVE, 2), Gap(5 * FIVE, 6 * FIVE, 2),
                                                 Gap(9 * FIVE, 10 * FIVE, 2)]
    assert find_gaps(ts[:3], FIVE) == []
    assert find_gaps(np.empty(0), FIVE, 0, 2 * FIVE) == [Gap(0, 2 * FIVE, 3)]


def test_find_gaps_tolerates_funding_jitter() -> None:
    step = 8 * H
    ts = np.array([0, step + 3, 2 * step + 1, 4 * step + 5])
    assert find_gaps(ts, step, 0, 4 * step + 10) == [Gap(2 * step + 1 + step, 3 * step + 5, 1)]


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 199), min_size=1))
def test_find_gaps_counts_every_missing_slot(present: set[int]) -> None:
    ts = np.array(sorted(present), dtype=np.int64) * FIVE
    gaps = find_gaps(ts, FIVE, 0, 199 * FIVE)
    assert sum(g.missing for g in gaps) == 200 - len(present)
    for g in gaps:
        assert (g.end_ms - g.start_ms) // FIVE + 1 == g.missing


def test_modal_step() -> None:
    assert modal_step(np.array([0, 8, 16, 24, 28]) * H, 99) == 8 * H
    assert modal_step(np.array([5]), 99) == 99


def test_output_names(tmp_path: Path) -> None:
    assert default_file_name("candles", "BTC/USDT:USDT", "5m") == "BTCUSDT-candles-5m.csv"
    assert resolve_output(str(tmp_path), "funding", "ETHUSDT", None) == tmp_path / "ETHUSDT-funding.csv"
    assert resolve_output("new/", "oi", "BTCUSDT", "1h") == Path("new/BTCUSDT-oi-1h.csv")
    assert resolve_output("x.parquet", "oi", "BTCUSDT", "1h") == Path("x.parquet")


@pytest.mark.parametrize("name", ["c.csv", "c.parquet"])
def test_write_then_read_back_and_merge(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    old = pd.DataFrame({"ts": [0, FIVE], "funding_rate": [0.1, 0.2]})
    write_atomic(old, path, "funding")
    back = read_existing(path, "funding")
    assert back is not None and back["ts"].tolist() == [0, FIVE]
    new = pd.DataFrame({"ts": [FIVE, 2 * FIVE], "funding_rate": [0.25, 0.3]})
    merged = merge(back, [new])
    assert merged["ts"].tolist() == [0, FIVE, 2 * FIVE] and merged["funding_rate"].tolist() == [0.1, 0.25, 0.3]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("ts,funding_rate\n0,0.1\n")
    with pytest.raises(KeyError):
        write_atomic(pd.DataFrame({"ts": [1]}), path, "funding")
    assert path.read_text() == "ts,funding_rate\n0,0.1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_read_existing_refuses_unsorted_ts(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("ts,funding_rate\n5,0.1\n1,0.2\n")
    with pytest.raises(DataError, match="ts must be finite and strictly increasing"):
        read_existing(path, "funding")


@pytest.mark.parametrize("text, expected", [
    ("now", NOW),
    ("2025-01-02", datetime(2025, 1, 2, tzinfo=timezone.utc)),
    ("2025-01-02T03:04:05Z", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("2025-01-02T05:04:05+02:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("1735776000", datetime(2025, 1, 2, tzinfo=timezone.utc)),
    ("1735776000000", datetime(2025, 1, 2, tzinfo=timezone.utc)),
    ("30d", NOW - timedelta(days=30)),
    ("90m", NOW - timedelta(minutes=90)),
    ("2w", NOW - timedelta(weeks=2)),
])
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


def test_parse_time_names_the_flag() -> None:
    with pytest.raises(DataError, match="--to: not a time"):
        parse_time("last tuesday", NOW, field="--to")
