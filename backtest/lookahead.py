"""Lookahead check: cutting the data at time t must leave every earlier signal (and trade) unchanged.

The backtest is rerun on the files cut at several times (the candles end at the cut, so nothing
after it can be read). Every signal of a cut run must equal, field for field, the full run's
signal of the same bar, and the full run may not hold a signal before the cut that the cut run
lacks; trades that closed before the cut must match too. Beyond the signals, each bar's decision
inputs (its clusters and engine output, hashed) must match, so a peek ahead is caught even on a
bar that emitted nothing. Any difference means some step used data from after its bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pandas as pd

from backtest.run import BacktestResult, BacktestSpec, run_backtest

TRADE_KEYS = ("strategy", "signal_id", "entry_bar", "exit_bar", "reason", "entry_price", "exit_price", "pnl")


@dataclass
class CutCheck:
    """The comparison at one cut time."""

    cut: datetime
    signals: int
    trades: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"cut": self.cut.isoformat().replace("+00:00", "Z"), "signals_compared": self.signals,
                "trades_compared": self.trades, "problems": self.problems}


@dataclass
class LookaheadReport:
    """Every cut's comparison; ``ok`` when no earlier signal or trade changed."""

    cuts: list[CutCheck]

    @property
    def ok(self) -> bool:
        """No problem at any cut."""
        return all(not c.problems for c in self.cuts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"ok": self.ok, "cuts": [c.to_dict() for c in self.cuts]}


def cut_times(full: BacktestResult, n: int) -> list[datetime]:
    """``n`` cut times evenly spaced over the trading span (bar closes, the last bar excluded)."""
    d = full.data
    trading = np.flatnonzero(d.trade)
    if trading.size < 2:
        return []
    picks = np.unique(np.linspace(trading[0], trading[-1], n + 2).round().astype(np.int64)[1:-1])
    return [datetime.fromtimestamp(int(d.close_ns[k]) / 1e9, timezone.utc) for k in picks]


def compare(full: BacktestResult, part: BacktestResult, cut: datetime) -> CutCheck:
    """Signals at or before ``cut`` and trades closed before the part's last bar must be equal."""
    cut_ns = pd.Timestamp(cut).value
    mine = {s.id: s.to_json_dict() for _, s in part.replay.signals}
    theirs = {s.id: s.to_json_dict() for _, s in full.replay.signals if pd.Timestamp(s.timestamp).value <= cut_ns}
    problems = []
    for sid in sorted(set(mine) | set(theirs)):
        a, b = theirs.get(sid), mine.get(sid)
        if a is None:
            problems.append(f"signal {sid} appears only when the data ends at the cut")
        elif b is None:
            problems.append(f"signal {sid} ({a['timestamp']}) disappears when the data ends at the cut")
        elif a != b:
            diff = sorted(k for k in a if a.get(k) != b.get(k))
            problems.append(f"signal {sid} ({a['timestamp']}) changes: {', '.join(diff)}")
    fa, fb = full.replay.fingerprints, part.replay.fingerprints
    if fb and fa:
        k = next((i for i, (x, y) in enumerate(zip(fa, fb)) if x != y), None)
        if k is not None:
            when = str(part.data.close_ns[k].astype("datetime64[ns]"))[:19] + "Z"
            problems.append(f"bar closing {when}: clusters or engine output differ from the full run")
    last_bar = len(part.data) - 1
    ta = _closed(full.portfolio.trades, last_bar)
    tb = _closed(part.portfolio.trades, last_bar)
    if ta.to_dict("records") != tb.to_dict("records"):
        problems.append(f"trades closed before the cut differ ({len(ta)} in the full run, {len(tb)} in the cut run)")
    return CutCheck(cut=cut, signals=len(theirs), trades=len(ta), problems=problems[:20])


def _closed(trades: pd.DataFrame, last_bar: int) -> pd.DataFrame:
    t = trades[(trades["exit_bar"] < last_bar) & (trades["reason"] != "end")]
    return t[list(TRADE_KEYS)].sort_values(["strategy", "entry_bar"]).reset_index(drop=True)


def check_lookahead(settings: Any, spec: BacktestSpec, full: BacktestResult, cuts: int,
                    runner: Callable[..., BacktestResult] = run_backtest, **run_options: Any) -> LookaheadReport:
    """Rerun ``spec`` ending at each cut time and compare with ``full`` (the uncut run; run it with
    ``fingerprints=True`` to compare every bar's decision inputs too)."""
    out = []
    for cut in cut_times(full, cuts):
        part = runner(settings, spec.replace(end=cut), fingerprints=bool(full.replay.fingerprints), **run_options)
        out.append(compare(full, part, cut))
    return LookaheadReport(out)
