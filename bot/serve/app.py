"""The FastAPI app of ``liqbot serve``: the cluster API, the bot's read-only API, the stream, the dashboard.

Routes (OpenAPI at ``/docs``):

- cluster API (``bot.serve.clusterapi``): ``/api/heatmap/{SYMBOL}``, ``/api/heatmap/{SYMBOL}/best``,
  ``/api/stats``; SYMBOL as ``BTCUSDT`` or the URL-encoded ccxt symbol ``BTC%2FUSDT%3AUSDT``;
- the bot: ``/api/bot/status``, ``symbols``, ``positions``, ``orders``, ``trades``, ``equity``,
  ``signals``, ``risk``, ``chart/{SYMBOL}`` (candles and cluster frames), ``heatmap/{SYMBOL}``
  (the quantised grid, ``bot.serve.grid``), ``liquidations/{SYMBOL}`` (realized events);
- ``/api/stream``: server-sent events of new bars, cluster frames, signals, fills and risk changes;
- ``/``: the dashboard (``bot/serve/static``; Plotly from the installed plotly package).

Bad query values are 422 with one line naming the parameter (``{"success": false, "detail": ...}``,
which the perp-api parser reports as the server's message); an unknown symbol is 404.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse

from bot.clusters.magnets import magnet_read
from bot.domain import Side, iso, utc
from bot.errors import DataError
from bot.execution.orders import OrderState
from bot.heatmap.liquidations import LiquidationStore
from bot.heatmap.parsers import unified_symbol
from bot.heatmap.store import SnapshotStore
from bot.serve.clusterapi import ClusterFilter, best_cluster, cluster_doc, heatmap_doc, stats_doc
from bot.serve.grid import GridSide, build_grid
from bot.serve.security import TokenGuard
from bot.serve.state import FEEDS, Feed, SignalQuery, StateReader

STATIC = "static"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
HEARTBEAT_S = 15.0
DEFAULT_SPAN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """What the app serves and how (from ``[serve]`` and the command line)."""

    state_dir: Path
    store_dir: Path | None = None
    signal_log: Path | None = None
    token: Any = None                      # SecretStr | None
    cors_origins: tuple[str, ...] = ()
    poll_s: float = 1.0
    bias_threshold: float = 1.2


class OrderFilter(StrEnum):
    """Which orders ``/api/bot/orders`` lists."""

    OPEN = "open"
    ALL = "all"


def create_app(cfg: ServeConfig) -> Any:
    """The ASGI app (FastAPI wrapped in the token guard)."""
    reader = StateReader(cfg.state_dir, cfg.store_dir, cfg.signal_log)
    snapshots = SnapshotStore(reader.store_dir)
    liquidations = LiquidationStore(reader.store_dir)
    app = FastAPI(title="liqbot serve", version="1",
                  description="liqbot's cluster API, the bot's read-only state, a live stream and the dashboard.")

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"success": False, "detail": validation_text(exc)})

    @app.exception_handler(DataError)
    async def bad_value(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"success": False, "detail": " ".join(str(exc).split())})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"success": False, "detail": exc.detail})

    def resolve(raw: str) -> str:
        """``BTCUSDT`` / ``BTC/USDT:USDT`` / ``btc`` -> the run's unified symbol (404 when not in the state)."""
        try:
            wanted = unified_symbol(raw)
        except ValueError as exc:
            raise DataError(f"symbol: {exc}") from None
        known = reader.symbols()
        if wanted not in known:
            raise HTTPException(404, f"symbol {raw} is not in this state (has {', '.join(known) or 'none'})")
        return wanted

    def filters(min_strength: float | None, max_distance: float | None, side: Side | None,
                active: bool | None) -> ClusterFilter:
        return ClusterFilter(min_strength=min_strength, max_distance=max_distance, side=side, active=active)

    def frame(raw: str, at: datetime | None) -> tuple[str, datetime, float, list[Any]]:
        """The newest cluster frame of a symbol at or before ``at`` (404 naming the known symbols if none)."""
        try:
            sym = unified_symbol(raw)
        except ValueError as exc:
            raise DataError(f"symbol: {exc}") from None
        found = reader.latest_frame(sym, _aware(at))
        if found is None:
            resolve(raw)  # 404 for a symbol the state does not hold
            raise HTTPException(404, f"no clusters recorded for {sym} yet")
        return (sym, *found)

    # --- the cluster API --------------------------------------------------------------------

    strength_q = Query(None, ge=0, le=1, description="Only clusters at least this strong (0-1).")
    distance_q = Query(None, ge=0, description="Only clusters at most this far from price, percent.")
    side_q = Query(None, description="Only long or short clusters.")
    active_q = Query(None, description="Only active (true) or broken (false) clusters.")
    at_q = Query(None, description="The clusters as they were at this time (default: the newest).")

    @app.get("/api/heatmap/{symbol:path}/best", tags=["cluster API"])
    def heatmap_best(symbol: str, min_strength: float | None = strength_q, max_distance: float | None = distance_q,
                     side: Side | None = side_q, at: datetime | None = at_q) -> dict[str, Any]:
        """The strongest active cluster (one bare cluster object)."""
        sym, _, _, clusters = frame(symbol, at)
        best = best_cluster(clusters, filters(min_strength, max_distance, side, None))
        if best is None:
            raise HTTPException(404, f"no active cluster of {sym} passes the filters")
        return cluster_doc(best)

    @app.get("/api/heatmap/{symbol:path}", tags=["cluster API"])
    def heatmap(symbol: str, min_strength: float | None = strength_q, max_distance: float | None = distance_q,
                side: Side | None = side_q, active: bool | None = active_q,
                at: datetime | None = at_q) -> dict[str, Any]:
        """All clusters of the newest frame (or the one at ``at``), filtered."""
        sym, ts, price, clusters = frame(symbol, at)
        return heatmap_doc(sym, ts, price, clusters, filters(min_strength, max_distance, side, active))

    @app.get("/api/stats", tags=["cluster API"])
    def stats() -> dict[str, Any]:
        """Symbols, clusters and the open-interest summary per symbol."""
        with reader.open() as store:
            cursor = store.kv_get("cursor")
        return stats_doc(reader.positioning(), reader.cluster_counts(), reader.symbols(),
                         iso(utc(datetime.fromisoformat(cursor))) if cursor else None, running=_running(reader))

    # --- the bot ----------------------------------------------------------------------------

    @app.get("/api/bot/status", tags=["bot"])
    def status() -> dict[str, Any]:
        """Trades, PnL, open positions and orders, equity, risk state (``liqbot status --json``)."""
        out = reader.status()
        out["symbols"] = reader.symbols()
        out["running"] = _running(reader)
        return out

    @app.get("/api/bot/symbols", tags=["bot"])
    def symbols() -> list[str]:
        """The run's symbols (ccxt unified)."""
        return reader.symbols()

    @app.get("/api/bot/positions", tags=["bot"])
    def positions() -> list[dict[str, Any]]:
        """Open positions with their stops and targets."""
        return reader.records("positions", "symbol")

    @app.get("/api/bot/orders", tags=["bot"])
    def orders(state: OrderFilter = Query(OrderFilter.OPEN, description="open (not terminal) or all"),
               limit: int = Query(200, ge=1, le=5000), offset: int = Query(0, ge=0)) -> list[dict[str, Any]]:
        """Orders, newest first."""
        where, args = "", ()
        if state is OrderFilter.OPEN:
            live = tuple(s.value for s in OrderState if not s.is_terminal)
            where, args = f" WHERE state IN ({','.join('?' * len(live))})", live
        rows = reader.records("orders", "created_at DESC, client_id", where, args)
        return rows[offset: offset + limit]

    @app.get("/api/bot/trades", tags=["bot"])
    def trades(symbol: str | None = Query(None), limit: int = Query(500, ge=1, le=10000),
               offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Closed trades, newest first."""
        where, args = ("", ()) if symbol is None else (" WHERE symbol = ?", (resolve(symbol),))
        rows = reader.records("trades", "closed_at DESC, position_id", where, args)[offset: offset + limit]
        for row in rows:  # the stop and target the trade was opened with live in its signal
            logged = reader.signals_log.get(row["signal_id"]) or {}
            row["signal"] = {k: logged.get(k) for k in ("stop_loss", "take_profit", "strategy", "reason")}
        return {"total": len(rows), "limit": limit, "offset": offset, "items": rows}

    @app.get("/api/bot/equity", tags=["bot"])
    def equity(start: datetime | None = Query(None), end: datetime | None = Query(None)) -> dict[str, Any]:
        """The equity curve (columnar)."""
        return reader.equity(_aware(start), _aware(end))

    @app.get("/api/bot/signals", tags=["bot"])
    def signals(symbol: str | None = Query(None), strategy: str | None = Query(None),
                direction: str | None = Query(None, pattern="^(LONG|SHORT)$"),
                decision: str | None = Query(None, pattern="^(submitted|denied|skipped)$"),
                since: datetime | None = Query(None), until: datetime | None = Query(None),
                limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """The signal feed, newest first: the decision on each signal and the signal itself (reason, prices)."""
        return reader.signals(SignalQuery(symbol=resolve(symbol) if symbol else None, strategy=strategy,
                                          direction=direction, decision=decision, since=_aware(since),
                                          until=_aware(until), limit=limit, offset=offset))

    @app.get("/api/bot/risk", tags=["bot"])
    def risk() -> dict[str, Any]:
        """The risk guard's state and its changes."""
        return reader.risk()

    @app.get("/api/bot/chart/{symbol:path}", tags=["bot"])
    def chart(symbol: str, start: datetime | None = Query(None), end: datetime | None = Query(None),
              max_frames: int = Query(600, ge=1, le=5000)) -> dict[str, Any]:
        """Candles, cluster frames (clusters over time, evenly thinned) and the newest magnet read."""
        sym = resolve(symbol)
        lo, hi = _span(reader, sym, _aware(start), _aware(end))
        out: dict[str, Any] = {"symbol": sym, "start": iso(lo) if lo else None, "end": iso(hi) if hi else None,
                               "bars": reader.bars(sym, lo, hi),
                               "frames": [{"ts": ts, "price": price, "clusters": cols}
                                          for ts, price, cols in reader.frames(sym, lo, hi, max_frames)]}
        latest = reader.latest_frame(sym, hi)
        if latest is not None:
            ts, price, clusters = latest
            read = magnet_read(clusters, price, cfg.bias_threshold)
            out["magnets"] = {"ts": iso(ts), "price": price, **read.to_dict()}
        return out

    @app.get("/api/bot/heatmap/{symbol:path}", tags=["bot"])
    def heatmap_grid(symbol: str, start: datetime | None = Query(None), end: datetime | None = Query(None),
                     rows: int = Query(160, ge=8, le=1000, description="price bins"),
                     side: GridSide = Query(GridSide.TOTAL),
                     max_snapshots: int = Query(2100, ge=1, le=20000, description="thin evenly beyond this")
                     ) -> Response:
        """The heatmap over [start, end] as a quantised time x price grid (see ``bot.serve.grid``)."""
        sym = resolve(symbol)
        lo, hi = _span(reader, sym, _aware(start), _aware(end))
        # thinning costs a pass over the times first: skip it when the frames say every snapshot fits
        fits = 0 < reader.frame_count(sym, lo, hi) <= max_snapshots
        series = snapshots.read_columns(sym, lo, hi, max_snapshots=None if fits else max_snapshots)
        body = {"symbol": sym, **build_grid(series, rows, side).to_dict()}
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    @app.get("/api/bot/liquidations/{symbol:path}", tags=["bot"])
    def realized(symbol: str, start: datetime | None = Query(None), end: datetime | None = Query(None),
                 limit: int = Query(20000, ge=1, le=200000)) -> dict[str, Any]:
        """Realized liquidation events (what the exchange really liquidated), columnar, oldest first."""
        sym = resolve(symbol)
        lo, hi = _span(reader, sym, _aware(start), _aware(end))
        frame_ = liquidations.read(sym, lo, hi) if sym in liquidations.symbols() else None
        if frame_ is None or frame_.empty:
            return {"symbol": sym, "count": 0, "ts": [], "side": [], "price": [], "usd": []}
        frame_ = frame_.tail(limit)
        ms = (frame_["ts"] - datetime(1970, 1, 1, tzinfo=frame_["ts"].dt.tz)) // timedelta(milliseconds=1)
        return {"symbol": sym, "count": int(len(frame_)), "ts": ms.astype("int64").tolist(),
                "side": frame_["side"].tolist(), "price": frame_["price"].tolist(), "usd": frame_["usd"].tolist()}

    # --- the live stream ----------------------------------------------------------------------

    @app.get("/api/stream", tags=["stream"])
    async def stream(request: Request, symbol: str | None = Query(None),
                     since: str | None = Query(None, pattern=r"^\d+(\.\d+){4}$",
                                               description="resume after this event id")) -> StreamingResponse:
        """Server-sent events: ``bar``, ``frame``, ``signal``, ``fill``, ``risk`` (data: one JSON row each).

        Starts after the rows present at connect time (or after ``since`` / ``Last-Event-ID``).
        """
        sym = resolve(symbol) if symbol else None
        resume = request.headers.get("last-event-id") or since
        cursors = _parse_cursor(resume) if resume else await asyncio.to_thread(reader.cursors)
        return StreamingResponse(_events(request, reader, cursors, sym, cfg.poll_s), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    # --- the dashboard ------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(_asset("index.html").decode("utf-8"))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        import plotly
        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        return FileResponse(path, media_type="text/javascript", headers={"cache-control": "max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        suffix = Path(name).suffix
        if "/" in name or suffix not in ASSET_TYPES:
            raise HTTPException(404, f"no asset {name}")
        try:
            body = _asset(name)
        except FileNotFoundError:
            raise HTTPException(404, f"no asset {name}") from None
        return Response(body, media_type=ASSET_TYPES[suffix])

    guarded: Any = TokenGuard(app, cfg.token)
    if cfg.cors_origins:
        from starlette.middleware.cors import CORSMiddleware
        guarded = CORSMiddleware(guarded, allow_origins=list(cfg.cors_origins), allow_methods=["GET"],
                                 allow_headers=["authorization", "last-event-id"])
    guarded.fastapi = app  # the OpenAPI schema and routes, for tests and tools
    return guarded


def validation_text(exc: RequestValidationError) -> str:
    """One line naming each bad parameter, what is wrong and what was given."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
        got = err.get("input")
        shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts)


def _asset(name: str) -> bytes:
    return resources.files("bot.serve").joinpath(STATIC, name).read_bytes()


def _aware(ts: datetime | None) -> datetime | None:
    return utc(ts) if ts is not None else None


def _running(reader: StateReader) -> bool:
    """True while a bot holds the state folder's lock (a live or paper run writing)."""
    import fcntl
    from bot.store.sqlite import LOCK_NAME
    path = reader.state_dir / LOCK_NAME
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def _span(reader: StateReader, symbol: str, start: datetime | None,
          end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """[start, end], defaulting to the last ``DEFAULT_SPAN`` before the newest frame."""
    if start is not None and end is not None and start > end:
        raise DataError(f"start {iso(start)} is after end {iso(end)}")
    if start is None:
        latest = reader.latest_frame(symbol, end)
        if latest is not None:
            start = (end or latest[0]) - DEFAULT_SPAN
    return start, end


def _cursor_text(cursors: dict[Feed, int]) -> str:
    return ".".join(str(cursors.get(feed, 0)) for feed in FEEDS)


def _parse_cursor(text: str) -> dict[Feed, int]:
    parts = text.split(".")
    if len(parts) != len(FEEDS) or not all(p.isdigit() for p in parts):
        raise DataError(f"since / Last-Event-ID: expected {len(FEEDS)} dot-separated integers, got {text!r}")
    return {feed: int(p) for feed, p in zip(FEEDS, parts)}


async def _events(request: Request, reader: StateReader, cursors: dict[Feed, int], symbol: str | None,
                  poll_s: float) -> AsyncIterator[str]:
    """The SSE body: poll the state for new rows, send each, a comment line as heartbeat."""
    cursors = dict(cursors)
    yield f"retry: {int(max(poll_s, 0.5) * 1000)}\n: connected\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        rows = await asyncio.to_thread(reader.since, cursors)
        for feed, rowid, row in rows:
            cursors[feed] = max(cursors[feed], rowid)
            if symbol is not None and row.get("symbol") not in (None, symbol):
                continue
            data = json.dumps(row, separators=(",", ":"), default=_json_default)
            yield f"id: {_cursor_text(cursors)}\nevent: {feed.value}\ndata: {data}\n\n"
        if rows:
            quiet = 0.0
        else:
            quiet += poll_s
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ": ping\n\n"
        await asyncio.sleep(poll_s)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
