"""Every data command says what its data covers: bars with OI, volume-mode spans, funding, trading start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.marketdata.coverage import coverage, coverage_line


def test_coverage_of_arrays() -> None:
    step = 300_000_000_000
    open_ns = 1_735_689_600_000_000_000 + np.arange(10, dtype=np.int64) * step
    oi = np.array([1.0, 1, 1, np.nan, np.nan, 1, 1, np.nan, np.nan, np.nan])
    funding = np.full(10, np.nan)
    funding[4] = 1e-4
    c = coverage(open_ns, open_ns + step, oi, funding, int(open_ns[2]), 0.5)
    assert (c["bars"], c["oi_bars"], c["volume_mode_bars"], c["funding_settlements"]) == (10, 5, 5, 1)
    assert [s["bars"] for s in c["oi_spans"]] == [3, 2] and [s["bars"] for s in c["volume_mode_spans"]] == [2, 3]
    assert c["settled_from"] == "2025-01-01T00:10:00Z" and c["sizing_without_oi"].startswith("x0.5")
    assert "open interest on 5 (50%)" in coverage_line(c) and "volume mode on 5 in 2 span(s)" in coverage_line(c)


def _files(shared: Path) -> list[str]:
    return ["--candles", str(shared / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"),
            "--oi", str(shared / "coinglass-btc" / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"),
            "--funding", str(shared / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")]


@pytest.mark.shared_data
def test_backtest_and_replay_carry_their_coverage(shared_data: Path, run_cli: Any, tmp_path: Path) -> None:
    span = ["--from", "2025-05-19", "--to", "2025-05-24", "--warmup", "1d"]  # the CoinGlass OI ends 2025-05-21
    code, out, err = run_cli("backtest", *_files(shared_data), *span, "--json")
    assert code == 0, err
    c = json.loads(out)["coverage"]
    assert c["oi_bars"] > 0 and c["volume_mode_bars"] > 0 and c["volume_mode_spans"][-1]["to"] == "2025-05-24T00:00:00Z"
    assert c["settled_from"] == "2025-05-20T00:00:00Z" and c["funding_settlements"] > 0
    assert "x0.5" in c["sizing_without_oi"]
    code, out, err = run_cli("backtest", *_files(shared_data), *span)
    assert code == 0 and "coverage: " in out and "volume mode on" in out
    code, out, err = run_cli("paper", "--feed", "replay", "--speed", "max", *_files(shared_data), *span,
                             "--state", str(tmp_path / "st"), "--json", "--no-status")
    assert code == 0, err
    r = json.loads(out)["coverage"]
    assert (r["oi_bars"], r["volume_mode_bars"], r["settled_from"]) == (c["oi_bars"], c["volume_mode_bars"],
                                                                       c["settled_from"])


@pytest.mark.shared_data
def test_heatmap_build_says_its_coverage(shared_data: Path, run_cli: Any, tmp_path: Path) -> None:
    args = ["heatmap", "build", *_files(shared_data), "--from", "2025-05-18", "--to", "2025-05-23",
            "--out", str(tmp_path / "s")]
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    c = json.loads(out)["coverage"]
    assert c["from"] == "2025-05-18T00:00:00Z" and c["oi_bars"] > 0 and c["volume_mode_bars"] > 0
    code, out, err = run_cli(*args)
    assert code == 0 and "coverage: " in out and "volume mode on" in out
