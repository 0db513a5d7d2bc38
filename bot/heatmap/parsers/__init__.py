"""Provider heatmap payloads -> ``HeatmapSnapshot`` lists, validated strictly.

One module per shape (``kiyotaka``, ``bastion``, ``coinglass``, ``perp_api``), format detection in
``detect``, shared checks in ``checks``. Every problem with the input is a ``DataError`` naming the
format, the field and the position; nothing is guessed. Snapshots carry ascending level arrays,
an aware UTC ``ts``, a ccxt unified ``symbol`` and ``assumptions`` saying how units and sides were
read.
"""

from __future__ import annotations

from pathlib import Path

from bot.domain import HeatmapSnapshot
from bot.errors import DataError
from bot.heatmap.parsers.bastion import parse_bastion
from bot.heatmap.parsers.checks import load_payload, unified_symbol
from bot.heatmap.parsers.coinglass import parse_coinglass
from bot.heatmap.parsers.detect import HeatmapFormat, detect_format
from bot.heatmap.parsers.kiyotaka import Units, parse_kiyotaka
from bot.heatmap.parsers.perp_api import OpenInterestSummary, is_perp_stats, parse_perp_api, parse_perp_stats

__all__ = ["HeatmapFormat", "OpenInterestSummary", "Units", "detect_format", "is_perp_stats", "load_payload",
           "parse_heatmap", "parse_heatmap_doc", "parse_heatmap_file", "parse_perp_stats", "unified_symbol"]


def parse_heatmap(raw: bytes | str, fmt: HeatmapFormat | str = HeatmapFormat.AUTO, *, price: float | None = None,
                  symbol: str | None = None, source_name: str = "<input>",
                  units: Units | str | None = None) -> list[HeatmapSnapshot]:
    """Decode and parse one payload (JSON text) into snapshots, in payload order.

    ``price`` overrides the payload's reference price (required where the payload carries none:
    kiyotaka, perp-api ``/best``); ``symbol`` (``BTC``, ``BTCUSDT`` or unified) overrides the
    payload's symbol; ``units`` (kiyotaka only) says coin or USD volumes; ``source_name`` names
    the input in decoding errors. A perp-api ``/api/stats`` document yields ``[]``.
    """
    return parse_heatmap_doc(load_payload(raw, source_name), fmt, price=price, symbol=symbol, units=units,
                             source_name=source_name)


def parse_heatmap_file(path: Path, fmt: HeatmapFormat | str = HeatmapFormat.AUTO, *, price: float | None = None,
                       symbol: str | None = None, units: Units | str | None = None) -> list[HeatmapSnapshot]:
    """``parse_heatmap`` on a file's bytes; a missing or unreadable file is a ``DataError``."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    return parse_heatmap(raw, fmt, price=price, symbol=symbol, units=units, source_name=str(path))


def parse_heatmap_doc(doc: object, fmt: HeatmapFormat | str = HeatmapFormat.AUTO, *, price: float | None = None,
                      symbol: str | None = None, units: Units | str | None = None,
                      source_name: str = "<input>") -> list[HeatmapSnapshot]:
    """``parse_heatmap`` on an already decoded JSON document."""
    if doc == {} or doc == []:
        raise DataError(f"empty payload: the document is {doc!r}", source=source_name)
    try:
        fmt = HeatmapFormat(fmt)
    except ValueError:
        raise DataError(f"unknown format {fmt!r}", field="--format") from None
    if fmt is HeatmapFormat.AUTO:
        fmt = detect_format(doc)
    if symbol is not None:
        try:
            symbol = unified_symbol(symbol)
        except ValueError as exc:
            raise DataError(str(exc), field="--symbol") from None
    if units is not None:
        if fmt is not HeatmapFormat.KIYOTAKA:
            raise DataError(f"applies to kiyotaka payloads only, not {fmt.value}", field="--units")
        try:
            units = Units(units)
        except ValueError:
            raise DataError(f"must be coin or usd, got {units!r}", field="--units") from None
    if fmt is HeatmapFormat.KIYOTAKA:
        return parse_kiyotaka(doc, price=price, symbol=symbol, units=units)
    parser = {HeatmapFormat.BASTION: parse_bastion, HeatmapFormat.COINGLASS: parse_coinglass,
              HeatmapFormat.PERP_API: parse_perp_api}[fmt]
    return parser(doc, price=price, symbol=symbol)
