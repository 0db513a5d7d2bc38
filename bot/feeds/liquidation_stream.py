"""Realized liquidations as data: the exchange's liquidation stream recorded during live and paper-live runs.

ccxt's unified ``watch_liquidations_for_symbols`` (ccxt.pro; on Binance USD-M it subscribes to each
symbol's ``<symbol>@forceOrder`` stream, Binance's public REST list of force orders having been
withdrawn) runs in a background thread with its own event loop; every event lands in a queue, and
:meth:`LiquidationRecorder.poll`, called between bars by :class:`RecordingFeed`, writes what came
into the :class:`~bot.heatmap.liquidations.LiquidationStore` beside the snapshots (``ts``, ``side`` =
the liquidated side: a forced SELL liquidated a long, ``price``, ``qty``, ``usd``, ``source``).

A stream failure never reaches the loop: it is logged, the recorder reconnects after a doubling
pause (1 s up to 60 s), and the feed carries on. Events written are whole parts (the store's
atomic write); events still queued at a crash are lost, the store never half-written.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from datetime import datetime
from typing import Any

import pandas as pd

from bot.feeds.base import Feed, FeedPoll
from bot.logs import get_logger

log = get_logger("liqbot.liquidations")


def events_frame(liquidations: list[dict[str, Any]], source: str) -> pd.DataFrame:
    """ccxt liquidation structures -> the store's event rows (side from the raw order side)."""
    rows = []
    for liq in liquidations:
        info = liq.get("info") or {}
        raw_side = str(info.get("S") or liq.get("side") or "").upper()
        price = float(liq.get("price") or info.get("ap") or info.get("p"))
        qty = float(liq.get("contracts") or liq.get("baseValue") or info.get("z") or info.get("q")) * float(
            liq.get("contractSize") or 1.0)
        rows.append({"ts": pd.Timestamp(int(liq["timestamp"]), unit="ms", tz="UTC"),
                     "side": "long" if raw_side in ("SELL", "SHORT") else "short",
                     "price": price, "qty": qty, "usd": price * qty, "source": source})
    return pd.DataFrame(rows, columns=["ts", "side", "price", "qty", "usd", "source"])


class LiquidationRecorder:
    """Streams one exchange's liquidations of ``symbols`` into a ``LiquidationStore``."""

    def __init__(self, exchange_id: str, symbols: tuple[str, ...], store: Any, *, markets: dict[str, Any] | None,
                 ws_url: str | None = None, options: dict[str, Any] | None = None, api_base: str | None = None) -> None:
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self.store = store
        self.markets = markets
        self.ws_url = ws_url
        self.options = options or {}
        self.api_base = api_base
        self.source = f"ccxt:{exchange_id}"
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.written = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ex: Any = None

    def start(self) -> "LiquidationRecorder":
        """Start the stream thread (daemon)."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="liquidations", daemon=True)
        self._thread.start()
        return self

    async def _run(self) -> None:
        import ccxt.pro as pro
        pause = 1.0
        self._loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            ex = getattr(pro, self.exchange_id)(self.options)
            self._ex = ex
            if self.ws_url:  # a local server or proxy answers every stream
                ws = ex.urls["api"]["ws"]
                for k in [k for k, v in ws.items() if isinstance(v, str)]:
                    ws[k] = self.ws_url
            try:
                if self.markets is not None:
                    ex.set_markets(self.markets)
                else:
                    if self.api_base:
                        from bot.marketdata.fetch import point_exchange_at
                        point_exchange_at(ex, self.api_base)
                    await ex.load_markets()
                while not self._stop.is_set():
                    # no timeout around the watch: cancelling it can drop a message; stop() closes the exchange
                    got = await ex.watch_liquidations_for_symbols(list(self.symbols))
                    for liq in got:
                        self.events.put(liq)
                    pause = 1.0
            except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 (a stream failure never stops it)
                if self._stop.is_set():  # stop() closed the exchange under the pending watch
                    break
                self.errors += 1
                log.warning("liquidations.stream_error", exchange=self.exchange_id,
                            error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
                self._stop.wait(pause)
                pause = min(60.0, pause * 2)
            finally:
                try:
                    await ex.close()
                except (Exception, asyncio.CancelledError):  # noqa: BLE001 (already closed by stop())
                    pass

    def poll(self, now: datetime) -> int:
        """Write every queued event; returns the number written (per symbol, one atomic part each)."""
        got: list[dict[str, Any]] = []
        while True:
            try:
                got.append(self.events.get_nowait())
            except queue.Empty:
                break
        n = 0
        for symbol in self.symbols:
            mine = [e for e in got if e.get("symbol") == symbol]
            if mine:
                n += self.store.write(symbol, events_frame(mine, self.source))
        self.written += n
        return n

    def stop(self) -> None:
        """Stop the stream and write what is queued."""
        self._stop.set()
        if self._loop is not None and self._ex is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._ex.close(), self._loop)  # ends the pending watch
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.poll(datetime.now().astimezone())


class RecordingFeed:
    """A live feed whose polls also write the liquidations streamed since the last poll."""

    def __init__(self, inner: Feed, recorder: LiquidationRecorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.symbols = inner.symbols
        self.timeframe = inner.timeframe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def seek(self, after: datetime | None) -> None:
        """Position the inner feed."""
        self.inner.seek(after)

    def close(self) -> None:
        """Stop the stream (what is queued is written)."""
        self.recorder.stop()

    def poll(self, now: datetime) -> FeedPoll:
        """The inner feed's poll; queued liquidations written."""
        got = self.inner.poll(now)
        try:
            self.recorder.poll(now)
        except Exception as exc:  # noqa: BLE001 (recording must not stop trading)
            log.warning("liquidations.write_error", error=f"{type(exc).__name__}: {exc}")
        return got


def with_liquidations(feed: Feed, settings: Any, state: Any) -> Feed:
    """``feed`` recording the exchange's liquidations into ``STATE/snapshots`` (``providers.record_liquidations``).

    Skipped, with a log line, when the exchange is reached through ``download.exchange_api_base`` (a mirror
    or a test server) and no ``providers.liquidations_ws_url`` says where its stream is.
    """
    p = settings.providers
    api_base = settings.download.exchange_api_base or settings.live.api_base or None
    if not p.record_liquidations:
        return feed
    if api_base and not p.liquidations_ws_url:
        log.info("liquidations.not_recorded", reason="exchange_api_base set without providers.liquidations_ws_url")
        return feed
    from pathlib import Path

    from bot.heatmap.liquidations import LiquidationStore
    store = LiquidationStore(Path(state) / "snapshots")
    recorder = LiquidationRecorder(settings.exchange.id, tuple(feed.symbols), store, markets=None,
                                   ws_url=p.liquidations_ws_url or None, api_base=api_base)
    return RecordingFeed(feed, recorder.start())
