"""Which provider shape a decoded payload has, told by its keys (never by the file name)."""

from __future__ import annotations

from enum import StrEnum

from bot.errors import DataError
from bot.heatmap.parsers.checks import Checker
from bot.heatmap.parsers.coinglass import CELLS
from bot.heatmap.parsers.perp_api import is_perp_best, is_perp_stats


class HeatmapFormat(StrEnum):
    """Payload shapes ``parse_heatmap`` reads; ``AUTO`` detects the shape by content."""

    AUTO = "auto"
    KIYOTAKA = "kiyotaka"
    BASTION = "bastion"
    COINGLASS = "coinglass"
    PERP_API = "perp-api"


def detect_format(doc: object) -> HeatmapFormat:
    """The shape of ``doc``; an empty or unrecognised document is a ``DataError``.

    ``series`` -> kiyotaka; ``heatmap`` -> bastion; ``data.y_axis``/``data.liquidation_leverage_data``
    (or a CoinGlass ``{code, msg}`` error envelope) -> coinglass; ``clusters``, ``stats``, a bare
    cluster (``price_level`` + ``side``), ``success`` or a FastAPI ``{detail}`` -> perp-api.
    """
    if doc == {} or doc == []:
        raise DataError(f"empty payload: the document is {doc!r}")
    root = Checker("payload").obj(doc, "")
    data = root.get("data")
    if "series" in root:
        return HeatmapFormat.KIYOTAKA
    if "heatmap" in root:
        return HeatmapFormat.BASTION
    if (isinstance(data, dict) and ("y_axis" in data or CELLS in data)) or {"code", "msg"} <= set(root):
        return HeatmapFormat.COINGLASS
    if ("clusters" in root or "success" in root or set(root) == {"detail"}
            or is_perp_stats(root) or is_perp_best(root)):
        return HeatmapFormat.PERP_API
    keys = ", ".join(sorted(root)[:8])
    raise DataError(f"unknown heatmap format (top-level keys: {keys}); pass --format "
                    "kiyotaka|bastion|coinglass|perp-api")
