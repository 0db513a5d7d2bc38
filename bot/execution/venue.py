"""The venue seam of the runner: what differs between trading on paper and on an exchange.

The runner's loop is the same for paper and live (docs/architecture.md §1); a :class:`Venue` is the
one place that knows how the broker behind it moves and how it is reconciled:

- ``startup``: reconcile the store with the broker before any entry (mismatches halt);
- ``settle``: bring the bot's book in step with the venue *now* (before a step's decisions,
  right after its entries, and every ``tend_every_s`` between bars);
- ``on_bar``: a simulated venue trades the bar (a real exchange needs nothing);
- ``state``/``restore``: a simulated venue's state is stored with the step.

:class:`PaperVenue` is the paper broker's venue; the exchange's is ``bot.live.venue.LiveVenue``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.execution.manager import OrderManager
from bot.execution.paper import PaperBroker
from bot.execution.protocol import Broker
from bot.feeds.base import Bar


class Venue(Protocol):
    """How one broker is moved, reconciled and persisted by the runner."""

    broker: Broker
    tend_every_s: float | None  # how often to settle between bars (None: only when a bar arrives)

    def startup(self, manager: OrderManager, ts: datetime) -> list[str]:
        """Reconcile before any new entry; the mismatches that must halt the bot (empty: all good)."""
        ...

    def settle(self, manager: OrderManager, now: datetime) -> list[str]:
        """Read the venue's orders, fills and positions now; returns book mismatches."""
        ...

    def on_bar(self, manager: OrderManager, bar: Bar) -> list[str]:
        """Let ``bar`` happen at the venue (a simulated venue fills inside it); returns book mismatches."""
        ...

    def state(self) -> Any:
        """JSON-ready venue state to store with the step (``None``: nothing to store)."""
        ...

    def restore(self, state: Any) -> None:
        """Load what :meth:`state` stored (``None``: a fresh start)."""
        ...


class PaperVenue:
    """The paper broker: it moves only with bars, and its whole state is stored with each step."""

    tend_every_s: float | None = None

    def __init__(self, broker: PaperBroker) -> None:
        self.broker = broker

    def startup(self, manager: OrderManager, ts: datetime) -> list[str]:
        """Stored working orders looked up at the (restored) paper venue, then a sync."""
        return manager.reconcile(ts)

    def settle(self, manager: OrderManager, now: datetime) -> list[str]:
        """Nothing moves on paper between bars."""
        return []

    def on_bar(self, manager: OrderManager, bar: Bar) -> list[str]:
        """Entries fill at the open, then brackets inside the range; the book follows each move."""
        ts = bar.close_ts
        self.broker.on_open(bar.symbol, bar.ts, bar.open)
        problems = manager.sync(ts)
        manager.ensure_brackets(ts)
        self.broker.on_bar(bar.symbol, ts, bar.open, bar.high, bar.low, bar.close, bar.funding_rate)
        problems += manager.sync(ts)
        manager.ensure_brackets(ts)
        return problems

    def state(self) -> dict[str, Any]:
        """The paper account (orders, positions, fills, wallet)."""
        return self.broker.state()

    def restore(self, state: Any) -> None:
        """Rebuild the paper account from a stored step."""
        if state is not None:
            self.broker = PaperBroker.from_state(self.broker.settings, state)
