"""The vectorbt adapter on hand-made bars: next-open entries, stop first, fees, slippage, funding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.portfolio import Bars, Costs, SignalArrays, simulate

T0 = np.datetime64("2025-01-01T00:00", "ns").astype(np.int64)
STEP = 300_000_000_000  # 5 minutes
COSTS = Costs(taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0, funding=False)
SLIP = 2e-4

# open, high, low, close
OHLC = np.array([
    [100.0, 100.5, 99.5, 100.0],   # 0: A LONG signal (stop 98, target 102)
    [100.2, 101.0, 99.5, 100.5],   # 1: A enters at this open; B LONG signal while A is open -> skipped
    [100.5, 103.0, 97.0, 100.0],   # 2: A's bar touches stop AND target -> stop; C SHORT signal (other column)
    [99.8, 100.0, 99.5, 99.6],     # 3: C enters
    [99.6, 99.6, 99.0, 99.2],      # 4: low == C's target 99: a touch, not a fill
    [99.2, 99.3, 98.9, 99.0],      # 5: trades through 99 -> C's target fills (maker); D LONG signal
    [98.0, 98.6, 97.9, 98.4],      # 6: D enters at a gap below its stop 98.5 -> stopped at the open
    [98.4, 98.6, 98.2, 98.5],      # 7
])


def bars(ohlc: np.ndarray = OHLC, costs: Costs = COSTS, settled: np.ndarray | None = None,
         fine: pd.DataFrame | None = None) -> Bars:
    n = len(ohlc)
    open_ns = T0 + np.arange(n) * STEP
    rate = np.full(n, np.nan) if settled is None else settled
    return Bars.build(open_ns, open_ns + STEP, ohlc, rate, costs, fine)


def signals(rows: list[tuple[int, float, float, float, float, float, int]]) -> SignalArrays:
    """(bar, sign, entry, stop, target, notional, column) per signal."""
    a = np.array(rows, dtype=np.float64)
    return SignalArrays(bar=a[:, 0].astype(np.int64), sign=a[:, 1], entry=a[:, 2], stop=a[:, 3], target=a[:, 4],
                        qty=a[:, 5] / a[:, 2], column=a[:, 6].astype(np.int64),
                        ids=[f"sig-{i}" for i in range(len(rows))])


SIGNALS = signals([(0, 1.0, 100.0, 98.0, 102.0, 1000.0, 0),    # A
                   (1, 1.0, 100.5, 99.0, 103.0, 1000.0, 0),    # B (skipped: A open)
                   (2, -1.0, 100.0, 101.5, 99.0, 1000.0, 1),   # C
                   (5, 1.0, 99.0, 98.5, 101.0, 1000.0, 0)])    # D


def expected_trades() -> dict[str, tuple[float, float, float]]:
    """(entry fill, exit fill, net P&L) written out from the rules."""
    qa, qc, qd = 10.0, 10.0, 1000.0 / 99.0
    a_in, a_out = 100.2 * (1 + SLIP), 98.0 * (1 - SLIP)                # stop first, taker both ways
    c_in, c_out = 99.8 * (1 - SLIP), 99.0                              # a short sells lower; target at its price
    d_in, d_out = 98.0 * (1 + SLIP), 98.0 * (1 - SLIP)                 # gapped through the stop: the open
    return {
        "A": (a_in, a_out, qa * (a_out - a_in) - qa * a_in * 5e-4 - qa * a_out * 5e-4),
        "C": (c_in, c_out, -qc * (c_out - c_in) - qc * c_in * 5e-4 - qc * c_out * 2e-4),
        "D": (d_in, d_out, qd * (d_out - d_in) - qd * d_in * 5e-4 - qd * d_out * 5e-4),
    }


def test_fills_follow_the_paper_rules_exactly() -> None:
    res = simulate(bars(), SIGNALS, ["s0", "s1"], COSTS, 10_000.0)
    exp = expected_trades()
    t = res.trades
    by_col = {c: t[t["strategy"] == c].reset_index(drop=True) for c in ("s0", "s1", "combined")}
    got = {"s0": by_col["s0"], "s1": by_col["s1"]}
    assert list(got["s0"]["signal_id"]) == ["sig-0", "sig-3"]            # B skipped while A is open
    assert list(got["s1"]["signal_id"]) == ["sig-2"]
    assert list(by_col["combined"]["signal_id"]) == ["sig-0", "sig-2", "sig-3"]
    for row, name in ((got["s0"].iloc[0], "A"), (got["s1"].iloc[0], "C"), (got["s0"].iloc[1], "D")):
        entry, exit_, pnl = exp[name]
        assert row["entry_price"] == pytest.approx(entry, rel=1e-12)
        assert row["exit_price"] == pytest.approx(exit_, rel=1e-12)
        assert row["pnl"] == pytest.approx(pnl, rel=1e-9)
    a, c, d = got["s0"].iloc[0], got["s1"].iloc[0], got["s0"].iloc[1]
    assert (a["entry_bar"], a["exit_bar"], a["reason"]) == (1, 2, "stop")      # next open; both touched -> stop
    assert (c["entry_bar"], c["exit_bar"], c["reason"]) == (3, 5, "target")    # the touch at bar 4 did not fill
    assert (d["entry_bar"], d["exit_bar"], d["reason"]) == (6, 6, "stop")      # entry and exit in one bar
    assert a["r_multiple"] == pytest.approx(exp["A"][2] / (10.0 * 2.0), rel=1e-9)


def test_vectorbt_books_agree_with_the_resolved_trades() -> None:
    res = simulate(bars(), SIGNALS, ["s0", "s1"], COSTS, 10_000.0)
    t = res.trades
    np.testing.assert_allclose(t["vbt_pnl"], t["pnl"], rtol=1e-9, atol=1e-9)
    for k, name in enumerate(res.columns):
        final = 10_000.0 + t.loc[t["strategy"] == name, "pnl"].sum()
        assert res.value[-1, k] == pytest.approx(final, rel=1e-12)
    assert res.value.shape == (len(OHLC), 3)


def test_a_position_still_open_is_closed_at_the_last_close() -> None:
    sig = signals([(5, 1.0, 99.0, 90.0, 120.0, 990.0, 0)])
    t = simulate(bars(), sig, ["s0"], COSTS, 10_000.0).trades
    row = t[t["strategy"] == "s0"].iloc[0]
    assert (row["reason"], row["exit_bar"], row["exit_price"]) == ("end", 7, 98.5)


def test_finer_bars_decide_which_leg_came_first() -> None:
    sig = signals([(0, 1.0, 100.0, 98.0, 102.0, 1000.0, 0)])
    ohlc = OHLC[:3]
    # bar 2 (00:10-00:15) touches both; its 1m bars show the target traded through first
    idx = pd.date_range("2025-01-01 00:10", periods=5, freq="1min", tz="UTC")
    fine = pd.DataFrame({"open": [100.5, 101.0, 102.5, 100.0, 98.5], "high": [101.0, 102.5, 103.0, 100.0, 98.6],
                         "low": [100.4, 100.9, 100.0, 98.4, 97.0], "close": [101.0, 102.5, 100.0, 98.5, 98.0]},
                        index=idx)
    coarse = simulate(bars(ohlc), sig, ["s0"], COSTS, 1e4).trades
    finer = simulate(bars(ohlc, fine=fine), sig, ["s0"], COSTS, 1e4).trades
    assert coarse.iloc[0]["reason"] == "stop"
    assert (finer.iloc[0]["reason"], finer.iloc[0]["exit_price"]) == ("target", 102.0)


def test_funding_is_charged_at_the_funding_instants_on_a_held_position() -> None:
    n = 100  # 00:00 .. 08:20: bar 95 closes at 08:00, the only funding instant after the first bar
    ohlc = np.tile([100.0, 100.5, 99.5, 100.0], (n, 1))
    settled = np.full(n, np.nan)
    settled[95] = 0.0003
    costs = Costs(taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0, funding=True, default_funding_rate=0.0001)
    long_ = signals([(0, 1.0, 100.0, 90.0, 110.0, 1000.0, 0)])
    short = signals([(0, -1.0, 100.0, 110.0, 90.0, 1000.0, 0)])
    t_long = simulate(bars(ohlc, costs, settled), long_, ["s0"], costs, 1e4).trades.iloc[0]
    t_short = simulate(bars(ohlc, costs, settled), short, ["s0"], costs, 1e4).trades.iloc[0]
    assert t_long["funding"] == pytest.approx(10.0 * 100.0 * 0.0003)    # longs pay a positive rate
    assert t_short["funding"] == pytest.approx(-10.0 * 100.0 * 0.0003)  # shorts receive it
    assert t_long["pnl"] == pytest.approx(-0.3) and t_long["vbt_pnl"] == pytest.approx(-0.3)
    off = Costs(taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0, funding=False)
    assert simulate(bars(ohlc, off, settled), long_, ["s0"], off, 1e4).trades.iloc[0]["funding"] == 0.0


def test_vectorbt_own_stops_skip_the_entry_bar_so_exits_are_resolved_here() -> None:
    """Why the adapter does not use ``sl_stop``/``tp_stop``: on this vectorbt, a bar that fills the entry
    at its open and then trades through the stop does not stop it out; the paper broker does."""
    import vectorbt as vbt
    idx = pd.date_range("2025-01-01", periods=4, freq="5min")
    o = pd.Series([100.0, 100.0, 100.0, 100.0], idx)
    h = pd.Series([100.5, 100.5, 100.5, 100.5], idx)
    low = pd.Series([99.5, 97.0, 99.5, 99.5], idx)   # bar 1: entry at its open, then low 97 < stop 98
    entries = pd.Series([False, True, False, False], idx)
    pf = vbt.Portfolio.from_signals(o, entries, pd.Series(False, idx), price=o, open=o, high=h, low=low,
                                    sl_stop=0.02, init_cash=1000.0, size=1.0)
    assert len(pf.orders.records) == 1  # vectorbt: entry only, no stop in the entry bar
    ohlc = np.column_stack([o, h, low, o])
    sig = signals([(0, 1.0, 100.0, 98.0, 110.0, 100.0, 0)])
    ours = simulate(bars(ohlc, COSTS), sig, ["s0"], COSTS, 1e4).trades.iloc[0]
    assert (ours["entry_bar"], ours["exit_bar"], ours["reason"]) == (1, 1, "stop")


def test_backtest_pays_the_paper_venues_costs() -> None:
    """One cost model: changing the paper venue's fees changes the backtest's too."""
    from config.settings import PaperSettings, load_settings
    s = load_settings(env_file=None)
    s = s.model_copy(update={"paper": PaperSettings(taker_fee=0.001, maker_fee=0.0001, slippage_bps=5.0)})
    costs = Costs.from_settings(s)
    assert (costs.taker_fee, costs.maker_fee, costs.slippage_bps) == (0.001, 0.0001, 5.0)
