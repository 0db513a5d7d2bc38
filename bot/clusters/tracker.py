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
   log-bin, birth ts).
4. Broken clusters are returned (inactive) until ``broken_retention_s`` after ``broken_at``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from bot.clusters.grouping import SIDES, ClusterArrays, group_levels
from bot.clusters.strength import StrengthReference
from bot.clusters.tiers import DistanceTable, TierInfo, tiers_from_assumptions
from bot.domain import Cluster, HeatmapSnapshot, Side, utc
from bot.errors import DataError

if TYPE_CHECKING:
    from config.settings import ClusterSettings

STATE_VERSION = 1
_SIDE_CODE = {Side.LONG: 0, Side.SHORT: 1}


class ClusterTracker:
    """Turns a time-ordered stream of snapshots of one symbol into tracked clusters."""

    def __init__(self, settings: "ClusterSettings", symbol: str) -> None:
        self.settings = settings
        self.symbol = symbol
        self._active: list[Cluster] = []
        self._broken: list[Cluster] = []
        self._last_ts: datetime | None = None
        self._last_price: float | None = None
        self._strength = StrengthReference(settings.strength_window, settings.strength_quantile)
        self._tiers: tuple[Any, int, tuple[TierInfo | None, DistanceTable]] | None = None

    def update(self, snapshot: HeatmapSnapshot, bar_high: float | None = None,
               bar_low: float | None = None) -> list[Cluster]:
        """Feed the next snapshot; return its active clusters plus retained broken ones, by price.

        ``bar_high``/``bar_low``: the range traded in the bar that ended at ``snapshot.ts`` when
        known; without them breaks are inferred from the snapshot price crossing a level.
        """
        ts, price = snapshot.ts, float(snapshot.price)
        self._check(snapshot, bar_high, bar_low)
        survivors = self._apply_breaks(ts, price, bar_high, bar_low)
        arrays = self.group(snapshot)
        strength = self._strength.strengths(arrays.usd)
        self._strength.push(arrays.usd)
        partner = match_clusters(
            np.array([_SIDE_CODE[c.side] for c in survivors], np.int8),
            np.array([c.price_level for c in survivors]), arrays.side, arrays.price_level,
            math.log1p(self.settings.match_pct / 100.0))
        self._active = self._build(arrays, strength, partner, survivors, ts)
        self._last_ts, self._last_price = ts, price
        return sorted([*self._active, *self._broken], key=lambda c: (c.price_level, c.side.value, c.cluster_id))

    def group(self, snapshot: HeatmapSnapshot) -> ClusterArrays:
        """The snapshot's clusters as arrays (no state change): tier data from its assumptions."""
        cached = self._tiers
        if cached is not None and cached[0] is snapshot.assumptions and cached[1] == len(snapshot):
            info, distances = cached[2]
        else:  # snapshots of one source share one assumptions object: parse it once
            info, distances = tiers_from_assumptions(snapshot.assumptions, len(snapshot), self.settings.implied_tiers,
                                                     self.settings.implied_mmr)
            self._tiers = (snapshot.assumptions, len(snapshot), (info, distances))
        return group_levels(snapshot.prices, snapshot.long_usd, snapshot.short_usd, snapshot.price,
                            self.settings, tier_info=info, distances=distances)

    def _check(self, snapshot: HeatmapSnapshot, bar_high: float | None, bar_low: float | None) -> None:
        if snapshot.symbol != self.symbol:
            raise DataError(f"tracker is for {self.symbol}, got {snapshot.symbol}", field="symbol")
        if self._last_ts is not None and snapshot.ts < self._last_ts:
            raise DataError(f"snapshots must come in time order: {snapshot.ts.isoformat()} after "
                            f"{self._last_ts.isoformat()}", field="ts")
        for name, value in (("bar_high", bar_high), ("bar_low", bar_low)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise DataError(f"must be a finite positive number, got {value!r}", field=name)
        if bar_high is not None and bar_low is not None and bar_high < bar_low:
            raise DataError(f"bar_high {bar_high!r} is below bar_low {bar_low!r}", field="bar_high")

    def _apply_breaks(self, ts: datetime, price: float, bar_high: float | None,
                      bar_low: float | None) -> list[Cluster]:
        """Break the previous active clusters the bar crossed; expire old broken ones; return the rest."""
        prev = self._last_price if self._last_price is not None else price
        low = bar_low if bar_low is not None else min(prev, price)
        high = bar_high if bar_high is not None else max(prev, price)
        survivors, broken = [], []
        for c in self._active:
            crossed = low <= c.price_level if c.side is Side.LONG else high >= c.price_level
            (broken if crossed else survivors).append(c)
        keep_s = self.settings.broken_retention_s
        retained = [c for c in self._broken if c.broken_at is not None and (ts - c.broken_at).total_seconds() <= keep_s]
        newly = [replace(c, active=False, broken_at=ts, last_updated=ts) for c in broken]
        self._broken = [replace(c, distance_from_price=abs(c.price_level / price - 1.0) * 100.0)
                        for c in [*retained, *newly]]
        return survivors

    def _build(self, arrays: ClusterArrays, strength: np.ndarray, partner: np.ndarray, survivors: list[Cluster],
               ts: datetime) -> list[Cluster]:
        """Cluster objects of this snapshot: inherited id and first_seen, or a new id."""
        taken = {c.cluster_id for c in (*self._broken, *survivors)}
        out = []
        rows = zip(arrays.side.tolist(), arrays.price_level.tolist(), arrays.usd.tolist(), strength.tolist(),
                   arrays.leverage_tier.tolist(), arrays.distance_pct.tolist(), arrays.price_low.tolist(),
                   arrays.price_high.tolist(), partner.tolist())
        for code, level, usd, strong, tier, dist, low, high, j in rows:
            side = SIDES[code]
            if j < 0:
                cid = self._new_id(side, level, ts, taken)
                first_seen = last_updated = ts
                peak_usd = peak_strength = 0.0
                taken.add(cid)
            else:
                old = survivors[j]
                cid, first_seen = old.cluster_id, old.first_seen
                peak_usd, peak_strength = old.peak_open_interest, old.peak_strength
                same = math.isclose(usd, old.open_interest, rel_tol=1e-9) and math.isclose(level, old.price_level,
                                                                                           rel_tol=1e-12)
                last_updated = old.last_updated if same else ts
            out.append(Cluster(cluster_id=cid, price_level=level, side=side, leverage_tier=tier, open_interest=usd,
                               liquidation_count=int(round(usd / self.settings.typical_position_usd)),
                               strength=strong, distance_from_price=dist, active=True, first_seen=first_seen,
                               last_seen=ts, last_updated=last_updated, price_low=low, price_high=high,
                               peak_open_interest=peak_usd, peak_strength=peak_strength))
        return out

    def _new_id(self, side: Side, level: float, ts: datetime, taken: set[str]) -> str:
        log_bin = math.floor(math.log(level) / math.log1p(self.settings.bin_pct / 100.0))
        base = f"{self.symbol}|{side.value}|{log_bin}|{ts.isoformat()}"
        salt = 0
        while True:
            text = base if salt == 0 else f"{base}|{salt}"
            cid = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
            if cid not in taken:
                return cid
            salt += 1

    def state(self) -> dict[str, Any]:
        """JSON-serializable state; ``from_state`` resumes exactly where this tracker is."""
        return {"version": STATE_VERSION, "symbol": self.symbol,
                "last_ts": self._last_ts.isoformat() if self._last_ts else None,
                "last_price": self._last_price,
                "active": [_cluster_state(c) for c in self._active],
                "broken": [_cluster_state(c) for c in self._broken],
                "strength": self._strength.state()}

    @classmethod
    def from_state(cls, settings: "ClusterSettings", symbol: str, state: dict[str, Any]) -> "ClusterTracker":
        """Rebuild a tracker from ``state()``; a state of another symbol or version is a DataError."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise DataError(f"unsupported tracker state version {state.get('version') if isinstance(state, dict) else state!r}",
                            field="version")
        if state.get("symbol") != symbol:
            raise DataError(f"state is for {state.get('symbol')!r}, not {symbol!r}", field="symbol")
        tracker = cls(settings, symbol)
        try:
            tracker._last_ts = utc(datetime.fromisoformat(state["last_ts"])) if state["last_ts"] else None
            tracker._last_price = state["last_price"]
            tracker._active = [_cluster_from_state(d) for d in state["active"]]
            tracker._broken = [_cluster_from_state(d) for d in state["broken"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed tracker state: {exc}", field="state") from None
        tracker._strength = StrengthReference.from_state(settings.strength_window, settings.strength_quantile,
                                                         state.get("strength", {}))
        return tracker


def match_clusters(old_side: np.ndarray, old_level: np.ndarray, new_side: np.ndarray, new_level: np.ndarray,
                   max_log: float) -> np.ndarray:
    """For each new cluster, the index of its predecessor among the old ones, or -1.

    One-to-one, same side only, |log price ratio| <= ``max_log``; among admissible pairs the
    assignment maximises the number of matches, then minimises the sum of squared log ratios.
    """
    out = np.full(new_level.size, -1, np.intp)
    if old_level.size == 0 or new_level.size == 0:
        return out
    diff = np.log(new_level)[:, None] - np.log(old_level)[None, :]
    ok = (new_side[:, None] == old_side[None, :]) & (np.abs(diff) <= max_log)
    if not ok.any():
        return out
    # an inadmissible pair costs more than any admissible one, so it is only taken as a filler
    cost = np.where(ok, diff * diff, 4.0 * max_log * max_log)
    rows, cols = linear_sum_assignment(cost)
    good = ok[rows, cols]
    out[rows[good]] = cols[good]
    return out


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
