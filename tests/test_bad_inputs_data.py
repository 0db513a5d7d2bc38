"""Issue 16.1/16.6: input files are checked for kind, range, timeframe and coverage before any work.

Every file here is cut from the shared real data at test time (never committed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.bad_inputs_kit import assert_refused

BTC5 = "binance-usdm/BTC_USDT_USDT-5m-futures.feather"
FUND = "binance-usdm/BTC_USDT_USDT-1h-funding_rate.feather"
OI = "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"
LIQ = "coinglass-btc/api_futures_liquidation_aggregated_coin_history_BTC.parquet"


@pytest.fixture(scope="module")
def files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good slices and bad variants of the real files, written to a temp folder."""
    out = tmp_path_factory.mktemp("bad_data")
    candles = pd.read_feather(shared_data / BTC5)
    week = candles[(candles.date >= "2025-02-01") & (candles.date < "2025-02-04")].reset_index(drop=True)
    funding = pd.read_feather(shared_data / FUND)
    made: dict[str, Path] = {}

    def feather(name: str, frame: pd.DataFrame) -> None:
        made[name] = out / f"{name}.feather"
        frame.reset_index(drop=True).to_feather(made[name])

    feather("candles", week)
    feather("candles_3rows", week.head(3))
    feather("candles_1row", week.head(1))
    feather("funding", funding)
    pct = funding.copy()
    pct["open"] = pct["open"] * 100
    feather("funding_percent", pct)
    one = funding.copy()
    one.loc[10, "open"] = 5.0
    feather("funding_one_5", one)
    huge = week.copy()
    huge.loc[5, ["open", "high", "low", "close"]] = [1e300, 1e300, 1e300, 1e300]
    feather("candles_1e300", huge)
    later = candles[(candles.date >= "2025-09-01") & (candles.date < "2025-09-03")]
    feather("candles_after_oi", later)
    hourly = pd.read_feather(shared_data / "binance-usdm/BTC_USDT_USDT-1h-futures.feather")
    feather("hourly", hourly[(hourly.date >= "2025-02-01") & (hourly.date < "2025-02-04")])
    eth = pd.read_feather(shared_data / "binance-usdm-1m/ETH_USDT_USDT-1m-futures.feather")
    feather("eth_1m", eth[(eth.date >= "2025-06-01") & (eth.date < "2025-06-04")])
    feather("candles_june", candles[(candles.date >= "2025-06-01") & (candles.date < "2025-06-04")])
    oi = pd.read_parquet(shared_data / OI)
    negative = oi.copy()
    negative.loc[7, "close"] = -5.0
    made["oi_negative"] = out / "oi_negative.parquet"
    negative.to_parquet(made["oi_negative"])
    made["oi"] = shared_data / OI
    made["liq"] = shared_data / LIQ
    return made


def _bt(files: dict[str, Path], *extra: str) -> list[str]:
    return ["backtest", "--candles", str(files["candles"]), "--oi", str(files["oi"]), "--warmup", "12h", *extra]


CASES = {
    "funding in percent": (lambda f: _bt(f, "--funding", str(f["funding_percent"])), "percent"),
    "one funding row of 5.0": (lambda f: _bt(f, "--funding", str(f["funding_one_5"])), "funding_rate"),
    "a price of 1e300": (lambda f: ["backtest", "--candles", str(f["candles_1e300"])], "1e+300"),
    "3-row candles": (lambda f: ["backtest", "--candles", str(f["candles_3rows"])], "3 candles"),
    "1-row candles": (lambda f: ["backtest", "--candles", str(f["candles_1row"])], "candles"),
    "warmup longer than the window": (lambda f: _bt(f, "--warmup", "5d"), "--warmup"),
    "OI parquet as candles": (lambda f: ["backtest", "--candles", str(f["oi"])], "open interest"),
    "OI of another period": (lambda f: ["backtest", "--candles", str(f["candles_after_oi"]), "--oi", str(f["oi"])],
                             "no overlap"),
    "1h file as fine candles": (lambda f: _bt(f, "--fine-candles", str(f["hourly"])), "not finer"),
    "ETH 1m candles as fine candles of BTC": (lambda f: ["backtest", "--candles", str(f["candles_june"]),
                                                         "--fine-candles", str(f["eth_1m"])], "another market"),
    "negative OI": (lambda f: ["validate", "--candles", str(f["candles"]), "--oi", str(f["oi_negative"]),
                               "--liquidations", str(f["liq"])], "must be >= 0"),
    "validate --from after --to": (lambda f: ["validate", "--candles", str(f["candles"]), "--oi", str(f["oi"]),
                                              "--liquidations", str(f["liq"]), "--from", "2025-02-03",
                                              "--to", "2025-02-01"], "--to"),
    "paper replay funding in percent": (lambda f: ["paper", "--feed", "replay", "--candles", str(f["candles"]),
                                                   "--funding", str(f["funding_percent"]), "--warmup", "1h"],
                                        "percent"),
    "paper replay 3-row candles": (lambda f: ["paper", "--feed", "replay", "--candles", str(f["candles_3rows"])],
                                   "3 candles"),
    "paper --seed -1": (lambda f: ["paper", "--seed", "-1"], "--seed"),
    "paper --duration 99999999w": (lambda f: ["paper", "--duration", "99999999w"], "--duration"),
    "status --trades -1": (lambda f: ["status", "--trades", "-1"], "--trades"),
    "signals review --limit -5": (lambda f: ["signals", "review", str(f["candles"]), "--limit", "-5"], "--limit"),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_data_is_refused_before_any_work(files: dict[str, Path], run_cli, tmp_path: Path, name: str) -> None:
    argv, needle = CASES[name]
    state = tmp_path / "state"
    args = argv(files)
    if args[0] == "paper":
        args += ["--state", str(state)]
    assert_refused(run_cli(*args), needle)
    assert not state.exists()  # a refused paper run leaves no state folder


@pytest.mark.shared_data
def test_unfundable_backtest_order_is_one_line(files: dict[str, Path], run_cli,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """vectorbt's RejectedOrderError (an order the cash cannot fund) is a one-line input error, not 28 lines."""
    monkeypatch.setenv("LIQBOT_BACKTEST__INITIAL_CASH", "500")
    assert_refused(run_cli(*_bt(files)), "backtest.initial_cash", "cannot be funded")


def test_no_command_is_one_line(run_cli) -> None:
    assert_refused(run_cli(), "a command is needed", "backtest")
    for group in ("config", "heatmap", "signals"):
        assert_refused(run_cli(group), "sub-command")


@pytest.mark.shared_data
def test_good_funding_still_loads(files: dict[str, Path]) -> None:
    from bot.marketdata.files import load_funding
    assert load_funding(files["funding"])["funding_rate"].abs().median() < 1e-3


def test_heatmap_json_price_of_1e300_is_refused(run_cli, tmp_path: Path) -> None:
    doc = json.loads((Path(__file__).resolve().parents[1] / "bot/examples/bastion_btc.json").read_text())
    doc["heatmap"]["levels"][0]["price"] = 1e300  # one level as a cluster at 1e300
    path = tmp_path / "h.json"
    path.write_text(json.dumps(doc))
    assert_refused(run_cli("heatmap", "show", str(path)), "price", "not a coin price")


@pytest.mark.parametrize("payload", [b"[" * 100_000 + b"]" * 100_000, b'{"data": [' + b"9" * 5001 + b"]}"])
def test_heatmap_json_too_deep_or_huge_integer_is_one_line(run_cli, tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "h.json"
    path.write_bytes(payload)
    assert_refused(run_cli("heatmap", "show", str(path)), "JSON")
