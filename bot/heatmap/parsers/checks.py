"""Strict-validation helpers shared by the heatmap parsers.

Every failure is a ``DataError`` whose one-line message names the format, the JSON path of the
offending value and what is wrong with it, e.g.
``kiyotaka: series[0].points[1].Point.levels[6]: price must be finite and > 0, got nan``.

Numeric arrays are checked vectorized (numpy); a Python loop runs only on the error path, to
name the first bad element. JSON ``NaN``/``Infinity`` literals are decoded to floats on purpose:
the field check that meets them rejects them with their exact path.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, NoReturn

import numpy as np

from bot.errors import DataError

Locate = Callable[[int], str]
"""Maps an element index of a checked array to its JSON path (for the error message)."""

_NUMBER_TYPES = frozenset({int, float})
# An epoch below 1e11 is seconds up to the year 5138; each 1e3 step up is the next unit.
_EPOCH_UNITS = ((1e11, 1.0, "s"), (1e14, 1e3, "ms"), (1e17, 1e6, "us"))


def load_payload(raw: bytes | str, source_name: str = "<input>") -> object:
    """Decode a JSON payload; empty, non-UTF-8, truncated or malformed input is a ``DataError``."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text (byte {exc.start})", source=source_name) from None
    else:
        text = raw
    if not text.strip():
        raise DataError("empty payload (no content)", source=source_name)
    try:
        return json.loads(text, parse_constant=float)
    except RecursionError:
        raise DataError("not valid JSON: nested too deeply", source=source_name) from None
    except json.JSONDecodeError as exc:
        # an unterminated string runs to the end of the input: truncated as well
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise DataError(f"truncated JSON: the input ends inside a value ({exc.msg}, line {exc.lineno} "
                            f"column {exc.colno})", source=source_name) from None
        raise DataError(f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})",
                        source=source_name) from None
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise DataError(f"not valid JSON: {exc}", source=source_name) from None


def epoch_unit(value: float) -> tuple[float, str]:
    """(divisor to seconds, unit name) of an epoch number, detected by magnitude (s/ms/us/ns)."""
    magnitude = abs(value)
    for bound, divisor, unit in _EPOCH_UNITS:
        if magnitude < bound:
            return divisor, unit
    return 1e9, "ns"


def join(path: str, key: str | int) -> str:
    """``join("a", "b") == "a.b"``, ``join("a", 3) == "a[3]"``, ``join("", "b") == "b"``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Checker:
    """Typed accessors that raise ``DataError(source=<format>, field=<json path>)``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> NoReturn:
        """Raise the one-line error for ``path``."""
        raise DataError(message, field=path or None, source=self.source)

    # ---- structure
    def obj(self, value: Any, path: str) -> dict[str, Any]:
        """``value`` as a JSON object."""
        if not isinstance(value, dict):
            self.fail(path, f"wrong type: expected an object, got {_kind(value)}")
        return value

    def field(self, doc: dict[str, Any], key: str, path: str) -> Any:
        """``doc[key]``; a missing key is an error naming it."""
        if key not in doc:
            self.fail(join(path, key), "missing field")
        return doc[key]

    def array(self, value: Any, path: str, *, nonempty: bool = True) -> list[Any]:
        """``value`` as a JSON array (non-empty unless told)."""
        if not isinstance(value, list):
            self.fail(path, f"wrong type: expected an array, got {_kind(value)}")
        if nonempty and not value:
            self.fail(path, "empty payload: the array is empty")
        return value

    def text(self, value: Any, path: str) -> str:
        """``value`` as a non-empty string."""
        if not isinstance(value, str):
            self.fail(path, f"wrong type: expected a string, got {_kind(value)}")
        if not value.strip():
            self.fail(path, "must not be empty")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        """``value`` as a JSON boolean."""
        if not isinstance(value, bool):
            self.fail(path, f"wrong type: expected true or false, got {_kind(value)}")
        return value

    # ---- scalars
    def number(self, value: Any, path: str, *, what: str = "value", minimum: float | None = None,
               positive: bool = False, maximum: float | None = None, strings: bool = False) -> float:
        """A finite JSON number (``strings``: also a numeric string) within the given bounds."""
        if strings and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.fail(path, f"wrong type: expected a number, got string {value!r}")
        elif type(value) not in _NUMBER_TYPES:
            self.fail(path, f"wrong type: expected a number, got {_kind(value)}")
        elif not _is_float(value):
            self.fail(path, f"not representable as a number: {_kind(value)}")
        x = float(value)
        if positive and not (math.isfinite(x) and x > 0):
            self.fail(path, f"{what} must be finite and > 0, got {x!r}")
        if not math.isfinite(x):
            self.fail(path, f"{what} must be finite, got {x!r}")
        if minimum is not None and x < minimum:
            self.fail(path, f"{what} must be >= {minimum:g}, got {x!r}")
        if maximum is not None and x > maximum:
            self.fail(path, f"{what} must be <= {maximum:g}, got {x!r}")
        return x

    def integer(self, value: Any, path: str, *, what: str = "value", minimum: int = 0) -> int:
        """A JSON number with an integral value >= ``minimum`` (``4.0`` is accepted)."""
        x = self.number(value, path, what=what)
        if x != int(x):
            self.fail(path, f"{what} must be an integer, got {x!r}")
        if x < minimum:
            self.fail(path, f"{what} must be >= {minimum}, got {int(x)}")
        return int(x)

    def timestamp(self, value: Any, path: str) -> datetime:
        """Epoch number (unit by magnitude), ``{"s": ...[, "ns"|"nanos": ...]}`` or ISO-8601 -> UTC."""
        if isinstance(value, dict):
            seconds = self.number(self.field(value, "s", path), join(path, "s"), what="timestamp", positive=True)
            nanos_key = "ns" if "ns" in value else "nanos" if "nanos" in value else None
            nanos = 0.0 if nanos_key is None else self.number(
                value[nanos_key], join(path, nanos_key), what="timestamp nanoseconds", minimum=0, maximum=1e9 - 1)
            return self.epoch(seconds, path) + timedelta(microseconds=nanos / 1e3)
        if isinstance(value, str):
            try:
                ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail(path, f"not an ISO-8601 timestamp: {value!r}")
            return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
        return self.epoch(self.number(value, path, what="timestamp", positive=True), path)

    def epoch(self, value: float, path: str) -> datetime:
        """A positive epoch number in s, ms, us or ns (detected by magnitude) as aware UTC."""
        if not (math.isfinite(value) and value > 0):
            self.fail(path, f"timestamp must be finite and > 0, got {value!r}")
        divisor, _ = epoch_unit(value)
        try:
            return datetime.fromtimestamp(value / divisor, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            self.fail(path, f"timestamp out of range: {value!r}")

    # ---- arrays
    def numbers(self, values: list[Any], locate: Locate, *, strings: bool = False) -> np.ndarray:
        """A JSON array of numbers as float64 (booleans, nulls, nested arrays, strings are errors)."""
        allowed = _NUMBER_TYPES | {str} if strings else _NUMBER_TYPES
        if not set(map(type, values)) <= allowed:
            i = next(i for i, v in enumerate(values) if type(v) not in allowed)
            self.fail(locate(i), f"wrong type: expected a number, got {_kind(values[i])}")
        try:
            return np.asarray(values, dtype=np.float64)
        except (ValueError, OverflowError):  # a non-numeric string, or an integer beyond float range
            i = next(i for i, v in enumerate(values) if not _is_float(v))
            what = ("wrong type: expected a number, got" if isinstance(values[i], str)
                    else "not representable as a number:")
            self.fail(locate(i), f"{what} {_kind(values[i])}")

    def prices(self, prices: np.ndarray, locate: Locate, *, what: str = "price") -> None:
        """Every price finite, > 0 and a coin price (at most ``bounds.MAX_PRICE``)."""
        from bot.inputs.bounds import MAX_PRICE
        bad = np.flatnonzero(~np.isfinite(prices) | (prices <= 0))
        if bad.size:
            i = int(bad[0])
            self.fail(locate(i), f"{what} must be finite and > 0, got {_num(prices[i])}")
        bad = np.flatnonzero(prices > MAX_PRICE)
        if bad.size:
            i = int(bad[0])
            self.fail(locate(i), f"{what} {_num(prices[i])} is not a coin price (at most {MAX_PRICE:g})")

    def volumes(self, volumes: np.ndarray, locate: Locate, *, what: str = "volume") -> None:
        """Every volume finite and >= 0."""
        bad = np.flatnonzero(~np.isfinite(volumes) | (volumes < 0))
        if bad.size:
            i = int(bad[0])
            self.fail(locate(i), f"{what} must be finite and >= 0, got {_num(volumes[i])}")

    def ascending(self, prices: np.ndarray, locate: Locate, *, what: str = "price") -> None:
        """Prices strictly ascending: the first duplicated or out-of-order one is named."""
        if prices.size < 2:
            return
        steps = np.diff(prices)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            if steps[i - 1] == 0:
                self.fail(locate(i), f"duplicated {what} {_num(prices[i])} (same as {locate(i - 1)})")
            self.fail(locate(i), f"unsorted: {what} {_num(prices[i])} follows {_num(prices[i - 1])} "
                                 f"(must ascend strictly)")

    def increasing_times(self, times: list[datetime], locate: Locate) -> None:
        """Snapshot times strictly increasing within one series."""
        for i in range(1, len(times)):
            if times[i] <= times[i - 1]:
                self.fail(locate(i), f"timestamps must increase: {times[i].isoformat()} is not after "
                                     f"{times[i - 1].isoformat()}")

    # ---- symbols and prices
    def symbol(self, value: Any, path: str) -> str:
        """A payload's symbol in ccxt unified form (see ``unified_symbol``)."""
        raw = self.text(value, path)
        try:
            return unified_symbol(raw)
        except ValueError as exc:
            self.fail(path, str(exc))


def unified_symbol(raw: str) -> str:
    """ccxt unified perpetual symbol: ``BTC``, ``BTCUSDT``, ``btc-usdt``, ``BTC/USDT`` -> ``BTC/USDT:USDT``.

    A bare coin is taken as its USDT-margined perpetual; a unified symbol passes unchanged.
    """
    text = raw.strip().upper()
    m = re.fullmatch(r"([A-Z0-9]+)/([A-Z0-9]+)(?::([A-Z0-9]+))?", text)
    if m:
        base, quote, settle = m.groups()
        return f"{base}/{quote}:{settle or quote}"
    # exchange suffixes for perpetuals (OKX BTC-USDT-SWAP, BTC-PERP) say nothing the unified form does not
    compact = "".join(t for t in re.split(r"[-_]", text) if t not in ("SWAP", "PERP"))
    if not re.fullmatch(r"[A-Z0-9]+", compact):
        raise ValueError(f"not a symbol: {raw!r}")
    for quote in ("USDT", "USDC", "BUSD", "USD"):
        if compact.endswith(quote) and len(compact) > len(quote):
            return f"{compact[: -len(quote)]}/{quote}:{quote}"
    return f"{compact}/USDT:USDT"


def reference_price(value: float | None, source: str, *, payload_price: float | None,
                    why_required: str = "") -> tuple[float, str]:
    """The snapshot's reference price and where it came from: ``--price`` wins over the payload."""
    from bot.inputs.bounds import MAX_PRICE
    if value is not None:
        if not (math.isfinite(value) and value > 0):
            raise DataError(f"must be finite and > 0, got {value!r}", field="--price")
        if value > MAX_PRICE:
            raise DataError(f"{value!r} is not a coin price (at most {MAX_PRICE:g})", field="--price")
        return float(value), "--price"
    if payload_price is None:
        raise DataError(f"--price is required for {why_required or source + ' payloads'} "
                        "(the payload carries no price)",
                        source=source)
    if not (math.isfinite(payload_price) and 0 < payload_price <= MAX_PRICE):
        raise DataError(f"the payload's price {payload_price!r} is not a coin price (finite, > 0, at most "
                        f"{MAX_PRICE:g})", source=source)
    return payload_price, "payload"


def split_sides(prices: np.ndarray, usd: np.ndarray, price: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Side by position: below price long, above short, exactly at price half and half.

    ``usd`` and ``prices`` may be 2-D (one row per snapshot) with ``price`` a column vector.
    """
    below = prices < price
    at = prices == price
    long_usd = np.where(below, usd, 0.0) + np.where(at, 0.5 * usd, 0.0)
    return long_usd, usd - long_usd


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, (int, float)):
        text = repr(value)
        return f"number {text}" if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _num(x: float) -> str:
    return repr(float(x))


def _is_float(value: Any) -> bool:
    try:
        float(value)
    except (ValueError, OverflowError):
        return False
    return True
