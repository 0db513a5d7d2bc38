"""Signals -> trades -> a vectorbt portfolio: one column per strategy plus the combined book.

Fills follow the paper broker's rules (``bot.execution.fills``, DESIGN sections 5 and 6):

- a signal at bar t enters with a market order at the open of bar t+1: adverse slippage, taker fee,
  quantity = notional / the signal's entry price (what the runner orders);
- from the entry bar on, each bar's high/low is checked: the stop fills at its price (at the open
  when the bar gapped through it) with adverse slippage and the taker fee; the take-profit is a
  resting limit that fills at its price, maker fee, only when price trades *through* it; a bar
  touching both is a stop, unless finer bars (e.g. 1m) covering it show the target came first;
- funding at the venue's funding instants on a position that survives the bar:
  ``sign x qty x close x rate`` paid (the bar's settled rate, else the default rate);
- one position at a time per column (a signal while a position is open is skipped, as the
  runner skips it); a position still open after the last bar is closed at the last close.

vectorbt's own ``sl_stop``/``tp_stop`` are not used: they are fractions of the fill price, they do
not check the entry bar's range, and a touch fills the target. The exits are resolved here with
numba and the orders are fed to ``vbt.Portfolio.from_orders`` on a two-rows-per-bar grid (row
2k: the open of bar k, where entries fill; row 2k+1: inside bar k, where exits fill), so an
entry and its exit may share one bar. vectorbt keeps the books (cash, value, trade records);
funding is charged as a fixed fee on the exit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Sequence

import numba
import numpy as np
import pandas as pd

from backtest.signal_rows import signal_rows
from bot.errors import DataError
from strategies.signal import Signal


class ExitReason(IntEnum):
    """How a trade ended."""

    STOP = 1
    TARGET = 2
    END = 3   # still open after the last bar: closed at the last close


@dataclass(frozen=True, slots=True)
class Costs:
    """Fee rates, slippage and funding rules."""

    taker_fee: float = 0.0005
    maker_fee: float = 0.0002
    slippage_bps: float = 2.0
    funding: bool = True
    funding_interval_h: int = 8
    default_funding_rate: float = 0.0001

    @classmethod
    def from_settings(cls, settings: Any) -> "Costs":
        """The venue's costs from ``settings.paper`` (fees, slippage, funding times).

        Funding on/off comes from ``settings.backtest``.
        """
        b, p = settings.backtest, settings.paper
        return cls(taker_fee=p.taker_fee, maker_fee=p.maker_fee, slippage_bps=p.slippage_bps, funding=b.funding,
                   funding_interval_h=p.funding_interval_h, default_funding_rate=p.default_funding_rate)


@dataclass(frozen=True, eq=False)
class Bars:
    """Valid bars the portfolio trades on, with funding instants and optional finer bars."""

    open_ns: np.ndarray
    close_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    funding_count: np.ndarray   # funding instants in (previous close, close]
    funding_rate: np.ndarray    # rate applied at each of them
    fine_start: np.ndarray      # finer bars inside bar k: fine[fine_start[k]:fine_end[k]]
    fine_end: np.ndarray
    fine_ohl: np.ndarray        # (m, 3) open, high, low of the finer bars

    def __len__(self) -> int:
        return int(self.open.size)

    @classmethod
    def build(cls, open_ns: np.ndarray, close_ns: np.ndarray, ohlc: np.ndarray, settled_rate: np.ndarray,
              costs: Costs, fine: pd.DataFrame | None = None) -> "Bars":
        """Funding instants every ``funding_interval_h`` hours from 00:00 UTC, counted per bar."""
        step = int(costs.funding_interval_h) * 3_600_000_000_000
        counts = np.zeros(close_ns.size, np.int64)
        if close_ns.size > 1:  # the first bar has no predecessor: the paper venue charges nothing on it
            counts[1:] = close_ns[1:] // step - close_ns[:-1] // step
        rate = np.where(np.isnan(settled_rate), costs.default_funding_rate, settled_rate)
        fs = fe = np.zeros(close_ns.size, np.int64)
        fine_ohl = np.zeros((0, 3))
        if fine is not None and len(fine):
            idx = fine.index
            f_ns = (idx.tz_convert("UTC") if idx.tz is not None else idx.tz_localize("UTC")).as_unit("ns").asi8
            fs = np.searchsorted(f_ns, open_ns, side="left")
            fe = np.searchsorted(f_ns, close_ns, side="left")
            fine_ohl = fine[["open", "high", "low"]].to_numpy(np.float64)
        return cls(open_ns=open_ns, close_ns=close_ns, open=np.ascontiguousarray(ohlc[:, 0]),
                   high=np.ascontiguousarray(ohlc[:, 1]), low=np.ascontiguousarray(ohlc[:, 2]),
                   close=np.ascontiguousarray(ohlc[:, 3]), funding_count=counts, funding_rate=rate,
                   fine_start=np.asarray(fs, np.int64), fine_end=np.asarray(fe, np.int64), fine_ohl=fine_ohl)


@dataclass(frozen=True, eq=False)
class SignalArrays:
    """Emitted signals as arrays, in bar order; ``column`` is the strategy's column index."""

    bar: np.ndarray
    sign: np.ndarray
    entry: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    qty: np.ndarray
    column: np.ndarray
    ids: list[str]

    def __len__(self) -> int:
        return int(self.bar.size)

    @classmethod
    def from_signals(cls, rows: Sequence[tuple[int, Signal]], strategies: Sequence[str]) -> "SignalArrays":
        """From ``(bar index, signal)`` pairs; signals of strategies not in ``strategies`` are dropped.

        Reads only the signals' numbers (``backtest.signal_rows``): a lazy list stays unbuilt."""
        col = {name: k for k, name in enumerate(strategies)}
        sig = sorted((r for r in signal_rows(rows) if r.strategy in col), key=lambda r: r.bar)
        f = lambda xs: np.array(xs, dtype=np.float64)  # noqa: E731
        return cls(bar=np.array([r.bar for r in sig], np.int64), sign=f([r.sign for r in sig]),
                   entry=f([r.entry for r in sig]), stop=f([r.stop for r in sig]), target=f([r.target for r in sig]),
                   qty=f([r.notional / r.entry for r in sig]),
                   column=np.array([col[r.strategy] for r in sig], np.int64), ids=[r.id for r in sig])


@numba.njit(cache=True)
def _exit_in_bar(sign, stop, target, o, h, lo, fs, fe, fine):  # pragma: no cover - numba
    """(code, price before slippage) of the bracket leg bar k fills; finer bars order a double touch."""
    stop_hit = lo <= stop if sign > 0 else h >= stop
    tp_hit = h > target if sign > 0 else lo < target
    if stop_hit and tp_hit and fe > fs:
        for f in range(fs, fe):
            fo, fh, fl = fine[f, 0], fine[f, 1], fine[f, 2]
            s_hit = fl <= stop if sign > 0 else fh >= stop
            if s_hit:
                return 1, (min(stop, fo) if sign > 0 else max(stop, fo))
            if (fh > target) if sign > 0 else (fl < target):
                return 2, target
    if stop_hit:
        return 1, (min(stop, o) if sign > 0 else max(stop, o))
    if tp_hit:
        return 2, target
    return 0, 0.0


@numba.njit(cache=True)
def resolve_trades(o, h, lo, c, fund_n, fund_rate, fine_s, fine_e, fine, s_bar, s_sign, s_stop, s_target, s_qty,
                   s_col, n_cols, slip, taker, maker, funding_on):  # pragma: no cover - numba
    """Trades of every column (columns ``0..n_cols-1`` take their own signals, column ``n_cols``
    all of them): an int array (column, signal, entry bar, exit bar, reason) and a float array
    (entry price, exit price, entry fee, exit fee, funding paid, net P&L), one row per trade."""
    n, m = o.size, s_bar.size
    ints = np.empty(((n_cols + 1) * m, 5), np.int64)
    flts = np.empty(((n_cols + 1) * m, 6))
    k = 0
    for col in range(n_cols + 1):
        busy_until = -1  # bar whose close sees the position closed
        for s in range(m):
            if col < n_cols and s_col[s] != col:
                continue
            i = s_bar[s]
            e = i + 1
            if i < busy_until or e >= n:
                continue
            sign, qty, stop, target = s_sign[s], s_qty[s], s_stop[s], s_target[s]
            entry = o[e] * (1.0 + sign * slip)
            funding = 0.0
            code, px, x = 0, 0.0, n - 1
            for b in range(e, n):
                code, raw = _exit_in_bar(sign, stop, target, o[b], h[b], lo[b], fine_s[b], fine_e[b], fine)
                if code == 1:
                    px, x = raw * (1.0 - sign * slip), b
                    break
                if code == 2:
                    px, x = raw, b
                    break
                if funding_on and fund_n[b] > 0:
                    funding += fund_n[b] * sign * qty * c[b] * fund_rate[b]
            if code == 0:
                code, px = 3, c[n - 1]
            fee_in = qty * entry * taker
            fee_out = qty * px * (maker if code == 2 else taker)
            ints[k, 0], ints[k, 1], ints[k, 2], ints[k, 3], ints[k, 4] = col, s, e, x, code
            flts[k, 0], flts[k, 1], flts[k, 2], flts[k, 3], flts[k, 4] = entry, px, fee_in, fee_out, funding
            flts[k, 5] = sign * qty * (px - entry) - fee_in - fee_out - funding
            k += 1
            busy_until = x if code != 3 else n
    return ints[:k], flts[:k]


TRADE_FIELDS = ("column", "signal", "entry_bar", "exit_bar", "reason", "entry_price", "exit_price", "fee_entry",
                "fee_exit", "funding", "pnl")


@dataclass(frozen=True, eq=False)
class PortfolioResult:
    """The vectorbt portfolio, the resolved trades and the per-bar value of every column."""

    columns: list[str]          # strategies..., "combined"
    trades: pd.DataFrame        # one row per trade (TRADE_FIELDS + r_multiple, side, times, ids, vbt_pnl)
    value: np.ndarray           # (n bars, columns) value at each bar's close
    bar_close_ns: np.ndarray
    initial_cash: float
    portfolio: Any              # the vectorbt Portfolio (two rows per bar)


def simulate(bars: Bars, sig: SignalArrays, strategies: Sequence[str], costs: Costs,
             initial_cash: float) -> PortfolioResult:
    """Resolve the trades and keep the books with vectorbt (see the module docstring)."""
    import vectorbt as vbt

    n_cols = len(strategies)
    res = resolve_trades(bars.open, bars.high, bars.low, bars.close, bars.funding_count, bars.funding_rate,
                         bars.fine_start, bars.fine_end, bars.fine_ohl, sig.bar, sig.sign, sig.stop, sig.target,
                         sig.qty, sig.column, n_cols, costs.slippage_bps * 1e-4, costs.taker_fee, costs.maker_fee,
                         costs.funding)
    tr = pd.DataFrame(dict(zip(TRADE_FIELDS, [*res[0].T, *res[1].T])))
    n, cols = len(bars), n_cols + 1
    rows = 2 * n
    size = np.full((rows, cols), np.nan)
    price = np.full((rows, cols), np.nan)
    fees = np.zeros((rows, cols))
    fixed = np.zeros((rows, cols))
    s = tr["signal"].to_numpy()
    col = tr["column"].to_numpy()
    qty = sig.qty[s] * sig.sign[s]
    e_row, x_row = 2 * tr["entry_bar"].to_numpy(), 2 * tr["exit_bar"].to_numpy() + 1
    size[e_row, col], price[e_row, col], fees[e_row, col] = qty, tr["entry_price"].to_numpy(), costs.taker_fee
    x_fee = np.where(tr["reason"].to_numpy() == ExitReason.TARGET, costs.maker_fee, costs.taker_fee)
    size[x_row, col], price[x_row, col], fees[x_row, col] = -qty, tr["exit_price"].to_numpy(), x_fee
    fixed[x_row, col] = tr["funding"].to_numpy()
    marks = np.empty(rows)
    marks[0::2], marks[1::2] = bars.open, bars.close
    close = np.repeat(marks[:, None], cols, axis=1)
    from vectorbt.portfolio.enums import RejectedOrderError
    try:
        pf = vbt.Portfolio.from_orders(close, size=size, price=price, fees=fees, fixed_fees=fixed,
                                       init_cash=float(initial_cash), direction="both", allow_partial=False,
                                       raise_reject=True, freq=None)
    except RejectedOrderError as exc:  # an order the column's cash cannot fund: the inputs, not a crash
        raise DataError(f"an order cannot be funded from backtest.initial_cash {initial_cash:g} USD "
                        f"({' '.join(str(exc).split())}): raise backtest.initial_cash or lower "
                        "strategies.base_position_usd", field="backtest.initial_cash") from None
    value = pf.value().to_numpy()[1::2]
    names = [*strategies, "combined"]
    tr = _annotate(tr, bars, sig, names, pf)
    return PortfolioResult(columns=names, trades=tr, value=value, bar_close_ns=bars.close_ns,
                           initial_cash=float(initial_cash), portfolio=pf)


def _annotate(tr: pd.DataFrame, bars: Bars, sig: SignalArrays, names: list[str], pf: Any) -> pd.DataFrame:
    """Readable columns plus vectorbt's own P&L of each trade (the books must agree)."""
    s = tr["signal"].to_numpy()
    risk = sig.qty[s] * np.abs(sig.entry[s] - sig.stop[s])
    recs = pf.trades.records
    order = np.lexsort((recs["entry_idx"], recs["col"]))
    vbt_pnl = recs["pnl"][order]
    mine = np.lexsort((tr["entry_bar"].to_numpy(), tr["column"].to_numpy()))
    out = tr.iloc[mine].reset_index(drop=True)
    out["vbt_pnl"] = vbt_pnl if vbt_pnl.size == len(out) else np.nan
    s, risk = s[mine], risk[mine]
    out["r_multiple"] = out["pnl"].to_numpy() / risk
    out["strategy"] = [names[c] for c in out["column"]]
    out["side"] = np.where(sig.sign[s] > 0, "LONG", "SHORT")
    out["signal_id"] = [sig.ids[i] for i in s]
    out["stop_loss"], out["take_profit"], out["qty"] = sig.stop[s], sig.target[s], sig.qty[s]
    out["reason"] = [ExitReason(r).name.lower() for r in out["reason"]]
    out["entry_time"] = pd.to_datetime(bars.open_ns[out["entry_bar"].to_numpy()], utc=True)
    out["exit_time"] = pd.to_datetime(bars.close_ns[out["exit_bar"].to_numpy()], utc=True)
    return out
