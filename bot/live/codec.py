"""Pure conversions between ccxt's unified structures and the execution domain.

No I/O: the broker fetches, these functions translate. An order the bot did not place (found
at the exchange during reconciliation) gets a *foreign* intent so it can still be shown and
compared; its ids say where it came from (``signal_id`` ``"external"``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from bot.execution.orders import (Fill, Liquidity, Order, OrderIntent, OrderLeg, OrderSide, OrderState, OrderType,
                                  Position, PositionSide)

EXTERNAL = "external"
QTY_EPS = 1e-12

_STATES = {"open": OrderState.OPEN, "closed": OrderState.FILLED, "canceled": OrderState.CANCELED,
           "cancelled": OrderState.CANCELED, "expired": OrderState.CANCELED, "rejected": OrderState.REJECTED,
           "canceling": OrderState.PENDING_CANCEL}


def ms_to_dt(ms: Any, default: datetime) -> datetime:
    """Epoch milliseconds -> aware UTC datetime (``default`` when missing)."""
    return datetime.fromtimestamp(int(ms) / 1000, timezone.utc) if ms else default


def dt_to_ms(ts: datetime) -> int:
    """Aware datetime -> epoch milliseconds."""
    return int(ts.timestamp() * 1000)


def order_state(raw: Mapping[str, Any]) -> OrderState:
    """Domain state of a ccxt order: an open order with fills is PARTIALLY_FILLED."""
    state = _STATES.get(str(raw.get("status") or "").lower(), OrderState.OPEN)
    if state is OrderState.OPEN and float(raw.get("filled") or 0.0) > QTY_EPS:
        return OrderState.PARTIALLY_FILLED
    return state


def to_order(raw: Mapping[str, Any], intent: OrderIntent, now: datetime, reason: str | None = None) -> Order:
    """The domain order for a ccxt order of ``intent``."""
    filled = float(raw.get("filled") or 0.0)
    avg = raw.get("average")
    ts = raw.get("lastUpdateTimestamp") or raw.get("timestamp")
    return Order(intent=intent, state=order_state(raw), updated_at=ms_to_dt(ts, now), filled_qty=filled,
                 avg_price=float(avg) if avg and filled > QTY_EPS else None,
                 exchange_id=str(raw["id"]) if raw.get("id") else None, reason=reason)


def foreign_intent(raw: Mapping[str, Any], now: datetime) -> OrderIntent:
    """An intent describing an order the bot did not place (never submitted by it)."""
    reduce_only = bool(raw.get("reduceOnly"))
    trigger = raw.get("triggerPrice")
    kind = OrderType.STOP_MARKET if trigger else OrderType.LIMIT if raw.get("type") == "limit" else OrderType.MARKET
    price = trigger or (raw.get("price") if kind is OrderType.LIMIT else None)
    cid = str(raw.get("clientOrderId") or raw.get("id"))
    return OrderIntent(client_id=cid, symbol=str(raw["symbol"]), side=OrderSide(str(raw["side"]).lower()), type=kind,
                       leg=OrderLeg.EXIT if reduce_only else OrderLeg.ENTRY,
                       qty=float(raw.get("amount") or raw.get("filled") or 0.0) or 1e-12,
                       signal_id=EXTERNAL, position_id=f"{EXTERNAL}:{raw.get('id')}",
                       created_at=ms_to_dt(raw.get("timestamp"), now),
                       price=float(price) if price else None, reduce_only=reduce_only)


def to_fill(trade: Mapping[str, Any], intent: OrderIntent, market_id: str) -> Fill:
    """The domain fill of a ccxt trade of ``intent``; ``trade_id`` is ``<market id>-<trade id>``."""
    fee = trade.get("fee") or {}
    return Fill(trade_id=f"{market_id}-{trade['id']}", client_id=intent.client_id, symbol=intent.symbol,
                side=OrderSide(str(trade["side"]).lower()), leg=intent.leg, qty=float(trade["amount"]),
                price=float(trade["price"]), fee=float(fee.get("cost") or 0.0),
                liquidity=Liquidity.MAKER if trade.get("takerOrMaker") == "maker" else Liquidity.TAKER,
                ts=ms_to_dt(trade["timestamp"], datetime.now(timezone.utc)), position_id=intent.position_id)


def to_position(raw: Mapping[str, Any], entry: OrderIntent | None, now: datetime) -> Position | None:
    """The domain position of a ccxt position (``None`` when flat); ids come from its entry intent."""
    qty = abs(float(raw.get("contracts") or 0.0))
    if qty <= QTY_EPS:
        return None
    side = PositionSide.LONG if str(raw.get("side")).lower() == "long" else PositionSide.SHORT
    symbol = str(raw["symbol"])
    return Position(position_id=entry.position_id if entry else f"{EXTERNAL}:{symbol}", symbol=symbol, side=side,
                    qty=qty, entry_price=float(raw.get("entryPrice") or 0.0),
                    opened_at=entry.created_at if entry else ms_to_dt(raw.get("timestamp"), now),
                    signal_id=entry.signal_id if entry else EXTERNAL,
                    stop_loss=entry.stop_loss if entry else None, take_profit=entry.take_profit if entry else None)


def order_request(intent: OrderIntent, price: str | None) -> tuple[str, str | None, dict[str, Any]]:
    """(ccxt order type, limit price, params) for ``intent``; the client id always goes along."""
    params: dict[str, Any] = {"clientOrderId": intent.client_id}
    if intent.reduce_only:
        params["reduceOnly"] = True
    if intent.type is OrderType.STOP_MARKET:
        params["triggerPrice"] = price
        return "market", None, params
    params["newOrderRespType"] = "ACK"  # accepted is all a create says; fills are read by sync
    if intent.type is OrderType.LIMIT:
        params["timeInForce"] = "GTC"
        return "limit", price, params
    return "market", None, params


def is_conditional(intent: OrderIntent) -> bool:
    """Stop orders live in Binance's algo service and are queried and cancelled there."""
    return intent.type is OrderType.STOP_MARKET
