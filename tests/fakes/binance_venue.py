"""The matching core of the fake Binance USDT-M exchange: orders, algo orders, positions, wallet.

No HTTP here: :mod:`tests.fakes.binance_exchange` serves this state through signed REST.
One-way position mode, one position per symbol. Prices move only through :meth:`Venue.tick`
(a scripted price path), and every tick matches the resting orders:

- MARKET orders fill at once at the last price (taker fee);
- conditional (algo) STOP_MARKET / TAKE_PROFIT_MARKET orders trigger when the price reaches
  their trigger; a triggered order becomes a MARKET order with its own ``orderId``, reported
  as the algo order's ``actualOrderId``;
- LIMIT orders fill at their price (maker fee) when the price trades *through* them, at most
  ``limit_fill_cap`` per tick (partial fills);
- a reduce-only fill never exceeds the position and a reduce-only order with nothing to
  reduce expires, as Binance does.

Errors are raised as :class:`VenueError` with Binance's real codes and HTTP statuses.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

TAKER_FEE = 0.0005
MAKER_FEE = 0.0002
STEP = 0.001
MIN_NOTIONAL = 100.0
WORKING = ("NEW", "PARTIALLY_FILLED")


class VenueError(Exception):
    """A Binance error reply: HTTP status, error code, message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg


def _fmt(x: float, nd: int = 8) -> str:
    return f"{x:.{nd}f}".rstrip("0").rstrip(".") if x else "0"


@dataclass
class VOrder:
    """A regular order as the matching engine holds it."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: float
    price: float
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed: float = 0.0
    cum_quote: float = 0.0
    update_time: int = 0

    def to_json(self) -> dict[str, Any]:
        """The order as ``GET /fapi/v1/order`` shows it."""
        avg = self.cum_quote / self.executed if self.executed else 0.0
        return {"orderId": self.order_id, "symbol": self.symbol, "status": self.status,
                "clientOrderId": self.client_id, "price": _fmt(self.price), "avgPrice": _fmt(avg),
                "origQty": _fmt(self.qty), "executedQty": _fmt(self.executed), "cumQty": _fmt(self.executed),
                "cumQuote": _fmt(self.cum_quote), "timeInForce": "GTC" if self.type == "LIMIT" else "GTC",
                "type": self.type, "origType": self.type, "reduceOnly": self.reduce_only, "closePosition": False,
                "side": self.side, "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
                "priceProtect": False, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
                "goodTillDate": 0, "time": self.time, "updateTime": self.update_time or self.time}


@dataclass
class VAlgo:
    """A conditional order held by the algo service until it triggers."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str
    qty: float
    trigger_price: float
    reduce_only: bool
    create_time: int
    status: str = "NEW"
    actual_order_id: int | None = None
    trigger_time: int = 0
    update_time: int = 0

    def to_json(self, child: VOrder | None) -> dict[str, Any]:
        """The algo order as ``GET /fapi/v1/algoOrder`` shows it."""
        executed = child.executed if child else 0.0
        avg = child.cum_quote / child.executed if child and child.executed else 0.0
        return {"algoId": self.algo_id, "clientAlgoId": self.client_algo_id, "algoType": "CONDITIONAL",
                "orderType": self.order_type, "symbol": self.symbol, "side": self.side, "positionSide": "BOTH",
                "timeInForce": "GTC", "quantity": _fmt(self.qty), "algoStatus": self.status,
                "actualOrderId": str(self.actual_order_id) if self.actual_order_id else "",
                "triggerPrice": _fmt(self.trigger_price), "price": "0", "workingType": "CONTRACT_PRICE",
                "priceMatch": "NONE", "closePosition": False, "priceProtect": False, "reduceOnly": self.reduce_only,
                "executedQty": _fmt(executed), "avgPrice": _fmt(avg), "createTime": self.create_time,
                "updateTime": self.update_time or self.create_time, "triggerTime": self.trigger_time}


@dataclass
class Venue:
    """One account on a fake Binance USDT-M market."""

    wallet: float = 10_000.0
    prices: dict[str, float] = field(default_factory=lambda: {"BTCUSDT": 60_000.0})
    max_leverage: int = 125
    limit_fill_cap: float | None = None  # at most this qty per LIMIT order per tick (partial fills)
    clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    orders: dict[int, VOrder] = field(default_factory=dict)
    algos: dict[int, VAlgo] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # symbol -> (signed amt, entry)
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)
    hidden: dict[str, int] = field(default_factory=dict)  # client id -> queries it stays invisible
    hide_next: int = 0  # the next created order stays invisible for this many queries
    _ids: Any = field(default_factory=lambda: itertools.count(8_000_000_001))
    _trade_ids: Any = field(default_factory=lambda: itertools.count(500_001))

    # --- queries ------------------------------------------------------------------------

    def find(self, symbol: str, client_id: str | None, order_id: int | None) -> VOrder:
        """A regular order by client id or order id (-2013 when absent or still invisible)."""
        for o in self.orders.values():
            if o.symbol == symbol and (o.client_id == client_id or o.order_id == order_id):
                if self._invisible(o.client_id):
                    break
                return o
        raise VenueError(400, -2013, "Order does not exist.")

    def find_algo(self, client_id: str | None, algo_id: int | None) -> VAlgo:
        """An algo order by client algo id or algo id (-2013 when absent or still invisible)."""
        for a in self.algos.values():
            if a.client_algo_id == client_id or a.algo_id == algo_id:
                if self._invisible(a.client_algo_id):
                    break
                return a
        raise VenueError(400, -2013, "Order does not exist.")

    def _invisible(self, client_id: str) -> bool:
        left = self.hidden.get(client_id, 0)
        if left <= 0:
            return False
        self.hidden[client_id] = left - 1
        return True

    def open_orders(self, symbol: str | None) -> list[VOrder]:
        """Working regular orders (invisible ones left out)."""
        return [o for o in self.orders.values() if o.status in WORKING and (symbol in (None, o.symbol))
                and self.hidden.get(o.client_id, 0) <= 0]

    def open_algos(self, symbol: str | None) -> list[VAlgo]:
        """Working algo orders (invisible ones left out)."""
        return [a for a in self.algos.values() if a.status == "NEW" and (symbol in (None, a.symbol))
                and self.hidden.get(a.client_algo_id, 0) <= 0]

    def child(self, algo: VAlgo) -> VOrder | None:
        """The market order a triggered algo order became."""
        return self.orders.get(algo.actual_order_id) if algo.actual_order_id else None

    def position(self, symbol: str) -> tuple[float, float]:
        """(signed amount, entry price) of ``symbol``; (0, 0) when flat."""
        return self.positions.get(symbol, (0.0, 0.0))

    def unrealized(self) -> float:
        """Unrealized PnL of every position at the last prices."""
        return sum(amt * (self.prices[s] - entry) for s, (amt, entry) in self.positions.items())

    def used_margin(self) -> float:
        """Initial margin of the positions and of the working entry orders."""
        used = sum(abs(amt) * self.prices[s] / self.leverage.get(s, 20) for s, (amt, _) in self.positions.items())
        for o in self.open_orders(None):
            if not o.reduce_only:
                used += (o.qty - o.executed) * (o.price or self.prices[o.symbol]) / self.leverage.get(o.symbol, 20)
        return used

    def available(self) -> float:
        """What a new order's margin may use."""
        return self.wallet + self.unrealized() - self.used_margin()

    # --- actions ------------------------------------------------------------------------

    def place(self, symbol: str, side: str, type_: str, qty: float, price: float, reduce_only: bool,
              client_id: str) -> VOrder:
        """Accept a MARKET or LIMIT order (filled at once when marketable) or raise ``VenueError``."""
        self._check_new(symbol, side, qty, price or self.prices[symbol], reduce_only, client_id)
        if type_ not in ("MARKET", "LIMIT"):
            raise VenueError(400, -1116, "Invalid orderType.")
        now = self.clock_ms()
        order = VOrder(next(self._ids), client_id, symbol, side, type_, qty, price if type_ == "LIMIT" else 0.0,
                       reduce_only, now, update_time=now)
        self.orders[order.order_id] = order
        self._hide(client_id)
        if type_ == "MARKET":
            self._fill(order, self.prices[symbol], qty, maker=False)
        return order

    def place_algo(self, symbol: str, side: str, order_type: str, qty: float, trigger: float, reduce_only: bool,
                   client_id: str) -> VAlgo:
        """Accept a conditional order (-2021 when it would trigger at once)."""
        self._check_new(symbol, side, qty, trigger, reduce_only, client_id)
        if order_type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise VenueError(400, -1116, "Invalid orderType.")
        if self._triggered(side, order_type, trigger, self.prices[symbol]):
            raise VenueError(400, -2021, "Order would immediately trigger.")
        now = self.clock_ms()
        algo = VAlgo(next(self._ids), client_id, symbol, side, order_type, qty, trigger, reduce_only, now)
        self.algos[algo.algo_id] = algo
        self._hide(client_id)
        return algo

    def cancel(self, order: VOrder) -> VOrder:
        """Cancel a working order (-2011 when it is no longer working)."""
        if order.status not in WORKING:
            raise VenueError(400, -2011, "Unknown order sent.")
        order.status, order.update_time = "CANCELED", self.clock_ms()
        return order

    def cancel_algo(self, algo: VAlgo) -> VAlgo:
        """Cancel a working algo order (-2011 when it is no longer working)."""
        if algo.status != "NEW":
            raise VenueError(400, -2011, "Unknown order sent.")
        algo.status, algo.update_time = "CANCELED", self.clock_ms()
        return algo

    def tick(self, symbol: str, price: float) -> None:
        """Move the last price and match: algo triggers first, then resting limits."""
        self.prices[symbol] = price
        for algo in [a for a in self.algos.values() if a.symbol == symbol and a.status == "NEW"]:
            if self._triggered(algo.side, algo.order_type, algo.trigger_price, price):
                self._trigger(algo, price)
        for order in [o for o in self.orders.values() if o.symbol == symbol and o.status in WORKING]:
            if order.type == "LIMIT" and ((order.side == "BUY" and price < order.price)
                                          or (order.side == "SELL" and price > order.price)):
                left = order.qty - order.executed
                qty = left if self.limit_fill_cap is None else min(left, self.limit_fill_cap)
                self._fill(order, order.price, qty, maker=True)

    def run_path(self, symbol: str, path: list[float]) -> None:
        """Tick through a scripted price path."""
        for price in path:
            self.tick(symbol, price)

    # --- internals ----------------------------------------------------------------------

    def _hide(self, client_id: str) -> None:
        if self.hide_next:
            self.hidden[client_id], self.hide_next = self.hide_next, 0

    def _check_new(self, symbol: str, side: str, qty: float, price: float, reduce_only: bool,
                   client_id: str) -> None:
        if symbol not in self.prices:
            raise VenueError(400, -1121, "Invalid symbol.")
        if any(o.client_id == client_id for o in self.orders.values()) or \
                any(a.client_algo_id == client_id for a in self.algos.values()):
            raise VenueError(400, -4116, "ClientOrderId is duplicated.")
        if qty <= 0 or abs(qty / STEP - round(qty / STEP)) > 1e-6:
            raise VenueError(400, -1111, "Precision is over the maximum defined for this asset.")
        amt, _ = self.position(symbol)
        if reduce_only:
            if amt == 0.0 or (amt > 0) == (side == "BUY"):  # nothing it could reduce
                raise VenueError(400, -2022, "ReduceOnly Order is rejected.")
            return
        if qty * price < MIN_NOTIONAL:
            raise VenueError(400, -4164, f"Order's notional must be no smaller than {MIN_NOTIONAL:g} "
                                         "(unless you choose reduce only).")
        if qty * price / self.leverage.get(symbol, 20) > self.available():
            raise VenueError(400, -2019, "Margin is insufficient.")

    @staticmethod
    def _triggered(side: str, order_type: str, trigger: float, price: float) -> bool:
        # a sell stop and a buy take-profit fire on the way down, the others on the way up
        down = (side == "SELL") == (order_type == "STOP_MARKET")
        return price <= trigger if down else price >= trigger

    def _trigger(self, algo: VAlgo, price: float) -> None:
        now = self.clock_ms()
        child = VOrder(next(self._ids), f"algo-{algo.algo_id}", algo.symbol, algo.side, "MARKET", algo.qty, 0.0,
                       algo.reduce_only, now, update_time=now)
        self.orders[child.order_id] = child
        algo.status, algo.actual_order_id, algo.trigger_time, algo.update_time = "FINISHED", child.order_id, now, now
        self._fill(child, price, algo.qty, maker=False)

    def _fill(self, order: VOrder, price: float, qty: float, *, maker: bool) -> None:
        amt, entry = self.position(order.symbol)
        sign = 1.0 if order.side == "BUY" else -1.0
        if order.reduce_only:
            if amt * sign >= 0:  # nothing to reduce
                order.status, order.update_time = "EXPIRED", self.clock_ms()
                return
            qty = min(qty, abs(amt))
        qty = round(qty, 6)
        now = self.clock_ms()
        fee = qty * price * (MAKER_FEE if maker else TAKER_FEE)
        realized = 0.0
        if amt == 0 or amt * sign > 0:
            new_amt = amt + sign * qty
            entry = (abs(amt) * entry + qty * price) / abs(new_amt)
        else:
            closed = min(qty, abs(amt))
            realized = closed * (price - entry) * (1.0 if amt > 0 else -1.0)
            new_amt = amt + sign * qty
            if abs(new_amt) < 1e-12:
                new_amt = 0.0
        self.wallet += realized - fee
        if new_amt == 0.0:
            self.positions.pop(order.symbol, None)
        else:
            self.positions[order.symbol] = (round(new_amt, 6), entry)
        order.executed = round(order.executed + qty, 6)
        order.cum_quote += qty * price
        # a reduce-only order that flattened the position is done: the venue trims it to the position
        done = order.executed >= order.qty - 1e-12 or (order.reduce_only and new_amt == 0.0)
        order.status = "FILLED" if done else "PARTIALLY_FILLED"
        order.update_time = now
        self.trades.append({"buyer": order.side == "BUY", "commission": _fmt(fee), "commissionAsset": "USDT",
                            "id": next(self._trade_ids), "maker": maker, "orderId": order.order_id,
                            "price": _fmt(price), "qty": _fmt(qty), "quoteQty": _fmt(qty * price),
                            "realizedPnl": _fmt(realized), "side": order.side, "positionSide": "BOTH",
                            "symbol": order.symbol, "time": now})
