"""Binance USDT-M public market data, served by ``FakeHttpServer`` from a deterministic fake market.

Shapes follow the Binance REST docs: ``/fapi/v1/exchangeInfo`` (the fields ccxt's
``load_markets`` reads), ``/fapi/v1/klines`` and ``/fapi/v1/markPriceKlines`` (12-field rows),
``/futures/data/openInterestHist`` (``sumOpenInterest``/``sumOpenInterestValue`` strings),
``/fapi/v1/fundingRate`` (every 8 h), and the public archive's daily ``metrics`` zips under
``/data/futures/um/daily/metrics/``. Each endpoint honours ``startTime``/``endTime``/``limit``
and its documented maximum page size. Values are smooth functions of time, so any range can be
asked for; ``gaps`` removes rows (and archive days) to exercise gap reports.

Run it alone for a demo: ``python -m tests.fakes.binance_public --port 8765``.
"""

from __future__ import annotations

import argparse
import io
import math
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tests.fakes.http_server import FakeHttpServer, Reply, Request

MINUTE = 60_000
DAY = 86_400_000
INTERVALS = {"1m": MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE, "1h": 60 * MINUTE,
             "2h": 120 * MINUTE, "4h": 240 * MINUTE, "1d": DAY}
FUNDING_STEP = 8 * 60 * MINUTE
METRICS_HEADER = ("create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
                  "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio")
ARCHIVE_PREFIX = "/data/futures/um/daily/metrics/"


@dataclass
class FakeMarket:
    """Which symbols exist, over which time span, and where data is missing (epoch ms)."""

    start_ms: int
    end_ms: int
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) ranges with no rows

    def has(self, ts: int) -> bool:
        return self.start_ms <= ts <= self.end_ms and not any(a <= ts < b for a, b in self.gaps)

    def times(self, step: int, start: int | None, end: int | None, limit: int) -> list[int]:
        lo = max(self.start_ms, start if start is not None else self.start_ms)
        hi = min(self.end_ms, end if end is not None else self.end_ms)
        first = -(-lo // step) * step
        out: list[int] = []
        t = first
        while t <= hi and len(out) < limit:
            if self.has(t):
                out.append(t)
            t += step
        return out


def price_at(ts: int) -> float:
    """A smooth BTC-like price path (daily and weekly waves)."""
    day = ts / DAY
    return 60_000.0 + 1_500.0 * math.sin(2 * math.pi * day) + 800.0 * math.sin(2 * math.pi * day / 7)


def kline(ts: int, step: int) -> list[object]:
    """One Binance kline row for the bar opening at ``ts``."""
    o, c = price_at(ts), price_at(ts + step)
    hi, lo = max(o, c) * 1.0004, min(o, c) * 0.9996
    vol = 50.0 + (ts // step) % 17
    return [ts, f"{o:.2f}", f"{hi:.2f}", f"{lo:.2f}", f"{c:.2f}", f"{vol:.3f}", ts + step - 1,
            f"{vol * c:.2f}", 100, f"{vol / 2:.3f}", f"{vol * c / 2:.2f}", "0"]


def open_interest(ts: int) -> float:
    """Open interest in coins at ``ts``."""
    return 80_000.0 + 2_000.0 * math.cos(2 * math.pi * ts / DAY)


def _int(req: Request, key: str) -> int | None:
    value = req.query.get(key)
    return int(value) if value not in (None, "") else None


def _limit(req: Request, default: int, maximum: int) -> int:
    return min(maximum, _int(req, "limit") or default)


def install(server: FakeHttpServer, market: FakeMarket) -> None:
    """Register every Binance route on ``server``."""

    def bad_symbol(req: Request) -> Reply | None:
        if req.query.get("symbol") not in market.symbols:
            return Reply(status=400, body={"code": -1121, "msg": "Invalid symbol."})
        return None

    def exchange_info(req: Request) -> Reply:
        return Reply(body={"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                           "exchangeFilters": [], "assets": [], "symbols": [_symbol_info(s) for s in market.symbols]})

    def klines(req: Request) -> Reply:
        step = INTERVALS.get(req.query.get("interval", ""))
        if step is None:
            return Reply(status=400, body={"code": -1120, "msg": "Invalid interval."})
        times = market.times(step, _int(req, "startTime"), _int(req, "endTime"), _limit(req, 500, 1500))
        return bad_symbol(req) or Reply(body=[kline(t, step) for t in times])

    def oi_hist(req: Request) -> Reply:
        step = INTERVALS.get(req.query.get("period", ""))
        if step is None:
            return Reply(status=400, body={"code": -1120, "msg": "Invalid period."})
        times = market.times(step, _int(req, "startTime"), _int(req, "endTime"), _limit(req, 30, 500))
        rows = [{"symbol": req.query.get("symbol"), "sumOpenInterest": f"{open_interest(t):.4f}",
                 "sumOpenInterestValue": f"{open_interest(t) * price_at(t):.2f}", "timestamp": t} for t in times]
        return bad_symbol(req) or Reply(body=rows)

    def funding(req: Request) -> Reply:
        times = market.times(FUNDING_STEP, _int(req, "startTime"), _int(req, "endTime"), _limit(req, 100, 1000))
        rows = [{"symbol": req.query.get("symbol"), "fundingTime": t,
                 "fundingRate": f"{0.0001 * (1 + math.sin(t / DAY)):.8f}", "markPrice": f"{price_at(t):.2f}"}
                for t in times]
        return bad_symbol(req) or Reply(body=rows)

    def archive(req: Request) -> Reply:
        name = req.path.rsplit("/", 1)[-1]
        symbol, _, day = name.removesuffix(".zip").partition("-metrics-")
        if symbol not in market.symbols or not name.endswith(".zip"):
            return Reply(status=404, body="<Error><Code>NoSuchKey</Code></Error>")
        start = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)
        times = market.times(5 * MINUTE, start, start + DAY - 1, 10_000)
        if not times:
            return Reply(status=404, body="<Error><Code>NoSuchKey</Code></Error>")
        return Reply(body=metrics_zip(symbol, day, times))

    server.route("/fapi/v1/exchangeInfo", exchange_info)
    server.route("/fapi/v1/klines", klines)
    server.route("/fapi/v1/markPriceKlines", klines)
    server.route("/futures/data/openInterestHist", oi_hist)
    server.route("/fapi/v1/fundingRate", funding)
    server.route_prefix(ARCHIVE_PREFIX, archive)


def metrics_csv(symbol: str, times: list[int]) -> str:
    """The archive's metrics CSV text for ``times``."""
    lines = [METRICS_HEADER]
    for t in times:
        stamp = datetime.fromtimestamp(t / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        oi = open_interest(t)
        lines.append(f"{stamp},{symbol},{oi:.4f},{oi * price_at(t):.8f},1.52,1.31,1.85,{0.9 + (t // 300000) % 5 / 20:.4f}")
    return "\n".join(lines) + "\n"


def metrics_zip(symbol: str, day: str, times: list[int]) -> bytes:
    """A zip holding one ``{SYMBOL}-metrics-{day}.csv``, as the archive serves it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{symbol}-metrics-{day}.csv", metrics_csv(symbol, times))
    return buf.getvalue()


def _symbol_info(symbol: str) -> dict[str, object]:
    base = symbol.removesuffix("USDT")
    return {"symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": base, "quoteAsset": "USDT",
            "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8,
            "quotePrecision": 8, "underlyingType": "COIN", "triggerProtect": "0.0500", "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764", "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"}],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"]}


def main() -> None:  # pragma: no cover - demo entry point
    """Serve a fake market until interrupted (for demos of ``liqbot download``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--days", type=float, default=10.0, help="history length ending now")
    ap.add_argument("--gap", action="append", default=[], help="START/END (ISO) range without data")
    ap.add_argument("--log", action="store_true", help="print every request line")
    ns = ap.parse_args()
    now = datetime.now(timezone.utc)
    gaps = [tuple(int(datetime.fromisoformat(x).replace(tzinfo=timezone.utc).timestamp() * 1000)
                  for x in g.split("/")) for g in ns.gap]
    market = FakeMarket(int((now - timedelta(days=ns.days)).timestamp() * 1000), int(now.timestamp() * 1000),
                        gaps=gaps)  # type: ignore[arg-type]
    def log(req: Request) -> None:
        query = " ".join(f"{k}={v}" for k, v in req.query.items() if k in ("startTime", "endTime", "limit"))
        print(f"{req.method} {req.path} {query}", flush=True)

    server = FakeHttpServer(port=ns.port, on_request=log if ns.log else None)
    install(server, market)
    server.start()
    print(f"fake binance on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
