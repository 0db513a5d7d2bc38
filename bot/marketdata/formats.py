"""Read a market-data file into a raw table: container, CSV layout, column names, time column.

Everything here is decided by CONTENT, never by the file name:

- the container by its first bytes: ``ARROW1`` is Arrow IPC (feather), ``PAR1`` parquet,
  ``[``/``{`` JSON, anything else text/CSV;
- a CSV's layout by its first lines (the only per-line Python loop in the package): a header
  naming a time column; a headerless Binance ``forceOrder`` record (12 fields, ``BUY``/``SELL``
  second); a headerless Binance kline (12 numeric fields);
- a JSON document: a freqtrade candle list (``[[ms, o, h, l, c, v], ...]``), a list of
  records, or a CoinGlass response ``{"code": "0", "msg": ..., "data": [...]}``.

Column names are normalised to snake_case (``sumOpenInterestValue`` -> ``sum_open_interest_value``,
``BINANCE`` -> ``binance``). Row numbers in errors are 0-based positions among the data rows
of the file (a CSV header line is not counted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import DataError

#: Accepted names of the time column, in order of preference.
TIME_COLUMNS = ("ts", "timestamp", "time", "date", "open_time", "create_time", "funding_time")

KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                 "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore")
FORCEORDER_COLUMNS = ("symbol", "side", "order_type", "time_in_force", "original_qty", "price",
                      "average_price", "status", "last_filled_qty", "filled_accumulated_qty",
                      "trade_time_ms", "usd_size")

_SNIFF_LINES = 8
# Upper bounds of |epoch| per unit: seconds stay below 1e11 until the year 5138, and each finer
# unit is 1000x the coarser one, so the magnitude tells the unit without guessing from names.
_EPOCH_BOUNDS = np.array([1e11, 1e14, 1e17])
_EPOCH_UNITS = ("s", "ms", "us", "ns")


class Container(StrEnum):
    """How the bytes are stored."""

    FEATHER = "feather"
    PARQUET = "parquet"
    JSON = "json"
    CSV = "csv"


class RawLayout(StrEnum):
    """What the reader could tell before looking at column names."""

    TABLE = "table"                        # named columns
    FREQTRADE_JSON = "freqtrade-json"      # list of [ms, open, high, low, close, volume]
    BINANCE_KLINE = "binance-kline"        # headerless kline CSV
    BINANCE_FORCEORDER = "binance-forceorder"  # headerless forceOrder CSV


@dataclass
class RawTable:
    """A file's rows with snake_case column names, before any interpretation."""

    frame: pd.DataFrame
    source: str
    container: Container
    layout: RawLayout
    repairs: list[str] = field(default_factory=list)


def read_table(path: Path | str) -> RawTable:
    """Read ``path`` into a :class:`RawTable`; unreadable or empty input is a ``DataError``."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError("no such file" if not path.exists() else "not a regular file", source=source)
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
    except OSError as exc:
        raise DataError(f"unreadable file: {exc.strerror or exc}", source=source) from None
    if not head:
        raise DataError("empty file", source=source)
    if head.startswith((b"ARROW1", b"FEA1")):  # Arrow IPC file (feather v2) or feather v1
        raw = _read_arrow(path, source, Container.FEATHER)
    elif head.startswith(b"PAR1"):
        raw = _read_arrow(path, source, Container.PARQUET)
    elif head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"[", b"{"):
        raw = _read_json(path, source)
    else:
        raw = _read_csv(path, source)
    if raw.frame.empty:
        raise DataError("no data rows", source=source)
    raw.frame.columns = _snake_columns(raw.frame.columns, source)
    return raw


def _read_arrow(path: Path, source: str, container: Container) -> RawTable:
    try:
        frame = pd.read_feather(path) if container is Container.FEATHER else pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"unreadable {container}: {_first_line(exc)}", source=source) from None
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()  # a parquet written with its time index keeps it as the index
    return RawTable(frame, source, container, RawLayout.TABLE)


def _read_json(path: Path, source: str) -> RawTable:
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable JSON: {_first_line(exc)}", source=source) from None
    except RecursionError:
        raise DataError("unreadable JSON: nested too deeply", source=source) from None
    if isinstance(doc, dict):
        if "data" not in doc:
            raise DataError("JSON object without a 'data' array", field="data", source=source)
        if str(doc.get("code", "0")) != "0":
            raise DataError(f"provider error code {doc.get('code')}: {doc.get('msg')}", field="code", source=source)
        doc = doc["data"]
    if not isinstance(doc, list):
        raise DataError(f"expected a list of rows, got {type(doc).__name__}", field="data", source=source)
    if not doc:
        raise DataError("no data rows", source=source)
    if isinstance(doc[0], list):
        try:
            arr = np.asarray(doc, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"candle list rows must be numeric and of equal length: {_first_line(exc)}",
                            field="data", source=source) from None
        if arr.ndim != 2 or arr.shape[1] < 6:
            raise DataError("candle list rows must be [ms, open, high, low, close, volume]",
                            field="data", source=source)
        frame = pd.DataFrame(arr[:, :6], columns=["date", "open", "high", "low", "close", "volume"])
        frame["date"] = arr[:, 0].astype(np.int64)
        return RawTable(frame, source, Container.JSON, RawLayout.FREQTRADE_JSON)
    if not isinstance(doc[0], dict):
        raise DataError(f"rows must be objects or lists, got {type(doc[0]).__name__}", field="data[0]",
                        source=source)
    try:
        frame = pd.DataFrame.from_records(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"rows are not uniform objects: {_first_line(exc)}", field="data", source=source) from None
    return RawTable(frame, source, Container.JSON, RawLayout.TABLE)


def _read_csv(path: Path, source: str) -> RawTable:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            lines = [fh.readline() for _ in range(_SNIFF_LINES)]
    except UnicodeDecodeError:
        raise DataError("unreadable file: neither Arrow, parquet, JSON nor UTF-8 text", source=source) from None
    lines = [line.rstrip("\r\n") for line in lines if line.strip()]
    if not lines:
        raise DataError("empty file", source=source)
    fields = [line.split(",") for line in lines]
    header = {_snake(name) for name in fields[0]}
    if header & set(TIME_COLUMNS):
        return RawTable(_csv(path, source, header=0), source, Container.CSV, RawLayout.TABLE)
    # Headerless layouts are told by a line past the first: real dumps start with stray text.
    skip = next((i for i, f in enumerate(fields) if len(f) == 12), None)
    probe = fields[min(len(fields) - 1, (skip or 0) + 1)]
    if skip is not None and len(probe) == 12 and probe[1].strip() in ("BUY", "SELL"):
        repairs = [f"skipped {skip} leading line(s) without 12 fields"] if skip else []
        frame = _csv(path, source, header=None, names=FORCEORDER_COLUMNS, skiprows=skip,
                     dtype={"symbol": "string", "side": "string", "usd_size": "float64"},
                     na_values=["None", ""])
        return RawTable(frame, source, Container.CSV, RawLayout.BINANCE_FORCEORDER, repairs)
    numeric_first = bool(pd.to_numeric(pd.Series(fields[0]), errors="coerce").notna().all())
    if len(fields[0]) == 12 and numeric_first:
        frame = _csv(path, source, header=None, names=KLINE_COLUMNS)
        return RawTable(frame, source, Container.CSV, RawLayout.BINANCE_KLINE)
    if not numeric_first:  # a header without a time column: the detector names what is missing
        return RawTable(_csv(path, source, header=0), source, Container.CSV, RawLayout.TABLE)
    raise DataError(f"unrecognised CSV: no header, and {len(fields[0])} numbers per row is neither a Binance "
                    "kline (12) nor a forceOrder record", field="header", position="row 0", source=source)


def _csv(path: Path, source: str, **kwargs: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig", **kwargs)  # type: ignore[call-overload]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable CSV: {_first_line(exc)}", source=source) from None


def _snake(name: object) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"\s+", "_", text).lower()


def _snake_columns(columns: pd.Index, source: str) -> list[str]:
    names = [_snake(c) for c in columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError("duplicated column name", field=name, source=source)
        seen.add(name)
    return names


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def find_time_column(columns: pd.Index | list[str], source: str) -> str:
    """The first accepted time column present, else a ``DataError`` listing the accepted names."""
    present = set(columns)
    for name in TIME_COLUMNS:
        if name in present:
            return name
    raise DataError(f"missing required column: one of {', '.join(TIME_COLUMNS)}", field="ts", source=source)


def parse_time(values: pd.Series, *, column: str, source: str) -> pd.DatetimeIndex:
    """Parse a time column to a UTC ``DatetimeIndex`` (ns).

    Datetimes are taken as they are (naive = UTC); numbers are epoch seconds, milliseconds,
    microseconds or nanoseconds told apart by magnitude (one unit per column); strings are
    ISO-8601. A missing or unparsable value is a ``DataError`` naming the row.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        idx = pd.DatetimeIndex(values)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    else:
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().any():
            if numeric.isna().any():
                _raise_first(numeric.isna().to_numpy(), values, column, source, "missing or not an epoch number")
            idx = _from_epoch(numeric.to_numpy(), column, source)
        else:
            idx = pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce"))
    bad = np.asarray(idx.isna())
    if bad.any():
        _raise_first(bad, values, column, source, "missing or unparsable timestamp")
    return idx.as_unit("ns")


def _from_epoch(arr: np.ndarray, column: str, source: str) -> pd.DatetimeIndex:
    cls = np.searchsorted(_EPOCH_BOUNDS, np.abs(arr.astype(np.float64)), side="right")
    major = int(np.bincount(cls).argmax())
    odd = np.flatnonzero(cls != major)
    if odd.size:
        raise DataError(f"epoch value {arr[odd[0]]} has another magnitude than the column's "
                        f"({_EPOCH_UNITS[major]})", field=column, position=f"row {odd[0]}", source=source)
    if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.floor(arr)) and np.abs(arr).max() < 2**62:
        arr = arr.astype(np.int64)  # integral floats: keep exact nanoseconds
    return pd.DatetimeIndex(pd.to_datetime(arr, unit=_EPOCH_UNITS[major], utc=True))


def _raise_first(bad: np.ndarray, values: pd.Series, column: str, source: str, what: str) -> None:
    row = int(np.flatnonzero(bad)[0])
    raise DataError(f"{what}: {values.iloc[row]!r}", field=column, position=f"row {row}", source=source)
