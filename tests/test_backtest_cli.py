"""``liqbot backtest`` end to end on two days of real BTC data: JSON, signal log, report, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SYMBOL = "BTC/USDT:USDT"


def inputs(data: Path, *, oi: bool = True) -> list[str]:
    args = ["--candles", str(data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"),
            "--funding", str(data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather"),
            "--from", "2025-04-01", "--to", "2025-04-03T12:00", "--warmup", "12h"]
    if oi:
        args += ["--oi", str(data / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet")]
    return args


@pytest.mark.shared_data
def test_json_report_signals_and_lookahead_in_one_run(shared_data: Path, tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("backtest", *inputs(shared_data), "--strategies", "liquidation_hunt,breakout",
                             "--json", "--signals", str(tmp_path / "s.jsonl"), "--report", str(tmp_path / "r.html"),
                             "--check-lookahead")
    assert code == 0, err
    doc = json.loads(out)  # exactly one JSON document on stdout
    assert [s["column"] for s in doc["stats"]] == ["liquidation_hunt", "breakout", "combined"]
    combined = doc["stats"][-1]
    assert combined["trades"] == sum(1 for t in doc["trades"] if t["strategy"] == "combined") > 0
    assert doc["lookahead"]["ok"] and len(doc["lookahead"]["cuts"]) == 4
    assert doc["run"]["warmup_bars"] == 144 and doc["run"]["trading_bars"] == 2.5 * 288 - 144
    assert {t["reason"] for t in doc["trades"]} <= {"stop", "target", "end"}
    # the signal log reads back with the paper bot's review command
    code, review, err = run_cli("signals", "review", str(tmp_path / "s.jsonl"), "--json")
    assert code == 0, err
    assert json.loads(review)["selected"] == doc["signals"]["emitted"]
    page = (tmp_path / "r.html").read_text()
    assert "Stats per strategy" in page and page.count("<img alt=\"heatmap\" src=\"data:image/png;base64,") == 2
    assert "plotly" in page and "liquidation_hunt" in page and "Lookahead check passed" in page


@pytest.mark.shared_data
def test_json_to_a_file_prints_the_table(shared_data: Path, tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("backtest", *inputs(shared_data, oi=False), "--strategies", "support_resistance",
                             "--json", str(tmp_path / "bt.json"))
    assert code == 0, err
    doc = json.loads((tmp_path / "bt.json").read_text())
    assert doc["run"]["oi_bars"] == 0  # volume mode throughout
    assert "support_resistance" in out and "combined" in out and not out.lstrip().startswith("{")


@pytest.mark.parametrize(("extra", "message"), [
    (["--strategies", "liquidation_hnt"], "did you mean 'liquidation_hunt'"),
    (["--from", "2025-04-03", "--to", "2025-04-01"], "--to must be after --from"),
    (["--heatmaps", "/nonexistent/store"], "no such snapshot store"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, run_cli: Any, extra: list[str], message: str) -> None:
    candles = tmp_path / "c.csv"
    candles.write_text("ts,open,high,low,close,volume\n2025-04-01T00:00:00Z,1,2,0.5,1.5,10\n")
    code, out, err = run_cli("backtest", "--candles", str(candles), *extra)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_candles_file_is_exit_2(tmp_path: Path, run_cli: Any) -> None:
    code, _, err = run_cli("backtest", "--candles", str(tmp_path / "nope.feather"))
    assert code == 2 and "--candles" in err and "no such file" in err
