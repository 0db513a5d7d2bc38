"""The bot's side of execution: write-ahead submits, sync with the broker, brackets, reconciliation.

Broker-agnostic: it speaks only the :class:`~bot.execution.protocol.Broker` protocol, so the
paper and the ccxt broker get the same treatment.

- **Submit once.** Intents are committed (PENDING_SUBMIT) before ``submit``; ``RejectedError``
  -> REJECTED, ``AmbiguousError`` -> UNKNOWN (resolved later by client id, never resubmitted).
- **Sync.** After the venue moved, working orders are re-read by client id, new fills are
  fetched (deduplicated by trade id) and folded into the bot's own position book, which must
  match the broker's positions.
- **Brackets.** A filled entry gets its reduce-only stop and take-profit; if the stop cannot be
  placed the position is closed at market.
- **Restart.** Stored working orders are looked up at the broker; an intent the broker never
  saw (the crash came between the intent commit and the call) is kept as an *orphan*: placed
  when the same step regenerates it, else cancelled as never submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.errors import AmbiguousError, RejectedError
from bot.execution.ledger import QTY_EPS, apply_fill
from bot.execution.orders import (ClosedTrade, Fill, Order, OrderIntent, OrderLeg, OrderState, OrderType, Position,
                                  client_order_id, new_order)
from bot.execution.protocol import Broker, OrderStore
from bot.logs import get_logger

log = get_logger("liqbot.execution")


@dataclass(slots=True)
class StepChanges:
    """What changed since the last drain, for the step's commit."""

    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)


class OrderManager:
    """Tracks the bot's orders and positions against one broker, persisting through ``store``."""

    def __init__(self, broker: Broker, store: OrderStore) -> None:
        self.broker = broker
        self.store = store
        self.working: dict[str, Order] = {o.client_id: o for o in store.open_orders()}
        self.book: dict[str, Position] = {p.symbol: p for p in store.positions()}
        self.orphans: dict[str, Order] = {}
        self.last_fill_ts: datetime | None = store.last_fill_ts()
        self._seen: set[str] = {f.trade_id for f in store.fills()
                                if self.last_fill_ts is not None and f.ts >= self.last_fill_ts}
        self._intents: dict[str, OrderIntent] = {cid: o.intent for cid, o in self.working.items()}
        self.changes = StepChanges()

    # --- restart ------------------------------------------------------------------------

    def reconcile(self, ts: datetime) -> list[str]:
        """Align stored working orders with the broker; returns mismatches (empty: all good)."""
        problems = []
        for cid, order in list(self.working.items()):
            venue = self.broker.fetch_order(cid)
            if venue is None:
                if order.state is OrderState.PENDING_SUBMIT:
                    self.orphans[cid] = self.working.pop(cid)
                else:
                    problems.append(f"order {cid} ({order.state.value}) is unknown to the broker")
        problems += self.sync(ts)
        return problems

    def drop_orphans(self, ts: datetime) -> None:
        """Orphans of steps up to ``ts`` that the replay did not regenerate never reached the broker."""
        for cid, order in list(self.orphans.items()):
            if order.intent.created_at <= ts:
                del self.orphans[cid]
                self.record(order.transition(OrderState.CANCELED, ts, reason="never reached the broker (restart)"))

    # --- placing ------------------------------------------------------------------------

    def place(self, intents: list[OrderIntent], ts: datetime) -> list[Order]:
        """Commit the intents, then submit each once; returns the resulting orders."""
        todo = []
        for i in intents:
            if i.client_id in self.working:
                continue
            if i.client_id not in self.orphans and self.store.get_order(i.client_id) is not None:
                # placed before and finished: placing it again would duplicate it
                log.error("order.duplicate_refused", client_id=i.client_id, signal_id=i.signal_id)
                continue
            todo.append(i)
        fresh = [new_order(i) for i in todo if i.client_id not in self.orphans]
        self.store.record_intents(fresh)
        out = []
        for intent in todo:
            order = self.orphans.pop(intent.client_id, None) or new_order(intent)
            self._intents[intent.client_id] = intent
            try:
                placed = self.broker.submit(intent)
                order = order.transition(placed.state, ts, exchange_id=placed.exchange_id)
                log.info("order.submitted", client_id=intent.client_id, signal_id=intent.signal_id,
                         symbol=intent.symbol, leg=intent.leg.value, side=intent.side.value, qty=intent.qty,
                         price=intent.price)
            except RejectedError as exc:
                order = order.transition(OrderState.REJECTED, ts, reason=str(exc))
                log.warning("order.rejected", client_id=intent.client_id, reason=str(exc))
            except AmbiguousError as exc:
                order = order.transition(OrderState.UNKNOWN, ts, reason=str(exc))
                log.warning("order.unknown", client_id=intent.client_id, reason=str(exc))
            self.record(order)
            out.append(order)
        return out

    def ensure_brackets(self, ts: datetime) -> None:
        """Give every open position its stop and take-profit; no stop possible -> market exit."""
        intents = []
        for pos in self.book.values():
            have = {o.intent.leg for o in self.working.values() if o.intent.position_id == pos.position_id}
            for leg, kind, price in ((OrderLeg.STOP_LOSS, OrderType.STOP_MARKET, pos.stop_loss),
                                     (OrderLeg.TAKE_PROFIT, OrderType.LIMIT, pos.take_profit)):
                cid = client_order_id(pos.signal_id, leg)
                if price is None or leg in have or OrderLeg.EXIT in have or self._used(cid):
                    continue
                intents.append(OrderIntent(cid, pos.symbol, pos.side.exit_side, kind, leg, pos.qty, pos.signal_id,
                                           pos.position_id, ts, price=price, reduce_only=True))
        placed = self.place(intents, ts)
        exits = []
        for order in placed:
            if order.intent.leg is OrderLeg.STOP_LOSS and order.state is OrderState.REJECTED:
                held = self.book.get(order.intent.symbol)
                if held is not None:
                    exits.append(OrderIntent(client_order_id(held.signal_id, OrderLeg.EXIT), held.symbol,
                                             held.side.exit_side, OrderType.MARKET, OrderLeg.EXIT, held.qty,
                                             held.signal_id, held.position_id, ts, reduce_only=True))
                    log.error("order.emergency_exit", position_id=held.position_id, reason=order.reason)
        self.place(exits, ts)

    def _used(self, cid: str) -> bool:
        """Placed before (an orphan is not: it is placed again)."""
        if cid in self.orphans:
            return False
        return cid in self._intents or self.store.get_order(cid) is not None

    # --- sync -----------------------------------------------------------------------------

    def sync(self, ts: datetime) -> list[str]:
        """Re-read working orders and new fills from the broker; returns book mismatches."""
        for cid, order in list(self.working.items()):
            venue = self.broker.fetch_order(cid)
            if venue is not None and (venue.state != order.state or venue.filled_qty != order.filled_qty):
                self.record(order.transition(venue.state, ts, filled_qty=venue.filled_qty,
                                              avg_price=venue.avg_price, reason=venue.reason,
                                              exchange_id=venue.exchange_id or order.exchange_id))
        # the broker's order is the execution order (an exit and the next entry may share a timestamp)
        for fill in self.broker.fills(self.last_fill_ts):
            if fill.trade_id not in self._seen:
                self._apply(fill)
        return self._check_positions()

    def _apply(self, fill: Fill) -> None:
        intent = self._intents.get(fill.client_id)
        if intent is None:
            stored = self.store.get_order(fill.client_id)
            if stored is None:
                raise AmbiguousError(f"fill {fill.trade_id} of unknown order {fill.client_id}")
            intent = stored.intent
        position, trade = apply_fill(self.book.get(fill.symbol), fill, intent)
        if position is None:
            self.book.pop(fill.symbol, None)
        else:
            self.book[fill.symbol] = position
        self.changes.fills.append(fill)
        if trade is not None:
            self.changes.trades.append(trade)
            log.info("position.closed", position_id=trade.position_id, symbol=trade.symbol,
                     reason=trade.exit_reason.value, net_pnl=round(trade.net_pnl, 2))
        log.info("order.filled", client_id=fill.client_id, trade_id=fill.trade_id, symbol=fill.symbol,
                 leg=fill.leg.value, qty=fill.qty, price=fill.price)
        if self.last_fill_ts is None or fill.ts > self.last_fill_ts:
            self.last_fill_ts = fill.ts
            self._seen = set()
        self._seen.add(fill.trade_id)

    def _check_positions(self) -> list[str]:
        venue = {p.symbol: p for p in self.broker.positions()}
        problems = []
        for symbol in sorted(set(venue) | set(self.book)):
            mine, theirs = self.book.get(symbol), venue.get(symbol)
            if mine is None or theirs is None or abs(mine.qty - theirs.qty) > QTY_EPS * max(mine.qty, 1.0) \
                    or mine.side is not theirs.side:
                problems.append(f"{symbol}: position mismatch (bot {_pos(mine)}, broker {_pos(theirs)})")
            elif theirs.funding != mine.funding:  # funding is only visible at the venue
                self.book[symbol] = replace(mine, funding=theirs.funding)
        return problems

    def record(self, order: Order) -> None:
        """Take ``order`` as the current state: into this step's changes, and working or done."""
        self.changes.orders[order.client_id] = order
        if order.state.is_terminal:
            self.working.pop(order.client_id, None)
        else:
            self.working[order.client_id] = order

    # --- views ----------------------------------------------------------------------------

    def drain(self) -> StepChanges:
        """Hand over what changed since the last call (for the step commit)."""
        out, self.changes = self.changes, StepChanges()
        return out

    def has_entry_working(self, symbol: str) -> bool:
        """An entry order of ``symbol`` is still working."""
        return any(o.intent.symbol == symbol and o.intent.leg is OrderLeg.ENTRY for o in self.working.values())

    def pending_entry_notional(self, marks: dict[str, float]) -> dict[str, float]:
        """Notional of working entries per symbol at ``marks``."""
        out: dict[str, float] = {}
        for o in self.working.values():
            if o.intent.leg is OrderLeg.ENTRY:
                out[o.intent.symbol] = out.get(o.intent.symbol, 0.0) + o.remaining * marks.get(o.intent.symbol, 0.0)
        return out


def _pos(p: Position | None) -> str:
    return "flat" if p is None else f"{p.side.value} {p.qty:g}"
