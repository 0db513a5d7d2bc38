"""Orders, fills, positions and trades: the execution domain shared by every broker.

An order's life is an explicit state table (:data:`TRANSITIONS`); an illegal move raises
:class:`IllegalTransition`. Re-applying the current state is allowed, because reconciliation
re-reads venue state and must be idempotent. Client order ids are derived from the signal id
and the leg, so a restarted bot recomputes the same id and finds the order instead of
placing it twice.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Mapping, TypeVar, get_type_hints

from bot.clock import parse_ts
from bot.domain import iso, utc
from bot.errors import DataError, FatalError


class OrderSide(StrEnum):
    """Buy or sell, as the venue sees an order."""

    BUY = "buy"
    SELL = "sell"


class PositionSide(StrEnum):
    """Direction of a position (one-way mode: one position per symbol)."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> float:
        """+1 for long, -1 for short: PnL = sign x qty x (exit - entry)."""
        return 1.0 if self is PositionSide.LONG else -1.0

    @property
    def entry_side(self) -> OrderSide:
        """The order side that opens this position."""
        return OrderSide.BUY if self is PositionSide.LONG else OrderSide.SELL

    @property
    def exit_side(self) -> OrderSide:
        """The order side that reduces this position."""
        return OrderSide.SELL if self is PositionSide.LONG else OrderSide.BUY


class OrderType(StrEnum):
    """How an order executes."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"


class OrderLeg(StrEnum):
    """The role of an order in a trade; part of the deterministic client id."""

    ENTRY = "entry"
    STOP_LOSS = "sl"
    TAKE_PROFIT = "tp"
    EXIT = "exit"  # market close: the stop could not be placed, or an operator/risk exit


class Liquidity(StrEnum):
    """Which fee a fill pays."""

    MAKER = "maker"
    TAKER = "taker"


class ExitReason(StrEnum):
    """Why a position closed."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    MARKET_EXIT = "market_exit"


EXIT_REASON_OF_LEG: Mapping[OrderLeg, ExitReason] = {
    OrderLeg.STOP_LOSS: ExitReason.STOP_LOSS,
    OrderLeg.TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    OrderLeg.EXIT: ExitReason.MARKET_EXIT,
}


class OrderState(StrEnum):
    """Life cycle of an order. UNKNOWN: the outcome of a submit is not known (reconcile)."""

    PENDING_SUBMIT = "pending_submit"  # intent stored, broker not yet called
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """No further transition is possible."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})

_S = OrderState
TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = {
    # CANCELED from PENDING_SUBMIT: an intent that never reached the broker (found after a restart)
    _S.PENDING_SUBMIT: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.REJECTED, _S.UNKNOWN, _S.CANCELED}),
    _S.UNKNOWN: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.REJECTED, _S.CANCELED}),
    _S.OPEN: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELED, _S.UNKNOWN}),
    _S.PARTIALLY_FILLED: frozenset({_S.FILLED, _S.PENDING_CANCEL, _S.CANCELED, _S.UNKNOWN}),
    _S.PENDING_CANCEL: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.UNKNOWN}),
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.REJECTED: frozenset(),
}


class IllegalTransition(FatalError):
    """An order was asked to move between states the table does not connect."""


def check_transition(current: OrderState, new: OrderState) -> OrderState:
    """Return ``new`` if the table allows ``current -> new`` (or they are equal), else raise."""
    if new == current or new in TRANSITIONS[current]:
        return new
    raise IllegalTransition(f"order state {current.value} -> {new.value} is not allowed")


_LEG_CODE = {OrderLeg.ENTRY: "e", OrderLeg.STOP_LOSS: "s", OrderLeg.TAKE_PROFIT: "t", OrderLeg.EXIT: "x"}


def client_order_id(signal_id: str, leg: OrderLeg) -> str:
    """Deterministic client order id from the signal and the leg.

    29 characters of ``[a-z0-9-]``: inside Binance's limit (36, ``[.A-Z:/a-z0-9_-]``) and
    every other venue ccxt trades.
    """
    digest = hashlib.sha256(f"{signal_id}|{leg.value}".encode("utf-8")).hexdigest()[:24]
    return f"lq-{_LEG_CODE[leg]}-{digest}"


def _finite_positive(value: float | None, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value is None or not (math.isfinite(value) and value > 0):
        raise DataError(f"must be a finite positive number, got {value!r}", field=name)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What the bot wants the broker to do; stored before the broker is called.

    ``price`` is the limit price (LIMIT) or trigger price (STOP_MARKET). An entry carries
    the ``stop_loss``/``take_profit`` it will be protected with once filled.
    """

    client_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    leg: OrderLeg
    qty: float
    signal_id: str
    position_id: str
    created_at: datetime
    price: float | None = None
    reduce_only: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", utc(self.created_at))
        _finite_positive(self.qty, "qty")
        if self.type is OrderType.MARKET:
            _finite_positive(self.price, "price", optional=True)
        else:
            _finite_positive(self.price, "price")
        _finite_positive(self.stop_loss, "stop_loss", optional=True)
        _finite_positive(self.take_profit, "take_profit", optional=True)
        if self.leg is not OrderLeg.ENTRY and not self.reduce_only:
            raise DataError(f"{self.leg.value} orders must be reduce-only", field="reduce_only")


@dataclass(frozen=True, slots=True)
class Order:
    """An intent and what has happened to it."""

    intent: OrderIntent
    state: OrderState
    updated_at: datetime
    filled_qty: float = 0.0
    avg_price: float | None = None
    exchange_id: str | None = None
    reason: str | None = None

    @property
    def client_id(self) -> str:
        """The deterministic client order id."""
        return self.intent.client_id

    @property
    def remaining(self) -> float:
        """Quantity not yet filled."""
        return max(self.intent.qty - self.filled_qty, 0.0)

    def transition(self, state: OrderState, ts: datetime, **changes: Any) -> "Order":
        """A copy in ``state`` (checked against the table) with ``changes`` applied."""
        return replace(self, state=check_transition(self.state, state), updated_at=utc(ts), **changes)


def new_order(intent: OrderIntent) -> Order:
    """The stored form of a fresh intent: PENDING_SUBMIT."""
    return Order(intent=intent, state=OrderState.PENDING_SUBMIT, updated_at=intent.created_at)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``trade_id`` is unique and deterministic, so replays deduplicate."""

    trade_id: str
    client_id: str
    symbol: str
    side: OrderSide
    leg: OrderLeg
    qty: float
    price: float
    fee: float
    liquidity: Liquidity
    ts: datetime
    position_id: str

    @property
    def notional(self) -> float:
        """qty x price, USD."""
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class Position:
    """An open position. ``fees`` and ``funding`` accumulate over its life (funding < 0: paid)."""

    position_id: str
    symbol: str
    side: PositionSide
    qty: float
    entry_price: float
    opened_at: datetime
    signal_id: str
    stop_loss: float | None = None
    take_profit: float | None = None
    realized_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    closed_qty: float = 0.0  # reduced so far (partial exits)

    def unrealized(self, mark: float) -> float:
        """PnL if closed at ``mark`` (before exit fees)."""
        return self.side.sign * self.qty * (mark - self.entry_price)

    @property
    def notional(self) -> float:
        """qty x entry price, USD."""
        return self.qty * self.entry_price


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A position from entry to its last exit. ``net_pnl`` = gross - fees + funding."""

    position_id: str
    symbol: str
    side: PositionSide
    qty: float
    entry_price: float
    exit_price: float
    opened_at: datetime
    closed_at: datetime
    gross_pnl: float
    fees: float
    funding: float
    net_pnl: float
    exit_reason: ExitReason
    signal_id: str


@dataclass(frozen=True, slots=True)
class Balance:
    """Wallet (realized), unrealized PnL and equity, in the quote currency."""

    wallet: float
    unrealized: float
    currency: str = "USDT"

    @property
    def equity(self) -> float:
        """wallet + unrealized."""
        return self.wallet + self.unrealized


# --- plain-dict codec (SQLite rows, paper venue state) -------------------------------------

T = TypeVar("T")
_HINTS: dict[type, dict[str, Any]] = {}


def to_record(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass: enums as values, datetimes as ISO, nested as dicts."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        out[f.name] = _encode(getattr(obj, f.name))
    return out


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if is_dataclass(value) and not isinstance(value, type):
        return to_record(value)
    return value


def from_record(cls: type[T], data: Mapping[str, Any]) -> T:
    """Inverse of :func:`to_record` for the dataclasses of this module."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _decode(hints[f.name], data[f.name])
    return cls(**kwargs)


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    target = args[0] if args and type(hint).__name__ == "UnionType" else hint
    if isinstance(target, type):
        if issubclass(target, Enum):
            return target(value)
        if issubclass(target, datetime):
            return parse_ts(value)
        if is_dataclass(target):
            return from_record(target, value)
        if target is float:
            return float(value)
    return value

