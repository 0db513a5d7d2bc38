"""Heatmap providers for the runner: one snapshot per closed bar, with resumable state.

- ``synthetic``: the cohort ledger (``bot.synthetic.model.SyntheticModel``), one per symbol,
  advanced bar by bar; its numpy state is saved as a binary blob with every step;
- ``recorded``: snapshots already in a snapshot store (a previous paper run, an import),
  the latest one known at the bar's close.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from bot.clock import parse_ts
from bot.domain import HeatmapSnapshot, HeatmapSource, iso
from bot.errors import ConfigError
from bot.feeds.base import Bar


def snapshot_to_bytes(snap: HeatmapSnapshot) -> bytes:
    """A snapshot as an ``.npz`` payload (level arrays + JSON metadata), for the outbox."""
    meta = {"symbol": snap.symbol, "ts": iso(snap.ts), "price": snap.price, "source": snap.source.value,
            "assumptions": dict(snap.assumptions)}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta, default=str).encode("utf-8"), dtype=np.uint8),
             prices=snap.prices, long_usd=snap.long_usd, short_usd=snap.short_usd)
    return buf.getvalue()


def snapshot_from_bytes(payload: bytes) -> HeatmapSnapshot:
    """Inverse of :func:`snapshot_to_bytes`."""
    with np.load(io.BytesIO(payload)) as npz:
        meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
        return HeatmapSnapshot(symbol=meta["symbol"], ts=parse_ts(meta["ts"]),
                               price=meta["price"], prices=npz["prices"], long_usd=npz["long_usd"],
                               short_usd=npz["short_usd"], source=HeatmapSource(meta["source"]),
                               assumptions=meta["assumptions"])


class HeatmapProvider(Protocol):
    """Gives the snapshot known at a bar's close."""

    def snapshot(self, bar: Bar) -> HeatmapSnapshot | None:
        """The snapshot for ``bar`` (``None``: nothing known yet)."""
        ...

    def state(self) -> dict[str, bytes]:
        """Binary state to store with the step."""
        ...

    def restore(self, blobs: dict[str, bytes | None]) -> None:
        """Load what :meth:`state` saved (missing keys: fresh start)."""
        ...

    def keys(self) -> list[str]:
        """Blob keys :meth:`state` writes."""
        ...


class SyntheticHeatmaps:
    """One synthetic model per symbol."""

    def __init__(self, params: Any, symbols: tuple[str, ...], timeframe: timedelta) -> None:
        from bot.synthetic.model import SyntheticModel
        self._params = params
        self._bar = f"{int(timeframe.total_seconds())}s"
        self.models = {s: SyntheticModel(params, s, bar=self._bar) for s in symbols}

    def snapshot(self, bar: Bar) -> HeatmapSnapshot:
        """Advance the symbol's ledger by ``bar``."""
        return self.models[bar.symbol].on_bar(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume,
                                              bar.oi_usd, funding_rate=bar.funding_rate,
                                              ls_ratio=bar.long_short_ratio)

    def keys(self) -> list[str]:
        """``model:<symbol>`` per symbol."""
        return [f"model:{s}" for s in self.models]

    def state(self) -> dict[str, bytes]:
        """Each model's state as an ``.npz`` blob (arrays) with its JSON metadata."""
        out = {}
        for symbol, model in self.models.items():
            st = model.state()
            arrays = {k: v for k, v in st.items() if isinstance(v, np.ndarray)}
            meta = {k: v for k, v in st.items() if not isinstance(v, np.ndarray)}
            buf = io.BytesIO()
            np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays)
            out[f"model:{symbol}"] = buf.getvalue()
        return out

    def restore(self, blobs: dict[str, bytes | None]) -> None:
        """Rebuild the models from their blobs."""
        from bot.synthetic.model import SyntheticModel
        for symbol in self.models:
            blob = blobs.get(f"model:{symbol}")
            if blob is None:
                continue
            with np.load(io.BytesIO(blob)) as npz:
                state: dict[str, Any] = json.loads(bytes(npz["__meta__"]).decode("utf-8"))
                state.update({k: npz[k] for k in npz.files if k != "__meta__"})
            self.models[symbol] = SyntheticModel.from_state(state, self._params)


class RecordedHeatmaps:
    """Snapshots read from a snapshot store: the newest one with ``ts <= bar close``."""

    def __init__(self, root: Path, symbols: tuple[str, ...]) -> None:
        from bot.heatmap.store import SnapshotStore
        self.store = SnapshotStore(root)
        known = set(self.store.symbols())
        missing = [s for s in symbols if s not in known]
        if missing:
            raise ConfigError(f"--heatmaps {root}: no snapshots of {', '.join(missing)}")
        self._iters: dict[str, Iterator[HeatmapSnapshot]] = {s: iter(self.store.read(s)) for s in symbols}
        self._next: dict[str, HeatmapSnapshot | None] = {s: next(self._iters[s], None) for s in symbols}
        self._current: dict[str, HeatmapSnapshot | None] = dict.fromkeys(symbols)

    def snapshot(self, bar: Bar) -> HeatmapSnapshot | None:
        """The latest recorded snapshot known at ``bar.close_ts``."""
        nxt = self._next[bar.symbol]
        while nxt is not None and nxt.ts <= bar.close_ts:
            self._current[bar.symbol] = nxt
            nxt = next(self._iters[bar.symbol], None)
        self._next[bar.symbol] = nxt
        from bot.feeds.provider_maps import fresh  # a recorded provider map carries its own staleness
        return fresh(self._current[bar.symbol], bar.close_ts)

    def keys(self) -> list[str]:
        """No state: the store is re-read from the start."""
        return []

    def state(self) -> dict[str, bytes]:
        """Nothing to save."""
        return {}

    def restore(self, blobs: dict[str, bytes | None]) -> None:
        """Nothing to load."""
