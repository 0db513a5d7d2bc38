"""``liqbot validate``: predicted vs realized liquidations, the baselines, the JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.synthetic.brackets import BINANCE_BTCUSDT
from bot.synthetic.liqprice import tier_factors
from bot.synthetic.model import SyntheticParams, build_heatmaps
from bot.synthetic.validate import predictions, skill
from tests.synthetic_fakes import BAR, market

FOUR_H = pd.Timedelta("4h")


def _liquidations(candles: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Fake realized liquidations that grow with each 4h bar's range."""
    rng = np.random.default_rng(seed)
    bars = candles.resample("4h").agg({"high": "max", "low": "min", "open": "first"})
    move = (bars["high"] - bars["low"]) / bars["open"]
    return pd.DataFrame({"long_usd": 1e9 * move * rng.lognormal(0, 0.3, len(bars)),
                         "short_usd": 1e9 * move * rng.lognormal(0, 0.3, len(bars))}, index=bars.index)


@pytest.fixture(scope="module")
def fake():
    candles, oi, funding = market(n=6000, seed=31)
    return candles, oi, funding, _liquidations(candles)


def test_predictions_use_the_state_at_the_bar_start(fake) -> None:
    candles, oi, funding, liq = fake
    params = SyntheticParams()
    pred = predictions(candles, oi, liq, params, funding=funding, warmup_h=24).frame
    assert pred.index[0] >= candles.index[0] + pd.Timedelta("24h")
    assert pred.index[-1] + FOUR_H <= candles.index[-1] + BAR   # only bars fully covered
    series = build_heatmaps(candles, oi, params, funding=funding, every=None)
    t = pred.index[10]
    window = candles[(candles.index >= t) & (candles.index < t + FOUR_H)]
    snap = series.snapshot(series.index_at(t))                  # known at t: the bar closing at t
    assert snap.ts == t.to_pydatetime()
    expected_long = snap.long_usd[snap.prices >= window["low"].min()].sum()
    expected_short = snap.short_usd[snap.prices <= window["high"].max()].sum()
    assert pred["model_long"].iloc[10] == pytest.approx(expected_long, rel=1e-6)
    assert pred["model_short"].iloc[10] == pytest.approx(expected_short, rel=1e-6)
    oi_t = oi["oi_usd"][oi.index <= t].iloc[-1]
    price_t = candles["close"][candles.index < t].iloc[-1]
    rng = oi_t * (window["high"].max() - window["low"].min()) / price_t
    assert pred["range_long"].iloc[10] == pytest.approx(rng) and pred["range_short"].iloc[10] == pytest.approx(rng)
    assert pred["real_long"].iloc[10] == liq.loc[t, "long_usd"]


def test_static_tiers_baseline_recomputes_levels_around_the_price(fake) -> None:
    candles, oi, funding, liq = fake
    params = SyntheticParams()
    pred = predictions(candles, oi, liq, params, funding=funding).frame
    fl, fs = tier_factors(np.array(params.tier_leverages), params.position_usd, BINANCE_BTCUSDT)
    w = np.array(params.tier_weights)
    for k in (0, 5, 40):
        t = pred.index[k]
        window = candles[(candles.index >= t) & (candles.index < t + FOUR_H)]
        oi_t = oi["oi_usd"][oi.index <= t].iloc[-1]
        price_t = candles["close"][candles.index < t].iloc[-1]
        hit_l = price_t * fl >= window["low"].min()
        hit_s = price_t * fs <= window["high"].max()
        assert pred["static_tiers_long"].iloc[k] == pytest.approx(0.5 * oi_t * w[hit_l].sum())
        assert pred["static_tiers_short"].iloc[k] == pytest.approx(0.5 * oi_t * w[hit_s].sum())


def test_skill_report_and_json_shape(fake) -> None:
    candles, oi, funding, liq = fake
    pred = predictions(candles, oi, liq, SyntheticParams(), funding=funding)
    report = skill(pred).to_dict()
    assert set(report) >= {"bars", "model", "baselines"}
    assert set(report["baselines"]) >= {"range", "static_tiers"}
    for block in (report["model"], *report["baselines"].values()):
        assert set(block) == {"spearman_long", "spearman_short"}
        assert all(-1 <= v <= 1 for v in block.values())
    # The fake liquidations are driven by the range: that baseline must rank them well.
    assert report["baselines"]["range"]["spearman_long"] > 0.4
    half = skill(pred, end=pred.frame.index[len(pred.frame) // 2])
    assert half.bars == len(pred.frame) // 2


@pytest.mark.shared_data
def test_cli_validate_on_real_data_json(shared_data: Path, run_cli) -> None:
    code, out, err = run_cli(
        "validate", "--candles", str(shared_data / "binance-usdm/BTC_USDT_USDT-5m-futures.feather"),
        "--oi", str(shared_data / "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"),
        "--liquidations",
        str(shared_data / "coinglass-btc/api_futures_liquidation_aggregated_coin_history_BTC.parquet"),
        "--to", "2025-03-12", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["bars"] > 300 and doc["to"] < "2025-03-12"
    assert doc["model"]["spearman_long"] > 0.3 and doc["model"]["spearman_short"] > 0.3


def test_cli_validate_bad_input_exits_2(tmp_path: Path, run_cli) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("nothing,here\n1,2\n")
    code, out, err = run_cli("validate", "--candles", str(bad), "--oi", str(bad), "--liquidations", str(bad),
                             "--json")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
