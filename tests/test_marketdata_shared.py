"""Every real file in the shared data folder loads by content, and the sources agree in time."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.marketdata.files import (SeriesKind, liquidations_to_bars, load_candles, load_funding,
                                  load_liquidations, load_open_interest, load_series)
from bot.marketdata.summary import data_files, main as summary_main

pytestmark = pytest.mark.shared_data

OHLCV = ["open", "high", "low", "close", "volume"]
K = SeriesKind
# (relative path pattern, kind, columns); every file must match exactly one pattern.
EXPECTED: list[tuple[str, SeriesKind, list[str]]] = [
    ("binance-forceorder/*.csv", K.LIQUIDATIONS, ["side", "price", "qty", "usd", "symbol"]),
    ("*/*-futures.feather", K.CANDLES, OHLCV),
    ("*/*-mark.feather", K.CANDLES, OHLCV),
    ("*/*-funding_rate.feather", K.FUNDING, ["funding_rate"]),
    ("coinglass-btc/api_futures_fundingRate_ohlc_history_*.parquet", K.FUNDING, ["funding_rate"]),
    ("coinglass-btc/api_futures_*long_short*_ratio_history.parquet", K.LONG_SHORT, ["long_short_ratio"]),
    ("coinglass-btc/api_futures_liquidation_aggregated_coin_history_BTC.parquet", K.LIQUIDATIONS,
     ["long_usd", "short_usd"]),
    ("coinglass-btc/api_futures_openInterest_*.parquet", K.OPEN_INTEREST, ["oi_usd"]),
    ("coinglass-btc/api_futures_taker_buy_sell_volume_history_BTC.parquet", K.TAKER_VOLUME, ["buy_usd", "sell_usd"]),
    ("coinglass-btc/api_price_ohlc_history.parquet", K.CANDLES, [*OHLCV, "quote_volume"]),
]


def _relative_files(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in data_files([root])]


def _expectation(rel: str) -> tuple[SeriesKind, list[str]]:
    hits = [(kind, cols) for pattern, kind, cols in EXPECTED if fnmatch(rel, pattern)]
    assert len(hits) == 1, f"{rel}: matches {len(hits)} expectations; add exactly one to EXPECTED"
    return hits[0]


def test_every_shared_file_loads_by_content(shared_data: Path) -> None:
    files = _relative_files(shared_data)
    assert len(files) >= 37
    for rel in files:
        kind, columns = _expectation(rel)
        detected, frame = load_series(shared_data / rel)
        assert detected == kind, rel
        assert list(frame.columns) == columns, rel
        assert len(frame) > 0, rel
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "ts", rel
        assert str(frame.index.dtype) == "datetime64[ns, UTC]", rel
        steps = np.diff(frame.index.asi8)
        assert (steps >= 0).all() if frame.attrs["index"] == "event_time" else (steps > 0).all(), rel
        numeric = [c for c in columns if c not in ("side", "symbol")]
        assert all(frame[c].dtype == np.float64 for c in numeric), rel
        assert np.isfinite(frame[numeric].to_numpy()).all(), rel
        assert frame.attrs["kind"] == str(kind) and isinstance(frame.attrs["repairs"], list), rel


def test_shared_candle_files_have_no_gaps_and_known_timeframes(shared_data: Path) -> None:
    frame = load_candles(shared_data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather")
    assert frame.attrs["timeframe"] == "5min" and frame.attrs["gaps"] == 0
    assert frame.attrs["source_format"] == "freqtrade-ohlcv/feather"
    assert len(frame) == 119_724
    daily = load_candles(shared_data / "binance-usdm" / "ETH_USDT_USDT-1d-futures.feather")
    assert daily.attrs["timeframe"] == "1D"


def test_mark_candles_without_volume_get_zero_volume_and_a_repair_note(shared_data: Path) -> None:
    frame = load_candles(shared_data / "freqtrade-xrp" / "XRP_USDT_USDT-1h-mark.feather")
    assert (frame["volume"] == 0.0).all()
    assert frame.attrs["repairs"] == ["volume all NaN: set to 0.0"]


def test_coinglass_price_4h_equals_binance_5m_resampled(shared_data: Path) -> None:
    cg = load_candles(shared_data / "coinglass-btc" / "api_price_ohlc_history.parquet")
    b5 = load_candles(shared_data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather")
    assert cg.attrs["timeframe"] == "4h"
    agg = b5.resample("4h").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    complete = b5["close"].resample("4h").count() == 48
    # CoinGlass's last bar was still open when it was fetched: compare complete bars only.
    both = agg[complete].join(cg.iloc[:-1], how="inner", suffixes=("", "_cg"))
    assert len(both) > 800
    for col in ("high", "low", "close"):
        np.testing.assert_array_equal(both[col].to_numpy(), both[f"{col}_cg"].to_numpy(), err_msg=col)
    # CoinGlass opens a bar at a price a tick or two off the first Binance 5m open on some bars.
    assert (both["open"] - both["open_cg"]).abs().max() <= 3.0
    assert (both["open"] == both["open_cg"]).mean() > 0.9
    usd = (b5["volume"] * b5["close"]).resample("4h").sum().reindex(both.index)
    assert float(np.median(both["quote_volume"] / usd)) == pytest.approx(1.0, abs=0.01)


def test_coinglass_oi_is_indexed_by_when_the_close_was_known(shared_data: Path) -> None:
    folder = shared_data / "coinglass-btc"
    ohlc = load_open_interest(folder / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet")
    chart = load_open_interest(folder / "api_futures_openInterest_exchange_history_chart_BTC.parquet")
    raw_first = pd.Timestamp(pd.read_parquet(
        folder / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet")["time"].iloc[0], unit="ms", tz="UTC")
    assert ohlc.index[0] == raw_first + pd.Timedelta("4h")
    # The per-exchange chart holds point values; summed they match the OHLC close known at that time.
    both = chart.join(ohlc, how="inner", suffixes=("", "_ohlc"))
    assert len(both) >= 30
    assert ((both["oi_usd"] / both["oi_usd_ohlc"] - 1).abs() < 0.005).all()


def test_coinglass_funding_is_converted_from_percent_and_aligned_to_settlement(shared_data: Path) -> None:
    cg = load_funding(shared_data / "coinglass-btc" / "api_futures_fundingRate_ohlc_history_BTC_BINANCE.parquet")
    binance = load_funding(shared_data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")
    assert cg.attrs["source_unit"] == "percent" and binance.attrs["source_unit"] == "fraction"
    assert cg["funding_rate"].iloc[0] == pytest.approx(0.0001)  # '0.01' percent

    def rank_corr(shift_h: int) -> float:
        shifted = cg["funding_rate"].shift(freq=pd.Timedelta(hours=shift_h))
        both = pd.concat([shifted, binance["funding_rate"].rename("b")], axis=1, join="inner")
        return float(both.corr(method="spearman").iloc[0, 1])

    assert rank_corr(0) > max(rank_corr(-8), rank_corr(8))
    common = binance["funding_rate"].loc[cg.index[0]:cg.index[-1]]
    ratio = cg["funding_rate"].abs().median() / common.abs().median()
    assert 0.2 < ratio < 5.0  # same order of magnitude; a percent/fraction mix-up is off by 100x


def test_forceorder_events_are_repaired_and_aggregate_to_bars(shared_data: Path) -> None:
    events = load_liquidations(shared_data / "binance-forceorder" / "2025-06-23_part1.csv")
    assert len(events) == 446
    assert events["symbol"].iloc[0] == "ADA"
    assert any("stray text" in r and "Hello Arbitrage Trading Bot" in r for r in events.attrs["repairs"])
    assert set(events["side"]) == {"long", "short"}
    np.testing.assert_allclose(events["usd"], events["price"] * events["qty"])
    assert "BTC_250627" in set(events["symbol"])  # delivery contracts keep their suffix
    bars = liquidations_to_bars(events, "5min")
    assert bars.attrs["timeframe"] == "5min"
    assert bars[["long_usd", "short_usd"]].to_numpy().sum() == pytest.approx(events["usd"].sum())
    assert (np.diff(bars.index.asi8) == pd.Timedelta("5min").value).all()
    btc = liquidations_to_bars(events, "5min", symbol="BTC")
    assert btc.to_numpy().sum() == pytest.approx(events.loc[events["symbol"] == "BTC", "usd"].sum())


def test_summary_prints_one_line_per_file(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert summary_main([str(shared_data / "freqtrade-xrp")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(" rows=" in line for line in lines)
