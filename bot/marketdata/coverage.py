"""What a run's data covers: bars, open interest, volume mode, funding, the heatmap store.

Open interest covering 5 of 14 months used to be said only inside the HTML report. Every command
that runs on data now prints :func:`coverage_line` and carries :func:`coverage` in its JSON.
Bars without open interest run the heatmap model in volume mode, and OI sizing puts their
signals in the low tier (``low_mult``, x0.5 by default) because the OI it reads is unknown.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in ``mask``."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def coverage(open_ns: np.ndarray, close_ns: np.ndarray, oi: np.ndarray, funding: np.ndarray,
             trade_from_ns: int | None = None, low_mult: float | None = None) -> dict[str, Any]:
    """JSON-ready coverage of one symbol's bars (``oi``/``funding`` NaN where unknown / not settled)."""
    n = int(open_ns.size)
    has_oi = np.isfinite(oi)
    out: dict[str, Any] = {"bars": n, "from": _iso(open_ns[0]) if n else None, "to": _iso(close_ns[-1]) if n else None,
                           "oi_bars": int(has_oi.sum()), "volume_mode_bars": int(n - has_oi.sum())}
    out["oi_spans"] = [{"from": _iso(open_ns[a]), "to": _iso(close_ns[b]), "bars": b - a + 1}
                       for a, b in _runs(has_oi)]
    out["volume_mode_spans"] = [{"from": _iso(open_ns[a]), "to": _iso(close_ns[b]), "bars": b - a + 1}
                                for a, b in _runs(~has_oi)]
    settled = np.isfinite(funding)
    out["funding_settlements"] = int(settled.sum())
    out["funding_from"] = _iso(close_ns[np.argmax(settled)]) if settled.any() else None
    if trade_from_ns is not None:
        out["settled_from"] = _iso(max(int(trade_from_ns), int(open_ns[0]) if n else 0)) if n else None
    if out["volume_mode_bars"] and low_mult is not None:
        out["sizing_without_oi"] = (f"x{low_mult:g}: OI sizing reads no open interest on the volume-mode bars, "
                                    "so their signals are sized in the low tier")
    return out


def coverage_line(c: dict[str, Any]) -> str:
    """One line: bars, OI share and spans, volume mode, funding, trading start, store."""
    if not c.get("bars"):
        return "coverage: no bars"
    share = 100.0 * c["oi_bars"] / c["bars"]
    parts = [f"coverage: {c['bars']:,} bars {c['from']} to {c['to']}",
             f"open interest on {c['oi_bars']:,} ({share:.0f}%)"
             + (f", {c['oi_spans'][0]['from']} to {c['oi_spans'][-1]['to']}" if c["oi_spans"] else "")]
    if c["volume_mode_bars"]:
        spans = c["volume_mode_spans"]
        # with recorded maps the model does not run: those bars only lack OI (for sizing)
        what = "no open interest" if c.get("heatmap_store") else "volume mode"
        parts.append(f"{what} on {c['volume_mode_bars']:,} in {len(spans)} span(s), first {spans[0]['from']} to "
                     f"{spans[0]['to']}" + (f" (sizing {c['sizing_without_oi'].split(':')[0]} there)"
                                            if c.get("sizing_without_oi") else ""))
    parts.append(f"funding settled {c['funding_settlements']:,} times" +
                 (f" from {c['funding_from']}" if c["funding_from"] else " (none: no --funding)"))
    if c.get("settled_from"):
        parts.append(f"trading from {c['settled_from']} (after the warmup)")
    store = c.get("heatmap_store")
    if store:
        parts.append(f"heatmap store {store['from']} to {store['to']} ({store['snapshots']:,} snapshots)")
    return "; ".join(parts)
