"""CoinGlass liquidation heatmap (model 1/2/3) payloads: one snapshot per time column.

Shape: ``{code, msg, data: {y_axis: [prices], liquidation_leverage_data: [[x, y, usd], ...],
price_candlesticks: [[ts, open, high, low, close, volume], ...], update_time}}``.

- ``x`` indexes a time column (a candlestick), ``y`` a price row of ``y_axis``; the grid is sparse:
  a missing cell is 0 USD. One snapshot per candlestick, over every ``y_axis`` row.
- Reference price of column ``x`` = close of candlestick ``x``; its time = the candlestick's
  timestamp (seconds or milliseconds, detected by magnitude). Candlestick prices may be numeric
  strings (CoinGlass sends them so); anything else non-numeric is an error.
- No side field: per column, rows below that column's close are long liquidations, above are
  short, a row exactly at the close is split half and half.
- ``y_axis`` must ascend strictly (error if not); an index out of range, a cell given twice or a
  malformed cell is an error naming ``liquidation_leverage_data[i]``. ``code`` other than 0 is an
  error carrying ``msg``. The payload names no symbol: pass one (``--symbol``) unless a top-level
  ``symbol`` is present.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.errors import DataError
from bot.heatmap.parsers.checks import Checker, epoch_unit, join, reference_price, split_sides
from bot.heatmap.parsers.kiyotaka import SIDES_BY_POSITION

CELLS = "liquidation_leverage_data"
CANDLES = "price_candlesticks"


def parse_coinglass(doc: object, *, price: float | None = None, symbol: str | None = None) -> list[HeatmapSnapshot]:
    """Snapshots of a CoinGlass heatmap grid, one per time column.

    ``price`` (if given) replaces every column's close as the reference price.
    """
    chk = Checker("coinglass")
    root = chk.obj(doc, "")
    if "code" in root and str(root["code"]) != "0":
        chk.fail("code", f"provider error {root['code']!r}: {root.get('msg') or 'no message'}")
    if symbol is None:
        if "symbol" not in root:
            raise DataError("--symbol is required for coinglass payloads (the payload names no symbol)",
                            source="coinglass")
        symbol = chk.symbol(root["symbol"], "symbol")
    data = chk.obj(chk.field(root, "data", ""), "data")

    y_axis = chk.numbers(chk.array(chk.field(data, "y_axis", "data"), "data.y_axis"), lambda i: f"data.y_axis[{i}]")
    chk.prices(y_axis, lambda i: f"data.y_axis[{i}]")
    chk.ascending(y_axis, lambda i: f"data.y_axis[{i}]")
    times, closes, ts_unit = _candles(chk, chk.array(chk.field(data, CANDLES, "data"), f"data.{CANDLES}"))
    grid = _grid(chk, chk.array(chk.field(data, CELLS, "data"), f"data.{CELLS}"), len(closes), y_axis.size)

    ref = closes if price is None else np.full(closes.size, reference_price(price, "coinglass", payload_price=None)[0])
    long_usd, short_usd = split_sides(y_axis[None, :], grid, ref[:, None])
    assumptions = {
        "provider": "coinglass", "usd": "cell value as given (USD)", "sides": SIDES_BY_POSITION,
        "reference_price": "close of the column's candlestick" if price is None else "--price",
        "timestamp_unit": ts_unit,
    }
    if "update_time" in data:
        assumptions["provider_update_time"] = chk.timestamp(data["update_time"], "data.update_time").isoformat()
    return [HeatmapSnapshot(symbol=symbol, ts=times[x], price=float(ref[x]), prices=y_axis,
                            long_usd=long_usd[x], short_usd=short_usd[x], source=HeatmapSource.COINGLASS,
                            assumptions=assumptions)
            for x in range(closes.size)]


def _candles(chk: Checker, rows: list[Any]) -> tuple[list[Any], np.ndarray, str]:
    """(times, closes, timestamp unit) of ``price_candlesticks``."""
    path = f"data.{CANDLES}"
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 5:
            chk.fail(join(path, i), f"expected [ts, open, high, low, close, volume], got {_describe(row)}")
    stamps = chk.numbers([row[0] for row in rows], lambda i: f"{path}[{i}][0]")
    ohlc = chk.numbers(list(chain.from_iterable(row[1:5] for row in rows)),
                       lambda k: f"{path}[{k // 4}][{k % 4 + 1}]", strings=True)
    chk.prices(ohlc, lambda k: f"{path}[{k // 4}][{k % 4 + 1}]")
    times = [chk.epoch(float(s), f"{path}[{i}][0]") for i, s in enumerate(stamps)]
    chk.increasing_times(times, lambda i: f"{path}[{i}][0]")
    return times, ohlc.reshape(-1, 4)[:, 3], epoch_unit(float(stamps[0]))[1]


def _grid(chk: Checker, cells: list[Any], columns: int, rows: int) -> np.ndarray:
    """Dense (columns x rows) USD grid from the sparse ``[x, y, usd]`` cells."""
    path = f"data.{CELLS}"
    bad = next((i for i, c in enumerate(cells) if not (isinstance(c, list) and len(c) == 3)), None)
    if bad is not None:
        chk.fail(join(path, bad), f"expected [x_index, y_index, usd], got {_describe(cells[bad])}")
    flat = chk.numbers(list(chain.from_iterable(cells)), lambda k: f"{path}[{k // 3}][{k % 3}]")
    xy_usd = flat.reshape(-1, 3)
    x, y, usd = xy_usd[:, 0], xy_usd[:, 1], xy_usd[:, 2]
    for _axis, values, limit, what in ((0, x, columns, f"x index (time column; {CANDLES} has {columns})"),
                                      (1, y, rows, f"y index (price row; y_axis has {rows})")):
        wrong = np.flatnonzero((values < 0) | (values >= limit) | (values != np.floor(values)))
        if wrong.size:
            i = int(wrong[0])
            chk.fail(join(path, i), f"{what} out of range: {values[i]:g}")
    chk.volumes(usd, lambda i: f"{path}[{i}][2]", what="usd")
    flat_index = x.astype(np.int64) * rows + y.astype(np.int64)
    _, first, counts = np.unique(flat_index, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup_key = flat_index[first[np.flatnonzero(counts > 1)[0]]]
        i, j = np.flatnonzero(flat_index == dup_key)[:2]
        chk.fail(join(path, int(j)), f"duplicated cell (x {x[j]:g}, y {y[j]:g}), also at {join(path, int(i))}")
    grid = np.zeros((columns, rows))
    grid[x.astype(np.int64), y.astype(np.int64)] = usd
    return grid


def _describe(value: Any) -> str:
    return f"an array of {len(value)}" if isinstance(value, list) else type(value).__name__
