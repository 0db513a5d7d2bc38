"""Positions as a fold over fills (pure): the paper venue and the bot's own book both use it.

One-way mode: one position per symbol. An entry fill opens or adds (average price); a
reduce-only fill realizes PnL and closes the position when nothing is left, yielding a
:class:`ClosedTrade`. An entry that opposes an open position is a bug upstream and raises.
"""

from __future__ import annotations

from dataclasses import replace

from bot.errors import FatalError
from bot.execution.orders import (EXIT_REASON_OF_LEG, ClosedTrade, ExitReason, Fill, OrderIntent, OrderLeg,
                                  OrderSide, Position, PositionSide)

QTY_EPS = 1e-9


def apply_fill(position: Position | None, fill: Fill,
               intent: OrderIntent) -> tuple[Position | None, ClosedTrade | None]:
    """The position after ``fill`` (of the order ``intent``), and the trade it closed, if any."""
    if intent.leg is OrderLeg.ENTRY:
        return _open_or_add(position, fill, intent), None
    if position is None:
        # a reduce-only fill without a position cannot happen at a venue that enforces reduce-only
        raise FatalError(f"{fill.symbol}: reduce fill {fill.trade_id} without an open position")
    return _reduce(position, fill, EXIT_REASON_OF_LEG[intent.leg])


def _open_or_add(position: Position | None, fill: Fill, intent: OrderIntent) -> Position:
    side = PositionSide.LONG if fill.side is OrderSide.BUY else PositionSide.SHORT
    if position is None:
        return Position(position_id=fill.position_id, symbol=fill.symbol, side=side, qty=fill.qty,
                        entry_price=fill.price, opened_at=fill.ts, signal_id=intent.signal_id,
                        stop_loss=intent.stop_loss, take_profit=intent.take_profit, fees=fill.fee)
    if position.side is not side or position.position_id != fill.position_id:
        raise FatalError(f"{fill.symbol}: entry {fill.trade_id} would change open position {position.position_id}")
    qty = position.qty + fill.qty
    entry = (position.entry_price * position.qty + fill.price * fill.qty) / qty
    return replace(position, qty=qty, entry_price=entry, fees=position.fees + fill.fee)


def _reduce(position: Position, fill: Fill, reason: ExitReason) -> tuple[Position | None, ClosedTrade | None]:
    qty = min(fill.qty, position.qty)
    realized = position.realized_pnl + position.side.sign * qty * (fill.price - position.entry_price)
    fees = position.fees + fill.fee
    closed_qty = position.closed_qty + qty
    left = position.qty - qty
    if left > QTY_EPS * max(position.qty, 1.0):
        return replace(position, qty=left, realized_pnl=realized, fees=fees, closed_qty=closed_qty), None
    exit_price = position.entry_price + realized / (position.side.sign * closed_qty)
    trade = ClosedTrade(position_id=position.position_id, symbol=position.symbol, side=position.side,
                        qty=closed_qty, entry_price=position.entry_price, exit_price=exit_price,
                        opened_at=position.opened_at, closed_at=fill.ts, gross_pnl=realized, fees=fees,
                        funding=position.funding, net_pnl=realized - fees + position.funding,
                        exit_reason=reason, signal_id=position.signal_id)
    return None, trade


def apply_funding(position: Position, amount: float) -> Position:
    """The position after a funding payment of ``amount`` (negative: paid)."""
    return replace(position, funding=position.funding + amount)
