"""Kiyotaka ``HYPERLIQUID_LIQUIDATION_AGG`` payloads (``GET /v1/points``).

Two shapes, one snapshot per point:

- ``series[].points[].Point = {timestamp: {s}, levels: [p1, v1, p2, v2, ...]}`` (a bare
  ``{timestamp, levels}`` point without the ``Point`` wrapper is accepted too);
- ``flatten=true``: ``series[].flat_points = [n, ts, p1, v1, ..., pn, vn, n', ts', ...]`` back to
  back. A wrong ``n`` shows as an array that ends mid-snapshot, as a next "header" that is not one
  (a non-integral count, or a timestamp not later than this one) or as a header-looking pair inside
  this snapshot's levels; each is an error naming ``num_levels``.

Units. Volumes are coin units unless the request normalized them to USD, and the response does not
say which. The parser reads an echo of the request when present (``series[].id.transform`` as
``{"normalize": {"quote": "USD"}}`` or a dotted ``"transform.normalize.quote"`` key, or a top-level
``query`` object); otherwise the caller says (``units=``, CLI ``--units``), default coin. A caller
contradicting the echo is an error. Coin volume -> USD = volume x level price.

Sides. There is no side field: levels below the reference price are long liquidations, above are
short; a level exactly at the price is split half and half (it is as likely either way).

Price. The payload carries no price: the caller must give one (``--price``); it is the reference
for every snapshot of the payload.

Timestamps. ``{"s": ...}`` is documented as seconds and ``flat_points`` as microseconds, but some
responses carry nanoseconds: every epoch is normalized by magnitude (< 1e11 s, < 1e14 ms,
< 1e17 us, else ns); the unit found is recorded in the snapshot's assumptions. Timestamps must
increase strictly within a series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.errors import DataError
from bot.heatmap.parsers.checks import Checker, epoch_unit, join, reference_price, split_sides

KIYOTAKA_TYPE = "HYPERLIQUID_LIQUIDATION_AGG"
SIDES_BY_POSITION = ("no side field: levels below the reference price are long liquidations, above "
                     "are short, a level exactly at the price is split half and half")


class Units(StrEnum):
    """Kiyotaka volume units: coin (default) or USD (``transform.normalize.quote=USD``)."""

    COIN = "coin"
    USD = "usd"


@dataclass(frozen=True, slots=True)
class _Point:
    ts: datetime
    prices: np.ndarray
    volumes: np.ndarray
    symbol: str
    units: Units
    units_from: str
    ts_unit: str


def parse_kiyotaka(doc: object, *, price: float | None = None, symbol: str | None = None,
                   units: Units | str | None = None) -> list[HeatmapSnapshot]:
    """Snapshots of a Kiyotaka payload; ``symbol`` (unified) overrides ``id.coin``."""
    chk = Checker("kiyotaka")
    root = chk.obj(doc, "")
    series = chk.array(chk.field(root, "series", ""), "series")
    wanted = None if units is None else Units(units)
    points: list[_Point] = []
    for si, item in enumerate(series):
        points.extend(_series(chk, root, chk.obj(item, f"series[{si}]"), f"series[{si}]", symbol, wanted))
    ref, ref_from = reference_price(price, "kiyotaka", payload_price=None, why_required="kiyotaka payloads")
    return [_snapshot(p, ref, ref_from) for p in points]


def _series(chk: Checker, root: dict[str, Any], item: dict[str, Any], path: str, symbol: str | None,
            wanted: Units | None) -> list[_Point]:
    ident = chk.obj(item["id"], join(path, "id")) if "id" in item else {}
    kind = ident.get("type", KIYOTAKA_TYPE)
    if kind != KIYOTAKA_TYPE:
        chk.fail(join(path, "id.type"), f"unsupported type {kind!r}: expected {KIYOTAKA_TYPE}")
    if symbol is None:
        if "coin" not in ident:
            chk.fail(join(path, "id.coin"), "missing field (or pass --symbol)")
        symbol = chk.symbol(ident["coin"], join(path, "id.coin"))
    units, units_from = _units(chk, root, ident, path, wanted)
    if "flat_points" in item:
        raw = _flat_points(chk, item["flat_points"], join(path, "flat_points"))
    elif "points" in item:
        raw = _points(chk, item["points"], join(path, "points"))
    else:
        chk.fail(join(path, "points"), "missing field (neither points nor flat_points)")
    chk.increasing_times([r[0] for r in raw], lambda i: raw[i][3])
    return [_Point(ts, prices, vols, symbol, units, units_from, unit) for ts, prices, vols, _, unit in raw]


def _units(chk: Checker, root: dict[str, Any], ident: dict[str, Any], path: str,
           wanted: Units | None) -> tuple[Units, str]:
    declared, where = _declared_units(chk, root, ident, path)
    if wanted is not None and declared is not None and wanted != declared:
        chk.fail(where, f"--units {wanted.value} contradicts the payload, which says {declared.value}")
    if wanted is not None:
        return wanted, "--units"
    if declared is not None:
        return declared, where
    return Units.COIN, "default (the payload does not say)"


def _declared_units(chk: Checker, root: dict[str, Any], ident: dict[str, Any], path: str,
                    ) -> tuple[Units | None, str]:
    candidates = [(ident.get("transform"), join(path, "id.transform")), (ident, join(path, "id")),
                  (root.get("query"), "query")]
    for node, where in candidates:
        if not isinstance(node, dict):
            continue
        quote = node.get("transform.normalize.quote", node.get("normalize.quote"))
        normalize = node.get("normalize")
        if quote is None and isinstance(normalize, dict):
            quote = normalize.get("quote")
        if quote is None:
            continue
        if not isinstance(quote, str) or quote.upper() != "USD":
            chk.fail(where, f"unsupported normalize quote {quote!r}: only USD is documented")
        return Units.USD, where
    return None, ""


Raw = tuple[datetime, np.ndarray, np.ndarray, str, str]  # ts, prices, volumes, path, ts unit


def _points(chk: Checker, value: Any, path: str) -> list[Raw]:
    out: list[Raw] = []
    for pi, item in enumerate(chk.array(value, path)):
        pp = join(path, pi)
        point = chk.obj(item, pp)
        if "Point" in point:
            pp = join(pp, "Point")
            point = chk.obj(point["Point"], pp)
        ts_value = chk.field(point, "timestamp", pp)
        ts = chk.timestamp(ts_value, join(pp, "timestamp"))
        unit = _ts_unit(ts_value)
        lp = join(pp, "levels")
        levels = chk.array(chk.field(point, "levels", pp), lp)
        if len(levels) % 2:
            chk.fail(lp, f"odd-length array ({len(levels)} values): expected price, volume pairs")
        arr = chk.numbers(levels, lambda i, lp=lp: join(lp, i))
        prices, vols = arr[0::2], arr[1::2]
        _check_levels(chk, prices, vols, lambda i, lp=lp: join(lp, i), 0)
        out.append((ts, prices, vols, pp, unit))
    return out


def _ts_unit(value: Any) -> str:
    """Unit of an already validated timestamp: s/ms/us/ns by magnitude, or iso."""
    if isinstance(value, dict):
        value = value["s"]
    return "iso" if isinstance(value, str) else epoch_unit(float(value))[1]


def _flat_points(chk: Checker, value: Any, path: str) -> list[Raw]:
    arr = chk.numbers(chk.array(value, path), lambda i: join(path, i))
    total = arr.size
    at = lambda i: join(path, i)  # noqa: E731 - a locator, used many times below
    out: list[Raw] = []
    i = 0
    while i < total:
        n = chk.integer(float(arr[i]), at(i), what="num_levels", minimum=1)
        if i + 1 >= total:
            chk.fail(at(i), f"num_levels {n} is not followed by a timestamp (the array ends mid-snapshot)")
        ts_raw = float(arr[i + 1])
        ts = chk.epoch(ts_raw, at(i + 1))
        start, end = i + 2, i + 2 + 2 * n
        if end > total:
            chk.fail(at(i), f"num_levels {n} disagrees with the pairs that follow: it needs {2 * n} values "
                            f"after the timestamp, the array ends after {total - start} (ends mid-snapshot)")
        prices, vols = arr[start:end:2], arr[start + 1:end:2]
        inner = np.flatnonzero(_header_like(prices, vols, ts_raw))
        if inner.size:
            k = start + 2 * int(inner[0])
            chk.fail(at(i), f"num_levels {n} disagrees with the pairs that follow: {at(k)} looks like the "
                            f"header of the next snapshot (num_levels {arr[k]:g}, timestamp {arr[k + 1]:.10g})")
        if end < total and not _next_header_ok(arr[end:end + 2], ts_raw):
            chk.fail(at(i), f"num_levels {n} disagrees with the pairs that follow: {at(end)} = {arr[end]:g} "
                            f"does not start a snapshot (num_levels, timestamp)")
        _check_levels(chk, prices, vols, at, start)
        out.append((ts, prices, vols, at(i), epoch_unit(ts_raw)[1]))
        i = end
    return out


def _header_like(counts: np.ndarray, stamps: np.ndarray, ts_raw: float) -> np.ndarray:
    """Which (count, stamp) pairs could be the header of a snapshot following one stamped ``ts_raw``.

    A later stamp of the same magnitude (a volume that large is no volume) after an integral count.
    """
    integral = (counts >= 1) & (counts == np.floor(counts))
    return integral & (stamps > ts_raw) & (stamps < ts_raw * 1e3)


def _next_header_ok(head: np.ndarray, ts_raw: float) -> bool:
    if head.size == 1:  # a lone count at the very end: the next round reports the truncation
        return bool(head[0] >= 1 and head[0] == np.floor(head[0]))
    return bool(_header_like(head[:1], head[1:], ts_raw)[0])


def _check_levels(chk: Checker, prices: np.ndarray, vols: np.ndarray, at: Any, offset: int) -> None:
    chk.prices(prices, lambda j: at(offset + 2 * j))
    chk.volumes(vols, lambda j: at(offset + 2 * j + 1))
    chk.ascending(prices, lambda j: at(offset + 2 * j))


def _snapshot(point: _Point, price: float, price_from: str) -> HeatmapSnapshot:
    usd = point.volumes * point.prices if point.units is Units.COIN else point.volumes
    long_usd, short_usd = split_sides(point.prices, usd, price)
    assumptions = {
        "provider": "kiyotaka", "type": KIYOTAKA_TYPE,
        "volume_units": point.units.value, "units_from": point.units_from,
        "usd": "coin volume x level price" if point.units is Units.COIN else "volume as given (USD)",
        "sides": SIDES_BY_POSITION, "reference_price": price_from, "timestamp_unit": point.ts_unit,
    }
    try:
        return HeatmapSnapshot(symbol=point.symbol, ts=point.ts, price=price, prices=point.prices,
                               long_usd=long_usd, short_usd=short_usd, source=HeatmapSource.KIYOTAKA,
                               assumptions=assumptions)
    except DataError as exc:  # e.g. coin volume x price overflowing to inf
        raise DataError(str(exc), source="kiyotaka") from None
