"""Remote heatmaps in the runner: poll a provider at its cadence, hand each bar the map it could see.

:class:`ProviderHeatmaps` is the runner's heatmap provider for a remote :class:`MapSource`:

- live (``--feed live``): :meth:`poll` runs between bars (through :class:`MapPollingFeed`), at the
  source's cadence (aligned to its interval), within its :class:`RequestBudget`; a new snapshot is
  stamped with the time it was RECEIVED. At the first poll, a source with a history endpoint also
  fills in what it published during the warmup (stamped with its publish time);
- replay (``--feed replay|sim``): the snapshots come from the source's history endpoint, fetched
  in chunks ahead of the bars and stamped with their publish time.

A bar decides on the latest snapshot stamped AT OR BEFORE its close (:func:`latest_at`), never a
later one, priced with the market close known at its stamp. A snapshot older than
``stale_after_intervals`` cadences is stale: the bar gets no map, so entries pause (the tracker
holds), with a notice, until a fresh one arrives. The same rule, carried in the snapshot's
``assumptions["stale_after_s"]``, is applied when a recorded store is replayed (:func:`fresh`), so
``backtest --heatmaps STORE`` sees exactly what the bot saw.

Faults (outage, timeout, 5xx, 429 with Retry-After, a malformed body, a rejected key) never leave
this module in live: each becomes a notice and a backoff (doubling from
``providers.backoff_initial_s`` to ``backoff_max_s``; a Retry-After defers the budget); a poll
either adds one whole parsed snapshot or nothing. In a replay, history reads are retried under the
policy; giving up stops the run (``FatalError``) before the bar is committed, so a re-run resumes
at that bar.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from bot.domain import HeatmapSnapshot, iso, utc
from bot.errors import ConfigError, DataError, FatalError, LiqbotError, RetryableError
from bot.feeds.base import Bar, Feed, FeedPoll
from bot.heatmap.providers.sources import MapSource
from bot.logs import get_logger
from bot.retry import RateLimitedError

log = get_logger("liqbot.heatmaps")
STALE_KEY = "stale_after_s"


def fresh(snapshot: HeatmapSnapshot | None, close_ts: datetime) -> HeatmapSnapshot | None:
    """``snapshot`` unless its own ``stale_after_s`` says it is too old for a bar closing at ``close_ts``."""
    if snapshot is None:
        return None
    limit = snapshot.assumptions.get(STALE_KEY)
    if limit is not None and (close_ts - snapshot.ts).total_seconds() > float(limit):
        return None
    return snapshot


def latest_at(stamps: list[datetime], close_ts: datetime) -> int:
    """Index of the last stamp ``<= close_ts`` in ascending ``stamps`` (-1: none)."""
    return bisect.bisect_right(stamps, close_ts) - 1


@dataclass(slots=True)
class _Timeline:
    """One symbol's snapshots by stamp, the provider times seen, the closes seen (for pricing)."""

    stamps: list[datetime] = field(default_factory=list)
    snaps: list[HeatmapSnapshot] = field(default_factory=list)
    provider_ts: set[str] = field(default_factory=set)
    covered: datetime | None = None  # replay: history fetched up to here
    close_ts: list[datetime] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    priced: dict[int, HeatmapSnapshot] = field(default_factory=dict)

    def add(self, snap: HeatmapSnapshot) -> bool:
        key = str(snap.assumptions.get("provider_ts", snap.ts.isoformat()))
        if key in self.provider_ts or (self.stamps and snap.ts <= self.stamps[-1]):
            return False
        self.provider_ts.add(key)
        self.stamps.append(snap.ts)
        self.snaps.append(snap)
        return True

    def price_at(self, ts: datetime) -> float | None:
        i = latest_at(self.close_ts, ts)
        return self.closes[i] if i >= 0 else None

    def prune(self, keep_from: int) -> None:
        """Drop snapshots before index ``keep_from`` (bars only move forward)."""
        if keep_from > 64:
            del self.stamps[:keep_from], self.snaps[:keep_from]
            self.priced = {k - keep_from: v for k, v in self.priced.items() if k >= keep_from}


class ProviderHeatmaps:
    """The runner's heatmap provider for one remote source (see the module docstring)."""

    def __init__(self, source: MapSource, symbols: tuple[str, ...], *, live: bool, stale_after_intervals: int = 3,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0, retry_after_max_s: float = 300.0,
                 backfill: timedelta = timedelta(0), wall: Callable[[], datetime] | None = None) -> None:
        if not live and not source.has_history:
            raise ConfigError(f"--heatmap {source.kind.value}: the provider has no history endpoint, so a replay "
                              f"cannot ask it for past maps; record them with a live run (paper --feed live "
                              f"--heatmap {source.kind.value}) and replay that store (--heatmap store)")
        self.source = source
        self.symbols = tuple(symbols)
        self.live = live
        self.stale_after_intervals = stale_after_intervals
        self.stale_after_s = stale_after_intervals * source.cadence_s
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.retry_after_max_s = retry_after_max_s
        self.backfill = backfill
        self.wall = wall or (lambda: datetime.now().astimezone())  # replay: what the history endpoint has by now
        self.lines = {s: _Timeline() for s in self.symbols}
        self.next_poll: datetime | None = None
        self.failures = 0
        self.polls = 0
        self.faults: list[str] = []  # every fault seen, in order (the fault table reads it)
        self.notice: str | None = None
        self._stale: dict[str, bool] = dict.fromkeys(self.symbols, False)
        self._started = False

    # --- live polling -----------------------------------------------------------------------

    def poll(self, now: datetime) -> str | None:
        """Live: poll the source when due (every symbol, within the budget); the current notice."""
        now = utc(now)
        if self.next_poll is not None and now < self.next_poll:
            return self.notice
        errors: list[str] = []
        wait = self._aligned(now)
        if not self._started and self.source.has_history and self.backfill > timedelta(0):
            for symbol in self.symbols:
                self._guard(errors, symbol, now, lambda s=symbol: self._backfill(s, now))
        for symbol in self.symbols:
            budget_wait = self.source.budget.wait_s(self.source.weight, now)
            if budget_wait > 0:
                errors.append(f"{self.source.kind.value}: request budget spent, next request in {budget_wait:.0f} s")
                wait = max(wait, budget_wait)
                continue
            self.source.budget.try_spend(self.source.weight, now)
            self._guard(errors, symbol, now, lambda s=symbol: self._receive(s, now))
        self._started = True
        self.polls += 1
        if errors:  # back off, doubling per failed poll, and never before the budget allows
            self.failures += 1
            wait = max(min(self.backoff_max_s, self.backoff_initial_s * 2 ** (self.failures - 1)),
                       self.source.budget.wait_s(self.source.weight, now))
        else:
            self.failures = 0
        self.next_poll = now + timedelta(seconds=max(wait, 0.001))
        self._set_notice("; ".join(errors) or None)
        return self.notice

    def _aligned(self, now: datetime) -> float:
        """Seconds to the next cadence boundary (+1 s: the provider has published by then)."""
        cadence = self.source.cadence_s
        return cadence - (now.timestamp() % cadence) + 1.0

    def _guard(self, errors: list[str], symbol: str, now: datetime, fn: Any) -> None:
        try:
            fn()
        except RateLimitedError as exc:
            after = min(exc.retry_after if exc.retry_after is not None else self.backoff_initial_s,
                        self.retry_after_max_s)
            self.source.budget.defer(now + timedelta(seconds=after))
            self._fault(errors, symbol, "rate limited", exc)
        except RetryableError as exc:
            self._fault(errors, symbol, "unavailable", exc)
        except DataError as exc:
            self._fault(errors, symbol, "malformed reply", exc)
        except FatalError as exc:  # a rejected key: the user must act; the loop carries on without maps
            self._fault(errors, symbol, "refused", exc)

    def _fault(self, errors: list[str], symbol: str, kind: str, exc: LiqbotError) -> None:
        text = f"{self.source.kind.value} {symbol}: {kind}: {' '.join(str(exc).split())[:160]}"
        errors.append(text)
        self.faults.append(kind)

    def _receive(self, symbol: str, now: datetime) -> None:
        snap = self.source.fetch_latest(symbol, now)
        if snap is None:
            return
        self.lines[symbol].add(replace(snap, ts=now, assumptions={**snap.assumptions, "received": iso(now),
                                                                   STALE_KEY: self._limit(snap)}))

    def _backfill(self, symbol: str, now: datetime) -> None:
        for snap in self.source.fetch_history(symbol, now - self.backfill, now, now):
            self.lines[symbol].add(self._stamp(snap))

    def _stamp(self, snap: HeatmapSnapshot) -> HeatmapSnapshot:
        return replace(snap, assumptions={**snap.assumptions, STALE_KEY: self._limit(snap)})

    def _limit(self, snap: HeatmapSnapshot) -> float:
        """Stale after N cadences, or N of the provider's own publishing intervals when those are longer
        (a CoinGlass column spans 15 min of a 12h grid however often it is polled)."""
        return self.stale_after_intervals * max(self.source.cadence_s, float(snap.assumptions.get("interval_s", 0)))

    # --- replay -----------------------------------------------------------------------------

    def _cover(self, symbol: str, close_ts: datetime) -> None:
        line = self.lines[symbol]
        if line.covered is not None and close_ts <= line.covered:
            return
        start = line.covered or close_ts - timedelta(seconds=self.stale_after_s + self.source.cadence_s)
        end = close_ts + self.source.history_chunk
        now = utc(self.wall())
        try:
            snaps = self.source.fetch_history(symbol, start, min(end, now), now)
        except (RetryableError, DataError) as exc:
            raise FatalError(f"{self.source.kind.value} history for {symbol} at {iso(close_ts)}: {exc}; "
                             f"the run stopped before this bar: run the same command again to resume") from None
        for snap in snaps:
            line.add(self._stamp(snap))
        line.covered = max(end, close_ts) if end <= now else now

    # --- the runner's HeatmapProvider -------------------------------------------------------

    def snapshot(self, bar: Bar) -> HeatmapSnapshot | None:
        """The latest snapshot stamped at or before ``bar.close_ts``, priced; ``None`` when none or stale."""
        line = self.lines[bar.symbol]
        line.close_ts.append(bar.close_ts)
        line.closes.append(bar.close)
        if len(line.close_ts) > 4096:
            del line.close_ts[:2048], line.closes[:2048]
        if not self.live:
            self._cover(bar.symbol, bar.close_ts)
        i = latest_at(line.stamps, bar.close_ts)
        if i < 0:
            return None
        snap = line.priced.get(i)
        if snap is None:
            raw = line.snaps[i]
            snap = self.source.priced(raw, line.price_at(raw.ts))
            if snap is None:
                return None
            line.priced[i] = snap
        line.prune(i)
        usable = fresh(snap, bar.close_ts)
        self._stale_notice(bar.symbol, usable is None, snap, bar.close_ts)
        return usable

    def _stale_notice(self, symbol: str, stale: bool, snap: HeatmapSnapshot, close_ts: datetime) -> None:
        if stale != self._stale[symbol]:
            if stale:
                log.warning("heatmap.stale", source=self.source.kind.value, symbol=symbol, last=iso(snap.ts),
                            bar=iso(close_ts), after_s=snap.assumptions.get(STALE_KEY))
            else:
                log.info("heatmap.fresh", source=self.source.kind.value, symbol=symbol, at=iso(snap.ts))
            self._stale[symbol] = stale

    def stale_symbols(self) -> list[str]:
        """Symbols whose last bar got no map because it was stale (entries paused)."""
        return [s for s, v in self._stale.items() if v]

    def _set_notice(self, notice: str | None) -> None:
        if notice != self.notice:
            if notice:
                log.warning("heatmap.fault", source=self.source.kind.value, notice=notice)
            elif self.notice:
                log.info("heatmap.recovered", source=self.source.kind.value)
        self.notice = notice

    def keys(self) -> list[str]:
        """No binary state: after a restart the provider is asked again."""
        return []

    def state(self) -> dict[str, bytes]:
        """Nothing to save."""
        return {}

    def restore(self, blobs: dict[str, bytes | None]) -> None:
        """Nothing to load."""


class MapPollingFeed:
    """A live feed that also polls the heatmap provider between bars (the runner polls feeds only)."""

    def __init__(self, inner: Feed, heatmaps: ProviderHeatmaps) -> None:
        self.inner = inner
        self.heatmaps = heatmaps
        self.symbols = inner.symbols
        self.timeframe = inner.timeframe

    def __getattr__(self, name: str) -> Any:  # the live feed's exchange, prices ...
        return getattr(self.inner, name)

    def seek(self, after: datetime | None) -> None:
        """Position the inner feed."""
        self.inner.seek(after)

    def poll(self, now: datetime) -> FeedPoll:
        """The inner feed's bars; the provider polled when due; the earlier of both waits."""
        got = self.inner.poll(now)
        notice = self.heatmaps.poll(now)
        stale = self.heatmaps.stale_symbols()
        parts = [p for p in (got.notice, notice, f"{', '.join(stale)}: heatmap stale, entries paused"
                             if stale else None) if p]
        wait = got.wait_s
        if self.heatmaps.next_poll is not None:
            wait = min(wait, max(0.0, (self.heatmaps.next_poll - utc(now)).total_seconds()))
        return FeedPoll(batches=got.batches, done=got.done, wait_s=wait, notice="; ".join(parts) or None,
                        prices=got.prices)


class SnapshotRecorder:
    """The snapshot store, writing each (symbol, time) once per batch (a map serves several bars)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def write(self, snapshots: Iterable[HeatmapSnapshot]) -> int:
        """Store the distinct snapshots of ``snapshots`` (the last of each (symbol, ts))."""
        unique: dict[tuple[str, datetime], HeatmapSnapshot] = {}
        for snap in snapshots:
            unique[(snap.symbol, snap.ts)] = snap
        return self.store.write(unique.values()) if unique else 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

