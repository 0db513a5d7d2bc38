"""The runner: one loop for paper and live.

Per closed bar of each symbol: quality gate -> venue moves (paper) -> heatmap snapshot ->
the shared decision step (:class:`bot.decide.Decider`: cluster tracker, magnets, market
context, engine, cooldown gate; the backtester calls the same one) -> signal log -> risk guard
-> broker -> store, with the whole step committed in one SQLite transaction (cursor, component state
and paper venue included), so a ``kill -9`` at any moment resumes from a whole step. A historic
run on the simulated venue commits batches of steps instead (``feed.commit_every_bars`` /
``feed.commit_every_s``, :mod:`bot.store.batching`): each step's rows join one open transaction
and the cursor and component state are written when the batch commits, so a ``kill -9`` resumes
from the last whole batch. Clock and sleep are injected; a stop request ends the loop after the
current step.

What differs between paper and live lives in one object, the :class:`~bot.execution.venue.Venue`
(startup reconciliation, settling with the venue, a simulated venue's bar and state); a live
venue is also settled every ``tend_every_s`` between bars (:meth:`Runner.tend`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from bot.clock import Clock, Sleeper, monotonic_ms, parse_ts
from bot.decide import Decider
from bot.domain import HeatmapSnapshot, iso
from bot.errors import ConfigError, FatalError
from bot.execution.manager import OrderManager
from bot.execution.orders import Balance, Order, OrderIntent, OrderLeg, OrderSide, OrderType, client_order_id
from bot.execution.protocol import Broker
from bot.execution.venue import PaperVenue, Venue
from bot.feeds.base import BarBatch, Feed
from bot.feeds.heatmaps import HeatmapProvider, snapshot_from_bytes, snapshot_to_bytes
from bot.feeds.quality import QualityGate
from bot.logs import get_logger
from bot.risk import Exposure, RiskGuard, RiskState, TradingState, trip
from bot.store import Decision, SignalDecision, StepWrite, Store
from bot.store.frames import ClusterFrame
from bot.store.batching import batch_for
from config.settings import Settings
from strategies.engine import EngineResult
from strategies.signal import Direction, Signal

log = get_logger("liqbot.runner")
OUTBOX_FLUSH = 96        # snapshots move from the SQLite outbox to the snapshot store in batches
WARMUP_CHECKPOINT = 96   # warmup (model only, no orders) is committed every this many bars


@dataclass(frozen=True, slots=True)
class StepInfo:
    """What a status line shows after a step."""

    ts: datetime
    prices: dict[str, float]
    open_positions: int
    equity: float
    signals: int
    trading_state: TradingState
    warmup: bool
    notice: str | None = None
    latency_ms: float = 0.0
    placed: tuple[Order, ...] = ()  # entries sent this step, as the broker answered


@dataclass(slots=True)
class RunResult:
    """How a run ended."""

    steps: int = 0
    stopped: bool = False  # by a stop request (SIGINT/SIGTERM)
    last_ts: datetime | None = None
    latencies_ms: list[float] = field(default_factory=list)


class Runner:
    """Drives a feed through the pipeline into a broker and the store."""

    def __init__(self, *, settings: Settings, feed: Feed, store: Store, heatmaps: HeatmapProvider,
                 engine: Any, clock: Clock, sleeper: Sleeper, historic: bool, broker: Any = None,
                 venue: Venue | None = None, signal_log: Any = None, snapshots: Any = None,
                 on_step: Callable[[StepInfo], None] | None = None, run_meta: dict[str, Any] | None = None) -> None:
        """``venue`` is how the broker is moved and reconciled; a bare ``broker`` is the paper broker."""
        if venue is None:
            if broker is None:
                raise ConfigError("the runner needs a venue (or a paper broker)")
            venue = PaperVenue(broker)
        self.settings = settings
        self.feed = feed
        self.venue = venue
        self.store = store
        self.heatmaps = heatmaps
        self.engine = engine
        self.clock = clock
        self.sleeper = sleeper
        self.historic = historic
        self.signal_log = signal_log
        self.snapshots = snapshots
        self.on_step = on_step
        self.run_meta = run_meta or {}
        self.gate = QualityGate(feed.timeframe, settings.feed.stale_after_s, settings.feed.resume_after_bars)
        self.guard = RiskGuard(settings.risk)
        self.bar_seconds = feed.timeframe.total_seconds()
        # one shared decision step per symbol: the backtester calls the same Decider (parity)
        self.deciders = {s: Decider(settings, s, self.bar_seconds, engine=engine, keep_clusters=False)
                         for s in feed.symbols}
        self.marks: dict[str, float] = {}
        self.manager: OrderManager | None = None
        self.problems: list[str] = []  # startup reconciliation mismatches
        self.signals = 0
        self._stop = False
        self._notices: dict[str, str | None] = {}
        self._outbox = 0
        self._warm_steps = 0
        self._unsaved: list[HeatmapSnapshot] = []  # snapshots of warmup steps not committed yet
        self._skipped: tuple[BarBatch, Any] | None = None  # the last warmup step left uncommitted
        self._chart: tuple[list[Any], list[ClusterFrame]] = ([], [])  # bars and cluster frames not committed yet
        # a deterministic replay on the simulated venue commits batches of steps (live: every step)
        self.batch = batch_for(historic and isinstance(venue, PaperVenue), settings.feed.commit_every_bars,
                               settings.feed.commit_every_s)
        self._cursor_batch: BarBatch | None = None  # the last step of the open batch
        self._written: tuple[list[Any] | None, dict[str, Any] | None] = (None, None)  # positions, risk
        if self.batch is not None and signal_log is not None:
            signal_log.defer_sync()  # synced once per batch, before the batch commits

    @property
    def broker(self) -> Broker:
        """The venue's broker (a paper broker is rebuilt from the store on start)."""
        return self.venue.broker

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Restore every component from the store, reconcile with the venue, position the feed.

        Returns the reconciliation mismatches (they halt trading, and the halt is stored at once).
        """
        store = self.store
        stored_meta = store.kv_get("run")
        if stored_meta is not None and self.run_meta and stored_meta != self.run_meta:
            raise ConfigError(f"state folder {store.path.parent} holds another run ({_meta_text(stored_meta)}); "
                              f"this one is {_meta_text(self.run_meta)}: use another --state")
        self.venue.restore(store.kv_get("venue"))
        self.heatmaps.restore({k: store.blob_get(k) for k in self.heatmaps.keys()})
        for symbol in self.feed.symbols:
            st = store.kv_get(f"decider:{symbol}")
            if st is not None:
                self.deciders[symbol] = Decider.from_state(self.settings, symbol, self.bar_seconds, st,
                                                           engine=self.engine, keep_clusters=False)
        self.gate.restore(store.kv_get("gate"))
        self.marks = {k: float(v) for k, v in store.kv_get("marks", {}).items()}
        self.guard.state = RiskState.from_record(store.risk_state())
        self.signals = len(store.decisions())
        self.manager = OrderManager(self.broker, store)
        cursor = store.kv_get("cursor")
        ts = parse_ts(cursor) if cursor else self.clock.now()
        self.problems = self.venue.startup(self.manager, ts)
        if self.problems:
            self._halt(ts, "reconciliation mismatch: " + "; ".join(self.problems))
        changes = self.manager.changes
        if self.problems or changes.orders or changes.fills or changes.trades:
            self._commit_venue(ts, None)  # what reconciliation settled (and a halt) must survive a crash
        self.feed.seek(parse_ts(cursor) if cursor else None)
        self.flush_snapshots()
        log.info("runner.started", resumed_at=cursor, symbols=list(self.feed.symbols),
                 trading_state=self.guard.trading_state.value, orphans=len(self.manager.orphans),
                 problems=len(self.problems))
        return self.problems

    def stop(self) -> None:
        """Ask the loop to end after the current step."""
        self._stop = True

    def run(self, until: datetime | None = None) -> RunResult:
        """Poll the feed and step until it is done, ``until`` (clock time) passes, or a stop request."""
        if self.manager is None:
            self.start()
        result = RunResult()
        try:
            self._loop(until, result)
            if self._skipped is not None:  # a stop during warmup: keep what was done
                self._commit(*self._skipped, [], [], force=True)
            self.commit_batch()
        except BaseException:
            self.store.rollback_batch()  # the store stays at the last whole batch
            raise
        finally:
            self.flush_snapshots()
        result.stopped = self._stop
        return result

    def _loop(self, until: datetime | None, result: RunResult) -> None:
        every = self.venue.tend_every_s
        settled = self.clock.now()  # start() just reconciled
        while not self._stop:
            now = self.clock.now()
            if until is not None and now >= until:
                break
            poll = self.feed.poll(now)
            if poll.notice:
                self._notice("feed", poll.notice)
            for batch in poll.batches:
                info = self.step(batch, batch.close_ts if self.historic else self.clock.now())
                settled = self.clock.now()
                result.steps += 1
                result.last_ts = batch.close_ts
                if not batch.warmup:
                    result.latencies_ms.append(info.latency_ms)
                if self._stop:
                    break
            if poll.done:
                break
            if self._stop:
                break
            wait = poll.wait_s
            if every is not None:  # a real venue moves between bars: fills, protective legs
                if (self.clock.now() - settled).total_seconds() >= every:
                    self.tend(self.clock.now())
                    settled = self.clock.now()
                wait = min(wait, every - (self.clock.now() - settled).total_seconds())
            if until is not None:
                wait = min(wait, (until - self.clock.now()).total_seconds())
            if wait > 0:
                self.commit_batch()  # a paced run does not hold a batch open while it sleeps
            self.sleeper.sleep(wait)

    def flush_snapshots(self) -> None:
        """Move recorded snapshots from the store's outbox to the snapshot store (idempotent)."""
        pending = self.store.outbox()
        if pending and self.snapshots is not None:
            self.snapshots.write(snapshot_from_bytes(p) for _, p in pending)
        if pending:
            self.store.clear_outbox(pending[-1][0])
        self._outbox = 0

    # --- one step ---------------------------------------------------------------------------

    def step(self, batch: BarBatch, now: datetime) -> StepInfo:
        """Process every bar of ``batch`` and commit the step."""
        assert self.manager is not None, "start() first"
        if self.batch is not None:
            self.store.begin_batch()  # intents and rows of this step join the open batch
        ts = batch.close_ts
        before = self.guard.trading_state
        errors: list[str] = []
        notice = None
        snapshots: list[HeatmapSnapshot] = []
        decisions: list[SignalDecision] = []
        entries: list[OrderIntent] = []
        latency = 0.0
        settled: bool | None = None  # the venue is read once per step, before the first decision
        for bar in batch.bars:
            verdict = self.gate.check(bar, now)
            notice = self._notice(bar.symbol, verdict.reason) or notice
            if not verdict.valid:
                continue
            try:
                problems = self.venue.on_bar(self.manager, bar)  # a simulated venue trades the bar
                if problems:
                    self._halt(ts, "reconciliation mismatch: " + "; ".join(problems))
                trade = verdict.trade and not batch.warmup
                if trade and settled is None:
                    settled = self._settle(now, errors)
                t0 = monotonic_ms()  # latency: the new bar -> the decided order (no I/O inside)
                snapshot = self.heatmaps.snapshot(bar)
                self.marks[bar.symbol] = bar.close
                # an unreadable venue: no entries on a book that may be stale (the tracker still advances)
                decided = self.deciders[bar.symbol].step(snapshot, bar.high, bar.low, bar.close, oi_usd=bar.oi_usd,
                                                         ls_ratio=bar.long_short_ratio, funding_rate=bar.funding_rate,
                                                         trade=trade and bool(settled))
                self._chart[0].append(bar)
                if snapshot is None:
                    continue
                self._chart[1].append(ClusterFrame(bar.symbol, snapshot.ts, snapshot.price, tuple(decided.clusters)))
                snapshots.append(snapshot)  # warmup too: a replay from the start must see what the tracker saw
                if batch.warmup:
                    continue
                if decided.result is not None:
                    intent, decision = self._decide(decided.result, entries, ts)
                    decisions += decision
                    entries += intent
                latency = max(latency, monotonic_ms() - t0)
            except FatalError:
                raise
            except Exception as exc:  # one symbol's failure must not stop the others
                errors.append(f"{bar.symbol}: {type(exc).__name__}: {exc}")
                log.exception("runner.step_error", symbol=bar.symbol, ts=iso(ts))
        placed: list[Order] = []
        try:
            placed = self.manager.place(entries, now)
        except FatalError:
            raise
        except Exception as exc:
            errors.append(f"submit: {type(exc).__name__}: {exc}")
            log.exception("runner.submit_error", ts=iso(ts))
        if placed:
            self._settle(now, errors)  # a filled entry gets its stop and target now, not a bar later
        self.manager.drop_orphans(ts)
        balance = self._balance(errors)
        if balance is not None and not batch.warmup:
            self.guard.on_equity(ts, balance.equity)
        self._end_step(ts, before, errors)
        self._commit(batch, balance, decisions, snapshots)
        info = StepInfo(ts=ts, prices={b.symbol: b.close for b in batch.bars}, open_positions=len(self.manager.book),
                        equity=balance.equity if balance is not None else math.nan, signals=self.signals,
                        trading_state=self.guard.trading_state, warmup=batch.warmup, notice=notice,
                        latency_ms=latency, placed=tuple(placed))
        if self.on_step is not None:
            self.on_step(info)
        return info

    def tend(self, now: datetime) -> TradingState:
        """Between bars: settle with the venue (fills, protective legs, UNKNOWN orders) and commit."""
        assert self.manager is not None, "start() first"
        before = self.guard.trading_state
        errors: list[str] = []
        self._settle(now, errors)
        balance = self._balance(errors)
        if balance is not None:
            self.guard.on_equity(now, balance.equity)
        self._end_step(now, before, errors)
        self._commit_venue(now, balance)
        return self.guard.trading_state

    def _settle(self, now: datetime, errors: list[str]) -> bool:
        """Settle with the venue; a mismatch halts; False when the venue could not be read."""
        assert self.manager is not None
        try:
            problems = self.venue.settle(self.manager, now)
        except FatalError:
            raise
        except Exception as exc:  # a failed read or an unknown fill: the next settle tries again
            errors.append(f"venue: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            log.warning("runner.venue_error", error=errors[-1])
            return False
        if problems:
            self._halt(now, "reconciliation mismatch: " + "; ".join(problems))
        return True

    def _balance(self, errors: list[str]) -> Balance | None:
        try:
            return self.broker.balance()
        except FatalError:
            raise
        except Exception as exc:
            errors.append(f"balance: {type(exc).__name__}: {exc}")
            return None

    def _end_step(self, ts: datetime, before: TradingState, errors: list[str]) -> None:
        """Count the step's errors (enough in a row halt) and log a change of trading state."""
        self.guard.on_step(ts, "; ".join(errors) or None)
        if self.guard.trading_state != before:
            log.warning(f"risk.{self.guard.trading_state.value.lower()}", reason=self.guard.state.reason, ts=iso(ts))

    def _decide(self, result: EngineResult, pending: list[OrderIntent],
                ts: datetime) -> tuple[list[OrderIntent], list[SignalDecision]]:
        """Signal log -> risk guard: the entry intents and the decision per emitted signal."""
        assert self.manager is not None
        if self.signal_log is not None:
            self.signal_log.write_result(result)
        intents, decisions = [], []
        for signal in result.signals:
            self.signals += 1
            log.info("signal.emitted", signal_id=signal.id, symbol=signal.symbol, strategy=signal.strategy.value,
                     side=signal.signal.value, entry=signal.entry_price)
            intent, decision = self._entry_for(signal, pending + intents, ts)
            decisions.append(decision)
            if intent is not None:
                intents.append(intent)
        return intents, decisions

    def _entry_for(self, signal: Signal, pending: list[OrderIntent],
                   ts: datetime) -> tuple[OrderIntent | None, SignalDecision]:
        assert self.manager is not None
        sym = signal.symbol

        def decided(kind: Decision, reason: str | None = None, cid: str | None = None) -> SignalDecision:
            return SignalDecision(signal.id, ts, sym, signal.strategy.value, signal.signal.value, kind, reason, cid)

        if sym in self.manager.book or self.manager.has_entry_working(sym) or any(p.symbol == sym for p in pending):
            return None, decided(Decision.SKIPPED, "a position or entry is already open on the symbol")
        notional = signal.position_size.notional_usd
        working = self.manager.pending_entry_notional(self.marks)
        for p in pending:
            working[p.symbol] = working.get(p.symbol, 0.0) + p.qty * self.marks.get(p.symbol, 0.0)
        held = {s: p.qty * self.marks.get(s, p.entry_price) for s, p in self.manager.book.items()}
        exposure = Exposure(equity=self.broker.balance().equity,
                            open_positions=len(set(held) | set(working)),
                            symbol_notional=held.get(sym, 0.0) + working.get(sym, 0.0),
                            total_notional=sum(held.values()) + sum(working.values()))
        verdict = self.guard.check_entry(exposure, notional)
        if not verdict.allowed:
            log.info("signal.denied", signal_id=signal.id, reason=verdict.reason)
            return None, decided(Decision.DENIED, verdict.reason)
        intent = entry_intent(signal, ts)
        return intent, decided(Decision.SUBMITTED, None, intent.client_id)

    def _commit(self, batch: BarBatch, balance: Any, decisions: list[SignalDecision],
                snapshots: list[HeatmapSnapshot], force: bool = False) -> None:
        assert self.manager is not None
        changes = self.manager.drain()
        if self.snapshots is not None:
            self._unsaved += snapshots
        self._skipped = None
        if self.batch is None and batch.warmup and not (changes.orders or changes.fills) and not force:
            self._warm_steps += 1
            if self._warm_steps % WARMUP_CHECKPOINT:
                self._skipped = (batch, balance)
                return  # a crash here replays the warmup from the last checkpoint: no orders exist yet
        positions, risk = list(self.manager.book.values()), self.guard.state.to_record()
        if batch.warmup and not (changes.orders or changes.fills):
            # the guard does not act before trading: no risk row then (batched or not), unless its state changed
            last = self._written[1] or RiskState().to_record()
            if (risk["state"], risk.get("reason")) == (last["state"], last.get("reason")):
                risk = self._written[1]
        rows = StepWrite(ts=batch.close_ts, orders=list(changes.orders.values()), fills=changes.fills,
                         positions=None if positions == self._written[0] else positions, trades=changes.trades,
                         balance=None if batch.warmup else balance, decisions=decisions,
                         risk=None if risk == self._written[1] else risk,
                         bars=self._chart[0], frames=self._chart[1])
        self._chart = ([], [])  # chart rows travel with their step's rows (batched or not)
        self._written = (positions, risk)  # an unchanged book or risk record is not rewritten every step
        if self.batch is not None:
            self.store.commit_step(rows)  # joins the open batch; the state follows when it commits
            self._cursor_batch = batch
            if self.batch.add() or force:
                self.commit_batch()
            return
        self._write_state(rows, batch)

    def _write_state(self, rows: StepWrite, batch: BarBatch) -> None:
        """Write ``rows`` with the cursor at ``batch`` and every component's state, then flush snapshots."""
        kv: dict[str, Any] = {"cursor": batch.close_ts.isoformat(), "gate": self.gate.state(),
                              "marks": self.marks}
        if self.run_meta:
            kv["run"] = self.run_meta
        for symbol in self.feed.symbols:
            kv[f"decider:{symbol}"] = self.deciders[symbol].state()
        venue = self.venue.state()
        if venue is not None:
            kv["venue"] = venue
        rows.kv = kv
        rows.blobs = self.heatmaps.state()
        if self.batch is not None and self.snapshots is not None:
            # write-ahead to the snapshot store, which is idempotent (a rewritten span masks the old
            # one): a kill before the commit replays these steps and writes the same snapshots again
            self.snapshots.write(self._unsaved)
            self._unsaved = []
        rows.outbox = [(s.symbol, s.ts, snapshot_to_bytes(s)) for s in self._unsaved]
        self.store.commit_step(rows)
        self.store.commit_batch()
        self._outbox += len(self._unsaved)
        self._unsaved = []
        if self._outbox >= OUTBOX_FLUSH:
            self.flush_snapshots()

    def commit_batch(self) -> None:
        """Commit the open batch with the cursor and state after its last step (no-op without one)."""
        if self.batch is None or not self.store.in_batch:
            return
        if self._cursor_batch is None:  # opened, but no step reached its commit: nothing to keep
            self.store.rollback_batch()
            return
        if self.signal_log is not None:
            self.signal_log.sync()  # the batch's signals are on disk before the store says they were emitted
        self._write_state(StepWrite(ts=self._cursor_batch.close_ts), self._cursor_batch)
        self._cursor_batch = None
        self.batch.committed()

    def _commit_venue(self, ts: datetime, balance: Balance | None) -> None:
        """Commit what settling changed, outside a bar step (the feed cursor stays where it is)."""
        assert self.manager is not None
        changes = self.manager.drain()
        positions, risk = list(self.manager.book.values()), self.guard.state.to_record()
        self.store.commit_step(StepWrite(ts=ts, orders=list(changes.orders.values()), fills=changes.fills,
                                         positions=positions, trades=changes.trades, balance=balance, risk=risk))
        self._written = (positions, risk)

    # --- helpers ----------------------------------------------------------------------------

    def _halt(self, ts: datetime, reason: str) -> None:
        self.guard.state = trip(self.guard.state, TradingState.HALTED, reason, ts)
        log.error("risk.halted", reason=reason, ts=iso(ts))

    def _notice(self, key: str, reason: str | None) -> str | None:
        """Log a data notice once when it appears and once when it clears."""
        if self._notices.get(key) != reason:
            if reason:
                log.warning("feed.paused", key=key, reason=reason)
            elif self._notices.get(key):
                log.info("feed.resumed", key=key)
            self._notices[key] = reason
        return reason


def entry_intent(signal: Signal, ts: datetime) -> OrderIntent:
    """The market entry of ``signal``: its notional over its entry price, carrying its stop and target."""
    cid = client_order_id(signal.id, OrderLeg.ENTRY)
    side = OrderSide.BUY if signal.signal == Direction.LONG else OrderSide.SELL
    return OrderIntent(cid, signal.symbol, side, OrderType.MARKET, OrderLeg.ENTRY,
                       signal.position_size.notional_usd / signal.entry_price, signal.id, cid, ts,
                       stop_loss=signal.stop_loss, take_profit=signal.take_profit)


def _meta_text(meta: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(meta.items()))
