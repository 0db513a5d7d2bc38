"""PaperBroker: a simulated venue that fills against bars with the rules of ``fills.py``.

It behaves like an exchange account seen through the :class:`~bot.execution.protocol.Broker`
protocol, and moves only when the runner hands it prices (:class:`BarDriven`): market
orders fill at the next bar's open, brackets fill inside a bar's range, funding is charged
at the venue's funding instants. Its whole state round-trips through :meth:`state` /
:meth:`from_state`, which the runner stores in the same transaction as the step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import parse_ts
from bot.domain import iso, utc
from bot.errors import RejectedError
from bot.execution import fills as rules
from bot.execution.ledger import apply_fill, apply_funding
from bot.execution.orders import (Balance, Fill, Liquidity, Order, OrderIntent, OrderLeg, OrderState, OrderType,
                                  Position, from_record, to_record)
from config.settings import PaperSettings

# The bot reads every order's final state in the step it ends, so the venue keeps only a short
# history (what a restarted bot may still ask about).
KEEP_TERMINAL_ORDERS = 100
KEEP_FILLS = 200


class PaperBroker:
    """A paper account on a simulated venue (market entries, reduce-only stop/limit exits)."""

    def __init__(self, settings: PaperSettings, wallet: float | None = None) -> None:
        self.settings = settings
        self._wallet = settings.starting_balance if wallet is None else wallet
        self._orders: dict[str, Order] = {}
        # id(obj) -> (obj, to_record(obj)): holding obj keeps its id from being reused
        self._records: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._positions: dict[str, Position] = {}
        self._fills: list[Fill] = []
        self._fill_count: dict[str, int] = {}
        self._marks: dict[str, float] = {}
        self._last_bar: dict[str, datetime] = {}
        self._seq = 0

    # --- Broker protocol ---------------------------------------------------------------

    def submit(self, intent: OrderIntent) -> Order:
        """Accept ``intent`` (OPEN) or raise ``RejectedError`` (nothing placed)."""
        if intent.client_id in self._orders:
            raise RejectedError(f"duplicate client order id {intent.client_id}")
        if intent.reduce_only:
            position = self._positions.get(intent.symbol)
            if position is None or intent.side is not position.side.exit_side:
                raise RejectedError(
                    f"{intent.symbol}: reduce-only {intent.leg.value} order would not reduce a position")
        else:
            if intent.type is not OrderType.MARKET:
                raise RejectedError("the paper venue takes market entries only")
            self._check_margin(intent)
        self._seq += 1
        order = Order(intent=intent, state=OrderState.OPEN, updated_at=intent.created_at,
                      exchange_id=f"paper-{self._seq}")
        self._orders[intent.client_id] = order
        return order

    def cancel(self, client_id: str) -> Order | None:
        """Cancel a working order; a terminal one is returned unchanged."""
        order = self._orders.get(client_id)
        if order is None or order.state.is_terminal:
            return order
        order = order.transition(OrderState.CANCELED, order.updated_at, reason="canceled")
        self._orders[client_id] = order
        return order

    def fetch_order(self, client_id: str) -> Order | None:
        """The venue's view of one order (``None``: never seen)."""
        return self._orders.get(client_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders, oldest first."""
        return [o for o in self._orders.values()
                if not o.state.is_terminal and (symbol is None or o.intent.symbol == symbol)]

    def positions(self) -> list[Position]:
        """Open positions, by symbol."""
        return [self._positions[s] for s in sorted(self._positions)]

    def fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills at or after ``since`` (the venue keeps the last ``KEEP_FILLS``)."""
        if since is None:
            return list(self._fills)
        since = utc(since)
        return [f for f in self._fills if f.ts >= since]

    def balance(self) -> Balance:
        """Wallet and unrealized PnL at the last marks."""
        unrealized = sum(p.unrealized(self._marks.get(p.symbol, p.entry_price)) for p in self._positions.values())
        return Balance(wallet=self._wallet, unrealized=unrealized)

    # --- BarDriven --------------------------------------------------------------------

    def on_open(self, symbol: str, ts: datetime, price: float) -> list[Fill]:
        """Fill working market orders of ``symbol`` at ``price`` with adverse slippage."""
        self._marks[symbol] = price
        out = []
        for order in self.open_orders(symbol):
            if order.intent.type is not OrderType.MARKET:
                continue
            fill_price = rules.market_fill_price(price, order.intent.side, self.settings.slippage_bps)
            fill = self._execute(order, fill_price, Liquidity.TAKER, ts)
            if fill is not None:
                out.append(fill)
        return out

    def on_bar(self, symbol: str, ts: datetime, open_: float, high: float, low: float, close: float,
               funding_rate: float | None = None) -> list[Fill]:
        """Fill the bracket a bar reaches (stop first), then charge funding due by ``ts``."""
        ts = utc(ts)
        out = []
        position = self._positions.get(symbol)
        if position is not None:
            stop = self._working(symbol, OrderLeg.STOP_LOSS)
            target = self._working(symbol, OrderLeg.TAKE_PROFIT)
            hit = rules.bracket_exit(position.side, stop.intent.price if stop else None,
                                     target.intent.price if target else None, open_, high, low,
                                     self.settings.slippage_bps)
            if hit is not None:
                leg, price = hit
                order = stop if leg is OrderLeg.STOP_LOSS else target
                liquidity = Liquidity.TAKER if leg is OrderLeg.STOP_LOSS else Liquidity.MAKER
                fill = self._execute(order, price, liquidity, ts)  # type: ignore[arg-type]
                if fill is not None:
                    out.append(fill)
        self._marks[symbol] = close
        self._charge_funding(symbol, ts, close, funding_rate)
        self._last_bar[symbol] = ts
        return out

    # --- internals ----------------------------------------------------------------------

    def _check_margin(self, intent: OrderIntent) -> None:
        mark = self._marks.get(intent.symbol)
        if mark is None:
            raise RejectedError(f"{intent.symbol}: no market price yet")
        pending = sum(o.remaining * self._marks.get(o.intent.symbol, mark)
                      for o in self.open_orders() if not o.intent.reduce_only)
        exposure = sum(p.qty * self._marks.get(p.symbol, p.entry_price) for p in self._positions.values())
        limit = self.balance().equity * self.settings.venue_max_leverage
        if exposure + pending + intent.qty * mark > limit:
            raise RejectedError(f"{intent.symbol}: insufficient margin for {intent.qty * mark:.2f} USD")

    def _working(self, symbol: str, leg: OrderLeg) -> Order | None:
        for order in self.open_orders(symbol):
            if order.intent.leg is leg:
                return order
        return None

    def _execute(self, order: Order, price: float, liquidity: Liquidity, ts: datetime) -> Fill | None:
        intent = order.intent
        position = self._positions.get(intent.symbol)
        qty = order.remaining
        if intent.reduce_only:
            if position is None:
                self._orders[intent.client_id] = order.transition(OrderState.CANCELED, ts, reason="no position")
                return None
            qty = min(qty, position.qty)
        rate = self.settings.taker_fee if liquidity is Liquidity.TAKER else self.settings.maker_fee
        n = self._fill_count.get(intent.client_id, 0) + 1
        self._fill_count[intent.client_id] = n
        fill = Fill(trade_id=f"{intent.client_id}-{n}", client_id=intent.client_id, symbol=intent.symbol,
                    side=intent.side, leg=intent.leg, qty=qty, price=price, fee=float(rules.fee(qty * price, rate)),
                    liquidity=liquidity, ts=ts, position_id=intent.position_id)
        realized_before = position.realized_pnl if position else 0.0
        new_position, trade = apply_fill(position, fill, intent)
        realized_after = trade.gross_pnl if trade else (new_position.realized_pnl if new_position else 0.0)
        self._wallet += realized_after - realized_before - fill.fee
        filled = order.filled_qty + qty
        avg = price if order.avg_price is None else (order.avg_price * order.filled_qty + price * qty) / filled
        done = filled >= intent.qty * (1 - 1e-12) or (intent.reduce_only and new_position is None)
        self._orders[intent.client_id] = order.transition(
            OrderState.FILLED if done else OrderState.PARTIALLY_FILLED, ts, filled_qty=filled, avg_price=avg)
        self._fills.append(fill)
        del self._fills[:-KEEP_FILLS]
        if new_position is None:
            self._positions.pop(intent.symbol, None)
            for other in self.open_orders(intent.symbol):
                if other.intent.reduce_only:
                    self._orders[other.client_id] = other.transition(OrderState.CANCELED, ts, reason="position closed")
        else:
            self._positions[intent.symbol] = new_position
        self._prune()
        return fill

    def _charge_funding(self, symbol: str, ts: datetime, mark: float, rate: float | None) -> None:
        last = self._last_bar.get(symbol)
        position = self._positions.get(symbol)
        if last is None or position is None:
            return
        rate = self.settings.default_funding_rate if rate is None else rate
        for _ in rules.funding_times(last, ts, self.settings.funding_interval_h):
            amount = float(rules.funding_amount(position.side.sign, position.qty, mark, rate))
            position = apply_funding(position, amount)
            self._wallet += amount
        self._positions[symbol] = position

    def _prune(self) -> None:
        terminal = [cid for cid, o in self._orders.items() if o.state.is_terminal]
        for cid in terminal[:-KEEP_TERMINAL_ORDERS]:
            del self._orders[cid]
            self._fill_count.pop(cid, None)

    # --- persistence --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-ready venue state; :meth:`from_state` restores it exactly."""
        return {"wallet": self._wallet, "seq": self._seq,
                "orders": self._cached_records(list(self._orders.values())),
                "positions": [to_record(p) for p in self._positions.values()],
                "fills": self._cached_records(self._fills),
                "fill_count": dict(self._fill_count), "marks": dict(self._marks),
                "last_bar": {s: iso(t) for s, t in self._last_bar.items()}}

    def _cached_records(self, objs: list[Any]) -> list[dict[str, Any]]:
        """Records of frozen objects, serialized once (state() runs every step)."""
        out = []
        for obj in objs:
            hit = self._records.get(id(obj))
            if hit is None or hit[0] is not obj:
                hit = self._records[id(obj)] = (obj, to_record(obj))
            out.append(hit[1])
        if len(self._records) > 4 * (KEEP_TERMINAL_ORDERS + KEEP_FILLS):
            keep = {id(o) for o in self._orders.values()} | {id(f) for f in self._fills}
            self._records = {k: v for k, v in self._records.items() if k in keep}
        return out

    @classmethod
    def from_state(cls, settings: PaperSettings, state: dict[str, Any]) -> "PaperBroker":
        """A broker in exactly the state :meth:`state` captured."""
        broker = cls(settings, wallet=float(state["wallet"]))
        broker._seq = int(state["seq"])
        for rec in state["orders"]:
            order = from_record(Order, rec)
            broker._orders[order.client_id] = order
        for rec in state["positions"]:
            position = from_record(Position, rec)
            broker._positions[position.symbol] = position
        broker._fills = [from_record(Fill, rec) for rec in state["fills"]]
        broker._fill_count = {k: int(v) for k, v in state["fill_count"].items()}
        broker._marks = {k: float(v) for k, v in state["marks"].items()}
        broker._last_bar = {s: parse_ts(t) for s, t in state["last_bar"].items()}
        return broker
