"""Kiyotaka and CoinGlass heatmap endpoints, served by ``FakeHttpServer`` in their documented shapes.

- Kiyotaka ``GET /v1/points`` (``X-Kiyotaka-Key``): ``series[].points[].Point = {timestamp: {s},
  levels: [p, v, ...]}``, or ``flat_points = [n, ts_micros, p1, v1, ...]`` with ``flatten=true``;
  coin volumes unless ``transform.normalize.quote=USD``; one point per interval in
  ``[from, from + period)``; more than 5,000 points in one request is a 400.
- CoinGlass ``GET /api/futures/liquidation/{aggregated-heatmap|heatmap}/model{n}`` (``CG-API-KEY``):
  ``{code: "0", msg, data: {y_axis, liquidation_leverage_data: [[x, y, usd]], price_candlesticks:
  [[ts_s, o, h, l, c, v]]}}`` with ``COLUMNS`` time columns spanning ``range`` up to ``now``.
- Bastion ``GET /v1/heatmap?symbol=BTC``: the ``bastion_get_heatmap`` document of the current time.
- Cluster API ``GET /api/heatmap/{SYMBOL}``: ``{success, symbol, current_price, clusters, timestamp,
  total_clusters}`` of the current time (clusters refresh every ``PERP_REFRESH_S``).
A wrong key is a 401. Prices follow ``tests.fakes.binance_public.price_at`` unless a ``price``
function is given (maps move with the fake market's price); faults on demand through
``FakeHttpServer.script`` (429 + Retry-After, 5xx, slow replies, malformed bodies).
"""

from __future__ import annotations

import math
import time
from typing import Callable

from tests.fakes.binance_public import price_at
from tests.fakes.http_server import FakeHttpServer, Reply, Request

INTERVAL_S = {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}
RANGE_S = {"12h": 43200, "24h": 86400, "3d": 3 * 86400, "7d": 7 * 86400, "30d": 30 * 86400,
           "90d": 90 * 86400, "180d": 180 * 86400, "1y": 365 * 86400}
LEVELS = 20
COLUMNS = 48
KIYOTAKA_KEY = "kiyo-test-key-0123456789"
COINGLASS_KEY = "cg-test-key-9876543210"
PEAK = 4.0  # with peaks (or a kiyotaka scale): two dense levels about 0.8-1% either side of the price


PriceFn = Callable[[int], float]  # epoch ms -> the fake market's price


def kiyotaka_levels(ts_s: int, usd: bool, price: PriceFn = price_at, scale: float = 1.0) -> list[float]:
    """Levels around the price at ``ts_s``: 10 below and 10 above, ascending, [p, v, ...] (``scale`` x coins)."""
    p = price(ts_s * 1000)
    out: list[float] = []
    for k in range(LEVELS):
        level = round(p * (0.95 + 0.1 * k / (LEVELS - 1)), 1)
        coins = scale * (1.0 + 4.0 * abs(math.sin(k + ts_s / 3600))) * (PEAK if scale != 1.0 and k in (8, 11) else 1)
        out += [level, round(coins * level, 2) if usd else round(coins, 5)]
    return out


def install_kiyotaka(server: FakeHttpServer, key: str = KIYOTAKA_KEY, price: PriceFn = price_at,
                    scale: float = 1.0) -> None:
    """Register ``/v1/points``."""

    def points(req: Request) -> Reply:
        if req.headers.get("x-kiyotaka-key") != key:
            return Reply(status=401, body={"error": "invalid api key"})
        interval = INTERVAL_S.get(req.query.get("interval", ""))
        if interval is None or req.query.get("type") != "HYPERLIQUID_LIQUIDATION_AGG":
            return Reply(status=400, body={"error": "bad interval or type"})
        start, period = int(req.query["from"]), int(req.query["period"])
        first = -(-start // interval) * interval
        stamps = list(range(first, start + period, interval))
        if len(stamps) > 5000:
            return Reply(status=400, body={"error": "max 5000 points per request"})
        usd = req.query.get("transform.normalize.quote") == "USD"
        ident = {"type": "HYPERLIQUID_LIQUIDATION_AGG", "interval": req.query["interval"],
                 "coin": req.query.get("coin")}
        if req.query.get("flatten") == "true":
            flat: list[float] = []
            for t in stamps:
                levels = kiyotaka_levels(t, usd, price, scale)
                flat += [len(levels) // 2, t * 1_000_000, *levels]
            return Reply(body={"series": [{"id": ident, "flat_points": flat}]})
        pts = [{"Point": {"timestamp": {"s": t}, "levels": kiyotaka_levels(t, usd, price, scale)}} for t in stamps]
        return Reply(body={"series": [{"id": ident, "points": pts}]})

    server.route("/v1/points", points)


def coinglass_grid(range_s: int, now_s: int, price_at: PriceFn = price_at, peaks: bool = False) -> dict[str, object]:
    """A CoinGlass heatmap document: ``COLUMNS`` columns ending at ``now_s``."""
    step = range_s // COLUMNS
    end = now_s // step * step
    times = [end - (COLUMNS - 1 - i) * step for i in range(COLUMNS)]
    mid = price_at(end * 1000)
    y_axis = [round(mid * (0.9 + 0.2 * k / 29), 1) for k in range(30)]
    candles = [[t, f"{price_at(t * 1000):.1f}", f"{price_at(t * 1000) * 1.001:.1f}",
                f"{price_at(t * 1000) * 0.999:.1f}", f"{price_at((t + step) * 1000):.1f}", "1000000"]
               for t in times]
    cells = [[x, y, round(1e6 * (1 + abs(math.sin(x * 7 + y))) * (PEAK if peaks and y in (13, 16) else 1), 2)]
             for x in range(COLUMNS) for y in range(30) if (x + y) % 3 or (peaks and y in (13, 16))]
    return {"code": "0", "msg": "success",
            "data": {"y_axis": y_axis, "liquidation_leverage_data": cells, "price_candlesticks": candles,
                     "update_time": now_s}}


def install_coinglass(server: FakeHttpServer, key: str = COINGLASS_KEY,
                      clock: Callable[[], float] = time.time, price: PriceFn = price_at, peaks: bool = False) -> None:
    """Register both CoinGlass heatmap paths, models 1-3."""

    def heatmap(req: Request) -> Reply:
        if req.headers.get("cg-api-key") != key:
            return Reply(status=401, body={"code": "401", "msg": "invalid api key"})
        range_s = RANGE_S.get(req.query.get("range", ""))
        if range_s is None:
            return Reply(body={"code": "400", "msg": "range not supported"})
        return Reply(body=coinglass_grid(range_s, int(clock()), price, peaks))

    for model in ("model1", "model2", "model3"):
        server.route(f"/api/futures/liquidation/aggregated-heatmap/{model}", heatmap)
        server.route(f"/api/futures/liquidation/heatmap/{model}", heatmap)


BASTION_REFRESH_S = 30
PERP_REFRESH_S = 5


def bastion_doc(now_s: int, coin: str, price: PriceFn = price_at) -> dict[str, object]:
    """A ``bastion_get_heatmap`` document at the last refresh before ``now_s``."""
    at = now_s // BASTION_REFRESH_S * BASTION_REFRESH_S
    p = price(at * 1000)
    levels = []
    for k in range(-8, 9):
        if k == 0:
            continue
        level = round(p * (1 + 0.004 * k), 1)
        usd = round(4e6 * (1.5 + math.sin(k + at / 7200)) * (2.5 if abs(k) == 3 else 1.0), 2)
        levels.append({"price": level, "density": min(100, round(usd / 1.5e5)),
                       "type": "short_liquidations" if k > 0 else "long_liquidations", "estimated_usd": usd})
    levels.sort(key=lambda lv: -float(lv["price"]))  # the provider lists them descending
    return {"symbol": coin, "current_price": round(p, 1), "heatmap": {"levels": levels},
            "timestamp": at}


def install_bastion(server: FakeHttpServer, clock: Callable[[], float] = time.time, price: PriceFn = price_at,
                    key: str | None = None) -> None:
    """Register ``/v1/heatmap`` (public; with ``key`` set, ``X-API-Key`` must match)."""

    def heatmap(req: Request) -> Reply:
        if key is not None and req.headers.get("x-api-key") != key:
            return Reply(status=401, body={"error": "invalid api key"})
        return Reply(body=bastion_doc(int(clock()), req.query.get("symbol", "BTC"), price))

    server.route("/v1/heatmap", heatmap)


def perp_doc(now_s: int, pair: str, price: PriceFn = price_at) -> dict[str, object]:
    """A cluster-API ``/api/heatmap/{pair}`` document at the last refresh before ``now_s``."""
    at = now_s // PERP_REFRESH_S * PERP_REFRESH_S
    p = price(at * 1000)
    clusters = []
    for n, k in enumerate((-6, -3, -1, 1, 3, 6)):
        level = round(p * (1 + 0.005 * k), 2)
        usd = round(3e6 * (2 + math.cos(k + at / 3600)), 2)
        clusters.append({"price_level": level, "side": "short" if k > 0 else "long",
                         "liquidation_count": 100 + 10 * n, "total_notional": usd,
                         "strength": round(min(1.0, usd / 1e7), 3), "cluster_id": n + 1,
                         "distance_from_price": round(abs(level / p - 1) * 100, 3)})
    return {"success": True, "symbol": pair, "current_price": round(p, 2), "clusters": clusters,
            "timestamp": at, "total_clusters": len(clusters)}


FaultAt = Callable[[float], "Reply | None"]  # the fake's time -> a fault to answer instead (None: healthy)


def install_perp_api(server: FakeHttpServer, clock: Callable[[], float] = time.time, price: PriceFn = price_at,
                     key: str | None = None, fault_at: FaultAt | None = None) -> None:
    """Register ``/api/heatmap/{SYMBOL}``; ``fault_at`` scripts faults by the fake's time."""

    def heatmap(req: Request) -> Reply:
        if key is not None and req.headers.get("x-api-key") != key:
            return Reply(status=401, body={"detail": "invalid api key"})
        fault = fault_at(clock()) if fault_at is not None else None
        if fault is not None:
            return fault
        pair = req.path.rsplit("/", 1)[-1]
        return Reply(body=perp_doc(int(clock()), pair, price))

    server.route_prefix("/api/heatmap/", heatmap)
