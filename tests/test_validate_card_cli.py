"""``liqbot validate`` as the report card: the JSON contract on real data, forceOrder files, any source."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

from tests.fakes.binance_public import kline
from tests.fakes.heatmap_providers import KIYOTAKA_KEY, install_kiyotaka
from tests.fakes.http_server import FakeHttpServer

CG = "coinglass-btc/api_futures_{}.parquet"
HOUR_MS = 3_600_000


def _ci(x: object) -> bool:
    return isinstance(x, list) and len(x) == 2 and x[0] <= x[1]


@pytest.mark.shared_data
def test_report_card_contract_on_real_btc(shared_data: Path, run_cli, tmp_path: Path) -> None:
    code, out, err = run_cli(
        "validate", "--candles", str(shared_data / "binance-usdm/BTC_USDT_USDT-5m-futures.feather"),
        "--oi", str(shared_data / CG.format("openInterest_ohlc_aggregated_history_BTC")),
        "--liquidations", str(shared_data / CG.format("liquidation_aggregated_coin_history_BTC")),
        "--split", "2025-03-15", "--to", "2025-05-21", "--bootstrap", "50", "--json",
        "--report", str(tmp_path / "card.html"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["split"] == "2025-03-15T00:00:00Z" and doc["from"] >= "2025-03-15"
    assert set(doc["model"]) == {"spearman_long", "spearman_short"} and "range" in doc["baselines"]
    for side in ("long", "short"):
        assert doc["scale"][side]["ratio"] > 0 and _ci(doc["scale"][side]["ci"])
    d = doc["magnets"]["direction"]["test"]
    assert d["n"] > 500 and _ci(d["ci"]) and _ci(d["bull_minus_bear_ci"])
    assert d["skill_logloss"] is not None and d["bull_minus_bear"] is not None
    for h in ("4h", "24h"):
        t = doc["magnets"]["touch"][h]["test"]
        assert t["n"] > 100 and t["excess"] is not None and _ci(t["ci"])
    b = doc["magnets"]["breaks"]["4h"]["test"]
    assert b["n"] > 100 and b["excess_bp"] is not None and _ci(b["ci"])
    m = doc["map"]
    assert 0 <= m["strength_saturated_share"] <= 1 and 0 <= m["window_truncated_share"] <= 1
    assert m["settled_from"] < "2025-02-01"
    # train before the split, test after it: the direction tilt was fitted on train only
    assert doc["magnets"]["direction"]["train"]["n"] > 500 and doc["timing"]["train"]["to"] < "2025-03-15"
    assert (tmp_path / "card.html").stat().st_size > 100_000
    # issue 11 defects, measured on the test part with the default model
    for side in ("long", "short"):                       # 1: scale (was 189x / 232x), calibrated on train
        assert 0.5 < doc["scale"][side]["calibrated_ratio"] < 2.0
        assert 0.005 < doc["scale"][side]["calibration_factor"] < 0.03   # the usd_scale of such runs: 0.0128
    assert m["strength_saturated_share"] < 0.5           # 2: saturation (was 0.74)
    assert m["window_truncated_share"] < 0.08            # 4: window (was 0.087 at +-15 %)


@pytest.mark.shared_data
def test_real_forceorder_file_is_refused_with_its_coverage(shared_data: Path, run_cli) -> None:
    # the forceOrder sample is one hour of June 2025: the CoinGlass OI ends in May
    code, out, err = run_cli(
        "validate", "--candles", str(shared_data / "binance-usdm/BTC_USDT_USDT-5m-futures.feather"),
        "--oi", str(shared_data / CG.format("openInterest_ohlc_aggregated_history_BTC")),
        "--liquidations", str(shared_data / "binance-forceorder/2025-06-23_part1.csv"), "--json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "open interest 2024-11-23T00:00..2025-05-21T20:00" in err and "liquidations 2025-06-23" in err


def test_forceorder_without_the_symbol_is_refused(tmp_path: Path, run_cli) -> None:
    rows = "\n".join(f"ETH,SELL,LIMIT,IOC,1.0,3000,None,FILLED,1.0,1.0,{1750712378119 + k * 60_000},3000"
                     for k in range(5))
    (tmp_path / "fo.csv").write_text(rows + "\n")
    candles = tmp_path / "c.csv"
    candles.write_text("ts,open,high,low,close,volume\n" + "\n".join(
        f"{1750712100000 + k * 300_000},1,1,1,1,1" for k in range(20)) + "\n")
    oi = tmp_path / "oi.csv"
    oi.write_text("ts,oi_usd\n1750712100000,1e9\n")
    code, out, err = run_cli("validate", "--candles", str(candles), "--oi", str(oi), "--liquidations",
                             str(tmp_path / "fo.csv"))
    assert code == 2 and "no BTC events" in err and err.count("\n") == 1


@pytest.fixture()
def kiyotaka(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as srv:
        install_kiyotaka(srv)
        monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_BASE_URL", srv.url)
        monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_API_KEY", KIYOTAKA_KEY)
        yield srv


def test_a_snapshot_store_gets_the_same_card(kiyotaka: FakeHttpServer, run_cli, tmp_path: Path) -> None:
    end = datetime(2025, 3, 1, tzinfo=timezone.utc)
    start_ms = int(end.timestamp() * 1000) - 12 * 24 * HOUR_MS
    bars = [kline(start_ms + k * 300_000, 300_000) for k in range(12 * 24 * 12)]
    candles = pd.DataFrame([b[:6] for b in bars], columns=["ts", "open", "high", "low", "close", "volume"])
    candles[["open", "high", "low", "close", "volume"]] = candles[["open", "high", "low", "close", "volume"]].astype(
        float)
    candles.to_csv(tmp_path / "candles.csv", index=False)
    code, out, err = run_cli("heatmap", "import", "--provider", "kiyotaka", "--symbol", "BTC", "--since",
                             str(start_ms + HOUR_MS), "--to", end.isoformat(), "--out", "store", "--price-from",
                             str(tmp_path / "candles.csv"), "--json")
    assert code == 0, err
    assert json.loads(out)["snapshots"] >= 12 * 24 - 2
    hours = candles.assign(h=candles["ts"] // HOUR_MS).groupby("h").agg(high=("high", "max"), low=("low", "min"))
    rng = np.random.default_rng(0)
    move = (hours["high"] - hours["low"]).to_numpy() / hours["low"].to_numpy()
    liq = pd.DataFrame({"ts": hours.index * HOUR_MS, "long_usd": 1e7 * move * rng.lognormal(0, 0.3, len(hours)),
                        "short_usd": 1e7 * move * rng.lognormal(0, 0.3, len(hours))})
    liq.to_csv(tmp_path / "liq.csv", index=False)
    split = pd.Timestamp(start_ms + 7 * 24 * HOUR_MS, unit="ms", tz="UTC").isoformat()
    code, out, err = run_cli("validate", "--heatmaps", "store", "--candles", "candles.csv", "--liquidations",
                             "liq.csv", "--split", split, "--bootstrap", "50", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"] == "store:store" and doc["baselines"] == {}
    assert doc["bars"] > 50 and doc["scale"]["long"]["ratio"] > 0
    assert set(doc["magnets"]) == {"direction", "touch", "breaks"} and doc["magnets"]["direction"]["counts"]["samples"]
    assert doc["map"]["tier_offset_share"] is None   # the provider states no tiers
    assert set(doc["magnets"]["touch"]["4h"]) == {"train", "test"}
