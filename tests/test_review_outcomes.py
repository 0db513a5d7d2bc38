"""Review logic: selection, per-strategy stats, and outcomes on candles (stop wins a shared bar)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from bot.domain import Side
from bot.errors import DataError
from bot.review import (SCAN_CHUNK, Bars, Result, ReviewFilter, outcome, outcome_stats, outcomes, parse_time,
                        select, strategy_stats)
from strategies.engine import Engine
from strategies.signal import Direction, Signal, StrategyName, signal_id
from tests.strategy_fakes import T0, cluster, context, magnets, settings, snapshot

P = 100_000.0


def long_signal(ts=T0) -> Signal:
    """A LONG hunt: entry 100000, stop 99700 (1.5 x ATR 200), target just under 101200."""
    c = cluster("s", P * 1.012, Side.SHORT, strength=0.9, price=P, now=ts)
    [sig] = Engine(settings()).run(snapshot(P, ts=ts), [c], context(P, atr=200.0, ts=ts), magnets()).signals
    assert sig.signal == Direction.LONG and sig.stop_loss == 99700.0
    return sig


def short_signal(ts=T0) -> Signal:
    c = cluster("l", P * 0.988, Side.LONG, strength=0.9, price=P, now=ts)
    [sig] = Engine(settings()).run(snapshot(P, ts=ts), [c], context(P, atr=200.0, ts=ts), magnets()).signals
    assert sig.signal == Direction.SHORT and sig.stop_loss == 100300.0
    return sig


def bars(rows: list[tuple[float, float, float, float]], start=T0) -> Bars:
    """Bars opening at ``start``, ``start`` + 5 min, ..."""
    idx = pd.date_range(start, periods=len(rows), freq="5min")
    return Bars.from_frame(pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx))


def test_take_profit_first() -> None:
    s = long_signal()
    o = outcome(s, bars([(P, P + 100, P - 100, P), (P, s.take_profit + 1, P - 50, P + 900)]))
    assert (o.result, o.exit_price, o.bars) == (Result.TAKE_PROFIT, s.take_profit, 2)
    assert o.r_multiple == pytest.approx((s.take_profit - P) / 300.0)
    assert o.exit_ts == T0 + timedelta(minutes=5)


def test_stop_first_and_a_bar_touching_both_is_a_stop() -> None:
    s = long_signal()
    o = outcome(s, bars([(P, P + 10, 99690.0, P), (P, s.take_profit + 1, P, P)]))
    assert (o.result, o.exit_price, o.r_multiple) == (Result.STOP_LOSS, 99700.0, -1.0)
    both = outcome(s, bars([(P, s.take_profit + 5, 99600.0, P)]))
    assert both.result == Result.STOP_LOSS and both.r_multiple == -1.0


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    s = short_signal()
    o = outcome(s, bars([(P, P + 10, P - 10, P), (100600.0, 100700.0, 100500.0, 100650.0)]))
    assert (o.result, o.exit_price) == (Result.STOP_LOSS, 100600.0)
    assert o.r_multiple == pytest.approx(-2.0)


def test_open_is_marked_at_the_last_close_and_no_data_is_said() -> None:
    s = short_signal()
    o = outcome(s, bars([(P, P + 50, P - 50, P - 150.0)] * 3))
    assert (o.result, o.bars) == (Result.OPEN, 3) and o.r_multiple == pytest.approx(0.5)
    early = outcome(s, bars([(P, P, P, P)], start=T0 - timedelta(hours=1)))
    assert (early.result, early.r_multiple) == (Result.NO_DATA, None)


def test_bars_before_the_signal_do_not_count() -> None:
    s = long_signal()
    b = bars([(P, P, 90000.0, P), (P, s.take_profit + 1, P, P)], start=T0 - timedelta(minutes=5))
    assert outcome(s, b).result == Result.TAKE_PROFIT


def test_a_hit_after_the_first_scan_chunk_is_found() -> None:
    s = long_signal()
    rows = [(P, P + 10, P - 10, P)] * (SCAN_CHUNK + 10) + [(P, s.take_profit, P, P)]
    o = outcome(s, bars(rows))
    assert (o.result, o.bars) == (Result.TAKE_PROFIT, SCAN_CHUNK + 11)


def test_select_filters_by_strategy_side_symbol_and_time() -> None:
    sigs = [long_signal(T0), short_signal(T0 + timedelta(hours=1)), long_signal(T0 + timedelta(hours=2))]
    assert select(sigs, ReviewFilter(side="short")) == [sigs[1]]
    assert select(sigs, ReviewFilter(since=T0 + timedelta(hours=1))) == sigs[1:]
    assert select(sigs, ReviewFilter(until=T0 + timedelta(hours=1))) == sigs[:1]
    assert select(sigs, ReviewFilter(strategy="breakout")) == []
    assert select(sigs, ReviewFilter(symbol="ETH/USDT:USDT")) == []
    assert select(list(reversed(sigs)), ReviewFilter()) == sigs


def test_stats_per_strategy_and_outcomes_summary() -> None:
    sigs = [long_signal(T0), short_signal(T0 + timedelta(minutes=5))]
    [row] = strategy_stats(sigs)
    assert (row["strategy"], row["count"], row["longs"], row["shorts"]) == ("liquidation_hunt", 2, 1, 1)
    assert row["avg_multiplier"] == 1.5 and row["avg_rr"] == pytest.approx(np.mean([s.risk_reward for s in sigs]))
    b = bars([(P, P + 10, 99650.0, P), (P, P + 10, 98000.0, P)])
    res = outcomes(sigs, b)
    assert [o.result for o in res] == [Result.STOP_LOSS, Result.TAKE_PROFIT]
    summary = {r["strategy"]: r for r in outcome_stats(sigs, res)}
    assert summary["all"]["take_profit"] == 1 and summary["all"]["stop_loss"] == 1
    assert summary[StrategyName.LIQUIDATION_HUNT.value]["win_rate"] == 0.5


def test_candles_with_several_symbols_selected_is_an_error() -> None:
    btc = long_signal()
    other = Signal.model_validate({**btc.to_json_dict(), "symbol": "ETH/USDT:USDT",
                                   "id": signal_id("ETH/USDT:USDT", btc.strategy, btc.timestamp, "s")})
    with pytest.raises(DataError, match="--symbol"):
        outcomes([btc, other], bars([(P, P, P, P)]))


def test_parse_time() -> None:
    assert parse_time("2025-03-08T14:35:00Z", "--since") == T0
    assert parse_time("2025-03-08 14:35", "--since") == T0
    with pytest.raises(DataError, match="--until"):
        parse_time("yesterday-ish", "--until")
