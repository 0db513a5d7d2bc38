"""Cluster state over time: stable ids, first/last seen, strength, broken clusters.

One tracker per symbol; feed it snapshots in time order. Per update:

1. **Breaks.** The previous update's active clusters that the bar traded through are broken
   (``active=False``, ``broken_at`` = this snapshot's ts): a long cluster when the bar's low <=
   its ``price_level``, a short cluster when the bar's high >= its ``price_level``. The trigger
   is the USD-weighted level, not the near edge: price has to trade *through* the bulk of the
   cluster ("trades through it", DESIGN section 3), touching its first level is not enough.
   Without ``bar_high``/``bar_low`` the range is inferred from the previous and the current
   snapshot price. Only clusters that existed before the bar can break: a bar never breaks
   what the current snapshot shows (the synthetic model already removed what the bar consumed).
2. **Grouping** of the new snapshot's levels (``group_levels``).
3. **Ids.** New clusters inherit the id (and ``first_seen``) of the previous *active* clusters
   of the same side by a one-to-one assignment minimising the sum of squared log-price
   differences, among pairs within ``match_pct``. A strictly convex cost makes a uniform shift
   of the whole map send every cluster to its own successor (a greedy nearest-first match
   swaps neighbours when the shift exceeds half their spacing). Broken clusters never
   re-match; a cluster with no partner gets a new id: a short hash of (symbol, side, birth
   log-bin, birth ts, salt) (``make_cluster_id``).
4. Broken clusters are returned (inactive) until ``broken_retention_s`` after ``broken_at``.

All of it runs in one numba call (``kernel_track.track_update``) over the tracker's state arrays;
this class validates input, turns rows into ``Cluster`` objects and keeps the key -> id map.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bot.clusters.grouping import SIDES, ClusterArrays, group_levels, level_arrays, tier_arrays
from bot.clusters.kernel import (F_DIST, F_HIGH, F_LEVEL, F_LOW, F_PEAK_STRENGTH, F_PEAK_USD, F_STRENGTH, F_TIER,
                                 F_USD, I_ACTIVE, I_BROKEN_AT, I_FIRST_SEEN, I_KEY, I_LAST_SEEN, I_LAST_UPDATED,
                                 I_LOG_BIN, I_SALT, I_SIDE, LOG_BIN_UNKNOWN, M_HAS_LAST, M_LAST_TS, M_N, M_NEXT_KEY,
                                 M_RING_N, M_RING_POS, MF_LAST_PRICE, TrackerState, kernel_params, match_kernel,
                                 new_state, ring_push)
from bot.clusters.kernel_track import track_update
from bot.clusters.strength import ring_sizes
from bot.clusters.tiers import tiers_from_assumptions
from bot.domain import Cluster, HeatmapSnapshot, Side, canonical_key, utc
from bot.errors import DataError

if TYPE_CHECKING:
    from config.settings import ClusterSettings

STATE_VERSION = 1
_SIDE_CODE = {Side.LONG: 0, Side.SHORT: 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_NAN = float("nan")


def to_ns(ts: datetime) -> int:
    """An aware datetime as int64 ns since the epoch (datetimes hold microseconds: exact)."""
    return (utc(ts) - _EPOCH) // _US * 1000


def from_ns(ns: int) -> datetime:
    """Inverse of ``to_ns`` (aware UTC, truncated to microseconds)."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def cluster_of(f: Sequence[float], i: Sequence[int], cluster_id: str, time_of: Callable[[int], datetime],
               typical_usd: float) -> Cluster:
    """The ``Cluster`` of one state row (``cf`` values ``f``, ``ci`` values ``i``; times via ``time_of``)."""
    usd = float(f[F_USD])
    broken = int(i[I_BROKEN_AT])
    return Cluster(
        cluster_id=cluster_id, price_level=float(f[F_LEVEL]), side=SIDES[int(i[I_SIDE])],
        leverage_tier=float(f[F_TIER]),
        open_interest=usd, liquidation_count=int(round(usd / typical_usd)), strength=float(f[F_STRENGTH]),
        distance_from_price=float(f[F_DIST]), active=int(i[I_ACTIVE]) == 1, first_seen=time_of(int(i[I_FIRST_SEEN])),
        last_seen=time_of(int(i[I_LAST_SEEN])), last_updated=time_of(int(i[I_LAST_UPDATED])),
        price_low=float(f[F_LOW]), price_high=float(f[F_HIGH]), broken_at=time_of(broken) if broken >= 0 else None,
        peak_open_interest=float(f[F_PEAK_USD]), peak_strength=float(f[F_PEAK_STRENGTH]))


def make_cluster_id(symbol: str, side_code: int, log_bin: int, birth_ns: int, salt: int) -> str:
    """The id of a cluster born at ``birth_ns`` in log-bin ``log_bin``: 12 hex digits of blake2b."""
    base = f"{symbol}|{SIDES[int(side_code)].value}|{int(log_bin)}|{from_ns(birth_ns).isoformat()}"
    text = base if salt == 0 else f"{base}|{int(salt)}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


class ClusterTracker:
    """Turns a time-ordered stream of snapshots of one symbol into tracked clusters."""

    def __init__(self, settings: "ClusterSettings", symbol: str) -> None:
        self.settings = settings
        self.symbol = symbol
        self._params = kernel_params(settings)
        self._state = new_state(settings)
        self._ids: dict[int, str] = {}
        self._times: dict[int, datetime] = {}
        self._tiers: tuple[Any, int, tuple[np.ndarray, ...]] | None = None

    @property
    def kernel_state(self) -> TrackerState:
        """The state arrays ``track_update`` advances (layout in ``bot.clusters.kernel``)."""
        return self._state

    @property
    def params(self) -> np.ndarray:
        """The kernel parameter array of this tracker's settings (``kernel_params``)."""
        return self._params

    def load_kernel_state(self, state: TrackerState) -> None:
        """Adopt arrays advanced elsewhere (e.g. by a fused loop that started from ``kernel_state``)."""
        self._state = TrackerState(*state)

    def update(self, snapshot: HeatmapSnapshot, bar_high: float | None = None,
               bar_low: float | None = None) -> list[Cluster]:
        """Feed the next snapshot; return its active clusters plus retained broken ones, by price.

        ``bar_high``/``bar_low``: the range traded in the bar that ended at ``snapshot.ts`` when
        known; without them breaks are inferred from the snapshot price crossing a level.
        """
        self.advance(snapshot, bar_high, bar_low)
        return self.clusters()

    def advance(self, snapshot: HeatmapSnapshot, bar_high: float | None = None,
                bar_low: float | None = None) -> None:
        """:meth:`update` without building the cluster objects (read them with :meth:`clusters` or :meth:`rows`)."""
        ts_ns = to_ns(snapshot.ts)
        self._check(snapshot, ts_ns, bar_high, bar_low)
        prices, long_usd, short_usd = level_arrays(snapshot.prices, snapshot.long_usd, snapshot.short_usd,
                                                   snapshot.price)
        cf, ci, meta, meta_f, ring = self._state
        _, cf, ci = track_update(cf, ci, meta, meta_f, ring, self._params, prices, long_usd, short_usd,
                                 float(snapshot.price), ts_ns, _NAN if bar_high is None else float(bar_high),
                                 _NAN if bar_low is None else float(bar_low), *self._tier_arrays(snapshot))
        self._state = TrackerState(cf, ci, meta, meta_f, ring)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The held clusters' state rows ``(cf, ci)`` (layout in ``bot.clusters.kernel``), unordered views."""
        n = int(self._state.meta[M_N])
        return self._state.cf[:n], self._state.ci[:n]

    def clusters(self) -> list[Cluster]:
        """The clusters the state holds (active and retained broken), by (price level, side, id)."""
        cf, ci, meta = self._state.cf, self._state.ci, self._state.meta
        n = int(meta[M_N])
        rows_f, rows_i = cf[:n], ci[:n]
        typical = self.settings.typical_position_usd
        out = [cluster_of(f, i, self.cluster_id(i[I_KEY]), self._time, typical)
               for f, i in zip(rows_f.tolist(), rows_i.tolist())]
        level, side = rows_f[:, F_LEVEL], rows_i[:, I_SIDE]
        if n > 1 and np.any((level[1:] == level[:-1]) & (side[1:] == side[:-1])):
            out.sort(key=canonical_key)  # ties at one price and side: by birth, then id
        if len(self._ids) > 2 * n + 256:
            self._ids = {k: self._ids[k] for k in rows_i[:, I_KEY].tolist() if k in self._ids}
        return out

    def cluster_id(self, key: int) -> str:
        """The string id of the held cluster with int64 ``key`` (KeyError if the state holds none)."""
        cid = self._ids.get(key)
        if cid is None:
            ci = self._state.ci[: int(self._state.meta[M_N])]
            row = ci[np.flatnonzero(ci[:, I_KEY] == key)[0]]
            cid = make_cluster_id(self.symbol, row[I_SIDE], row[I_LOG_BIN], row[I_FIRST_SEEN], row[I_SALT])
            self._ids[key] = cid
        return cid

    def _time(self, ns: int) -> datetime:
        ts = self._times.get(ns)
        if ts is None:
            if len(self._times) > 4096:
                self._times.clear()
            ts = self._times[ns] = from_ns(ns)
        return ts

    def group(self, snapshot: HeatmapSnapshot) -> ClusterArrays:
        """The snapshot's clusters as arrays (no state change): tier data from its assumptions."""
        info, distances = tiers_from_assumptions(snapshot.assumptions, len(snapshot), self.settings.implied_tiers,
                                                 self.settings.implied_mmr)
        return group_levels(snapshot.prices, snapshot.long_usd, snapshot.short_usd, snapshot.price,
                            self.settings, tier_info=info, distances=distances)

    def _tier_arrays(self, snapshot: HeatmapSnapshot) -> tuple[np.ndarray, ...]:
        cached = self._tiers
        # snapshots of one source share one assumptions object (or have none): parse it once
        source = snapshot.assumptions if snapshot.assumptions else None
        if cached is not None and cached[0] is source and (source is None or cached[1] == len(snapshot)):
            return cached[2]
        info, distances = tiers_from_assumptions(snapshot.assumptions, len(snapshot), self.settings.implied_tiers,
                                                 self.settings.implied_mmr)
        arrays = tier_arrays(info, distances)
        self._tiers = (source, len(snapshot), arrays)
        return arrays

    def _check(self, snapshot: HeatmapSnapshot, ts_ns: int, bar_high: float | None, bar_low: float | None) -> None:
        if snapshot.symbol != self.symbol:
            raise DataError(f"tracker is for {self.symbol}, got {snapshot.symbol}", field="symbol")
        meta = self._state.meta
        if meta[M_HAS_LAST] and ts_ns < meta[M_LAST_TS]:
            raise DataError(f"snapshots must come in time order: {snapshot.ts.isoformat()} after "
                            f"{from_ns(meta[M_LAST_TS]).isoformat()}", field="ts")
        for name, value in (("bar_high", bar_high), ("bar_low", bar_low)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise DataError(f"must be a finite positive number, got {value!r}", field=name)
        if bar_high is not None and bar_low is not None and bar_high < bar_low:
            raise DataError(f"bar_high {bar_high!r} is below bar_low {bar_low!r}", field="bar_high")

    def state(self) -> dict[str, Any]:
        """JSON-serializable state; ``from_state`` resumes exactly where this tracker is."""
        meta = self._state.meta
        held = [_cluster_state(c) for c in self.clusters()]
        return {"version": STATE_VERSION, "symbol": self.symbol,
                "last_ts": from_ns(meta[M_LAST_TS]).isoformat() if meta[M_HAS_LAST] else None,
                "last_price": float(self._state.meta_f[MF_LAST_PRICE]) if meta[M_HAS_LAST] else None,
                "active": [d for d in held if d["active"]],
                "broken": [d for d in held if not d["active"]],
                "strength": {"sizes": ring_sizes(self._state.ring, int(meta[M_RING_N]),
                                                 int(meta[M_RING_POS])).tolist()}}

    @classmethod
    def from_state(cls, settings: "ClusterSettings", symbol: str, state: dict[str, Any]) -> "ClusterTracker":
        """Rebuild a tracker from ``state()``; a state of another symbol or version is a DataError.

        Keys are assigned afresh; the birth log-bin of a restored cluster is unknown
        (``LOG_BIN_UNKNOWN``), which only matters for the salt of an id born at the very same ts.
        """
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            found = state.get("version") if isinstance(state, dict) else state
            raise DataError(f"unsupported tracker state version {found!r}", field="version")
        if state.get("symbol") != symbol:
            raise DataError(f"state is for {state.get('symbol')!r}, not {symbol!r}", field="symbol")
        tracker = cls(settings, symbol)
        try:
            last_ts = utc(datetime.fromisoformat(state["last_ts"])) if state["last_ts"] else None
            last_price = state["last_price"]
            held = [_cluster_from_state(d) for d in [*state["active"], *state["broken"]]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed tracker state: {exc}", field="state") from None
        tracker._restore(held, last_ts, last_price, state.get("strength", {}).get("sizes", ()))
        return tracker

    def _restore(self, held: list[Cluster], last_ts: datetime | None, last_price: float | None,
                 sizes: Any) -> None:
        cf, ci, meta, meta_f, ring = new_state(self.settings, max(256, len(held)))
        held = sorted(held, key=canonical_key)
        for key, c in enumerate(held):
            self._ids[key] = c.cluster_id
            cf[key, [F_LEVEL, F_USD, F_LOW, F_HIGH, F_STRENGTH, F_TIER, F_DIST, F_PEAK_USD, F_PEAK_STRENGTH]] = (
                c.price_level, c.open_interest, c.price_low, c.price_high, c.strength, c.leverage_tier,
                c.distance_from_price, c.peak_open_interest, c.peak_strength)
            ci[key, [I_KEY, I_SIDE, I_ACTIVE, I_FIRST_SEEN, I_LAST_SEEN, I_LAST_UPDATED, I_BROKEN_AT, I_LOG_BIN,
                     I_SALT]] = (key, _SIDE_CODE[c.side], int(c.active), to_ns(c.first_seen), to_ns(c.last_seen),
                                 to_ns(c.last_updated), to_ns(c.broken_at) if c.broken_at else -1, LOG_BIN_UNKNOWN, 0)
        meta[M_N] = meta[M_NEXT_KEY] = len(held)
        if last_ts is not None:
            meta[M_LAST_TS], meta[M_HAS_LAST] = to_ns(last_ts), 1
            meta_f[MF_LAST_PRICE] = float(last_price if last_price is not None else _NAN)
        sizes = np.asarray(sizes, dtype=np.float64).ravel()
        if sizes.size:
            meta[M_RING_N], meta[M_RING_POS] = ring_push(ring, 0, 0, sizes)
        self._state = TrackerState(cf, ci, meta, meta_f, ring)


def match_clusters(old_side: np.ndarray, old_level: np.ndarray, new_side: np.ndarray, new_level: np.ndarray,
                   max_log: float) -> np.ndarray:
    """For each new cluster, the index of its predecessor among the old ones, or -1.

    One-to-one, same side only, |log price ratio| <= ``max_log``; among admissible pairs the
    matching maximises the sum of ``4 max_log^2 - d^2`` (``kernel.match_kernel``).
    """
    f64, i64 = np.float64, np.int64
    return match_kernel(np.ascontiguousarray(old_side, i64), np.ascontiguousarray(old_level, f64),
                        np.ascontiguousarray(new_side, i64), np.ascontiguousarray(new_level, f64),
                        float(max_log)).astype(np.intp)


_TS_FIELDS = ("first_seen", "last_seen", "last_updated", "broken_at")


def _cluster_state(c: Cluster) -> dict[str, Any]:
    """Full-precision dict (``Cluster.to_dict`` rounds timestamps to milliseconds)."""
    d = c.to_dict()
    for name in _TS_FIELDS:
        value = getattr(c, name)
        d[name] = value.isoformat() if value is not None else None
    return d


def _cluster_from_state(d: dict[str, Any]) -> Cluster:
    fields = dict(d)
    for name in _TS_FIELDS:
        fields[name] = utc(datetime.fromisoformat(fields[name])) if fields.get(name) else None
    fields["side"] = Side(fields["side"])
    return Cluster(**fields)
