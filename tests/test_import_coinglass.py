"""CoinGlass history import: range choice, both endpoints, faults, the store (fake server)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from pydantic import SecretStr

from bot.errors import DataError
from bot.heatmap.providers.coinglass import CoinglassClient, Model, choose_range
from bot.heatmap.store import SnapshotStore
from bot.retry import RetryPolicy
from tests.fakes.heatmap_providers import COINGLASS_KEY, COLUMNS, install_coinglass
from tests.fakes.http_server import FakeHttpServer, Reply

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as srv:
        install_coinglass(srv)
        for key, value in {"PROVIDERS__COINGLASS_BASE_URL": srv.url, "PROVIDERS__COINGLASS_API_KEY": COINGLASS_KEY,
                           "DOWNLOAD__TIMEOUT_S": "0.5", "DOWNLOAD__RETRY_ATTEMPTS": "2",
                           "DOWNLOAD__BACKOFF_INITIAL_S": "0.01", "DOWNLOAD__BACKOFF_MAX_S": "0.02"}.items():
            monkeypatch.setenv("LIQBOT_" + key, value)
        yield srv


@pytest.mark.parametrize("back, expected", [
    (timedelta(hours=1), "12h"), (timedelta(hours=12), "12h"), (timedelta(hours=13), "24h"),
    (timedelta(days=2), "3d"), (timedelta(days=6), "7d"), (timedelta(days=8), "30d"),
    (timedelta(days=100), "180d"), (timedelta(days=364), "1y"),
])
def test_choose_range_takes_the_smallest_covering_one(back: timedelta, expected: str) -> None:
    assert choose_range(NOW - back, NOW) == expected


def test_more_than_a_year_back_is_refused() -> None:
    with pytest.raises(DataError, match="--since: CoinGlass serves at most 1y back"):
        choose_range(NOW - timedelta(days=400), NOW)


@pytest.mark.parametrize("exchange, path, query", [
    (None, "/api/futures/liquidation/aggregated-heatmap/model3", {"symbol": "BTC", "range": "3d"}),
    ("Binance", "/api/futures/liquidation/heatmap/model3", {"exchange": "Binance", "symbol": "BTC", "range": "3d"}),
])
def test_client_uses_the_documented_endpoint_and_header(server: FakeHttpServer, exchange: str | None,
                                                        path: str, query: dict[str, str]) -> None:
    client = CoinglassClient(server.url, SecretStr(COINGLASS_KEY), policy=RetryPolicy(attempts=1))
    doc = json.loads(client.fetch("BTC", "3d", model=Model.MODEL3, exchange=exchange))
    assert doc["code"] == "0" and len(doc["data"]["price_candlesticks"]) == COLUMNS
    req = server.requests[-1]
    assert req.path == path and req.query == query and req.headers["cg-api-key"] == COINGLASS_KEY


def test_cli_imports_the_columns_inside_the_range(run_cli, server: FakeHttpServer, tmp_path: Path) -> None:
    code, out, err = run_cli("heatmap", "import", "--provider", "coinglass", "--symbol", "BTCUSDT", "--since", "2d",
                             "--to", "1d", "--out", "store", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["range"] == "3d" and doc["exchange"] == "aggregated" and doc["requests"] == 1
    assert server.requests[-1].query["symbol"] == "BTC"
    stored = list(SnapshotStore(tmp_path / "store").read("BTC/USDT:USDT"))
    assert len(stored) == doc["snapshots"] == 16  # 48 columns over 3 days: 16 in one day
    first = datetime.fromisoformat(doc["first"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(doc["last"].replace("Z", "+00:00"))
    assert timedelta(hours=22) <= last - first <= timedelta(days=1)
    snap = stored[0]
    assert snap.source.value == "coinglass" and snap.prices[0] < snap.price < snap.prices[-1]


def test_cli_pair_endpoint_with_an_exchange(run_cli, server: FakeHttpServer) -> None:
    code, out, err = run_cli("heatmap", "import", "--provider", "coinglass", "--symbol", "BTC/USDT:USDT",
                             "--since", "6h", "--out", "store", "--cg-exchange", "Binance", "--model", "model1",
                             "--json")
    assert code == 0, err
    assert json.loads(out)["range"] == "12h"
    req = server.requests[-1]
    assert req.path.endswith("/heatmap/model1") and req.query["symbol"] == "BTCUSDT"


@pytest.mark.parametrize("reply, code, message", [
    (Reply(body={"code": "30001", "msg": "API key over quota"}), 2, "provider error '30001': API key over quota"),
    (Reply(body=b'{"code": "0", "data": {"y_axis": [1, 2'), 2, "coinglass"),
    # the network (or the provider's limits) is for the user to wait out: exit 2 with a hint (bot.cli.exits)
    (Reply(status=500, body="boom"), 2, "gave up after 2 attempts"),
    (Reply(status=429, body="slow", headers={"Retry-After": "3600"}), 2, "retry after 3600 s"),
])
def test_cli_faults(run_cli, server: FakeHttpServer, tmp_path: Path, reply: Reply, code: int, message: str) -> None:
    path = "/api/futures/liquidation/aggregated-heatmap/model2"
    server.script(path, reply, reply)
    got, out, err = run_cli("heatmap", "import", "--provider", "coinglass", "--symbol", "BTC", "--since", "1d",
                            "--out", "store")
    assert got == code and out == "" and message in err and err.count("\n") == 1
    assert SnapshotStore(tmp_path / "store").symbols() == []


def test_cli_rejects_kiyotaka_only_flags(run_cli, server: FakeHttpServer) -> None:
    code, _, err = run_cli("heatmap", "import", "--provider", "coinglass", "--symbol", "BTC", "--since", "1d",
                           "--out", "store", "--flatten")
    assert code == 2 and "--flatten: applies to --provider kiyotaka only" in err
    assert server.requests == []
