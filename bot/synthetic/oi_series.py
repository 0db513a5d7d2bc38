"""Several open-interest files as one series (issue 11, defect 7: two CoinGlass dumps back to back).

Files are loaded one by one (``files.load_open_interest``), then merged by the time each value
became known. Where files overlap, the later file on the command line wins for the times it
covers (a newer dump revises the tail of an older one); the merged index is strictly increasing,
so ``align`` takes it as one series and a run continues across the seam.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from bot.errors import DataError


def merge_open_interest(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One OI frame from several (later frames win on equal timestamps); columns kept: ``oi_usd`` (+ ``oi_coin``)."""
    if not frames:
        raise DataError("no open interest file", field="--oi")
    parts = []
    for k, frame in enumerate(frames):
        if "oi_usd" not in frame.columns:
            raise DataError("missing column", field=f"--oi[{k}].oi_usd")
        idx = pd.DatetimeIndex(frame.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        cols = [c for c in ("oi_usd", "oi_coin") if c in frame.columns]
        parts.append(frame[cols].set_axis(idx.as_unit("ns")).assign(_order=k))
    merged = pd.concat(parts).sort_values("_order", kind="stable")
    merged = merged[~merged.index.duplicated(keep="last")].sort_index(kind="stable").drop(columns="_order")
    merged.index.name = frames[-1].index.name or "ts"
    merged.attrs.update(frames[-1].attrs, merged_files=len(frames))
    return merged


def load_open_interest_files(paths: Sequence[Path]) -> pd.DataFrame:
    """Load and merge ``paths`` (one path: that file as loaded)."""
    from bot.marketdata import files
    loaded = [files.load_open_interest(p) for p in paths]
    return loaded[0] if len(loaded) == 1 else merge_open_interest(loaded)
