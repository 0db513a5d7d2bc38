"""Scripted public market data for the fake Binance USDT-M exchange: what the live feed polls.

A :class:`Tape` holds candles per market id (``BTCUSDT``) and the positioning numbers; the
routes below serve them in Binance's shapes (klines, open interest now and history, the
global long/short account ratio, the premium index with the funding rate). Which candles
have *closed* is the feed's business (its injected clock), so the tape serves every row it
holds from ``startTime`` on. Without scripted candles ``klines`` falls back to flat bars at the
venue's price (see ``binance_exchange._klines``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Params = dict[str, str]
STEPS_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}


@dataclass
class Tape:
    """Candles ``(open ms, open, high, low, close, volume)`` per market id, and positioning."""

    candles: dict[str, list[tuple[int, float, float, float, float, float]]] = field(default_factory=dict)
    oi_coins: float = 80_000.0
    long_short_ratio: float = 1.1
    funding_rate: float = 0.0001

    def rows(self, symbol: str, start_ms: int | None, limit: int) -> list[tuple[int, float, float, float, float, float]]:
        """Scripted candles of ``symbol`` opening at or after ``start_ms``, at most ``limit``."""
        return [r for r in self.candles.get(symbol, []) if start_ms is None or r[0] >= start_ms][:limit]


def _start(p: Params) -> int | None:
    return int(p["startTime"]) if p.get("startTime") else None


def klines(tape: Tape, symbol: str, p: Params) -> list[list[Any]]:
    """``GET /fapi/v1/klines`` rows from the tape."""
    step = STEPS_MS.get(p.get("interval", "5m"), 300_000)
    return [[t, f"{o}", f"{h}", f"{lo}", f"{c}", f"{v}", t + step - 1, f"{v * c}", 10, "0", "0", "0"]
            for t, o, h, lo, c, v in tape.rows(symbol, _start(p), int(p.get("limit", "500")))]


def open_interest(ex: Any, p: Params) -> Any:
    """``GET /fapi/v1/openInterest``."""
    return {"symbol": p.get("symbol"), "openInterest": f"{ex.tape.oi_coins}", "time": ex.now_ms()}


def open_interest_hist(ex: Any, p: Params) -> Any:
    """``GET /futures/data/openInterestHist``: one row per scripted candle, valued at its close."""
    rows = ex.tape.rows(p.get("symbol", ""), _start(p), int(p.get("limit", "30")))
    return [{"symbol": p.get("symbol"), "sumOpenInterest": f"{ex.tape.oi_coins}",
             "sumOpenInterestValue": f"{ex.tape.oi_coins * r[4]:.2f}", "timestamp": r[0]} for r in rows]


def long_short_ratio(ex: Any, p: Params) -> Any:
    """``GET /futures/data/globalLongShortAccountRatio`` (the latest row)."""
    ratio = ex.tape.long_short_ratio
    longs = ratio / (1.0 + ratio)
    return [{"symbol": p.get("symbol"), "longShortRatio": f"{ratio}", "longAccount": f"{longs:.4f}",
             "shortAccount": f"{1.0 - longs:.4f}", "timestamp": ex.now_ms()}]


def premium_index(ex: Any, p: Params) -> Any:
    """``GET /fapi/v1/premiumIndex``: mark price and the current funding rate."""
    symbol = p.get("symbol", "BTCUSDT")
    mark = f"{ex.venue.prices.get(symbol, 0.0)}"
    return {"symbol": symbol, "markPrice": mark, "indexPrice": mark, "lastFundingRate": f"{ex.tape.funding_rate}",
            "interestRate": "0.0001", "nextFundingTime": ex.now_ms() + 3_600_000, "time": ex.now_ms()}


ROUTES = {
    ("GET", "/fapi/v1/openInterest"): (open_interest, False),
    ("GET", "/futures/data/openInterestHist"): (open_interest_hist, False),
    ("GET", "/futures/data/globalLongShortAccountRatio"): (long_short_ratio, False),
    ("GET", "/fapi/v1/premiumIndex"): (premium_index, False),
}
