"""The ports of the execution layer: the Broker every broker implements (PaperBroker, the ccxt broker) and
the OrderStore the order manager persists through.

``submit``/``cancel`` act; ``fetch_order``, ``open_orders``, ``positions``, ``fills`` and
``balance`` are the reconciliation port the runner reads after every step and on start.

Error contract: ``RejectedError`` for a definitive refusal (nothing was placed),
``AmbiguousError`` when the outcome is unknown (the runner marks the order UNKNOWN and
reconciles by client id; it never resubmits), ``RetryableError`` for a failed read.
``fetch_order`` returns ``None`` only when the venue answered that it does not know the id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Sequence, runtime_checkable

from bot.execution.orders import Balance, Fill, Order, OrderIntent, Position


@runtime_checkable
class Broker(Protocol):
    """Places and reports orders for one account."""

    def submit(self, intent: OrderIntent) -> Order:
        """Place ``intent`` once; returns the order as the venue accepted it."""
        ...

    def cancel(self, client_id: str) -> Order | None:
        """Cancel by client id; cancelling a terminal order returns it unchanged (idempotent)."""
        ...

    def fetch_order(self, client_id: str) -> Order | None:
        """The venue's view of one order, ``None`` if the venue does not know the id."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders still working at the venue."""
        ...

    def positions(self) -> list[Position]:
        """Open positions."""
        ...

    def fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills with ``ts >= since`` (inclusive: callers deduplicate by ``trade_id``)."""
        ...

    def balance(self) -> Balance:
        """Wallet, unrealized PnL and equity."""
        ...


@runtime_checkable
class BarDriven(Protocol):
    """A simulated venue that moves only when the runner hands it market data."""

    def on_open(self, symbol: str, ts: datetime, price: float) -> list[Fill]:
        """A new bar opened at ``price``: working market orders fill now."""
        ...

    def on_bar(self, symbol: str, ts: datetime, open_: float, high: float, low: float, close: float,
               funding_rate: float | None = None) -> list[Fill]:
        """The bar closed at ``ts``: stops and limits inside its range fill; funding is charged."""
        ...


class OrderStore(Protocol):
    """What the order manager reads from and writes to the state store (``bot.store.Store`` implements it).

    The port keeps ``bot.execution`` below the store: the manager never imports the SQLite adapter.
    ``record_intents`` is the write-ahead of the money path: it must be durable before the broker is called.
    """

    def record_intents(self, orders: Sequence[Order]) -> None:
        """Persist orders about to be submitted (state ``pending_submit``) before anything is sent."""
        ...

    def get_order(self, client_id: str) -> Order | None:
        """The stored order with this client id, or ``None``."""
        ...

    def open_orders(self) -> list[Order]:
        """Orders not in a terminal state."""
        ...

    def fills(self) -> list[Fill]:
        """Every recorded fill."""
        ...

    def last_fill_ts(self) -> datetime | None:
        """Time of the latest recorded fill, if any."""
        ...

    def positions(self) -> list[Position]:
        """The open positions as last persisted."""
        ...
