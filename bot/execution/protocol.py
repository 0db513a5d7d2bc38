"""The Broker protocol every broker implements (PaperBroker now, the ccxt broker later).

``submit``/``cancel`` act; ``fetch_order``, ``open_orders``, ``positions``, ``fills`` and
``balance`` are the reconciliation port the runner reads after every step and on start.

Error contract: ``RejectedError`` for a definitive refusal (nothing was placed),
``AmbiguousError`` when the outcome is unknown (the runner marks the order UNKNOWN and
reconciles by client id; it never resubmits), ``RetryableError`` for a failed read.
``fetch_order`` returns ``None`` only when the venue answered that it does not know the id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

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
