"""Which heatmap the runner trades on: ``--heatmap synthetic|kiyotaka|coinglass|bastion|perp-api|hyperliquid|store``.

``synthetic`` is liqbot's own model; ``store`` replays a snapshot store (``--heatmaps DIR``, default
the state folder's); the remote sources are polled live or asked for history in a replay
(``bot.feeds.provider_maps``), and every snapshot traded on is recorded in the state folder's
snapshot store with its source and stamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from bot.errors import ConfigError
from bot.feeds.base import Feed
from bot.heatmap.providers.sources import REMOTE, SOURCES


@dataclass(slots=True)
class HeatmapChoice:
    """The runner's heatmap provider, the feed it needs (live remote maps poll through it), the recorder."""

    name: str
    heatmaps: Any
    feed: Feed
    recorder: Any  # where traded-on snapshots are written (None: replaying a store)


def source_name(cli: str | None, settings: Any, store_dir: Path | None) -> str:
    """``--heatmap`` over ``providers.heatmap_source``; ``--heatmaps DIR`` alone means ``store``."""
    name = cli or ("store" if store_dir is not None else settings.providers.heatmap_source)
    name = "store" if name == "recorded" else name
    if name not in SOURCES:
        raise ConfigError(f"--heatmap: unknown source {name!r} (one of {', '.join(SOURCES)})")
    if store_dir is not None and name != "store":
        raise ConfigError(f"--heatmaps DIR replays a store: it goes with --heatmap store, not {name}")
    return name


def choose_heatmaps(name: str, settings: Any, feed: Feed, *, live: bool, state: Path, store_dir: Path | None,
                    sleep: Callable[[float], None], backfill: timedelta,
                    wall: Callable[[], datetime] | None = None) -> HeatmapChoice:
    """Build the provider called ``name`` for ``feed`` (see the module docstring)."""
    from bot.feeds.heatmaps import RecordedHeatmaps, SyntheticHeatmaps
    from bot.heatmap.store import SnapshotStore
    recorder = SnapshotStore(state / "snapshots")
    if name == "store":
        return HeatmapChoice(name, RecordedHeatmaps(store_dir or state / "snapshots", feed.symbols), feed, None)
    if name == "synthetic":
        from bot.synthetic.model import SyntheticParams
        return HeatmapChoice(name, SyntheticHeatmaps(SyntheticParams.from_settings(settings.synthetic), feed.symbols,
                                                     feed.timeframe), feed, recorder)
    assert name in REMOTE
    from bot.feeds.provider_maps import MapPollingFeed, ProviderHeatmaps, SnapshotRecorder
    from bot.heatmap.providers.sources import make_source
    p = settings.providers
    maps = ProviderHeatmaps(make_source(name, settings, live=live, sleep=sleep), feed.symbols, live=live,
                            stale_after_intervals=p.stale_after_intervals, backoff_initial_s=p.backoff_initial_s,
                            backoff_max_s=p.backoff_max_s, retry_after_max_s=p.retry_after_max_s, backfill=backfill,
                            wall=wall)
    return HeatmapChoice(name, maps, MapPollingFeed(feed, maps) if live else feed, SnapshotRecorder(recorder))
