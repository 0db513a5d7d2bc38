"""Parity: ``liqbot paper --feed replay --speed max`` and ``liqbot backtest`` emit the same signals.

Same files, same span, same warmup: the paper runner's signal log and the backtest's signal log
hold the same signal ids with the same prices (the whole Signal JSON, in fact), compared as
they are: both paths call the same ``bot.decide.Decider`` (tracker, engine, cooldown gate), with
the cooldown on and off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.signallog import read_log
from strategies.signal import Signal

pytestmark = pytest.mark.shared_data
SYMBOL = "BTC/USDT:USDT"


def inputs(data: Path) -> list[str]:
    return ["--candles", str(data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"),
            "--oi", str(data / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"),
            "--ls-ratio", str(data / "coinglass-btc" / "api_futures_global_long_short_account_ratio_history.parquet"),
            "--funding", str(data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather"),
            "--from", "2025-01-10", "--to", "2025-01-12T12:00", "--warmup", "12h"]


def key(s: Signal) -> tuple[Any, ...]:
    return (s.id, s.timestamp, s.strategy.value, s.signal.value, s.entry_price, s.stop_loss, s.take_profit)


@pytest.mark.parametrize("cooldown", [12, 0])
def test_paper_replay_and_backtest_emit_the_same_signals(shared_data: Path, tmp_path: Path, run_cli: Any,
                                                         monkeypatch: pytest.MonkeyPatch, cooldown: int) -> None:
    monkeypatch.setenv("LIQBOT_STRATEGIES__COOLDOWN_BARS", str(cooldown))
    code, out, err = run_cli("paper", "--feed", "replay", "--speed", "max", "--symbols", SYMBOL,
                             *inputs(shared_data), "--state", str(tmp_path / "paper"), "--json")
    assert code == 0, err
    code, out, err = run_cli("backtest", *inputs(shared_data), "--signals", str(tmp_path / "bt.jsonl"), "--json")
    assert code == 0, err
    paper = [x.signal for x in read_log(tmp_path / "paper" / "signals.jsonl").signals]
    backtest = [x.signal for x in read_log(tmp_path / "bt.jsonl").signals]
    assert len(backtest) > 10 and json.loads(out)["signals"]["emitted"] == len(backtest)
    assert [key(s) for s in backtest] == [key(s) for s in paper]
    assert [s.to_json_dict() for s in backtest] == [s.to_json_dict() for s in paper]


def test_paper_and_backtest_agree_with_the_cascade_strategy_enabled(shared_data: Path, tmp_path: Path, run_cli: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # all five strategies in one book: cascade is registered like the others, so both paths run it
    monkeypatch.setenv("LIQBOT_STRATEGIES__ENABLED",
                       json.dumps(["liquidation_hunt", "support_resistance", "breakout", "cascade", "oi_sizing"]))
    monkeypatch.setenv("LIQBOT_STRATEGIES__CASCADE__MIN_CLUSTERS", "2")
    code, out, err = run_cli("paper", "--feed", "replay", "--speed", "max", "--symbols", SYMBOL,
                             *inputs(shared_data), "--state", str(tmp_path / "paper"), "--json")
    assert code == 0, err
    code, out, err = run_cli("backtest", *inputs(shared_data), "--signals", str(tmp_path / "bt.jsonl"), "--json")
    assert code == 0, err
    paper = [x.signal for x in read_log(tmp_path / "paper" / "signals.jsonl").signals]
    backtest = [x.signal for x in read_log(tmp_path / "bt.jsonl").signals]
    assert sum(s.strategy.value == "cascade" for s in backtest) > 0
    assert [s.to_json_dict() for s in backtest] == [s.to_json_dict() for s in paper]
