"""CcxtBroker: the Broker protocol over a ccxt exchange (Binance USDT-M first).

The only trading module that imports ccxt. Rules it keeps (docs/architecture.md §5, research B11):

- **A create is sent once.** No retry, whatever happens; a timeout, disconnect or unreadable
  answer raises ``AmbiguousError`` (the caller marks the order UNKNOWN and reconciles by
  client id); a refusal raises ``RejectedError`` (nothing placed).
- **Reads and cancels are retried** with bounded, jittered backoff (cancels are idempotent:
  a repeat that finds the order gone re-reads its status).
- **Not found means the exchange said so.** ``fetch_order`` returns ``None`` only on the
  exchange's own "order does not exist"; a network error raises, never ``None``.
- **Leverage and margin mode** are set per symbol before the symbol's first order.
- **Protective legs** are reduce-only; when a fill leaves a symbol flat, the reduce-only
  orders still working there are cancelled (the exchange does not do it).
- A -1021 (clock outside recvWindow) resyncs ccxt's time difference with the server.

Stop orders live in Binance's algo service: they are created, read and cancelled there
(ccxt's ``trigger`` flag), and the market order a triggered stop becomes is found through
the algo order's ``actualOrderId``, so its fills map back to the stop's client id.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, Sequence, TypeVar

import ccxt

from bot.clock import Clock, SystemClock
from bot.errors import AmbiguousError, FatalError, LiqbotError, RejectedError, RetryableError
from bot.execution.orders import Balance, Fill, Order, OrderIntent, OrderState, Position
from bot.live.codec import (EXTERNAL, dt_to_ms, foreign_intent, is_conditional, order_request, to_fill, to_order,
                            to_position)
from bot.live.errors import Op, map_ccxt_error
from bot.logs import get_logger
from bot.retry import RetryPolicy, call_with_retry
from config.settings import LiveSettings

log = get_logger("liqbot.live")
T = TypeVar("T")
TRADES_PAGE = 1000
UNRESOLVED = "unresolved:"  # client id of a fill whose order the exchange does not show yet
_NOT_FOUND = object()


class KnownOrders(Protocol):
    """What the bot's store knows (``bot.store.Store`` fits): intents and positions survive a restart."""

    def get_order(self, client_id: str) -> Order | None:
        """One stored order by client id."""
        ...

    def positions(self) -> list[Position]:
        """Stored open positions."""
        ...


class CcxtBroker:
    """One exchange account through ccxt, seen through the Broker protocol."""

    def __init__(self, exchange: ccxt.Exchange, live: LiveSettings, symbols: Sequence[str], *,
                 known: KnownOrders | None = None, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.exchange = exchange
        self.live = live
        self.symbols = list(symbols)
        self.known = known
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.policy = RetryPolicy.from_settings(live)
        self._intents: dict[str, OrderIntent] = {}
        self._ids: dict[str, str] = {}  # exchange order id (a stop's triggered order too) -> client id
        self._configured: set[str] = set()
        self._seen_trades: set[str] = set()
        self._connected = False

    # --- setup --------------------------------------------------------------------------

    def connect(self) -> None:
        """Load markets and align the request clock with the exchange's."""
        if not self._connected:
            self._read(self.exchange.load_markets, "load markets")
            self._resync()
            self._connected = True

    def configure(self, symbol: str) -> None:
        """Set margin mode and leverage on ``symbol`` (once per process; both are idempotent)."""
        if symbol in self._configured:
            return
        self.connect()
        ex, live = self.exchange, self.live

        def margin() -> None:
            try:
                ex.set_margin_mode(live.margin_mode, symbol)
            except ccxt.MarginModeAlreadySet:
                pass
            except ccxt.ExchangeError as exc:
                if "-4048" not in str(exc):  # cannot change with an open position: keep the exchange's
                    raise
                log.warning("live.margin_mode_kept", symbol=symbol, reason="position open")

        self._read(margin, f"set margin mode {symbol}", Op.SETUP)
        self._read(lambda: ex.set_leverage(live.leverage, symbol), f"set leverage {symbol}", Op.SETUP)
        self._configured.add(symbol)

    # --- Broker protocol ----------------------------------------------------------------

    def submit(self, intent: OrderIntent) -> Order:
        """Send ``intent`` once. ``RejectedError``: not placed; ``AmbiguousError``: outcome unknown."""
        try:
            self.configure(intent.symbol)
        except FatalError:
            raise
        except LiqbotError as exc:
            raise RejectedError(f"{intent.client_id} not placed: account setup failed: {exc}") from exc
        ex, symbol = self.exchange, intent.symbol
        try:
            amount = ex.amount_to_precision(symbol, intent.qty)
            price = ex.price_to_precision(symbol, intent.price) if intent.price is not None else None
        except ccxt.BaseError as exc:
            raise RejectedError(f"{intent.client_id} not placed: {exc}") from exc
        kind, limit, params = order_request(intent, price)
        self._intents[intent.client_id] = intent
        try:
            raw = ex.create_order(symbol, kind, intent.side.value, float(amount), float(limit) if limit else None,
                                  params)
        except ccxt.BaseError as exc:
            if isinstance(exc, ccxt.InvalidNonce):
                self._resync()
            raise map_ccxt_error(exc, Op.CREATE, f"create {intent.client_id}",
                                 retry_after=self._retry_after()) from exc
        if raw.get("id") and not is_conditional(intent):
            self._ids[str(raw["id"])] = intent.client_id
        return to_order(raw, intent, self.clock.now())

    def cancel(self, client_id: str) -> Order | None:
        """Cancel by client id; a terminal order comes back unchanged, an unknown id as ``None``."""
        intent = self._intent(client_id)
        if intent is None:
            found = self.fetch_order(client_id)
            if found is None or found.state.is_terminal:
                return found
            intent = found.intent
        params: dict[str, Any] = {"clientOrderId": client_id}
        if is_conditional(intent):
            params["trigger"] = True

        def cancel() -> Any:
            try:
                return self.exchange.cancel_order(None, intent.symbol, params)
            except ccxt.OrderNotFound:  # already done or gone: its status says which
                return None

        try:
            self._read(cancel, f"cancel {client_id}")
        except RetryableError as exc:
            raise AmbiguousError(f"cancel {client_id}: outcome unknown: {exc}") from exc
        return self.fetch_order(client_id)

    def fetch_order(self, client_id: str) -> Order | None:
        """The exchange's view of one order; ``None`` only when the exchange says it does not exist."""
        intent = self._intent(client_id)
        if intent is not None:
            raw = self._lookup(client_id, intent.symbol, is_conditional(intent))
            return None if raw is None else self._as_order(raw, intent)
        for symbol in self.symbols:
            for conditional in (False, True):
                raw = self._lookup(client_id, symbol, conditional)
                if raw is not None:
                    return self._as_order(raw, foreign_intent(raw, self.clock.now()))
        return None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders and working stops, oldest first."""
        out = []
        for sym in [symbol] if symbol else self.symbols:
            for params in ({}, {"trigger": True}):
                rows = self._read(lambda s=sym, p=params: self.exchange.fetch_open_orders(s, None, None, p),
                                  f"open orders {sym}")
                for raw in rows:
                    cid = str(raw.get("clientOrderId") or raw.get("id"))
                    out.append(to_order(raw, self._intent(cid) or foreign_intent(raw, self.clock.now()),
                                        self.clock.now()))
        return sorted(out, key=lambda o: (o.intent.created_at, o.client_id))

    def positions(self) -> list[Position]:
        """Open positions (ids from the bot's entry when it knows it)."""
        rows = self._read(lambda: self.exchange.fetch_positions(self.symbols), "positions")
        stored = {p.symbol: p for p in self.known.positions()} if self.known is not None else {}
        out = []
        for raw in rows:
            position = to_position(raw, None, self.clock.now())
            if position is None:
                continue
            mine = stored.get(position.symbol)
            if mine is not None and mine.side is position.side:
                position = replace(mine, qty=position.qty, entry_price=position.entry_price)
            out.append(position)
        return sorted(out, key=lambda p: p.symbol)

    def fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills at or after ``since``; a fill that leaves a symbol flat cancels its remaining legs."""
        self.connect()
        since_ms = dt_to_ms(since) if since is not None else None
        out: list[Fill] = []
        flattened: set[str] = set()
        for symbol in self.symbols:
            market_id = self.exchange.market(symbol)["id"]
            for trade in self._trades(symbol, since_ms):
                cid = self._cid_for(str(trade["order"]), symbol)
                intent = self._intent(cid) or self._foreign_fill_intent(cid, trade)
                fill = to_fill(trade, intent, market_id)
                if fill.trade_id not in self._seen_trades and not cid.startswith(UNRESOLVED):
                    self._seen_trades.add(fill.trade_id)
                    if intent.reduce_only:
                        flattened.add(symbol)
                out.append(fill)
        for symbol in sorted(flattened):
            self.cancel_orphan_legs(symbol)
        return sorted(out, key=lambda f: (f.ts, f.trade_id))

    def balance(self) -> Balance:
        """Wallet and unrealized PnL of the futures account."""
        raw = self._read(self.exchange.fetch_balance, "balance")
        info = raw.get("info") or {}
        if isinstance(info, dict) and "totalWalletBalance" in info:
            return Balance(wallet=float(info["totalWalletBalance"]),
                           unrealized=float(info.get("totalUnrealizedProfit") or 0.0))
        total = (raw.get("total") or {}).get("USDT") or 0.0
        return Balance(wallet=float(total), unrealized=0.0)

    def server_time(self) -> datetime:
        """The exchange's clock (fill times are on it, whatever the local clock says)."""
        ms = self._read(self.exchange.fetch_time, "server time")
        return datetime.fromtimestamp(int(ms) / 1000, timezone.utc)

    # --- protective legs ------------------------------------------------------------------

    def cancel_orphan_legs(self, symbol: str) -> list[Order]:
        """Cancel the bot's reduce-only orders on ``symbol`` if it is flat; returns what was cancelled."""
        rows = self._read(lambda: self.exchange.fetch_positions([symbol]), f"position {symbol}")
        if any(to_position(r, None, self.clock.now()) for r in rows):
            return []
        done = []
        for order in self.open_orders(symbol):
            if not order.intent.reduce_only or order.intent.signal_id == EXTERNAL:
                continue
            try:
                result = self.cancel(order.client_id)
            except (RetryableError, AmbiguousError, RejectedError) as exc:
                log.warning("live.leg_cancel_failed", client_id=order.client_id, reason=str(exc))
                continue
            if result is not None:
                done.append(result)
                log.info("live.leg_cancelled", client_id=order.client_id, symbol=symbol, reason="position closed")
        return done

    # --- internals ------------------------------------------------------------------------

    def _intent(self, client_id: str) -> OrderIntent | None:
        intent = self._intents.get(client_id)
        if intent is None and self.known is not None:
            stored = self.known.get_order(client_id)
            if stored is not None:
                intent = self._intents[client_id] = stored.intent
        return intent

    def _lookup(self, client_id: str, symbol: str, conditional: bool) -> dict[str, Any] | None:
        params: dict[str, Any] = {"clientOrderId": client_id}
        if conditional:
            params["trigger"] = True

        def fetch() -> Any:
            try:
                return self.exchange.fetch_order(None, symbol, params)
            except ccxt.OrderNotFound:  # the exchange answered: it does not know the id
                return _NOT_FOUND

        raw = self._read(fetch, f"order {client_id}")
        return None if raw is _NOT_FOUND else raw

    def _as_order(self, raw: dict[str, Any], intent: OrderIntent) -> Order:
        now = self.clock.now()
        if not is_conditional(intent):
            if raw.get("id"):
                self._ids[str(raw["id"])] = intent.client_id
            return to_order(raw, intent, now)
        child_id = str((raw.get("info") or {}).get("actualOrderId") or "")
        order = to_order(raw, intent, now)
        if not child_id:
            # a stop reported done without a triggered order is still on its way to the book
            return order if order.state is not OrderState.FILLED else \
                Order(intent, OrderState.OPEN, order.updated_at, exchange_id=order.exchange_id)
        self._ids[child_id] = intent.client_id
        child = self._lookup_id(child_id, intent.symbol)
        if child is None:  # triggered, its market order not visible yet
            return Order(intent, OrderState.OPEN, order.updated_at, exchange_id=order.exchange_id)
        filled = to_order(child, intent, now)
        return Order(intent, filled.state, filled.updated_at, filled.filled_qty, filled.avg_price,
                     exchange_id=order.exchange_id)

    def _trades(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            page = self._read(lambda p=dict(params): self.exchange.fetch_my_trades(
                symbol, None if p else since_ms, TRADES_PAGE, p), f"fills {symbol}")
            rows += page
            if len(page) < TRADES_PAGE:
                return rows
            params = {"fromId": int(page[-1]["id"]) + 1}  # Binance pages user trades by id

    def _cid_for(self, order_id: str, symbol: str) -> str:
        """The client id of the order a fill belongs to (a triggered stop maps to the stop).

        An order the exchange does not show yet (it lags) gets a placeholder id that the bot's
        store does not hold, so the fill is refused now and read again on the next sync.
        """
        if order_id in self._ids:
            return self._ids[order_id]
        raw = self._lookup_id(order_id, symbol)
        if raw is None:
            return f"{UNRESOLVED}{order_id}"
        cid = str(raw.get("clientOrderId") or order_id)
        if self._intent(cid) is None:
            for stop in [i for i in self._intents.values() if is_conditional(i) and i.symbol == symbol]:
                algo = self._lookup(stop.client_id, symbol, True)
                if algo is not None and str((algo.get("info") or {}).get("actualOrderId")) == order_id:
                    cid = stop.client_id
                    break
        self._ids[order_id] = cid
        return cid

    def _lookup_id(self, order_id: str, symbol: str) -> dict[str, Any] | None:
        def fetch() -> Any:
            try:
                return self.exchange.fetch_order(order_id, symbol)
            except ccxt.OrderNotFound:
                return _NOT_FOUND

        raw = self._read(fetch, f"order {order_id}")
        return None if raw is _NOT_FOUND else raw

    def _foreign_fill_intent(self, cid: str, trade: dict[str, Any]) -> OrderIntent:
        raw = {"symbol": trade["symbol"], "side": trade["side"], "type": "market", "clientOrderId": cid,
               "id": trade["order"], "amount": trade["amount"], "timestamp": trade["timestamp"]}
        return foreign_intent(raw, self.clock.now())

    def _read(self, fn: Callable[[], T], what: str, op: Op = Op.READ) -> T:
        """Run an idempotent call with retries; ccxt errors come out mapped."""
        def attempt() -> T:
            try:
                return fn()
            except ccxt.BaseError as exc:
                if isinstance(exc, ccxt.InvalidNonce):
                    self._resync()
                raise map_ccxt_error(exc, op, what, retry_after=self._retry_after()) from exc
        return call_with_retry(attempt, self.policy, what=what, sleep=self.sleep)

    def _resync(self) -> None:
        try:
            diff = self.exchange.load_time_difference()
            log.info("live.clock_resync", difference_ms=diff)
        except ccxt.BaseError as exc:
            log.warning("live.clock_resync_failed", reason=str(exc)[:200])

    def _retry_after(self) -> float | None:
        headers = self.exchange.last_response_headers or {}
        for key, value in headers.items():
            if str(key).lower() == "retry-after":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return None
        return None
