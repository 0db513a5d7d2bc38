"""Hyperliquid from public positions: an exact liquidation map of the tracked accounts (no key).

Hyperliquid's info API (``POST {base}/info``, JSON body) publishes every account's open positions
with their liquidation prices:

- ``{"type": "clearinghouseState", "user": ADDR}`` -> ``assetPositions[].position`` with ``coin``,
  ``szi`` (signed size, coins), ``entryPx``, ``liquidationPx`` (null when the account cannot be
  liquidated), ``leverage``, ``positionValue``; weight 2;
- ``{"type": "metaAndAssetCtxs"}`` -> ``[{universe: [{name, maxLeverage}]}, [{markPx, openInterest}]]``
  (open interest in coins), weight 20;
- ``{"type": "recentTrades", "coin": C}`` -> trades whose ``users`` are ``[buyer, seller]``, weight 20.

The rate limit is 1200 weight per minute per IP; ``providers.hyperliquid_weight_per_min`` is the
share liqbot spends. Accounts: ``providers.hyperliquid_accounts`` and, with
``hyperliquid_discover``, every address seen in the coin's public trades (up to
``hyperliquid_max_accounts``). Refresh is incremental: each poll reads the mark (and the recent
trades), then as many ``clearinghouseState`` as the budget allows, least recently read first; the
map is built from every account's latest read.

The map: USD per price bin and side. A position of ``szi`` coins liquidates at ``liquidationPx``:
``|szi| x mark`` USD on the long side (``szi > 0``: forced sells below) or the short side, in the
bin holding its ``liquidationPx``. Bins are a log grid of ``hyperliquid_bin_pct`` % anchored at 1
(the same prices from poll to poll), kept within ``hyperliquid_range_pct`` % of the mark. Exact
for the tracked accounts as of each account's read; ``assumptions`` say how many accounts and how
much of the venue's open interest the map covers, and how old the oldest read is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.domain import HeatmapSnapshot, HeatmapSource, iso
from bot.errors import DataError
from bot.heatmap.providers.base import ProviderClient
from bot.heatmap.providers.budget import RequestBudget
from bot.heatmap.providers.sources import coin_of

WEIGHT_STATE = 2.0    # clearinghouseState
WEIGHT_OTHER = 20.0   # metaAndAssetCtxs, recentTrades (every other info request)


class InfoClient(ProviderClient):
    """POSTs to Hyperliquid's public ``/info`` (no key)."""

    provider = "hyperliquid"
    key_required = False

    def info(self, payload: dict[str, Any]) -> Any:
        """One info request, decoded; a body that is not JSON is a ``DataError``."""
        raw = self.post("/info", payload, str(payload.get("type")))
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise DataError(f"{payload.get('type')}: reply is not JSON", source="hyperliquid") from None


@dataclass(frozen=True, slots=True)
class Position:
    """One open position as ``clearinghouseState`` reported it."""

    account: str
    coin: str
    szi: float
    entry_px: float
    liquidation_px: float | None
    read_at: datetime


def parse_positions(doc: Any, account: str, at: datetime) -> list[Position]:
    """The positions of one ``clearinghouseState`` reply (strict: a malformed entry is a ``DataError``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("assetPositions"), list):
        raise DataError("clearinghouseState: no assetPositions list", source="hyperliquid", field=account)
    out = []
    for i, entry in enumerate(doc["assetPositions"]):
        pos = entry.get("position") if isinstance(entry, dict) else None
        if not isinstance(pos, dict):
            raise DataError("not a position object", source="hyperliquid", field=f"assetPositions[{i}]")
        try:
            liq = pos.get("liquidationPx")
            out.append(Position(account, str(pos["coin"]).upper(), float(pos["szi"]), float(pos["entryPx"]),
                                float(liq) if liq not in (None, "") else None, at))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"bad position field: {exc}", source="hyperliquid",
                            field=f"assetPositions[{i}]") from None
    return out


def log_bins(prices: np.ndarray, bin_pct: float) -> tuple[np.ndarray, np.ndarray]:
    """(bin index, bin centre) of each price on the log grid ``(1 + bin_pct/100)^k``."""
    step = math.log1p(bin_pct / 100.0)
    k = np.floor(np.log(prices) / step).astype(np.int64)
    return k, np.exp((k + 0.5) * step)


def build_map(positions: list[Position], coin: str, mark: float, *, bin_pct: float,
              range_pct: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """(level prices, long USD, short USD, coverage) of ``coin``'s positions (see the module docstring)."""
    mine = [p for p in positions if p.coin == coin and p.szi != 0]
    covered = float(sum(abs(p.szi) for p in mine) * mark)
    lo, hi = mark * (1 - range_pct / 100), mark * (1 + range_pct / 100)
    placed = [p for p in mine if p.liquidation_px is not None and lo <= p.liquidation_px <= hi
              and p.liquidation_px > 0]
    stats = {"positions": float(len(mine)), "positions_mapped": float(len(placed)), "covered_oi_usd": covered}
    if not placed:
        return np.empty(0), np.empty(0), np.empty(0), stats
    liq = np.array([p.liquidation_px for p in placed], dtype=float)
    usd = np.array([abs(p.szi) * mark for p in placed])
    is_long = np.array([p.szi > 0 for p in placed])
    k, centre = log_bins(liq, bin_pct)
    keys, first, inverse = np.unique(k, return_index=True, return_inverse=True)
    long_usd = np.bincount(inverse, weights=np.where(is_long, usd, 0.0), minlength=keys.size)
    short_usd = np.bincount(inverse, weights=np.where(is_long, 0.0, usd), minlength=keys.size)
    return centre[first], long_usd, short_usd, stats


class HyperliquidSource:
    """Hyperliquid's public positions as a runner heatmap source (live only: no history endpoint)."""

    kind = HeatmapSource.HYPERLIQUID
    has_history = False
    weight = WEIGHT_OTHER  # the poll's metaAndAssetCtxs; account reads are spent inside the poll
    history_chunk = timedelta(0)

    def __init__(self, client: InfoClient, settings: Any) -> None:
        self.client = client
        self.cadence_s = float(settings.hyperliquid_cadence_s)
        self.budget = RequestBudget(settings.hyperliquid_weight_per_min)
        self.bin_pct = settings.hyperliquid_bin_pct
        self.range_pct = settings.hyperliquid_range_pct
        self.discover = settings.hyperliquid_discover
        self.max_accounts = settings.hyperliquid_max_accounts
        self.accounts: dict[str, datetime | None] = {a.lower(): None for a in settings.hyperliquid_accounts}
        self.positions: dict[str, list[Position]] = {}
        self.reads = 0

    def _mark(self, coin: str) -> tuple[float, float]:
        doc = self.client.info({"type": "metaAndAssetCtxs"})
        try:
            universe, ctxs = doc[0]["universe"], doc[1]
            i = next(j for j, u in enumerate(universe) if str(u["name"]).upper() == coin)
            mark, oi = float(ctxs[i]["markPx"]), float(ctxs[i]["openInterest"])
        except StopIteration:
            raise DataError(f"metaAndAssetCtxs: no {coin} in the universe", source="hyperliquid") from None
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"metaAndAssetCtxs: malformed ({exc})", source="hyperliquid") from None
        if not (math.isfinite(mark) and mark > 0):
            raise DataError(f"metaAndAssetCtxs: bad markPx {mark!r}", source="hyperliquid")
        return mark, oi

    def _discover(self, coin: str, now: datetime) -> None:
        if not self.discover or len(self.accounts) >= self.max_accounts or \
                not self.budget.try_spend(WEIGHT_OTHER, now):
            return
        trades = self.client.info({"type": "recentTrades", "coin": coin})
        if not isinstance(trades, list):
            raise DataError("recentTrades: not a list", source="hyperliquid")
        for trade in trades:
            for user in (trade.get("users") or []) if isinstance(trade, dict) else []:
                if isinstance(user, str) and user.startswith("0x") and len(self.accounts) < self.max_accounts:
                    self.accounts.setdefault(user.lower(), None)

    def _refresh(self, now: datetime) -> int:
        """Read as many accounts as the budget allows, least recently read first."""
        order = sorted(self.accounts, key=lambda a: (self.accounts[a] is not None, self.accounts[a] or now, a))
        done = 0
        for account in order:
            if not self.budget.try_spend(WEIGHT_STATE, now):
                break
            doc = self.client.info({"type": "clearinghouseState", "user": account})
            self.positions[account] = parse_positions(doc, account, now)  # whole reply or nothing
            self.accounts[account] = now
            done += 1
        self.reads += done
        return done

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """Mark price, discovery, an incremental refresh, then the map of every account's latest read."""
        coin = coin_of(symbol)
        mark, oi_coins = self._mark(coin)
        self._discover(coin, now)
        refreshed = self._refresh(now)
        every = [p for ps in self.positions.values() for p in ps]
        prices, long_usd, short_usd, stats = build_map(every, coin, mark, bin_pct=self.bin_pct,
                                                       range_pct=self.range_pct)
        if prices.size == 0:
            return None
        read = [t for t in self.accounts.values() if t is not None]
        venue_oi = oi_coins * mark
        assumptions = {
            "provider": "hyperliquid", "usd": "|szi| x mark per position, in the bin of its liquidationPx",
            "sides": "szi > 0 long (liquidated below), szi < 0 short", "exact": "for the tracked accounts",
            "accounts_tracked": len(self.accounts), "accounts_read": len(read),
            "accounts_refreshed_this_poll": refreshed,
            "oldest_read_s": max(((now - t).total_seconds() for t in read), default=0.0),
            "positions": int(stats["positions"]), "positions_mapped": int(stats["positions_mapped"]),
            "covered_oi_usd": stats["covered_oi_usd"], "venue_oi_usd": venue_oi,
            "oi_covered_pct": 100.0 * stats["covered_oi_usd"] / venue_oi if venue_oi > 0 else None,
            "bin_pct": self.bin_pct, "range_pct": self.range_pct, "reference_price": "markPx",
            "provider_ts": iso(now),
        }
        return HeatmapSnapshot(symbol=symbol, ts=now, price=mark, prices=prices, long_usd=long_usd,
                               short_usd=short_usd, source=HeatmapSource.HYPERLIQUID, assumptions=assumptions)

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """The info API serves current positions only."""
        raise NotImplementedError("hyperliquid has no history of positions")

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """Priced at the mark of its own read."""
        return snapshot
