"""Downloaded series files: read back for resume, write atomically, find what is missing.

A download writes one CSV (or Parquet, by the ``.parquet`` suffix) per series. Candles, open
interest and funding files hold an int64 ``ts`` column (epoch ms, UTC) and the named columns
of ``bot.marketdata.fetch.COLUMNS``; ``metrics`` files are the archive's daily CSVs under one
header (``create_time`` first). Both are formats ``bot.marketdata.files`` reads. Writes go to a
temporary file in the same folder, fsynced, then renamed over the target: a killed download
never leaves a half-written file, and a rerun resumes from the last timestamp on disk.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import DataError
from bot.marketdata.archive import METRICS_COLUMNS, archive_symbol, parse_metrics_csv
from bot.marketdata.series import COLUMNS, MarketSeries
from bot.marketdata.validate import find_gaps as interior_gaps

METRICS = "metrics"


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing samples: the first and last missing timestamps (ms) and how many are missing."""

    start_ms: int
    end_ms: int
    missing: int


def default_file_name(kind: str, symbol: str, timeframe: str | None) -> str:
    """``BTCUSDT-candles-5m.csv``, ``BTCUSDT-funding.csv``, ``BTCUSDT-metrics.csv``."""
    parts = [archive_symbol(symbol), kind] + ([timeframe] if timeframe else [])
    return "-".join(parts) + ".csv"


def resolve_output(out: str | Path, kind: str, symbol: str, timeframe: str | None) -> Path:
    """``out`` itself, or a default file name inside it when it is (or ends like) a folder."""
    path = Path(out)
    if path.is_dir() or str(out).endswith(("/", os.sep)):
        return path / default_file_name(kind, symbol, timeframe)
    return path


def file_columns(kind: str) -> tuple[str, ...]:
    """Columns of a downloaded file of ``kind``, in order."""
    return METRICS_COLUMNS if kind == METRICS else ("ts", *COLUMNS[MarketSeries(kind)])


def read_existing(path: Path, kind: str) -> pd.DataFrame | None:
    """A previous download at ``path`` (with an int64 ``ts``), or ``None`` when there is none.

    A file that is not such a download is a ``DataError``: resuming into a foreign file would
    mix data silently.
    """
    if not path.exists():
        return None
    source = f"cannot resume from {path}"
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            if kind == METRICS:
                frame = parse_metrics_csv(frame.to_csv(index=False), source)
        elif kind == METRICS:
            frame = parse_metrics_csv(path.read_bytes(), source)
        else:
            frame = pd.read_csv(path)
    except DataError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                        source=source) from None
    missing = [c for c in file_columns(kind) if c not in frame.columns]
    if missing:
        raise DataError(f"not a {kind} download: missing column (expected {', '.join(file_columns(kind))})",
                        field=missing[0], source=source)
    ts = pd.to_numeric(frame["ts"], errors="coerce").to_numpy(dtype=float)
    if len(ts) and (not np.isfinite(ts).all() or (np.diff(ts) <= 0).any()):
        raise DataError("ts must be finite and strictly increasing", field="ts", source=source)
    frame = frame.assign(ts=ts.astype(np.int64))
    return frame if kind == METRICS else frame[list(file_columns(kind))]


def write_atomic(frame: pd.DataFrame, path: Path, kind: str) -> None:
    """Write ``frame`` to ``path`` (CSV or Parquet) through a temp file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = frame[list(file_columns(kind))]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if path.suffix == ".parquet":
                data.to_parquet(fh, index=False)
            else:
                fh.write(data.to_csv(index=False, lineterminator="\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge(existing: pd.DataFrame | None, new: list[pd.DataFrame]) -> pd.DataFrame:
    """Existing rows plus new ones: unique ``ts`` (new rows win), ascending."""
    frames = [f for f in ([existing] if existing is not None else []) + new if f is not None and len(f)]
    if not frames:
        return existing if existing is not None else pd.DataFrame({"ts": np.empty(0, np.int64)})
    joined = pd.concat(frames, ignore_index=True).drop_duplicates("ts", keep="last")
    return joined.sort_values("ts", kind="stable").reset_index(drop=True)


def missing_ranges(ts: np.ndarray | None, since_ms: int, until_ms: int, step_ms: int) -> list[tuple[int, int]]:
    """Ranges ``[a, b]`` still to fetch: before the first sample on disk and after the last.

    Samples are expected every ``step_ms``: a head shorter than one step holds none.
    """
    if ts is None or len(ts) == 0:
        return [(since_ms, until_ms)] if since_ms <= until_ms else []
    first, last = int(ts[0]), int(ts[-1])
    ranges = []
    if first - since_ms >= step_ms:
        ranges.append((since_ms, min(first - 1, until_ms)))
    if last + step_ms <= until_ms:
        ranges.append((max(last + 1, since_ms), until_ms))
    return ranges


def find_gaps(ts: np.ndarray, step_ms: int, since_ms: int | None = None,
              until_ms: int | None = None) -> list[Gap]:
    """Missing samples of a series expected every ``step_ms``, over ``[since_ms, until_ms]``.

    Interior gaps are ``bot.marketdata.validate.find_gaps`` (spacings rounded to whole steps, so
    funding times jittering by milliseconds are no gap); the head (before the first sample) and
    the tail (after the last) are counted against the grid of multiples of ``step_ms``.
    """
    ts = np.asarray(ts, dtype=np.int64)
    first_expected = -(-since_ms // step_ms) * step_ms if since_ms is not None else None
    last_expected = (until_ms // step_ms) * step_ms if until_ms is not None else None
    if ts.size == 0:
        if first_expected is None or last_expected is None or last_expected < first_expected:
            return []
        return [Gap(first_expected, last_expected, (last_expected - first_expected) // step_ms + 1)]
    gaps: list[Gap] = []
    if first_expected is not None and ts[0] - first_expected >= step_ms:
        gaps.append(Gap(first_expected, int(ts[0]) - step_ms, int((ts[0] - first_expected) // step_ms)))
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True)).as_unit("ns")
    for start, end, missing in interior_gaps(index, f"{step_ms}ms"):
        gaps.append(Gap(_ms(start), _ms(end) - step_ms, missing))
    if last_expected is not None and last_expected - ts[-1] >= step_ms:
        gaps.append(Gap(int(ts[-1]) + step_ms, last_expected, int((last_expected - ts[-1]) // step_ms)))
    return gaps


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1_000_000)


def modal_step(ts: np.ndarray, default_ms: int) -> int:
    """The most common spacing of ``ts`` rounded to the minute, or ``default_ms`` with < 2 samples."""
    diffs = np.diff(np.asarray(ts, dtype=np.int64))
    if diffs.size == 0:
        return default_ms
    minutes = np.round(diffs / 60_000).astype(np.int64)
    minutes = minutes[minutes > 0]
    if minutes.size == 0:
        return default_ms
    values, counts = np.unique(minutes, return_counts=True)
    return int(values[np.argmax(counts)]) * 60_000
