"""The execution side of a live bot: startup gate, entries, periodic sync, one commit per step.

``LiveSession`` drives an ``OrderManager`` over a live broker the way the runner's step does
for paper (sync -> brackets -> commit, risk state persisted with the step), plus what only a
live venue needs: the startup gate of ``bot.live.reconcile`` and the periodic resolution of
UNKNOWN orders. It takes order intents; turning signals into intents is the runner's job
(:func:`entry_intent` is the same arithmetic for callers that hold a Signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bot.clock import Clock, Sleeper
from bot.errors import FatalError, LiqbotError
from bot.execution.manager import OrderManager
from bot.execution.orders import Balance, Order, OrderIntent, OrderLeg, OrderSide, OrderType, client_order_id
from bot.execution.protocol import Broker
from bot.live.reconcile import resolve_unknown, startup
from bot.logs import get_logger
from bot.risk import RiskGuard, RiskState, TradingState, trip
from bot.store import StepWrite, Store
from config.settings import Settings
from strategies.signal import Direction, Signal

log = get_logger("liqbot.live")


def entry_intent(signal: Signal, ts: datetime) -> OrderIntent:
    """The market entry of a Signal: notional / entry price, carrying its stop and target."""
    cid = client_order_id(signal.id, OrderLeg.ENTRY)
    side = OrderSide.BUY if signal.signal == Direction.LONG else OrderSide.SELL
    return OrderIntent(cid, signal.symbol, side, OrderType.MARKET, OrderLeg.ENTRY,
                       signal.position_size.notional_usd / signal.entry_price, signal.id, cid, ts,
                       stop_loss=signal.stop_loss, take_profit=signal.take_profit)


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one step saw."""

    ts: datetime
    problems: list[str]
    errors: list[str]
    open_positions: int
    working_orders: int
    equity: float
    trading_state: TradingState


class LiveSession:
    """Startup gate, entries and periodic checks for one broker and one store."""

    def __init__(self, broker: Broker, store: Store, settings: Settings, clock: Clock, sleeper: Sleeper) -> None:
        self.broker = broker
        self.store = store
        self.settings = settings
        self.clock = clock
        self.sleeper = sleeper
        self.guard = RiskGuard(settings.risk, RiskState.from_record(store.risk_state()))
        self.manager = OrderManager(broker, store)
        self.started = False
        self._first_step = True
        self._balance: Balance | None = None

    def start(self) -> list[str]:
        """Reconcile orders, fills and positions before any entry; a mismatch halts (and is returned)."""
        if not self.store.orders():
            # a fresh store: the account's older history is not the bot's (an open position or
            # a working order still is, and the checks below catch those)
            server_time = getattr(self.broker, "server_time", self.clock.now)
            self.manager.last_fill_ts = server_time()
        problems = startup(self.manager, self.broker, self.store, self.clock, self.settings.live.unknown_grace_s,
                           self.sleeper)
        ts = self.clock.now()
        if problems:
            self._halt(ts, "reconciliation mismatch: " + "; ".join(problems))
        self._commit(ts)
        self.started = True
        log.info("live.started", trading_state=self.guard.trading_state.value, problems=len(problems),
                 working=len(self.manager.working), positions=len(self.manager.book))
        return problems

    def enter(self, intent: OrderIntent) -> Order | None:
        """Place an entry if the bot may trade (ACTIVE, no position or entry on the symbol)."""
        assert self.started, "start() first"
        ts = self.clock.now()
        sym = intent.symbol
        if self.guard.trading_state is not TradingState.ACTIVE or sym in self.manager.book \
                or self.manager.has_entry_working(sym):
            return None
        placed = self.manager.place([intent], ts)
        self._commit(ts)
        return placed[0] if placed else None

    def step(self) -> StepReport:
        """One periodic check: settle UNKNOWN orders, sync, protective legs, risk, commit."""
        assert self.started, "start() first"
        ts = self.clock.now()
        errors: list[str] = []
        problems: list[str] = []
        try:
            resolve_unknown(self.manager, self.broker, ts, self.settings.live.unknown_grace_s)
            problems = self.manager.sync(ts)
            self.manager.ensure_brackets(ts)
            if self._first_step:
                self.manager.drop_orphans(ts)
                self._first_step = False
        except FatalError:
            raise
        except LiqbotError as exc:  # a failed read or an unknown fill: the next step tries again
            errors.append(f"{type(exc).__name__}: {exc}")
            log.warning("live.step_error", error=str(exc)[:300])
        if problems:
            self._halt(ts, "reconciliation mismatch: " + "; ".join(problems))
        equity = self._equity(ts, errors)
        self.guard.on_step(ts, "; ".join(errors) or None)
        self._commit(ts)
        return StepReport(ts, problems, errors, len(self.manager.book), len(self.manager.working), equity,
                          self.guard.trading_state)

    def run(self, steps: int | None = None, stop: Callable[[], bool] | None = None) -> int:
        """Step every ``live.reconcile_interval_s`` until ``steps`` are done or ``stop()`` is true."""
        done = 0
        while (steps is None or done < steps) and not (stop is not None and stop()):
            self.step()
            done += 1
            if steps is None or done < steps:
                self.sleeper.sleep(self.settings.live.reconcile_interval_s)
        return done

    # --- internals ------------------------------------------------------------------------

    def _equity(self, ts: datetime, errors: list[str]) -> float:
        try:
            self._balance = self.broker.balance()
        except LiqbotError as exc:
            errors.append(f"balance: {exc}")
            return float("nan")
        self.guard.on_equity(ts, self._balance.equity)
        return self._balance.equity

    def _halt(self, ts: datetime, reason: str) -> None:
        self.guard.state = trip(self.guard.state, TradingState.HALTED, reason, ts)
        log.error("risk.halted", reason=reason)

    def _commit(self, ts: datetime) -> None:
        changes = self.manager.drain()
        balance = self._balance
        self.store.commit_step(StepWrite(ts=ts, orders=list(changes.orders.values()), fills=changes.fills,
                                         positions=list(self.manager.book.values()), trades=changes.trades,
                                         balance=balance, risk=self.guard.state.to_record()))
