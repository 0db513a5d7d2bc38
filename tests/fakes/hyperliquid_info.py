"""Hyperliquid's public info API (``POST /info``) on ``FakeHttpServer``, with N accounts holding positions.

Answers ``metaAndAssetCtxs`` (``[{universe}, [ctx]]``, mark from ``price``, open interest in coins),
``clearinghouseState`` (``assetPositions[].position`` with ``coin``, ``szi``, ``entryPx``,
``liquidationPx``, ``leverage``, ``positionValue``, ``marginUsed``) and ``recentTrades`` (``users``:
buyer and seller). Liquidation prices follow Hyperliquid's documented formula for isolated margin::

    liq = price - side * margin_available / position_size / (1 - l * side)
    l = 1 / MAINTENANCE_LEVERAGE,  MAINTENANCE_LEVERAGE = 2 * max_leverage

with ``price`` the entry, ``margin_available = margin - position_size * price * l`` and the margin
``position_size * price / leverage``. The weight limit (1200 per rolling minute by the fake's clock;
clearinghouseState 2, others 20) answers 429 when exceeded, so a client over budget is caught.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from tests.fakes.binance_public import price_at
from tests.fakes.http_server import FakeHttpServer, Reply, Request

MAX_LEVERAGE = {"BTC": 40, "ETH": 25}
LIMIT_PER_MIN = 1200


@dataclass(frozen=True)
class FakePosition:
    coin: str
    szi: float
    entry: float
    leverage: int
    cross: bool = False  # cross positions of an account with no other margin: liquidationPx null here

    def liquidation_px(self) -> float | None:
        if self.cross:
            return None
        side = 1.0 if self.szi > 0 else -1.0
        size = abs(self.szi)
        lm = 1.0 / (2 * MAX_LEVERAGE[self.coin])
        margin = size * self.entry / self.leverage
        available = margin - size * self.entry * lm
        return self.entry - side * available / size / (1 - lm * side)


def address(i: int) -> str:
    return "0x" + f"{i:040x}"


def accounts(n: int, price: float = 60_000.0) -> dict[str, list[FakePosition]]:
    """``n`` accounts: BTC longs and shorts at several leverages and entries around ``price``."""
    levs = (5, 10, 20, 25, 40)
    out = {}
    for i in range(n):
        side = 1 if i % 2 == 0 else -1
        out[address(i)] = [FakePosition("BTC", side * round(0.1 + 0.37 * (i % 7), 4),
                                        round(price * (1 + 0.002 * ((i % 11) - 5)), 1), levs[i % 5])]
    return out


class FakeHyperliquid:
    """The info API's state: accounts, the mark, the trade tape, the weight spent."""

    def __init__(self, books: dict[str, list[FakePosition]], clock: Callable[[], float] = time.time,
                 price: Callable[[int], float] = price_at, traders: list[str] | None = None) -> None:
        self.books = books
        self.clock = clock
        self.price = price
        self.traders = traders if traders is not None else list(books)
        self.spent: deque[tuple[float, float]] = deque()
        self.weights: dict[str, int] = {}
        self.refused = 0

    def _charge(self, weight: float) -> bool:
        now = self.clock()
        while self.spent and now - self.spent[0][0] >= 60:
            self.spent.popleft()
        if sum(w for _, w in self.spent) + weight > LIMIT_PER_MIN:
            self.refused += 1
            return False
        self.spent.append((now, weight))
        return True

    def answer(self, req: Request) -> Reply:
        body = json.loads(req.body or b"{}")
        kind = body.get("type")
        weight = 2 if kind == "clearinghouseState" else 20
        if not self._charge(weight):
            return Reply(status=429, body="rate limited", headers={"Retry-After": "5"})
        self.weights[kind] = self.weights.get(kind, 0) + weight
        mark = self.price(int(self.clock() * 1000))
        if kind == "metaAndAssetCtxs":
            oi = sum(abs(p.szi) for ps in self.books.values() for p in ps if p.coin == "BTC") * 4  # tracked: 25 %
            return Reply(body=[{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
                                             {"name": "ETH", "szDecimals": 4, "maxLeverage": 25}]},
                               [{"markPx": f"{mark:.1f}", "openInterest": f"{oi:.4f}", "funding": "0.0000125"},
                                {"markPx": "3000.0", "openInterest": "1000.0", "funding": "0.00001"}]])
        if kind == "clearinghouseState":
            positions = self.books.get(str(body.get("user", "")).lower(), [])
            return Reply(body={"assetPositions": [{"type": "oneWay", "position": {
                "coin": p.coin, "szi": f"{p.szi}", "entryPx": f"{p.entry}",
                "liquidationPx": None if p.liquidation_px() is None else f"{p.liquidation_px():.6f}",
                "leverage": {"type": "cross" if p.cross else "isolated", "value": p.leverage},
                "positionValue": f"{abs(p.szi) * mark:.2f}", "marginUsed": f"{abs(p.szi) * p.entry / p.leverage:.2f}"}}
                for p in positions], "time": int(self.clock() * 1000)})
        if kind == "recentTrades":
            pairs = [self.traders[i:i + 2] for i in range(0, len(self.traders) - 1, 2)]
            return Reply(body=[{"coin": body.get("coin"), "side": "B", "px": f"{mark:.1f}", "sz": "0.01",
                                "time": int(self.clock() * 1000), "tid": n, "users": pair}
                               for n, pair in enumerate(pairs)])
        return Reply(status=422, body="Failed to deserialize the JSON body")


def install_hyperliquid(server: FakeHttpServer, fake: FakeHyperliquid) -> None:
    """Register ``/info``."""
    server.route("/info", fake.answer)
