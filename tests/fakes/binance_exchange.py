"""A fake Binance USDT-M exchange on 127.0.0.1 that ccxt's own ``binanceusdm`` trades end to end.

It speaks the REST endpoints ccxt calls for a futures account: exchange info, time, ticker,
klines, leverage brackets, leverage and margin type, new/query/cancel order, conditional
(algo) orders, open orders, position risk, account and balance, user trades, and the public
market data the live feed polls, scripted on ``FakeBinance.tape`` (``binance_tape``). Private calls
are checked like Binance checks them: the ``X-MBX-APIKEY`` header (-2015, HTTP 401), the
HMAC-SHA256 signature of the query string and body with the secret (-1022), and
``timestamp``/``recvWindow`` against the server clock (-1021). The matching engine is
:class:`tests.fakes.binance_venue.Venue`; its errors come back with Binance's codes.

Faults are scripted per ``(method, path)`` with :meth:`FakeBinance.fault`: an error reply
(429/418 with Retry-After, 5xx, any code), a reply delayed past the client's timeout, and
whether the request is applied to the venue before the reply is lost ("accepted, then the
connection dropped")::

    with FakeBinance() as ex:
        ex.fault("POST", "/fapi/v1/order", Fault(delay_s=2.0, apply=True))
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from tests.fakes import binance_tape
from tests.fakes.binance_public import _symbol_info
from tests.fakes.http_server import FakeHttpServer
from tests.fakes.binance_venue import WORKING, Venue, VenueError, _fmt

API_KEY = "k3Yd8fQw2Lz9Xv7Tn4Rb6Hs1Jm5Pc0Ga"
API_SECRET = "S7dKq2Wm9Zx4Lp1Vb8Nc3Ht6Rj0Fy5Ge"
Params = dict[str, str]


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour of the next matching request.

    ``status`` 0 answers what the venue said (after ``delay_s``); otherwise the reply is that
    HTTP status with ``{"code", "msg"}``. Only with ``apply`` does the request reach the venue,
    so the order exists although the client sees an error or a timeout; without it the
    request is lost on the way in.
    """

    status: int = 0
    code: int = -1000
    msg: str = "An unknown error occured while processing the request."
    retry_after: int | None = None
    delay_s: float = 0.0
    apply: bool = False


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    params: Params
    status: int


class FakeBinance(FakeHttpServer):
    """A signed-REST fake of Binance USDT-M futures around one :class:`Venue` (lifecycle from FakeHttpServer)."""

    def __init__(self, venue: Venue | None = None, api_key: str = API_KEY, secret: str = API_SECRET) -> None:
        super().__init__()
        self.api_key, self.secret = api_key, secret
        self.venue = venue or Venue()
        self.venue.clock_ms = self.now_ms
        self.clock_offset_ms = 0  # a server clock jump: client timestamps fall outside recvWindow
        self.seen: list[Seen] = []
        self.tape = binance_tape.Tape()  # scripted public market data (the live feed's reads)
        self._faults: dict[tuple[str, str], deque[Fault]] = defaultdict(deque)
        self._state = threading.RLock()

    # --- control ------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The server clock (wall clock plus the scripted offset)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def fault(self, method: str, path: str, *faults: Fault) -> None:
        """Queue faults for the next requests of ``method path``, served in order."""
        with self._state:
            self._faults[(method.upper(), path)].extend(faults)

    def tick(self, price: float, symbol: str = "BTCUSDT") -> None:
        """Move the price and match resting orders."""
        with self._state:
            self.venue.tick(symbol, price)

    def calls(self, method: str, path: str) -> list[Seen]:
        """Recorded requests of ``method path``."""
        with self._state:
            return [r for r in self.seen if r.method == method and r.path == path]

    # --- dispatch -----------------------------------------------------------------------

    def answer(self, method: str, path: str, query: str, body: str,
               headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) for one request; faults and auth first."""
        params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
        route = ROUTES.get((method, path))
        with self._state:
            queue = self._faults.get((method, path))
            fault = queue.popleft() if queue else None
        status, payload = 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}
        extra: dict[str, str] = {}
        if route is not None and (fault is None or fault.apply):
            status, payload = self._run(route, params, query, body, headers)
        if fault is not None and fault.status:
            status, payload = fault.status, {"code": fault.code, "msg": fault.msg}
            if fault.retry_after is not None:
                extra["Retry-After"] = str(fault.retry_after)
        with self._state:
            self.seen.append(Seen(method, path, params, status))
        if fault is not None and fault.delay_s and self._stopping.wait(fault.delay_s):
            return 503, {}, {}
        return status, payload, extra

    def _run(self, route: "Route", params: Params, query: str, body: str,
             headers: dict[str, str]) -> tuple[int, Any]:
        fn, signed = route
        try:
            if signed:
                self._authenticate(query, body, params, headers)
            with self._state:
                return 200, fn(self, params)
        except VenueError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}

    def _authenticate(self, query: str, body: str, params: Params, headers: dict[str, str]) -> None:
        if headers.get("x-mbx-apikey") != self.api_key:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        signed = [part.split("&signature=")[0] for part in (query, body) if "signature=" in part]
        unsigned = [part for part in (query, body) if part and "signature=" not in part]
        payload = "".join(unsigned + signed)
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            raise VenueError(400, -1022, "Signature for this request is not valid.")
        now, stamp = self.now_ms(), int(params.get("timestamp", "0"))
        if stamp < now - int(params.get("recvWindow", "5000")) or stamp > now + 1000:
            raise VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, payload, extra = fake.answer(self.command, parts.path, parts.query, body, headers)
                except Exception as exc:  # a bug in the fake must show as a 500, not a hang
                    status, payload, extra = 500, {"code": -1000, "msg": f"fake error: {exc!r}"}, {}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in {"Content-Type": "application/json", **extra}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out first

            do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return _Handler


# --- endpoint handlers (called under the lock) ----------------------------------------------

def _symbol(ex: FakeBinance, p: Params) -> str:
    symbol = p.get("symbol", "")
    if symbol not in ex.venue.prices:
        raise VenueError(400, -1121, "Invalid symbol.")
    return symbol


def _exchange_info(ex: FakeBinance, p: Params) -> Any:
    return {"timezone": "UTC", "serverTime": ex.now_ms(), "rateLimits": [], "exchangeFilters": [], "assets": [],
            "symbols": [_symbol_info(s) for s in ex.venue.prices]}


def _ticker(ex: FakeBinance, p: Params) -> Any:
    def one(s: str) -> dict[str, Any]:
        px = _fmt(ex.venue.prices[s])
        return {"symbol": s, "lastPrice": px, "openPrice": px, "highPrice": px, "lowPrice": px, "volume": "0",
                "quoteVolume": "0", "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": px,
                "lastQty": "0", "openTime": ex.now_ms() - 86_400_000, "closeTime": ex.now_ms(), "count": 0}
    return one(_symbol(ex, p)) if "symbol" in p else [one(s) for s in ex.venue.prices]


def _klines(ex: FakeBinance, p: Params) -> Any:
    if ex.tape.candles.get(_symbol(ex, p)):
        return binance_tape.klines(ex.tape, p["symbol"], p)
    px, step = _fmt(ex.venue.prices[_symbol(ex, p)]), 300_000
    end = ex.now_ms() // step * step
    return [[t, px, px, px, px, "1", t + step - 1, px, 1, "0", "0", "0"]
            for t in range(end - step * (int(p.get("limit", "5")) - 1), end + 1, step)]


def _brackets(ex: FakeBinance, p: Params) -> Any:
    tiers = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000, "notionalFloor": 0, "maintMarginRatio": 0.004,
              "cum": 0.0},
             {"bracket": 2, "initialLeverage": 100, "notionalCap": 600_000, "notionalFloor": 50_000,
              "maintMarginRatio": 0.005, "cum": 50.0}]
    return [{"symbol": s, "brackets": tiers} for s in ex.venue.prices if s == p.get("symbol", s)]


def _leverage(ex: FakeBinance, p: Params) -> Any:
    symbol, lev = _symbol(ex, p), int(p.get("leverage", "0"))
    if not 1 <= lev <= ex.venue.max_leverage:
        raise VenueError(400, -4028, f"Leverage {lev} is not valid")
    ex.venue.leverage[symbol] = lev
    return {"leverage": lev, "maxNotionalValue": "50000", "symbol": symbol}


def _margin_type(ex: FakeBinance, p: Params) -> Any:
    symbol, kind = _symbol(ex, p), p.get("marginType", "")
    if kind not in ("ISOLATED", "CROSSED"):
        raise VenueError(400, -4044, "The margin type is invalid.")
    if ex.venue.margin_type.get(symbol, "CROSSED") == kind:
        raise VenueError(400, -4046, "No need to change margin type.")
    if ex.venue.position(symbol)[0]:
        raise VenueError(400, -4048, "Margin type cannot be changed if there exists position.")
    ex.venue.margin_type[symbol] = kind
    return {"code": 200, "msg": "success"}


def _new_order(ex: FakeBinance, p: Params) -> Any:
    order = ex.venue.place(_symbol(ex, p), p.get("side", ""), p.get("type", ""), float(p.get("quantity", "0")),
                           float(p.get("price", "0")), p.get("reduceOnly") == "true", p.get("newClientOrderId", ""))
    if p.get("newOrderRespType") == "ACK":  # the answer at acceptance, before any match
        return order.to_json() | {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0"}
    return order.to_json()


def _get_order(ex: FakeBinance, p: Params) -> Any:
    oid = p.get("orderId")
    return ex.venue.find(_symbol(ex, p), p.get("origClientOrderId"), int(oid) if oid else None).to_json()


def _cancel_order(ex: FakeBinance, p: Params) -> Any:
    oid = p.get("orderId")
    try:
        order = ex.venue.find(_symbol(ex, p), p.get("origClientOrderId"), int(oid) if oid else None)
    except VenueError:
        raise VenueError(400, -2011, "Unknown order sent.") from None
    return ex.venue.cancel(order).to_json()


def _open_orders(ex: FakeBinance, p: Params) -> Any:
    return [o.to_json() for o in ex.venue.open_orders(p.get("symbol"))]


def _new_algo(ex: FakeBinance, p: Params) -> Any:
    algo = ex.venue.place_algo(_symbol(ex, p), p.get("side", ""), p.get("type", ""), float(p.get("quantity", "0")),
                               float(p.get("triggerPrice", "0")), p.get("reduceOnly") == "true",
                               p.get("clientAlgoId", ""))
    return algo.to_json(None)


def _get_algo(ex: FakeBinance, p: Params) -> Any:
    aid = p.get("algoId")
    algo = ex.venue.find_algo(p.get("clientAlgoId"), int(aid) if aid else None)
    return algo.to_json(ex.venue.child(algo))


def _cancel_algo(ex: FakeBinance, p: Params) -> Any:
    aid = p.get("algoId")
    try:
        algo = ex.venue.find_algo(p.get("clientAlgoId"), int(aid) if aid else None)
    except VenueError:
        raise VenueError(400, -2011, "Unknown order sent.") from None
    ex.venue.cancel_algo(algo)
    return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}


def _open_algos(ex: FakeBinance, p: Params) -> Any:
    return [a.to_json(None) for a in ex.venue.open_algos(p.get("symbol"))]


def _position_risk(ex: FakeBinance, p: Params) -> Any:
    out = []
    for s in ex.venue.prices:
        if p.get("symbol", s) != s:
            continue
        amt, entry = ex.venue.position(s)
        mark, lev = ex.venue.prices[s], ex.venue.leverage.get(s, 20)
        out.append({"symbol": s, "positionSide": "BOTH", "positionAmt": _fmt(amt), "entryPrice": _fmt(entry),
                    "breakEvenPrice": _fmt(entry), "markPrice": _fmt(mark), "unRealizedProfit": _fmt(amt * (mark - entry)),
                    "liquidationPrice": "0", "leverage": str(lev), "maxNotionalValue": "50000",
                    "marginType": ex.venue.margin_type.get(s, "CROSSED").lower(),
                    "isolatedMargin": "0", "isAutoAddMargin": "false", "notional": _fmt(amt * mark),
                    "isolatedWallet": "0", "initialMargin": _fmt(abs(amt) * mark / lev), "maintMargin": "0",
                    "marginAsset": "USDT", "adl": 0, "updateTime": ex.now_ms()})
    return out


def _account(ex: FakeBinance, p: Params) -> Any:
    v = ex.venue
    wallet, upnl, avail = _fmt(v.wallet), _fmt(v.unrealized()), _fmt(v.available())
    asset = {"asset": "USDT", "walletBalance": wallet, "unrealizedProfit": upnl,
             "marginBalance": _fmt(v.wallet + v.unrealized()), "maintMargin": "0", "initialMargin": _fmt(v.used_margin()),
             "positionInitialMargin": "0", "openOrderInitialMargin": "0", "crossWalletBalance": wallet,
             "crossUnPnl": upnl, "availableBalance": avail, "maxWithdrawAmount": avail, "marginAvailable": True,
             "updateTime": ex.now_ms()}
    return {"totalWalletBalance": wallet, "totalUnrealizedProfit": upnl,
            "totalMarginBalance": asset["marginBalance"], "availableBalance": avail, "maxWithdrawAmount": avail,
            "totalInitialMargin": asset["initialMargin"], "assets": [asset], "positions": []}


def _balance(ex: FakeBinance, p: Params) -> Any:
    acct = _account(ex, p)["assets"][0]
    return [{"accountAlias": "fake", "asset": "USDT", "balance": acct["walletBalance"],
             "crossWalletBalance": acct["walletBalance"], "crossUnPnl": acct["unrealizedProfit"],
             "availableBalance": acct["availableBalance"], "maxWithdrawAmount": acct["maxWithdrawAmount"],
             "marginAvailable": True, "updateTime": ex.now_ms()}]


def _user_trades(ex: FakeBinance, p: Params) -> Any:
    symbol, since, from_id = _symbol(ex, p), int(p.get("startTime", "0")), int(p.get("fromId", "0"))
    rows = [t for t in ex.venue.trades if t["symbol"] == symbol and t["time"] >= since and t["id"] >= from_id]
    return rows[: int(p.get("limit", "500"))]


Route = tuple[Callable[[FakeBinance, Params], Any], bool]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/exchangeInfo"): (_exchange_info, False),
    ("GET", "/fapi/v1/time"): (lambda ex, p: {"serverTime": ex.now_ms()}, False),
    ("GET", "/fapi/v1/ping"): (lambda ex, p: {}, False),
    ("GET", "/fapi/v1/ticker/24hr"): (_ticker, False),
    ("GET", "/fapi/v1/klines"): (_klines, False),
    ("GET", "/fapi/v1/leverageBracket"): (_brackets, True),
    ("POST", "/fapi/v1/leverage"): (_leverage, True),
    ("POST", "/fapi/v1/marginType"): (_margin_type, True),
    ("GET", "/fapi/v1/positionSide/dual"): (lambda ex, p: {"dualSidePosition": False}, True),
    ("POST", "/fapi/v1/order"): (_new_order, True),
    ("GET", "/fapi/v1/order"): (_get_order, True),
    ("DELETE", "/fapi/v1/order"): (_cancel_order, True),
    ("GET", "/fapi/v1/openOrders"): (_open_orders, True),
    ("POST", "/fapi/v1/algoOrder"): (_new_algo, True),
    ("GET", "/fapi/v1/algoOrder"): (_get_algo, True),
    ("DELETE", "/fapi/v1/algoOrder"): (_cancel_algo, True),
    ("GET", "/fapi/v1/openAlgoOrders"): (_open_algos, True),
    ("GET", "/fapi/v2/positionRisk"): (_position_risk, True),
    ("GET", "/fapi/v3/positionRisk"): (_position_risk, True),
    ("GET", "/fapi/v2/account"): (_account, True),
    ("GET", "/fapi/v3/account"): (_account, True),
    ("GET", "/fapi/v2/balance"): (_balance, True),
    ("GET", "/fapi/v3/balance"): (_balance, True),
    ("GET", "/fapi/v1/userTrades"): (_user_trades, True),
    **binance_tape.ROUTES,
}


def working_orders(ex: FakeBinance) -> list[str]:
    """Client ids of every working order and algo order (test assertions)."""
    v = ex.venue
    return sorted([o.client_id for o in v.orders.values() if o.status in WORKING]
                  + [a.client_algo_id for a in v.algos.values() if a.status == "NEW"])
