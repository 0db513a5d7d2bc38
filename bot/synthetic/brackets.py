"""Maintenance-margin bracket tables per venue, as data, plus the ccxt leverage-tier converter.

A bracket holds notionals in ``[floor, cap)`` with maintenance margin rate ``mmr`` and
maintenance amount ``cum`` (Binance's name). ``cum`` is what keeps the maintenance margin
``N * mmr - cum`` continuous across brackets: ``cum_i = cum_{i-1} + floor_i * (mmr_i - mmr_{i-1})``.

Real brackets change: the tables here are defaults. The live bot refreshes them with
``from_ccxt_tiers(exchange.fetch_market_leverage_tiers(symbol))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Mapping

import numpy as np

from bot.errors import DataError


class Venue(StrEnum):
    """Venues whose liquidation rule the model knows."""

    BINANCE = "binance"          # USDT-M, isolated, one-way: tiered mmr and cum
    HYPERLIQUID = "hyperliquid"  # mmr = 1 / (2 * max leverage), cum = 0


@dataclass(frozen=True, slots=True, eq=False)
class BracketTable:
    """Ascending, contiguous notional brackets; arrays are read-only float64."""

    name: str
    floor: np.ndarray
    cap: np.ndarray
    mmr: np.ndarray
    cum: np.ndarray
    max_leverage: np.ndarray

    def __post_init__(self) -> None:
        for attr in ("floor", "cap", "mmr", "cum", "max_leverage"):
            arr = np.array(getattr(self, attr), dtype=np.float64)
            arr.flags.writeable = False
            object.__setattr__(self, attr, arr)
        _check_table(self)

    def __len__(self) -> int:
        return int(self.floor.size)

    def index(self, notional: np.ndarray | float) -> np.ndarray:
        """Bracket index holding each notional (notionals past the last cap use the last bracket)."""
        idx = np.searchsorted(self.floor, np.asarray(notional, dtype=np.float64), side="right") - 1
        return np.clip(idx, 0, len(self) - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for a snapshot's assumptions)."""
        return {"name": self.name, "brackets": [
            {"floor": float(f), "cap": float(c), "mmr": float(m), "cum": float(u), "max_leverage": float(x)}
            for f, c, m, u, x in zip(self.floor, self.cap, self.mmr, self.cum, self.max_leverage)]}


def _check_table(t: BracketTable) -> None:
    n = t.floor.size
    if n == 0:
        raise DataError("bracket table is empty", field="brackets")
    if not (t.cap.size == t.mmr.size == t.cum.size == t.max_leverage.size == n):
        raise DataError("bracket arrays differ in length", field="brackets")
    bad = np.flatnonzero(np.diff(t.mmr) < 0)
    if bad.size:
        raise DataError("maintenance rates must not fall as notional grows", field="mmr", position=int(bad[0]) + 1)
    for name in ("floor", "mmr", "cum", "max_leverage"):
        arr = getattr(t, name)
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            raise DataError(f"must be finite and >= 0, got {arr[bad[0]]!r}", field=name, position=int(bad[0]))
    bad = np.flatnonzero(~(t.mmr < 1))
    if bad.size:
        raise DataError(f"maintenance rate must be < 1, got {t.mmr[bad[0]]!r}", field="mmr", position=int(bad[0]))
    bad = np.flatnonzero(~(t.cap > t.floor))
    if bad.size:
        raise DataError("cap must exceed floor", field="cap", position=int(bad[0]))
    if n > 1:
        bad = np.flatnonzero(t.floor[1:] != t.cap[:-1])
        if bad.size:
            raise DataError("brackets must be contiguous (floor == previous cap)", field="floor",
                            position=int(bad[0]) + 1)


def rebuild_cum(floor: np.ndarray, mmr: np.ndarray) -> np.ndarray:
    """Maintenance amounts from floors and rates: ``cum_i = cum_{i-1} + floor_i * (mmr_i - mmr_{i-1})``."""
    floor = np.asarray(floor, dtype=np.float64)
    mmr = np.asarray(mmr, dtype=np.float64)
    steps = floor[1:] * np.diff(mmr)
    return np.concatenate(([0.0], np.cumsum(steps)))


def table(name: str, rows: Iterable[tuple[float, float, float, float]]) -> BracketTable:
    """Build a table from ``(floor, cap, mmr, max_leverage)`` rows; ``cum`` is rebuilt."""
    arr = np.array(list(rows), dtype=np.float64).reshape(-1, 4)
    return BracketTable(name=name, floor=arr[:, 0], cap=arr[:, 1], mmr=arr[:, 2],
                        cum=rebuild_cum(arr[:, 0], arr[:, 2]), max_leverage=arr[:, 3])


# Binance BTCUSDT historical brackets (research note section 3): the first five rows are the
# note's table (0.4 %/0, 0.5 %/50, 1 %/1 300, 2.5 %/16 300, 5 %/266 300); the tail follows
# Binance's published shape for BTCUSDT and only matters for positions above $20M.
BINANCE_BTCUSDT = table("binance:BTCUSDT", [
    (0, 50_000, 0.004, 125), (50_000, 250_000, 0.005, 100), (250_000, 1_000_000, 0.01, 50),
    (1_000_000, 10_000_000, 0.025, 20), (10_000_000, 20_000_000, 0.05, 10),
    (20_000_000, 50_000_000, 0.10, 5), (50_000_000, 100_000_000, 0.125, 4),
    (100_000_000, 200_000_000, 0.15, 3), (200_000_000, 300_000_000, 0.25, 2),
    (300_000_000, 500_000_000, 0.50, 1),
])

# Binance ETHUSDT: the shape of Binance's published ETHUSDT ladder (same first-bracket leverage as
# BTC, slightly higher rates, smaller notionals per bracket). A default, not a live table: the
# live bot refreshes it from ccxt; every default tier (up to 100x at $10,000) is priced.
BINANCE_ETHUSDT = table("binance:ETHUSDT", [
    (0, 50_000, 0.005, 125), (50_000, 250_000, 0.0065, 100), (250_000, 1_000_000, 0.01, 75),
    (1_000_000, 5_000_000, 0.02, 50), (5_000_000, 10_000_000, 0.05, 20),
    (10_000_000, 20_000_000, 0.10, 10), (20_000_000, 50_000_000, 0.125, 5),
    (50_000_000, 100_000_000, 0.15, 4), (100_000_000, 200_000_000, 0.25, 2),
    (200_000_000, 500_000_000, 0.50, 1),
])

# Binance XRPUSDT: the shape of the published XRPUSDT ladder of the period (max 75x): its 100x
# tier cannot be priced, so an XRP model must choose tiers up to 75x (``tier_leverages``).
BINANCE_XRPUSDT = table("binance:XRPUSDT", [
    (0, 25_000, 0.005, 75), (25_000, 50_000, 0.0065, 50), (50_000, 250_000, 0.01, 25),
    (250_000, 1_000_000, 0.025, 20), (1_000_000, 5_000_000, 0.05, 10),
    (5_000_000, 10_000_000, 0.10, 5), (10_000_000, 20_000_000, 0.125, 4),
    (20_000_000, 50_000_000, 0.15, 3), (50_000_000, 100_000_000, 0.25, 2),
    (100_000_000, 200_000_000, 0.50, 1),
])

# Generic default for other Binance USDT-M contracts (a typical mid-cap ladder): refresh from
# ccxt for anything real.
BINANCE_GENERIC = table("binance:generic", [
    (0, 5_000, 0.01, 50), (5_000, 50_000, 0.015, 25), (50_000, 250_000, 0.02, 20),
    (250_000, 1_000_000, 0.05, 10), (1_000_000, 2_000_000, 0.10, 5),
    (2_000_000, 5_000_000, 0.125, 4), (5_000_000, 10_000_000, 0.15, 3),
    (10_000_000, 20_000_000, 0.25, 2), (20_000_000, 50_000_000, 0.50, 1),
])

#: The shipped Binance tables by base coin (others get ``BINANCE_GENERIC``).
BINANCE_TABLES: Mapping[str, BracketTable] = {"BTC": BINANCE_BTCUSDT, "ETH": BINANCE_ETHUSDT, "XRP": BINANCE_XRPUSDT}

# Hyperliquid maximum leverage per coin (its maintenance rate is half the initial margin at max).
HYPERLIQUID_MAX_LEVERAGE: Mapping[str, float] = {"BTC": 40.0, "ETH": 25.0, "SOL": 20.0, "XRP": 20.0}
HYPERLIQUID_DEFAULT_MAX_LEVERAGE = 10.0


def hyperliquid_table(max_leverage: float, name: str = "hyperliquid") -> BracketTable:
    """One unbounded bracket with ``mmr = 1 / (2 * max_leverage)`` and ``cum = 0``."""
    if not (math.isfinite(max_leverage) and max_leverage >= 1):
        raise DataError(f"must be finite and >= 1, got {max_leverage!r}", field="max_leverage")
    return BracketTable(name=name, floor=[0.0], cap=[math.inf], mmr=[1.0 / (2.0 * max_leverage)], cum=[0.0],
                        max_leverage=[max_leverage])


def base_coin(symbol: str) -> str:
    """``BTC/USDT:USDT`` / ``BTCUSDT`` / ``BTC`` -> ``BTC``."""
    head = symbol.split("/")[0].split(":")[0].upper()
    for quote in ("USDT", "USDC", "USD"):
        if head.endswith(quote) and len(head) > len(quote):
            return head[: -len(quote)]
    return head


def table_for(venue: Venue | str, symbol: str) -> BracketTable:
    """The default table of a venue for a symbol (BTC, ETH, XRP on Binance get their own ladders)."""
    coin = base_coin(symbol)
    if Venue(venue) is Venue.HYPERLIQUID:
        return hyperliquid_table(HYPERLIQUID_MAX_LEVERAGE.get(coin, HYPERLIQUID_DEFAULT_MAX_LEVERAGE),
                                 name=f"hyperliquid:{coin}")
    return BINANCE_TABLES.get(coin, BINANCE_GENERIC)


def from_ccxt_tiers(tiers: Iterable[Mapping[str, Any]], name: str = "ccxt") -> BracketTable:
    """Convert ccxt ``fetch_market_leverage_tiers`` output to a bracket table.

    Each tier is ``{tier, minNotional, maxNotional, maintenanceMarginRate, maxLeverage, ...}``;
    tiers are sorted by ``minNotional`` and ``cum`` is rebuilt (ccxt does not carry it).
    """
    rows = []
    for i, tier in enumerate(tiers):
        try:
            rows.append((float(tier["minNotional"]), float(tier["maxNotional"]),
                         float(tier["maintenanceMarginRate"]), float(tier["maxLeverage"])))
        except KeyError as exc:
            raise DataError(f"missing field {exc.args[0]!r}", field="tiers", position=i) from None
        except (TypeError, ValueError):
            raise DataError("tier values must be numbers", field="tiers", position=i) from None
    if not rows:
        raise DataError("no leverage tiers", field="tiers")
    rows.sort(key=lambda r: r[0])
    return table(name, rows)
