"""The symbol of a data file: read from its name, one symbol in every spelling, disagreements refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.errors import DataError
from bot.marketdata.symbols import hint_of, normalize, resolve

CONFIGURED = ["BTC/USDT:USDT"]


@pytest.mark.parametrize("name, symbol", [
    ("ETH_USDT_USDT-5m-futures.feather", "ETH/USDT:USDT"), ("ETH_USDT-5m.feather", "ETH/USDT:USDT"),
    ("ETHUSDT-5m-2025-01.csv", "ETH/USDT:USDT"), ("ETH-USDT-5m.csv", "ETH/USDT:USDT"),
    ("ETH-USDT-SWAP.csv", "ETH/USDT:USDT"), ("XRPUSDT-candles-5m.csv", "XRP/USDT:USDT"),
    ("xrp_usdt_usdt-8h-funding_rate.feather", "XRP/USDT:USDT"), ("candles.csv", None), ("oi.parquet", None),
    ("api_futures_global_long_short_account_ratio_history.parquet", None), ("api_price_ohlc_history.parquet", None),
    ("api_futures_fundingRate_ohlc_history_BTC_BINANCE.parquet", "BTC/USDT:USDT"),
    ("api_futures_openInterest_exchange_history_chart_BTC.parquet", "BTC/USDT:USDT"),
    ("api_futures_openInterest_ohlc_aggregated_stablecoin_BTC.parquet", "BTC/USDT:USDT"),
])
def test_file_names_spell_their_symbol(name: str, symbol: str | None) -> None:
    hint = hint_of(Path(name), "--candles")
    assert (hint.symbol if hint else None) == symbol


def test_every_spelling_is_one_symbol() -> None:
    assert {normalize(s) for s in ("ETHUSDT", "eth-usdt", "ETH/USDT", "ETH/USDT:USDT", "ETH_USDT")} == \
        {"ETH/USDT:USDT"}


def test_resolution_agrees_or_refuses() -> None:
    eth = ("--candles", Path("ETH_USDT_USDT-5m-futures.feather"))
    assert resolve(None, [eth], CONFIGURED) == "ETH/USDT:USDT"
    assert resolve("ETHUSDT", [eth], CONFIGURED) == "ETH/USDT:USDT"
    assert resolve(None, [("--candles", Path("candles.csv"))], CONFIGURED) == "BTC/USDT:USDT"
    coinglass = ("--oi", Path("api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"))
    assert resolve(None, [("--candles", Path("BTC_USDT_USDT-5m-futures.feather")), coinglass], CONFIGURED) == \
        "BTC/USDT:USDT"
    with pytest.raises(DataError, match="is not BTC/USDT:USDT"):
        resolve("BTC/USDT:USDT", [eth], CONFIGURED)
    with pytest.raises(DataError, match="disagree"):
        resolve(None, [eth, ("--funding", Path("BTC_USDT_USDT-1h-funding_rate.feather"))], CONFIGURED)
    with pytest.raises(DataError, match=r"\(BTC\) is not ETH"):
        resolve(None, [eth, coinglass], CONFIGURED)


@pytest.mark.shared_data
def test_eth_candles_backtest_as_eth_and_btc_files_are_refused(shared_data: Path, run_cli: Any) -> None:
    eth = shared_data / "binance-usdm" / "ETH_USDT_USDT-5m-futures.feather"
    btc_funding = shared_data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather"
    code, out, err = run_cli("backtest", "--candles", str(eth), "--from", "2025-03-01", "--to", "2025-03-04",
                             "--warmup", "1d", "--json")
    assert code == 0, err
    assert json.loads(out)["run"]["symbol"] == "ETH/USDT:USDT"
    code, out, err = run_cli("backtest", "--candles", str(eth), "--funding", str(btc_funding), "--from",
                             "2025-03-01", "--to", "2025-03-04", "--json")
    assert code == 2 and out == "" and err.count("\n") == 1 and "disagree on the symbol" in err
    code, out, err = run_cli("backtest", "--candles", str(eth), "--symbol", "BTCUSDT", "--json")
    assert code == 2 and out == "" and "is not BTC/USDT:USDT" in err
