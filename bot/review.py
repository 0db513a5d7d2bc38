"""Review of the signal log: selection, per-strategy statistics, and each signal's outcome on candles.

Outcomes follow the paper broker's rules: a signal enters at its own entry price at its
timestamp; bars that open at or after that time are scanned; a take-profit fills at its price,
a stop at its price (or at the bar's open when the bar gaps through it); a bar that touches
both is a stop; a signal that hits neither before the data ends is open, marked at the last close.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bot.domain import iso, utc
from bot.errors import DataError
from strategies.signal import Direction, Signal

SCAN_CHUNK = 4096  # bars scanned per step: most signals resolve in the first chunk


class Result(StrEnum):
    """How a signal ended on the candles."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    OPEN = "open"
    NO_DATA = "no_data"  # no candle at or after the signal's time


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """Which signals a review looks at (all set criteria must hold; ``until`` is exclusive)."""

    strategy: str | None = None
    symbol: str | None = None
    side: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def accepts(self, s: Signal) -> bool:
        """Whether ``s`` passes every set criterion."""
        return ((self.strategy is None or s.strategy.value == self.strategy)
                and (self.symbol is None or s.symbol == self.symbol)
                and (self.side is None or s.signal.value == self.side.upper())
                and (self.since is None or s.timestamp >= utc(self.since))
                and (self.until is None or s.timestamp < utc(self.until)))


def select(signals: Sequence[Signal], criteria: ReviewFilter) -> list[Signal]:
    """Signals passing ``criteria``, in time order (stable for equal times)."""
    return sorted((s for s in signals if criteria.accepts(s)), key=lambda s: s.timestamp)


@dataclass(frozen=True, slots=True)
class Bars:
    """OHLC arrays; ``ts`` is each bar's open time in int64 nanoseconds since the epoch, ascending."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Bars":
        """From a candle frame as ``load_candles`` returns it: bar-open DatetimeIndex, open/high/low/close."""
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError("candles need a DatetimeIndex of bar opens", field="candles")
        missing = [c for c in ("open", "high", "low", "close") if c not in frame.columns]
        if missing:
            raise DataError(f"candles lack column(s) {', '.join(missing)}", field="candles")
        idx = frame.index.tz_convert("UTC") if frame.index.tz is not None else frame.index.tz_localize("UTC")
        ts = idx.as_unit("ns").asi8
        if ts.size > 1 and np.any(np.diff(ts) <= 0):
            raise DataError("candle times must ascend strictly", field="candles",
                            position=int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1)
        arrs = [frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")]
        return cls(ts, *arrs)


@dataclass(frozen=True, slots=True)
class Costs:
    """What a fill costs on the paper venue: fee rates and adverse slippage (``[paper]``)."""

    taker_fee: float = 0.0
    maker_fee: float = 0.0
    slippage_bps: float = 0.0

    @classmethod
    def from_settings(cls, settings: Any) -> "Costs":
        """The paper venue's costs (the backtest pays the same)."""
        p = settings.paper
        return cls(p.taker_fee, p.maker_fee, p.slippage_bps)

    def net_r(self, s: Signal, result: "Result", exit_price: float) -> float:
        """The R of a round trip after fees and slippage (no funding): a market entry (taker, slipped),
        a take-profit limit (maker), a stop or an open position closed at market (taker, slipped)."""
        sign = 1.0 if s.signal == Direction.LONG else -1.0
        slip = self.slippage_bps / 1e4
        entry = s.entry_price * (1 + sign * slip)
        if result == Result.TAKE_PROFIT:
            exit_fill, exit_fee = exit_price, self.maker_fee
        else:
            exit_fill, exit_fee = exit_price * (1 - sign * slip), self.taker_fee
        pnl = sign * (exit_fill - entry) - entry * self.taker_fee - exit_fill * exit_fee
        return pnl / abs(s.entry_price - s.stop_loss)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One signal's result on the candles; ``r_multiple`` is the gross P&L in units of its risk,
    ``r_net`` the same after fees and slippage (no funding)."""

    id: str
    result: Result
    exit_ts: datetime | None
    exit_price: float | None
    r_multiple: float | None
    bars: int
    r_net: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        d = asdict(self)
        d["result"] = self.result.value
        d["exit_ts"] = iso(self.exit_ts) if self.exit_ts else None
        return d


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask)) if mask.any() else -1


def outcome(s: Signal, bars: Bars, costs: Costs | None = None) -> Outcome:
    """The outcome of one signal (its net R with ``costs``)."""
    o = _gross_outcome(s, bars)
    if costs is None or o.exit_price is None:
        return o
    return replace(o, r_net=costs.net_r(s, o.result, o.exit_price))


def _gross_outcome(s: Signal, bars: Bars) -> Outcome:
    """The outcome of one signal, scanning the candles in vectorized chunks."""
    start = int(np.searchsorted(bars.ts, pd.Timestamp(s.timestamp).as_unit("ns").value, side="left"))
    n = bars.ts.size
    if start >= n:
        return Outcome(s.id, Result.NO_DATA, None, None, None, 0)
    long = s.signal == Direction.LONG
    risk = abs(s.entry_price - s.stop_loss)
    sign = 1.0 if long else -1.0
    lo = start
    while lo < n:
        hi = min(n, lo + SCAN_CHUNK)
        h, l_ = bars.high[lo:hi], bars.low[lo:hi]
        stop_hit = (l_ <= s.stop_loss) if long else (h >= s.stop_loss)
        tp_hit = (h >= s.take_profit) if long else (l_ <= s.take_profit)
        i_sl, i_tp = _first(stop_hit), _first(tp_hit)
        if i_sl >= 0 and (i_tp < 0 or i_sl <= i_tp):  # a bar touching both is a stop
            k = lo + i_sl
            o = bars.open[k]
            gapped = (o < s.stop_loss) if long else (o > s.stop_loss)
            px = float(o) if gapped else s.stop_loss
            return Outcome(s.id, Result.STOP_LOSS, _ts(bars.ts[k]), px, sign * (px - s.entry_price) / risk,
                           k - start + 1)
        if i_tp >= 0:
            k = lo + i_tp
            return Outcome(s.id, Result.TAKE_PROFIT, _ts(bars.ts[k]), s.take_profit,
                           sign * (s.take_profit - s.entry_price) / risk, k - start + 1)
        lo = hi
    last = float(bars.close[-1])
    return Outcome(s.id, Result.OPEN, _ts(bars.ts[-1]), last, sign * (last - s.entry_price) / risk, n - start)


def _ts(ns: np.int64) -> datetime:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").to_pydatetime()


def outcomes(signals: Sequence[Signal], bars: Bars, costs: Costs | None = None) -> list[Outcome]:
    """Outcomes of ``signals`` (all on the candles' symbol)."""
    symbols = {s.symbol for s in signals}
    if len(symbols) > 1:
        raise DataError(f"signals of {len(symbols)} symbols but one candle series: pick one with --symbol",
                        field="--candles")
    return [outcome(s, bars, costs) for s in signals]


def candle_warnings(signals: Sequence[Signal], bars: Bars, candle_symbol: str | None) -> list[str]:
    """What makes a review against these candles doubtful: another symbol, signals outside their span."""
    out = []
    other = sorted({s.symbol for s in signals} - {candle_symbol}) if candle_symbol else []
    if other:
        out.append(f"the candles are {candle_symbol} but the signals are {', '.join(other)}: outcomes are not "
                   "theirs")
    if signals and bars.ts.size:
        step = int(np.median(np.diff(bars.ts))) if bars.ts.size > 1 else 0
        lo, hi = int(bars.ts[0]), int(bars.ts[-1]) + step
        ns = np.array([pd.Timestamp(s.timestamp).as_unit("ns").value for s in signals], dtype=np.int64)
        outside = int(((ns < lo) | (ns >= hi)).sum())
        if outside:
            out.append(f"{outside} of {len(signals)} signals are outside the candles' span "
                       f"({iso(_ts(np.int64(lo)))} to {iso(_ts(np.int64(hi)))}): no data for them")
    return out


SIGNAL_COLUMNS = ["id", "timestamp", "symbol", "strategy", "signal", "entry_price", "stop_loss", "take_profit",
                  "risk_reward", "confidence", "multiplier", "notional_usd", "cluster_id", "cluster_price",
                  "sentiment", "reason"]


def signals_frame(signals: Sequence[Signal]) -> pd.DataFrame:
    """One row per signal, flat ``SIGNAL_COLUMNS`` (the table and the CSV export)."""
    rows = [(s.id, iso(s.timestamp), s.symbol, s.strategy.value, s.signal.value, s.entry_price, s.stop_loss,
             s.take_profit, s.risk_reward, s.confidence, s.position_size.multiplier, s.position_size.notional_usd,
             s.cluster_data.cluster_id, s.cluster_data.price_level, s.market_sentiment.sentiment.value, s.reason)
            for s in signals]
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def with_outcomes(frame: pd.DataFrame, results: Sequence[Outcome]) -> pd.DataFrame:
    """``frame`` joined with the outcome columns (by signal id, order kept)."""
    out = pd.DataFrame([o.to_dict() for o in results],
                       columns=["id", "result", "exit_ts", "exit_price", "r_multiple", "r_net", "bars"])
    return frame.merge(out, on="id", how="left")


def strategy_stats(signals: Sequence[Signal]) -> list[dict[str, Any]]:
    """Per strategy: count, longs, shorts, mean RR / confidence / multiplier / notional, multiplier range."""
    if not signals:
        return []
    f = signals_frame(signals)
    g = f.groupby("strategy", sort=True)
    stats = g.agg(count=("id", "size"), longs=("signal", lambda x: int((x == "LONG").sum())),
                  avg_rr=("risk_reward", "mean"), avg_confidence=("confidence", "mean"),
                  avg_multiplier=("multiplier", "mean"), min_multiplier=("multiplier", "min"),
                  max_multiplier=("multiplier", "max"), avg_notional_usd=("notional_usd", "mean"))
    stats["shorts"] = stats["count"] - stats["longs"]
    return _records(stats.reset_index())


OUTCOME_COLUMNS = ["strategy", "signals", "take_profit", "stop_loss", "open", "no_data", "win_rate", "avg_r_closed",
                   "total_r_closed", "avg_r_net_closed", "total_r_net_closed"]


def outcome_stats(signals: Sequence[Signal], results: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Per strategy (and ``all``): take-profits, stops, open, win rate of closed, mean and total R."""
    if not signals:
        return []
    f = with_outcomes(signals_frame(signals)[["id", "strategy"]], results)
    rows = []
    for name, part in [*sorted(f.groupby("strategy"), key=lambda kv: kv[0]), ("all", f)]:
        res = part["result"]
        tp, sl = int((res == Result.TAKE_PROFIT).sum()), int((res == Result.STOP_LOSS).sum())
        done = part[res.isin([Result.TAKE_PROFIT, Result.STOP_LOSS])]
        closed, net = done["r_multiple"], done["r_net"].dropna()
        rows.append({"strategy": name, "signals": int(len(part)), "take_profit": tp, "stop_loss": sl,
                     "open": int((res == Result.OPEN).sum()), "no_data": int((res == Result.NO_DATA).sum()),
                     "win_rate": tp / (tp + sl) if tp + sl else None,
                     "avg_r_closed": float(closed.mean()) if len(closed) else None,
                     "total_r_closed": float(closed.sum()) if len(closed) else 0.0,
                     "avg_r_net_closed": float(net.mean()) if len(net) else None,
                     "total_r_net_closed": float(net.sum()) if len(net) else 0.0})
    return rows


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                        v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()})
    return out


def parse_time(text: str, name: str) -> datetime:
    """ISO-8601 date or time (UTC when no zone is given) -> aware datetime; ``DataError`` otherwise."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise DataError(f"not an ISO-8601 time: {text!r}", field=name) from None
    if ts is pd.NaT:
        raise DataError(f"not an ISO-8601 time: {text!r}", field=name)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()
