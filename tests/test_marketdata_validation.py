"""Bad input is a DataError naming file, column and row; exact duplicates are the one recorded repair."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import DataError
from bot.marketdata.files import (find_gaps, load_candles, load_liquidations, load_long_short_ratio,
                                  load_open_interest, load_series)

T0 = pd.Timestamp("2025-01-01T00:00:00Z")


def candles(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range(T0, periods=n, freq="5min"),
                         "open": 100.0 + np.arange(n), "high": 102.0 + np.arange(n),
                         "low": 99.0 + np.arange(n), "close": 101.0 + np.arange(n), "volume": 5.0})


def to_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv")


def to_feather(frame: pd.DataFrame, path: Path) -> Path:
    frame.reset_index(drop=True).to_feather(path.with_suffix(".feather"))
    return path.with_suffix(".feather")


def to_parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path.with_suffix(".parquet"), index=False)
    return path.with_suffix(".parquet")


WRITERS = pytest.mark.parametrize("write", [to_csv, to_feather, to_parquet], ids=["csv", "feather", "parquet"])
Writer = Callable[[pd.DataFrame, Path], Path]


def expect_error(path: Path, pattern: str, loader: Callable[[Path], object] = load_candles) -> DataError:
    with pytest.raises(DataError, match=pattern) as info:
        loader(path)
    message = str(info.value)
    assert "\n" not in message and path.name in message  # one line, names the file
    return info.value


@WRITERS
def test_exact_duplicate_rows_are_dropped_and_recorded(tmp_path: Path, write: Writer) -> None:
    frame = candles()
    doubled = pd.concat([frame.iloc[:3], frame.iloc[2:3], frame.iloc[3:]], ignore_index=True)
    loaded = load_candles(write(doubled, tmp_path / "c"))
    assert len(loaded) == 4
    assert loaded.attrs["repairs"] == ["dropped 1 exact duplicate row(s), the first at row 3"]


@WRITERS
def test_duplicated_timestamp_with_other_values_is_an_error(tmp_path: Path, write: Writer) -> None:
    frame = candles()
    frame.loc[2, "date"] = frame.loc[1, "date"]
    err = expect_error(write(frame, tmp_path / "c"), r"date\[row 2\]: duplicated timestamp .* differ from row 1")
    assert err.field == "date" and err.position == "row 2"


@WRITERS
def test_unsorted_timestamps_name_the_first_row_out_of_order(tmp_path: Path, write: Writer) -> None:
    frame = candles(5).iloc[[0, 1, 3, 2, 4]]
    expect_error(write(frame, tmp_path / "c"), r"date\[row 3\]: timestamps out of order")


@WRITERS
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_names_column_and_row(tmp_path: Path, write: Writer, bad: float) -> None:
    frame = candles()
    frame.loc[2, "close"] = bad
    expect_error(write(frame, tmp_path / "c"), r"close\[row 2\]: NaN or infinite")


@WRITERS
@pytest.mark.parametrize(("column", "value", "what"), [
    ("high", 98.0, "high below low"),
    ("open", 110.0, "open outside"),
    ("close", 50.0, "close outside"),
])
def test_inconsistent_ohlc_is_an_error(tmp_path: Path, write: Writer, column: str, value: float, what: str) -> None:
    frame = candles()
    frame.loc[1, column] = value
    expect_error(write(frame, tmp_path / "c"), rf"{column}\[row 1\]: {what}")


@WRITERS
def test_negative_volume_is_an_error(tmp_path: Path, write: Writer) -> None:
    frame = candles()
    frame.loc[3, "volume"] = -1.0
    expect_error(write(frame, tmp_path / "c"), r"volume\[row 3\]: value -1.0 must be >= 0")


@WRITERS
def test_negative_open_interest_is_an_error(tmp_path: Path, write: Writer) -> None:
    frame = pd.DataFrame({"ts": pd.date_range(T0, periods=3, freq="1h"), "oi_usd": [1e9, -5.0, 1e9]})
    expect_error(write(frame, tmp_path / "oi"), r"oi_usd\[row 1\]: value -5.0 must be >= 0", load_open_interest)


@WRITERS
def test_non_positive_long_short_ratio_is_an_error(tmp_path: Path, write: Writer) -> None:
    frame = pd.DataFrame({"ts": pd.date_range(T0, periods=3, freq="1h"), "long_short_ratio": [1.1, 0.0, 0.9]})
    expect_error(write(frame, tmp_path / "ls"), r"long_short_ratio\[row 1\]: value 0.0 must be > 0",
                 load_long_short_ratio)


@WRITERS
def test_negative_liquidation_usd_is_an_error(tmp_path: Path, write: Writer) -> None:
    frame = pd.DataFrame({"ts": pd.date_range(T0, periods=2, freq="1h"), "long_usd": [1.0, 2.0],
                          "short_usd": [0.0, -3.0]})
    expect_error(write(frame, tmp_path / "liq"), r"short_usd\[row 1\]", load_liquidations)


@WRITERS
def test_missing_required_column_is_named(tmp_path: Path, write: Writer) -> None:
    expect_error(write(candles().drop(columns="close"), tmp_path / "c"), r"close: missing required column")
    expect_error(write(candles().drop(columns="date"), tmp_path / "d"), r"ts: missing required column: one of ts")


def test_csv_without_time_header_or_known_layout_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("when,open,high,low,close\n2025-01-01,1,1,1,1\n")
    expect_error(path, r"ts: missing required column: one of ts, timestamp, time, date, open_time, create_time")
    path.write_text("1735689600000,1,1,1,1\n1735689900000,1,1,1,1\n")
    expect_error(path, r"header\[row 0\]: unrecognised CSV: no header")
    path.write_text("ts,price,size\n1735689600000,1,1\n")
    expect_error(path, r"columns: unrecognised content: no known value columns among ts, price, size",
                 lambda p: load_series(p))


def test_strings_that_are_not_numbers_are_errors(tmp_path: Path) -> None:
    frame = candles().astype({"close": object})
    frame.loc[1, "close"] = "abc"
    expect_error(to_csv(frame, tmp_path / "c"), r"close\[row 1\]: not a number: 'abc'")


def test_unparsable_or_mixed_unit_timestamps_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts,open,high,low,close,volume\n2025-01-01T00:00:00Z,1,1,1,1,1\nyesterday,1,1,1,1,1\n")
    expect_error(path, r"ts\[row 1\]: missing or unparsable timestamp: 'yesterday'")
    path.write_text("ts,open,high,low,close,volume\n1735689600000,1,1,1,1,1\n1735689900,1,1,1,1,1\n"
                    "1735690200000,1,1,1,1,1\n")
    expect_error(path, r"ts\[row 1\]: epoch value 1735689900 has another magnitude than the column's \(ms\)")


@pytest.mark.parametrize(("name", "content", "pattern"), [
    ("zero.csv", b"", "empty file"),
    ("blank.csv", b"\n \n", "empty file"),
    ("header.csv", b"ts,open,high,low,close,volume\n", "no data rows"),
    ("list.json", b"[]", "no data rows"),
    ("garbage.bin", b"\x00\xff\xfe\x80binary\x00", "unreadable file"),
    ("broken.parquet", b"PAR1 this is not parquet", "unreadable parquet"),
    ("broken.feather", b"ARROW1\x00\x00 nope", "unreadable feather"),
    ("broken.json", b"[[1, 2", "unreadable JSON"),
    ("ragged.json", b"[[1, 2, 3, 4, 5, 6], [1, 2]]", "candle list rows"),
    ("dupcols.csv", b"ts,Open,open\n1,2,3\n", "open: duplicated column name"),
])
def test_empty_and_unreadable_files(tmp_path: Path, name: str, content: bytes, pattern: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    expect_error(path, pattern, lambda p: load_series(p))


def test_empty_feather_and_missing_paths(tmp_path: Path) -> None:
    expect_error(to_feather(candles().iloc[:0], tmp_path / "e"), "no data rows")
    expect_error(tmp_path / "nope.csv", "no such file")
    (tmp_path / "dir.csv").mkdir()
    expect_error(tmp_path / "dir.csv", "not a regular file")


def test_forceorder_bad_side_is_named(tmp_path: Path) -> None:
    path = tmp_path / "fo.csv"
    path.write_text("BTC,SELL,LIMIT,IOC,1,100,None,FILLED,1,1,1750712378119,100\n"
                    "BTC,SELL,LIMIT,IOC,1,100,None,FILLED,1,1,1750712378120,100\n"
                    "BTC,HOLD,LIMIT,IOC,1,100,None,FILLED,1,1,1750712378121,100\n")
    expect_error(path, r"side\[row 2\]: side must be BUY or SELL", load_liquidations)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=200), st.sampled_from(["1min", "5min", "4h", "1D"]))
def test_find_gaps_accounts_for_every_missing_bar(keep: list[bool], timeframe: str) -> None:
    keep[0] = keep[-1] = True
    grid = pd.date_range(T0, periods=len(keep), freq=timeframe)
    present = grid[np.asarray(keep)]
    gaps = find_gaps(present, timeframe)
    assert sum(g[2] for g in gaps) == len(keep) - int(np.sum(keep))
    missing = grid[~np.asarray(keep)]
    for start, end, n in gaps:
        inside = missing[(missing >= start) & (missing < end)]
        assert len(inside) == n and inside[0] == start
