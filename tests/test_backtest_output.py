"""What a backtest says it did: files written, parameters, analysis, filterable trades, lookahead cuts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_backtest_cli import inputs

pytestmark = pytest.mark.shared_data


def test_backtest_output_says_what_it_did(shared_data: Path, tmp_path: Path, run_cli: Any) -> None:
    out_json, report, log = tmp_path / "bt.json", tmp_path / "r.html", tmp_path / "s.jsonl"
    code, out, err = run_cli("backtest", *inputs(shared_data), "--json", str(out_json), "--report", str(report),
                             "--signals", str(log), "--check-lookahead")
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["files"] == {"signals": str(log), "report": str(report), "json": str(out_json)}
    assert f"wrote signals {log}, report {report}, json {out_json}" in " ".join(out.split())
    params = doc["parameters"]
    assert params["spec"]["symbol"] == "BTC/USDT:USDT" and params["spec"]["warmup_s"] == 12 * 3600
    assert params["settings"]["strategies"]["cooldown_bars"] == 12 and "taker_fee" in params["settings"]["paper"]
    a = doc["analysis"]
    assert a["buy_and_hold"]["return_pct"] is not None
    names = [c["column"] for c in a["columns"]]
    assert names == [s["column"] for s in doc["stats"]] and names[-1] == "combined"
    comb = a["columns"][-1]
    stats = doc["stats"][-1]
    assert comb["long"]["trades"] + comb["short"]["trades"] == stats["trades"]
    assert [m["month"] for m in comb["months"]] == ["2025-04"] and comb["months"][0]["trades"] == stats["trades"]
    assert comb["best_trade"]["pnl_usd"] >= comb["worst_trade"]["pnl_usd"]
    assert comb["holding_hours"]["median"] > 0 and "sortino" in comb and "calmar" in comb
    assert comb["drawdown_duration"]["bars"] >= 0
    # the lookahead check names its cut times and what it compared, in the table output too
    for c in doc["lookahead"]["cuts"]:
        assert f"cut {c['cut']}" in out and c["signals_compared"] >= 0
    assert "Sortino" in out and "buy and hold" in out
    page = report.read_text()
    for text in ("Analysis", "Per month, combined book", "Parameters used", 'id="book"', "input class=\"flt\"",
                 "Buy and hold over the same bars", "whole span, with the combined book", "signals and"):
        assert text in page, text
    assert page.count('data-book="combined"') == stats["trades"]
