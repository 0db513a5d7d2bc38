"""The exchange as the runner's venue: startup gate, UNKNOWN orders, sync between bars.

A real exchange moves on its own, so the runner does not hand it bars; it *settles* with it
instead: before each step's decisions, right after the step's entries (so the reduce-only
stop and target go on as soon as the entry fills, not a bar later), and every
``live.reconcile_interval_s`` between bars. Settling resolves UNKNOWN orders by client id
(never resubmitting), reads orders, fills and positions, and places missing protective legs.

On start (``bot.live.reconcile.startup``) the exchange is checked before any entry; on a fresh
store the account's earlier history is not the bot's, so fills are read from the exchange's
clock of now onwards (an open position or a working order still is, and halts the bot).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

from bot.clock import Clock, Sleeper
from bot.execution.manager import OrderManager
from bot.feeds.base import Bar
from bot.live.ccxt_broker import CcxtBroker
from bot.live.reconcile import resolve_unknown, startup
from bot.store import Store
from config.settings import LiveSettings


class LiveVenue:
    """A :class:`CcxtBroker` account seen by the runner (see ``bot.execution.venue.Venue``)."""

    def __init__(self, broker: CcxtBroker, store: Store, live: LiveSettings, clock: Clock, sleeper: Sleeper) -> None:
        self.broker = broker
        self.store = store
        self.live = live
        self.clock = clock
        self.sleeper = sleeper
        self.tend_every_s: float | None = live.reconcile_interval_s

    def startup(self, manager: OrderManager, ts: datetime) -> list[str]:
        """Orders the store never wrote, UNKNOWN orders, stored orders and positions: all must match."""
        if not self.store.orders():
            manager.last_fill_ts = self.broker.server_time()
        return startup(manager, self.broker, self.store, self.clock, self.live.unknown_grace_s, self.sleeper)

    def settle(self, manager: OrderManager, now: datetime) -> list[str]:
        """Resolve UNKNOWN orders, read orders, fills and positions, place missing stops and targets."""
        resolve_unknown(manager, self.broker, now, self.live.unknown_grace_s)
        problems = manager.sync(now)
        manager.ensure_brackets(now)
        return problems

    def on_bar(self, manager: OrderManager, bar: Bar) -> list[str]:
        """The exchange trades on its own: a bar needs nothing here (``settle`` did the reading)."""
        return []

    def state(self) -> None:
        """The exchange holds its own state."""
        return None

    def restore(self, state: Any) -> None:
        """Nothing to restore: the exchange is read at startup."""


def ccxt_venue(exchange: Any, live: LiveSettings, symbols: Sequence[str], clock: Clock,
               sleeper: Sleeper) -> Callable[[Store], LiveVenue]:
    """A venue factory for ``build_runner``: the broker needs the store the runner opens."""
    def make(store: Store) -> LiveVenue:
        broker = CcxtBroker(exchange, live, symbols, known=store, clock=clock, sleep=sleeper.sleep)
        return LiveVenue(broker, store, live, clock, sleeper)
    return make
