"""Binance USD-M's market WebSocket on 127.0.0.1 (aiohttp): ``SUBSCRIBE`` to ``<symbol>@forceOrder`` and
receive ``forceOrder`` events, the shape Binance documents and ccxt.pro parses. Events are pushed
with :meth:`FakeBinanceWs.push` (a thread-safe call from the test)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web


def force_order(symbol: str, side: str, price: float, qty: float, ts_ms: int) -> dict[str, Any]:
    """One ``forceOrder`` event (``side`` SELL: a long was liquidated)."""
    return {"e": "forceOrder", "E": ts_ms + 2, "o": {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": f"{qty}",
                                                     "p": f"{price}", "ap": f"{price}", "X": "FILLED", "l": f"{qty}",
                                                     "z": f"{qty}", "T": ts_ms}}


class FakeBinanceWs:
    """A WebSocket server in its own thread; subscribers of a stream get the events pushed to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.subs: dict[str, list[web.WebSocketResponse]] = {}
        self.subscribed = threading.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            data = json.loads(msg.data)
            if data.get("method") == "SUBSCRIBE":
                for stream in data.get("params", []):
                    self.subs.setdefault(stream, []).append(ws)
                await ws.send_str(json.dumps({"result": None, "id": data.get("id")}))
                self.subscribed.set()
        return ws

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handler)  # ccxt appends its stream path (/market/ws/0 ...)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> "FakeBinanceWs":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    def push(self, stream: str, event: dict[str, Any]) -> None:
        """Send ``event`` to every subscriber of ``stream``."""
        async def send() -> None:
            for ws in self.subs.get(stream, []):
                await ws.send_str(json.dumps(event))
        asyncio.run_coroutine_threadsafe(send(), self.loop).result(5)

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for conns in self.subs.values():
                for ws in conns:
                    await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
