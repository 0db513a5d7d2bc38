"""Formats are detected by content: Binance metrics/klines, generic CSV, freqtrade, CoinGlass, forceOrder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.errors import DataError
from bot.marketdata.files import (SeriesKind, find_gaps, liquidations_to_bars, load_candles, load_funding,
                                  load_liquidations, load_long_short_ratio, load_open_interest, load_series,
                                  load_taker_volume)

T0 = pd.Timestamp("2025-01-01T00:00:00Z")
T0_MS = int(T0.value // 1_000_000)

METRICS_CSV = """create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio
2025-01-01 00:05:00,BTCUSDT,80000.123,7520000000.5,1.52,1.81,1.91,0.97
2025-01-01 00:10:00,BTCUSDT,80010.5,7525000000.25,1.53,1.80,1.92,1.02
2025-01-01 00:15:00,BTCUSDT,80020.0,7530000000.0,1.51,1.79,,1.10
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_binance_metrics_csv_gives_open_interest_and_the_global_ratio(tmp_path: Path) -> None:
    path = write(tmp_path, "anything.txt", METRICS_CSV)
    kind, oi = load_series(path)
    assert kind is SeriesKind.OPEN_INTEREST
    assert list(oi.columns) == ["oi_usd", "oi_coin"]
    assert oi.index[0] == pd.Timestamp("2025-01-01T00:05:00Z")
    assert oi["oi_coin"].iloc[0] == pytest.approx(80000.123)
    assert oi.attrs["source_format"] == "binance-metrics/csv" and oi.attrs["timeframe"] == "5min"
    # The third row has no global ratio: the OI load does not care, the ratio load names the cell.
    with pytest.raises(DataError, match=r"count_long_short_ratio\[row 2\]"):
        load_long_short_ratio(path)
    ratio = load_long_short_ratio(write(tmp_path, "m2.csv", "\n".join(METRICS_CSV.splitlines()[:3]) + "\n"))
    assert ratio.attrs["ratio_column"] == "count_long_short_ratio"
    assert ratio["long_short_ratio"].tolist() == [1.91, 1.92]


KLINE_ROWS = [
    [T0_MS, 100.0, 101.0, 99.0, 100.5, 10.0, T0_MS + 299_999, 1005.0, 42, 6.0, 603.0, 0],
    [T0_MS + 300_000, 100.5, 102.0, 100.0, 101.0, 12.0, T0_MS + 599_999, 1212.0, 40, 5.0, 505.0, 0],
]


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("unit", [1, 1000])  # milliseconds, and the archive's newer microseconds
def test_binance_kline_csv_with_or_without_header(tmp_path: Path, header: bool, unit: int) -> None:
    rows = [[r[0] * unit, *r[1:6], r[6] * unit, *r[7:]] for r in KLINE_ROWS]
    lines = [",".join(str(x) for x in r) for r in rows]
    if header:
        lines.insert(0, "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                        "taker_buy_volume,taker_buy_quote_volume,ignore")
    frame = load_candles(write(tmp_path, "k.csv", "\n".join(lines) + "\n"))
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume"]
    assert frame.index[0] == T0 and frame.attrs["timeframe"] == "5min"
    assert frame.attrs["source_format"] == "binance-kline/csv"
    assert frame["taker_buy_volume"].tolist() == [6.0, 5.0]


@pytest.mark.parametrize("stamps", [
    ["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"],
    ["2025-01-01 00:00:00", "2025-01-01 01:00:00"],
    [str(T0_MS // 1000), str(T0_MS // 1000 + 3600)],
    [str(T0_MS), str(T0_MS + 3_600_000)],
    [str(T0_MS * 1000), str((T0_MS + 3_600_000) * 1000)],
    [str(T0_MS * 1_000_000), str((T0_MS + 3_600_000) * 1_000_000)],
])
@pytest.mark.parametrize("time_name", ["ts", "timestamp", "time", "date", "open_time"])
def test_generic_csv_time_column_name_and_unit(tmp_path: Path, stamps: list[str], time_name: str) -> None:
    text = f"{time_name},open,high,low,close,volume\n{stamps[0]},1,2,0.5,1.5,3\n{stamps[1]},1.5,2,1,1.2,0\n"
    frame = load_candles(write(tmp_path, "c.csv", text))
    assert list(frame.index) == [T0, T0 + pd.Timedelta("1h")]
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame.attrs["timeframe"] == "1h"


def test_freqtrade_json_candle_list(tmp_path: Path) -> None:
    rows = [[T0_MS + i * 60_000, 10 + i, 11 + i, 9 + i, 10.5 + i, 100.0] for i in range(3)]
    kind, frame = load_series(write(tmp_path, "x", json.dumps(rows)))
    assert kind is SeriesKind.CANDLES
    assert frame.attrs["source_format"] == "freqtrade-ohlcv/json" and frame.attrs["timeframe"] == "1min"
    assert frame["close"].tolist() == [10.5, 11.5, 12.5]


def _coinglass(rows: list[dict]) -> str:
    return json.dumps({"code": "0", "msg": "success", "data": rows})


def test_coinglass_json_funding_is_percent_and_known_at_bar_close(tmp_path: Path) -> None:
    step = 8 * 3_600_000
    rows = [{"time": T0_MS + i * step, "open": "0.01", "high": "0.02", "low": "-0.005", "close": c}
            for i, c in enumerate(["0.01", "-0.0025", "0.005"])]
    kind, frame = load_series(write(tmp_path, "f.json", _coinglass(rows)))
    assert kind is SeriesKind.FUNDING
    assert frame["funding_rate"].tolist() == pytest.approx([0.0001, -0.000025, 0.00005])
    assert frame.index[0] == T0 + pd.Timedelta("8h")
    assert frame.attrs["source_unit"] == "percent"


def test_coinglass_oi_ohlc_uses_close_known_at_bar_close(tmp_path: Path) -> None:
    step = 4 * 3_600_000
    rows = [{"time": T0_MS + i * step, "open": 6.0e10, "high": 6.2e10, "low": 5.9e10, "close": 6.1e10 + i}
            for i in range(3)]
    path = tmp_path / "oi.parquet"
    pd.DataFrame(rows).to_parquet(path)
    kind, frame = load_series(path)
    assert kind is SeriesKind.OPEN_INTEREST
    assert frame["oi_usd"].tolist() == [6.1e10, 6.1e10 + 1, 6.1e10 + 2]
    assert frame.index[0] == T0 + pd.Timedelta("4h") and frame.attrs["index"] == "known_at"
    with pytest.raises(DataError, match="open interest in USD passed as candles"):  # issue 16.1: never as prices
        load_candles(path)


def test_coinglass_error_response_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path, "e.json", json.dumps({"code": "40001", "msg": "API key missing", "data": None}))
    with pytest.raises(DataError, match="API key missing"):
        load_series(path)


def test_coinglass_liquidation_and_taker_json(tmp_path: Path) -> None:
    step = 4 * 3_600_000
    liq = [{"time": T0_MS + i * step, "aggregated_long_liquidation_usd": 1e6 * i,
            "aggregated_short_liquidation_usd": "2500.5"} for i in range(3)]
    frame = load_liquidations(write(tmp_path, "l.json", _coinglass(liq)))
    assert frame["long_usd"].tolist() == [0.0, 1e6, 2e6] and frame["short_usd"].iloc[0] == 2500.5
    assert frame.index[0] == T0 and frame.attrs["index"] == "bar_open"
    taker = [{"time": T0_MS + i * 86_400_000, "aggregated_buy_volume_usd": 5.0, "aggregated_sell_volume_usd": 4.0}
             for i in range(2)]
    frame = load_taker_volume(write(tmp_path, "t.json", _coinglass(taker)))
    assert frame.attrs["timeframe"] == "1D" and frame["buy_usd"].tolist() == [5.0, 5.0]


def test_binance_api_funding_csv_camel_case(tmp_path: Path) -> None:
    text = (f"symbol,fundingTime,fundingRate,markPrice\nBTCUSDT,{T0_MS},0.00010000,94000.1\n"
            f"BTCUSDT,{T0_MS + 28_800_001},-0.00002500,94100.0\n")
    frame = load_funding(write(tmp_path, "fr.csv", text))
    assert frame["funding_rate"].tolist() == [0.0001, -0.000025]
    assert frame.index[0] == T0 and frame.attrs["timeframe"] == "8h"


def test_coin_only_open_interest_needs_a_known_price(tmp_path: Path) -> None:
    text = "ts,open_interest\n2025-01-01T00:05:00Z,100\n2025-01-01T00:10:00Z,110\n"
    path = write(tmp_path, "oi.csv", text)
    with pytest.raises(DataError, match="pass price="):
        load_open_interest(path)
    price = pd.Series([50.0, 60.0, 70.0], index=pd.date_range(T0, periods=3, freq="5min"))
    frame = load_open_interest(path, price=price)
    assert frame["oi_usd"].tolist() == [100 * 60.0, 110 * 70.0]
    assert frame["oi_coin"].tolist() == [100.0, 110.0]
    with pytest.raises(DataError, match=r"price\[row 0\].*no price known"):
        load_open_interest(path, price=price.iloc[2:])


def test_parquet_with_a_time_index_and_a_long_short_csv(tmp_path: Path) -> None:
    idx = pd.DatetimeIndex(pd.date_range(T0, periods=3, freq="1h"), name="date")
    path = tmp_path / "c.parquet"
    pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.0, "volume": 1.0}, index=idx).to_parquet(path)
    assert load_candles(path).index[0] == T0
    ls = load_long_short_ratio(write(tmp_path, "ls.csv", "timestamp,longShortRatio\n1735689600,1.2\n"))
    assert ls["long_short_ratio"].iloc[0] == 1.2 and ls.index[0] == T0 and ls.attrs["timeframe"] is None


def test_asking_for_the_wrong_kind_says_what_the_file_holds(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", f"ts,funding_rate\n{T0_MS},0.0001\n")
    with pytest.raises(DataError, match="holds funding data.*not candles"):
        load_candles(path)


FORCEORDER = (
    "junk header textBTC,SELL,LIMIT,IOC,0.5,100000.0,None,FILLED,0.5,0.5,1750712378119,50000.0\n"
    "ETH,BUY,LIMIT,IOC,2,2500.5,None,FILLED,1,2,1750712378119,50010.0\n"
    "BTC_250627,SELL,LIMIT,IOC,0.1,101000,None,FILLED,0.1,0.1,1750712400000,1010000\n"
    "BTC,BUY,LIMIT,IOC,0.2,100100,None,FILLED,0.2,0.2,1750712700000,20020\n"
)


def test_forceorder_records_stray_text_and_misscaled_usd(tmp_path: Path) -> None:
    kind, events = load_series(write(tmp_path, "raw", FORCEORDER))
    assert kind is SeriesKind.LIQUIDATIONS
    assert events["symbol"].tolist() == ["BTC", "ETH", "BTC_250627", "BTC"]
    assert events["side"].tolist() == ["long", "short", "long", "short"]
    assert events["usd"].tolist() == pytest.approx([50000.0, 5001.0, 10100.0, 20020.0])
    repairs = " | ".join(events.attrs["repairs"])
    assert "'junk header text' before 'BTC'" in repairs
    assert "usd_size disagreed on 2 row(s)" in repairs
    bars = liquidations_to_bars(events, "5m", symbol="BTC")
    assert bars.index[0] == pd.Timestamp("2025-06-23T20:55:00Z")
    assert bars["long_usd"].tolist() == [50000.0, 0.0, 0.0] and bars["short_usd"].tolist() == [0.0, 0.0, 20020.0]


def test_find_gaps_reports_half_open_missing_ranges() -> None:
    idx = pd.DatetimeIndex([T0 + pd.Timedelta(minutes=m) for m in (0, 5, 20, 25, 40)])
    gaps = find_gaps(idx, "5min")
    assert gaps == [(T0 + pd.Timedelta("10min"), T0 + pd.Timedelta("20min"), 2),
                    (T0 + pd.Timedelta("30min"), T0 + pd.Timedelta("40min"), 2)]
    assert find_gaps(idx[:1], "5min") == []


def test_gaps_are_counted_in_attrs_not_errors(tmp_path: Path) -> None:
    stamps = [T0_MS + m * 60_000 for m in (0, 1, 2, 5, 6, 7, 8)]
    text = "ts,open,high,low,close,volume\n" + "".join(f"{t},1,1,1,1,1\n" for t in stamps)
    frame = load_candles(write(tmp_path, "g.csv", text))
    assert frame.attrs["timeframe"] == "1min" and frame.attrs["gaps"] == 1 and frame.attrs["missing_bars"] == 2
    assert np.all(np.diff(frame.index.asi8) > 0)


def test_byte_order_mark_and_leading_whitespace_are_tolerated(tmp_path: Path) -> None:
    csv = tmp_path / "bom.csv"
    csv.write_bytes(b"\xef\xbb\xbfts,funding_rate\n1735689600000,0.0001\n")
    assert load_funding(csv).index[0] == T0
    doc = tmp_path / "ws.json"
    doc.write_bytes(b"\xef\xbb\xbf\n   " + json.dumps([[T0_MS, 1, 2, 0.5, 1.5, 3]]).encode())
    assert load_candles(doc)["close"].iloc[0] == 1.5


def test_explicit_kind_picks_the_ratio_out_of_a_metrics_file(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "\n".join(METRICS_CSV.splitlines()[:3]) + "\n")
    kind, frame = load_series(path, SeriesKind.LONG_SHORT)
    assert kind is SeriesKind.LONG_SHORT and frame.attrs["index"] == "known_at"
    assert frame.index[0] == pd.Timestamp("2025-01-01T00:05:00Z")
