"""Validation of a series before it becomes a DataFrame: duplicates, order, numbers, value rules.

A :class:`Batch` carries the parsed timestamps, the value columns as float64 arrays and, for
every surviving row, its position in the file, so that each ``DataError`` names the file, the
column and the row. Nothing is sorted or guessed: exact duplicate rows are the one repair made
silently-but-recorded (``repairs``); everything else that is wrong is an error. All checks are
vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bot.errors import DataError

Gap = tuple[pd.Timestamp, pd.Timestamp, int]


@dataclass
class Batch:
    """Timestamps, float64 value columns and original row positions of one series."""

    ts: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    rows: np.ndarray
    source: str
    time_column: str
    repairs: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # value column -> its name in the file

    def error(self, message: str, column: str, i: int) -> DataError:
        """A ``DataError`` for the ``i``-th surviving row, named by its position in the file."""
        return DataError(message, field=self.labels.get(column, column), position=f"row {int(self.rows[i])}",
                         source=self.source)

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False."""
        self.ts = self.ts[mask]
        self.values = {k: v[mask] for k, v in self.values.items()}
        self.rows = self.rows[mask]


def numeric(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """``frame[column]`` as float64; numbers stored as strings (CoinGlass '0.01') are converted,
    anything else that is not a number is a ``DataError`` naming the row. Missing stays NaN."""
    if column not in frame.columns:
        raise DataError("missing required column", field=column, source=source)
    col = frame[column]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    out = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(out) & col.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"not a number: {col.iloc[row]!r}", field=column, position=f"row {row}", source=source)
    return out


def drop_duplicates(batch: Batch, *, unique_ts: bool = True) -> None:
    """Drop exact duplicate rows (recorded in ``repairs``); with ``unique_ts``, a timestamp that
    repeats with different values is a ``DataError``."""
    stamps = pd.Series(batch.ts.asi8)
    if not stamps.duplicated().any():
        return
    exact = pd.DataFrame({"\0ts": stamps, **batch.values}).duplicated(keep="first").to_numpy()
    if exact.any():
        first = int(batch.rows[np.flatnonzero(exact)[0]])
        batch.repairs.append(f"dropped {int(exact.sum())} exact duplicate row(s), the first at row {first}")
        batch.keep(~exact)
    if unique_ts:
        again = pd.Series(batch.ts.asi8).duplicated(keep="first").to_numpy()
        if again.any():
            i = int(np.flatnonzero(again)[0])
            j = int(np.flatnonzero(batch.ts.asi8 == batch.ts.asi8[i])[0])
            raise batch.error(f"duplicated timestamp {batch.ts[i].isoformat()} with values that differ "
                              f"from row {int(batch.rows[j])}", batch.time_column, i)


def check_order(batch: Batch, *, strict: bool = True) -> None:
    """Timestamps must increase (strictly for bars; events may share a timestamp). Unsorted input
    is an error naming the first row out of order: sorting silently would hide a broken file."""
    step = np.diff(batch.ts.asi8)
    bad = step <= 0 if strict else step < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0]) + 1
        raise batch.error(f"timestamps out of order: {batch.ts[i].isoformat()} is not after "
                          f"{batch.ts[i - 1].isoformat()} (previous row)", batch.time_column, i)


def check_finite(batch: Batch, columns: tuple[str, ...] | None = None) -> None:
    """NaN or infinite numbers in a value column are errors naming the column and the row."""
    for name in columns or tuple(batch.values):
        bad = ~np.isfinite(batch.values[name])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise batch.error(f"NaN or infinite value ({batch.values[name][i]})", name, i)


def check_min(batch: Batch, column: str, minimum: float = 0.0, *, inclusive: bool = True) -> None:
    """Values below ``minimum`` (or equal to it, when not ``inclusive``) are errors."""
    arr = batch.values[column]
    bad = arr < minimum if inclusive else arr <= minimum
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rule = ">=" if inclusive else ">"
        raise batch.error(f"value {arr[i]} must be {rule} {minimum}", column, i)


def check_ohlc(batch: Batch) -> None:
    """high >= low, and open and close inside [low, high]."""
    o, h, lo, c = (batch.values[k] for k in ("open", "high", "low", "close"))
    rules = (("high", h < lo, "high below low"),
             ("open", (o < lo) | (o > h), "open outside [low, high]"),
             ("close", (c < lo) | (c > h), "close outside [low, high]"))
    firsts = [(int(np.flatnonzero(bad)[0]), k) for k, (_, bad, _) in enumerate(rules) if bad.any()]
    if firsts:
        i, k = min(firsts)
        col, _, what = rules[k]
        raise batch.error(f"{what} (open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]})", col, i)


def infer_timeframe(index: pd.DatetimeIndex) -> str | None:
    """The modal spacing of ``index`` as a pandas offset string ("5min", "4h", "1D"); spacings
    are rounded to the second first, so millisecond jitter in funding times does not matter.
    ``None`` when there is no positive spacing (one row, or events within one second)."""
    if len(index) < 2:
        return None
    secs = np.rint(np.diff(_ns(index)) / 1e9).astype(np.int64)
    secs = secs[secs > 0]
    if secs.size == 0:
        return None
    values, counts = np.unique(secs, return_counts=True)
    return offset_string(int(values[np.argmax(counts)]))


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch nanoseconds whatever the index's resolution (pandas 3 keeps s/ms/us units)."""
    return pd.DatetimeIndex(index).as_unit("ns").asi8


def offset_string(seconds: int) -> str:
    """Seconds as the coarsest exact pandas offset string: 300 -> "5min", 86400 -> "1D"."""
    for unit, size in (("D", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise ValueError(seconds)  # unreachable: every integer is a whole number of seconds


def timedelta(timeframe: str) -> pd.Timedelta:
    """A timeframe ("5min", "4h", "1D", or ccxt's "5m", "1d") as a positive Timedelta."""
    try:
        delta = pd.Timedelta(timeframe)
    except (ValueError, TypeError):
        raise DataError(f"not a fixed timeframe: {timeframe!r}", field="timeframe") from None
    if delta <= pd.Timedelta(0):
        raise DataError(f"timeframe must be positive: {timeframe!r}", field="timeframe")
    return delta


def find_gaps(index: pd.DatetimeIndex, timeframe: str) -> list[Gap]:
    """Missing bars: ``[(start, end, missing_bars), ...]``, where ``[start, end)`` is the gap
    (``start`` = where the first missing bar would be, ``end`` = the next bar present).
    A spacing is rounded to whole bars, so jitter below half a bar is not a gap."""
    if len(index) < 2:
        return []
    delta = timedelta(timeframe)
    steps = np.rint(np.diff(_ns(index)) / delta.value).astype(np.int64)
    where = np.flatnonzero(steps > 1)
    return [(index[k] + delta, index[k + 1], int(steps[k] - 1)) for k in where]


def to_frame(batch: Batch, columns: tuple[str, ...], *, shift: pd.Timedelta | None = None) -> pd.DataFrame:
    """The validated batch as a DataFrame indexed by UTC ``ts`` (optionally shifted, e.g. from a
    bar's open to the time its close is known)."""
    index = batch.ts if shift is None else batch.ts + shift
    frame = pd.DataFrame({k: batch.values[k] for k in columns}, index=pd.DatetimeIndex(index, name="ts"))
    frame.attrs["repairs"] = list(batch.repairs)
    return frame
