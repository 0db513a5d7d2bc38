"""Reconciliation with the exchange beyond what ``OrderManager`` checks.

``OrderManager.reconcile`` looks up the store's working orders at the broker and compares
positions. Live trading needs two more things:

- **Orders the store never wrote.** An order working at the exchange with a client id the
  store does not hold (placed by hand, by another bot on the same key, or before the state
  folder was wiped) halts the bot: nothing it does is safe while it cannot see the book.
- **UNKNOWN orders.** A submit that timed out leaves the order UNKNOWN. Exchanges show new
  orders late (Freqtrade #3649), so one "does not exist" answer proves nothing: the order is
  settled as never placed (REJECTED) only once it has stayed unknown for ``grace_s``. A
  network error is never such an answer (the broker raises instead of returning ``None``).

``startup`` runs both, then ``OrderManager.reconcile``, before any new entry; the runner's
``LiveVenue`` (``bot.live.venue``) calls it, and ``resolve_unknown`` before every sync.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import Clock, Sleeper
from bot.errors import AmbiguousError
from bot.execution.manager import OrderManager
from bot.execution.orders import Order, OrderState
from bot.execution.protocol import Broker
from bot.logs import get_logger
from bot.store import Store

log = get_logger("liqbot.live")


def orders_unknown_to_store(broker: Broker, store: Store) -> list[str]:
    """One line per order working at the exchange that the store has never recorded."""
    problems = []
    for order in broker.open_orders():
        if store.get_order(order.client_id) is None:
            i = order.intent
            problems.append(f"order {order.client_id} ({i.symbol} {i.side.value} {i.qty:g} {i.type.value}) is "
                            f"working at the exchange but unknown to the store")
    return problems


def resolve_unknown(manager: OrderManager, broker: Broker, now: datetime, grace_s: float) -> list[Order]:
    """Settle UNKNOWN orders: found -> the exchange's state; absent past ``grace_s`` -> REJECTED."""
    resolved = []
    for cid, order in list(manager.working.items()):
        if order.state is not OrderState.UNKNOWN:
            continue
        venue = broker.fetch_order(cid)
        if venue is not None:
            new = order.transition(venue.state, now, filled_qty=venue.filled_qty, avg_price=venue.avg_price,
                                   exchange_id=venue.exchange_id or order.exchange_id, reason=venue.reason)
        elif (now - order.updated_at).total_seconds() >= grace_s:
            new = order.transition(OrderState.REJECTED, now,
                                   reason=f"not at the exchange {grace_s:g} s after an ambiguous submit")
        else:
            continue
        manager.record(new)
        resolved.append(new)
        log.info("order.resolved", client_id=cid, state=new.state.value, reason=new.reason)
    return resolved


def oldest_unknown_age(manager: OrderManager, now: datetime) -> float | None:
    """Seconds since the oldest UNKNOWN order last changed (``None``: there is none)."""
    ages = [(now - o.updated_at).total_seconds() for o in manager.working.values() if o.state is OrderState.UNKNOWN]
    return max(ages) if ages else None


def startup(manager: OrderManager, broker: Broker, store: Store, clock: Clock, grace_s: float,
            sleeper: Sleeper | None = None) -> list[str]:
    """Reconcile before any new entry; returns the mismatches that must halt the bot (empty: all good).

    UNKNOWN orders still inside their grace period are waited for (through ``sleeper``) rather
    than guessed; without a sleeper they count as mismatches.
    """
    resolve_unknown(manager, broker, clock.now(), grace_s)
    age = oldest_unknown_age(manager, clock.now())
    if age is not None and sleeper is not None:
        sleeper.sleep(grace_s - age)
        resolve_unknown(manager, broker, clock.now(), grace_s)
    now = clock.now()
    problems = orders_unknown_to_store(broker, store)
    problems += [f"order {cid} is still unknown at the exchange" for cid, o in manager.working.items()
                 if o.state is OrderState.UNKNOWN]
    try:
        problems += manager.reconcile(now)
    except AmbiguousError as exc:  # fills of orders the store never wrote: someone else trades the account
        problems.append(str(exc))
    return problems
