"""Kiyotaka history import: paging within 5,000 points, per-snapshot prices, faults, the store."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from bot.errors import ConfigError, DataError, FatalError
from bot.heatmap.parsers import Units
from bot.heatmap.providers.kiyotaka import (Interval, KiyotakaClient, Window, candle_price_lookup,
                                            priced_snapshots, windows)
from bot.heatmap.store import SnapshotStore
from bot.retry import RetryPolicy
from tests.fakes.binance_public import FakeMarket, install, price_at
from tests.fakes.heatmap_providers import KIYOTAKA_KEY, install_kiyotaka, kiyotaka_levels
from tests.fakes.http_server import FakeHttpServer, Reply

HOUR_S = 3600
DAY = 86_400_000
FAST = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02)
T0_S = 1_735_689_600  # 2025-01-01


@pytest.fixture()
def server() -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as srv:
        install_kiyotaka(srv)
        yield srv


def client(srv: FakeHttpServer, key: str = KIYOTAKA_KEY, timeout_s: float = 2.0) -> KiyotakaClient:
    return KiyotakaClient(srv.url, SecretStr(key), timeout_s=timeout_s, policy=FAST, sleep=lambda s: None)


def test_windows_stay_within_the_point_limit() -> None:
    plan = windows(T0_S, T0_S + 12_000 * HOUR_S, Interval.HOUR)
    assert [w.period_s // HOUR_S for w in plan] == [5000, 5000, 2000]
    assert [w.start_s for w in plan] == [T0_S, T0_S + 5000 * HOUR_S, T0_S + 10_000 * HOUR_S]
    assert windows(T0_S, T0_S + 90, Interval.MINUTE, 1) == [Window(T0_S, 60), Window(T0_S + 60, 30)]


@pytest.mark.parametrize("size", [0, 5001])
def test_page_size_beyond_the_provider_limit_is_refused(size: int) -> None:
    with pytest.raises(DataError, match="--points-per-request: must be 1..5000"):
        windows(T0_S, T0_S + HOUR_S, Interval.HOUR, size)


def test_request_carries_the_key_header_and_documented_params(server: FakeHttpServer) -> None:
    raw = client(server).fetch("BTC", Window(T0_S, 3 * HOUR_S), interval=Interval.HOUR, flatten=True,
                               units=Units.USD, max_depth=3000)
    assert len(json.loads(raw)["series"][0]["flat_points"]) == 3 * (2 + 2 * 20)
    req = server.hits("/v1/points")[0]
    assert req.headers["x-kiyotaka-key"] == KIYOTAKA_KEY
    assert req.query == {"type": "HYPERLIQUID_LIQUIDATION_AGG", "coin": "BTC", "interval": "HOUR",
                         "from": str(T0_S), "period": str(3 * HOUR_S), "maxDepth": "3000", "flatten": "true",
                         "transform.normalize.quote": "USD"}


def test_default_request_omits_optional_params(server: FakeHttpServer) -> None:
    client(server).fetch("ETH", Window(T0_S, HOUR_S))
    assert set(server.hits("/v1/points")[0].query) == {"type", "coin", "interval", "from", "period"}


def test_pages_cover_the_range_in_order(server: FakeHttpServer) -> None:
    pages = list(client(server).pages("BTC", T0_S, T0_S + 10 * HOUR_S, points_per_request=4))
    assert [w.period_s // HOUR_S for w, _ in pages] == [4, 4, 2]
    stamps = [p["Point"]["timestamp"]["s"] for _, raw in pages for p in json.loads(raw)["series"][0]["points"]]
    assert stamps == [T0_S + k * HOUR_S for k in range(10)]


def test_candle_lookup_is_point_in_time() -> None:
    candles = pd.DataFrame({"ts": [0, 60_000, 120_000], "close": [10.0, 11.0, 12.0]})
    lookup = candle_price_lookup(candles, 60_000)
    got = lookup(np.array([59_999, 60_000, 119_999, 120_000, 10**9]))
    assert np.isnan(got[0])  # no bar had closed yet
    assert got[1:].tolist() == [10.0, 10.0, 11.0, 12.0]


def _candles_for(stamps_s: list[int]) -> pd.DataFrame:
    opens = np.array([(t - HOUR_S) * 1000 for t in stamps_s])  # the bar that closes at each stamp
    return pd.DataFrame({"ts": opens, "close": [price_at(t * 1000) for t in stamps_s]})


@pytest.mark.parametrize("flatten, units", [(False, Units.COIN), (True, Units.USD)])
def test_snapshots_get_their_own_price_and_sides(server: FakeHttpServer, flatten: bool, units: Units) -> None:
    raw = client(server).fetch("BTC", Window(T0_S, 3 * HOUR_S), flatten=flatten, units=units)
    stamps = [T0_S + k * HOUR_S for k in range(3)]
    lookup = candle_price_lookup(_candles_for(stamps), HOUR_S * 1000)
    snaps = priced_snapshots(raw, symbol="BTC/USDT:USDT", units=units, price_at=lookup,
                             price_from="test candles", source_name="page")
    assert [int(s.ts.timestamp()) for s in snaps] == stamps
    for snap, t in zip(snaps, stamps):
        levels = np.array(kiyotaka_levels(t, usd=False)).reshape(-1, 2)
        assert snap.price == pytest.approx(price_at(t * 1000))
        below = snap.prices < snap.price
        assert below.any() and (~below).any()
        assert np.all(snap.short_usd[below] == 0) and np.all(snap.long_usd[~below] == 0)
        expected_usd = levels[:, 1] * levels[:, 0]  # coin volume x level price
        assert snap.long_usd + snap.short_usd == pytest.approx(expected_usd, rel=1e-3)
        assert snap.assumptions["reference_price"] == "test candles"


def test_mid_price_is_an_explicit_estimate(server: FakeHttpServer) -> None:
    raw = client(server).fetch("BTC", Window(T0_S, HOUR_S))
    snap = priced_snapshots(raw, symbol="BTC/USDT:USDT", units=Units.COIN, price_at=None,
                            price_from="estimated: mid", source_name="page")[0]
    assert snap.prices[0] < snap.price < snap.prices[-1]
    assert snap.assumptions["reference_price"] == "estimated: mid"


def test_a_snapshot_without_a_known_price_is_an_error(server: FakeHttpServer) -> None:
    raw = client(server).fetch("BTC", Window(T0_S, HOUR_S))
    late = candle_price_lookup(pd.DataFrame({"ts": [T0_S * 1000], "close": [1.0]}), HOUR_S * 1000)
    with pytest.raises(DataError, match="--price-from: no reference price known at 2025-01-01T00:00"):
        priced_snapshots(raw, symbol="BTC/USDT:USDT", units=Units.COIN, price_at=late, price_from="x",
                         source_name="page")


def test_missing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LIQBOT_PROVIDERS__KIYOTAKA_API_KEY"):
        KiyotakaClient("http://127.0.0.1:9", None)


def test_wrong_key_is_fatal_and_never_echoed(server: FakeHttpServer) -> None:
    with pytest.raises(FatalError, match="API key was rejected") as info:
        client(server, key="wrong-key-000").fetch("BTC", Window(T0_S, HOUR_S))
    assert "wrong-key-000" not in str(info.value)
    assert len(server.hits("/v1/points")) == 1


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_env(server: FakeHttpServer, monkeypatch: pytest.MonkeyPatch) -> FakeHttpServer:
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    install(server, FakeMarket(now // DAY * DAY - 10 * DAY, now))
    for key, value in {"PROVIDERS__KIYOTAKA_BASE_URL": server.url, "PROVIDERS__KIYOTAKA_API_KEY": KIYOTAKA_KEY,
                       "DOWNLOAD__EXCHANGE_API_BASE": server.url, "DOWNLOAD__TIMEOUT_S": "0.5",
                       "EXCHANGE__TIMEOUT_MS": "500", "DOWNLOAD__RETRY_ATTEMPTS": "2",
                       "DOWNLOAD__BACKOFF_INITIAL_S": "0.01", "DOWNLOAD__BACKOFF_MAX_S": "0.02"}.items():
        monkeypatch.setenv("LIQBOT_" + key, value)
    return server


def _import(run_cli, *extra: str) -> tuple[int, str, str]:
    return run_cli("heatmap", "import", "--provider", "kiyotaka", "--symbol", "BTC", "--since", "2d",
                   "--out", "store", "--json", *extra)


def test_cli_imports_pages_into_the_store(run_cli, cli_env: FakeHttpServer, tmp_path: Path) -> None:
    code, out, err = _import(run_cli, "--points-per-request", "20")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["snapshots"] == 48 and doc["gaps"] == [] and doc["requests"] == 3
    assert doc["price_from"].startswith("close of the last closed 1h candle")
    stored = list(SnapshotStore(tmp_path / "store").read("BTC/USDT:USDT"))
    assert len(stored) == 48
    for snap in stored[:5]:
        assert snap.price == pytest.approx(price_at(int(snap.ts.timestamp() * 1000)), rel=1e-6)
        assert snap.source.value == "kiyotaka"
    assert len(cli_env.hits("/fapi/v1/klines")) >= 1  # reference prices came from exchange candles


def test_cli_flatten_usd_mid(run_cli, cli_env: FakeHttpServer) -> None:
    code, out, err = _import(run_cli, "--flatten", "--units", "usd", "--price-from", "mid")
    assert code == 0, err
    assert json.loads(out)["snapshots"] == 48
    assert cli_env.hits("/v1/points")[0].query["flatten"] == "true"
    assert not cli_env.hits("/fapi/v1/klines")


def test_cli_rides_out_a_429(run_cli, cli_env: FakeHttpServer) -> None:
    cli_env.script("/v1/points", Reply(status=429, body={"error": "rate"}, headers={"Retry-After": "0.05"}))
    code, out, err = _import(run_cli, "--price-from", "mid")
    assert code == 0, err
    assert json.loads(out)["retries"] == 1


def test_cli_gives_up_on_timeouts_but_keeps_earlier_pages(run_cli, cli_env: FakeHttpServer,
                                                          tmp_path: Path) -> None:
    original = cli_env._routes["/v1/points"]
    calls = []

    def slow_after_first(req):
        calls.append(req)
        return original(req) if len(calls) == 1 else Reply(body={}, delay_s=2.0)

    cli_env.route("/v1/points", slow_after_first)
    code, out, err = _import(run_cli, "--price-from", "mid", "--points-per-request", "24")
    assert code == 2 and out == ""  # the network: exit 2 with a hint (bot.cli.exits)
    assert "timed out after 0.5 s" in err and "gave up after 2 attempts" in err and err.count("\n") == 1
    assert len(list(SnapshotStore(tmp_path / "store").read("BTC/USDT:USDT"))) == 24


@pytest.mark.parametrize("body", [b'{"series": [{"points": [', b"<html>oops</html>",
                                  {"series": [{"id": {"coin": "BTC"}, "points": [{"Point": {
                                      "timestamp": {"s": T0_S}, "levels": [100.0, 1.0, 90.0]}}]}]}])
def test_cli_malformed_body_exits_2(run_cli, cli_env: FakeHttpServer, tmp_path: Path, body: object) -> None:
    cli_env.script("/v1/points", Reply(body=body))
    code, out, err = _import(run_cli, "--price-from", "mid")
    assert code == 2 and out == "" and "kiyotaka" in err and err.count("\n") == 1
    assert SnapshotStore(tmp_path / "store").symbols() == []


def test_cli_wrong_key_exits_1_without_showing_it(run_cli, cli_env: FakeHttpServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_API_KEY", "secret-wrong-key-42")
    code, out, err = _import(run_cli, "--price-from", "mid")
    assert code == 1 and "API key was rejected" in err
    log = (tmp_path / "liqbot.log").read_text() if (tmp_path / "liqbot.log").exists() else ""
    assert "secret-wrong-key-42" not in out + err + log


def test_cli_missing_key_exits_2(run_cli, cli_env: FakeHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQBOT_PROVIDERS__KIYOTAKA_API_KEY")
    code, _, err = _import(run_cli, "--price-from", "mid")
    assert code == 2 and "providers.kiyotaka_api_key" in err


def test_cli_price_from_a_candles_file(run_cli, cli_env: FakeHttpServer, tmp_path: Path) -> None:
    code, _, err = run_cli("download", "candles", "--since", "3d", "--timeframe", "1h", "--out", "c.csv")
    assert code == 0, err
    code, out, err = _import(run_cli, "--price-from", "c.csv")
    assert code == 0, err
    assert json.loads(out)["price_from"] == "close of the last closed candle in c.csv"
    snap = next(SnapshotStore(tmp_path / "store").read("BTC/USDT:USDT"))
    assert snap.price == pytest.approx(price_at(int(snap.ts.timestamp() * 1000)), rel=1e-6)
