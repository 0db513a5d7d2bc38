"""``liqbot download`` end to end against a fake Binance and archive on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from bot.marketdata.files import SeriesKind, load_candles, load_series
from tests.fakes.binance_public import FakeMarket, install
from tests.fakes.http_server import FakeHttpServer, Reply

DAY = 86_400_000
HOUR = 3_600_000
FIVE = 300_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture()
def market() -> FakeMarket:
    """Eight days of history ending now; a 3-hour hole on the second day."""
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    start = now // DAY * DAY - 7 * DAY
    return FakeMarket(start, now, gaps=[(start + DAY + 6 * HOUR, start + DAY + 9 * HOUR)])


@pytest.fixture()
def binance(market: FakeMarket, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as server:
        install(server, market)
        monkeypatch.setenv("LIQBOT_DOWNLOAD__EXCHANGE_API_BASE", server.url)
        monkeypatch.setenv("LIQBOT_DOWNLOAD__ARCHIVE_BASE_URL", server.url)
        monkeypatch.setenv("LIQBOT_DOWNLOAD__TIMEOUT_S", "0.5")
        monkeypatch.setenv("LIQBOT_EXCHANGE__TIMEOUT_MS", "500")
        monkeypatch.setenv("LIQBOT_DOWNLOAD__RETRY_ATTEMPTS", "2")
        monkeypatch.setenv("LIQBOT_DOWNLOAD__BACKOFF_INITIAL_S", "0.01")
        monkeypatch.setenv("LIQBOT_DOWNLOAD__BACKOFF_MAX_S", "0.02")
        yield server


def download(run_cli, kind: str, since: int, to: int, out: str, *extra: str) -> tuple[int, dict, str]:
    code, out_text, err = run_cli("download", kind, "--symbol", "BTC/USDT:USDT", "--since", _iso(since),
                                  "--to", _iso(to), "--out", out, "--json", *extra)
    return code, (json.loads(out_text) if code == 0 else {}), err


def test_candles_resume_fetches_only_the_new_tail(run_cli, binance: FakeHttpServer, market: FakeMarket,
                                                  tmp_path: Path) -> None:
    start = market.start_ms
    code, first, err = download(run_cli, "candles", start, start + 3 * DAY - 1, "data/")
    assert code == 0, err
    path = tmp_path / "data" / "BTCUSDT-candles-5m.csv"
    assert first["file"] == "data/BTCUSDT-candles-5m.csv" and path.is_file()
    assert first["rows"] == first["rows_fetched"] == 3 * 288 - 36
    assert first["gaps"] == [{"from": _iso(start + DAY + 6 * HOUR), "to": _iso(start + DAY + 9 * HOUR - FIVE),
                              "missing": 36}]

    seen = len(binance.requests)
    code, second, err = download(run_cli, "candles", start, start + 5 * DAY - 1, "data/")
    assert code == 0, err
    assert second["rows_before"] == 3 * 288 - 36 and second["rows_fetched"] == 2 * 288
    assert second["rows"] == 5 * 288 - 36 and second["last"] == _iso(start + 5 * DAY - FIVE)
    new_klines = [r for r in binance.requests[seen:] if r.path == "/fapi/v1/klines"]
    assert new_klines and min(int(r.query["startTime"]) for r in new_klines) > start + 3 * DAY - FIVE

    candles = load_candles(path)
    assert len(candles) == 5 * 288 - 36 and str(candles.index.tz) == "UTC"
    assert candles.index[0] == pd.Timestamp(start, unit="ms", tz="UTC")


def test_third_run_with_nothing_new_sends_no_kline_request(run_cli, binance: FakeHttpServer,
                                                           market: FakeMarket) -> None:
    start = market.start_ms
    assert download(run_cli, "candles", start, start + DAY - 1, "c.csv")[0] == 0
    seen = len(binance.hits("/fapi/v1/klines"))
    code, again, _ = download(run_cli, "candles", start, start + DAY - 1, "c.csv")
    assert code == 0 and again["rows_fetched"] == 0 and again["rows"] == 288
    assert len(binance.hits("/fapi/v1/klines")) == seen


def test_candles_stop_at_the_last_closed_bar(run_cli, binance: FakeHttpServer, market: FakeMarket) -> None:
    code, doc, err = run_cli("download", "candles", "--since", "2h", "--out", "c.parquet", "--json")
    assert code == 0, err
    summary = json.loads(doc)
    last = datetime.fromisoformat(summary["last"].replace("Z", "+00:00"))
    assert last + timedelta(minutes=5) <= datetime.now(timezone.utc)
    assert pd.read_parquet("c.parquet").columns.tolist() == ["ts", "open", "high", "low", "close", "volume"]


@pytest.mark.parametrize("kind, loaded_as, columns", [
    ("oi", SeriesKind.OPEN_INTEREST, ["ts", "oi_coin", "oi_usd"]),
    ("funding", SeriesKind.FUNDING, ["ts", "funding_rate"]),
    ("metrics", SeriesKind.OPEN_INTEREST, None),
])
def test_each_kind_writes_a_file_the_loaders_read(run_cli, binance: FakeHttpServer, market: FakeMarket,
                                                  tmp_path: Path, kind: str, loaded_as: SeriesKind,
                                                  columns: list[str] | None) -> None:
    start = market.start_ms
    code, doc, err = download(run_cli, kind, start, start + 3 * DAY - 1, "out/")
    assert code == 0, err
    path = tmp_path / doc["file"]
    if columns:
        assert pd.read_csv(path).columns.tolist() == columns
    else:
        assert path.read_text().splitlines()[0].startswith("create_time,symbol,sum_open_interest,")
    detected, frame = load_series(path)
    assert detected == loaded_as and len(frame) == doc["rows"] > 0
    assert doc["missing_samples"] == {"oi": 36, "funding": 1, "metrics": 36}[kind]


def test_metrics_report_days_the_archive_lacks(run_cli, binance: FakeHttpServer, market: FakeMarket) -> None:
    start = market.start_ms
    code, doc, err = download(run_cli, "metrics", start - 2 * DAY, start + 2 * DAY - 1, "m.csv")
    assert code == 0, err
    day = datetime.fromtimestamp(start / 1000, timezone.utc).date()
    assert doc["missing_days"] == [(day - timedelta(days=n)).isoformat() for n in (2, 1)]
    assert doc["rows"] == 2 * 288 - 36
    assert doc["gaps"][0] == {"from": _iso(start - 2 * DAY), "to": _iso(start - FIVE), "missing": 576}


def test_metrics_need_the_binance_archive(run_cli, binance: FakeHttpServer, market: FakeMarket) -> None:
    code, _, err = download(run_cli, "metrics", market.start_ms, market.start_ms + DAY, "m.csv",
                            "--exchange", "okx")
    assert code == 2 and "metrics archive is Binance's" in err


def test_a_failure_mid_download_keeps_the_pages_already_fetched(run_cli, binance: FakeHttpServer,
                                                                market: FakeMarket, tmp_path: Path) -> None:
    start = market.start_ms
    original = binance._routes["/fapi/v1/klines"]
    calls = []

    def flaky(req):  # first page fine, then the exchange is down for good
        calls.append(req)
        return original(req) if len(calls) == 1 else Reply(status=503, body="maintenance")

    binance.route("/fapi/v1/klines", flaky)
    code, _, err = download(run_cli, "candles", start, start + 5 * DAY - 1, "c.csv")
    assert code == 2  # the network gave up: exit 2 with what to check (issue 17.8), not an internal error
    assert err.count("\n") == 1 and "gave up after 2 attempts" in err and "check the network" in err
    assert "saved 964 rows to c.csv" in err and "run the same command again to resume" in err
    assert len(pd.read_csv(tmp_path / "c.csv")) == 964

    binance.route("/fapi/v1/klines", original)  # the exchange is back: resume completes the range
    code, doc, err = download(run_cli, "candles", start, start + 5 * DAY - 1, "c.csv")
    assert code == 0 and doc["rows_before"] == 964 and doc["rows"] == 5 * 288 - 36


def test_malformed_exchange_body_exits_2_and_writes_nothing(run_cli, binance: FakeHttpServer,
                                                            market: FakeMarket, tmp_path: Path) -> None:
    binance.script("/fapi/v1/fundingRate", Reply(body=b'[{"fundingTime": 1,'))
    code, out, err = run_cli("download", "funding", "--since", _iso(market.start_ms), "--out", "f.csv")
    assert code == 2 and out == "" and "malformed response" in err and err.count("\n") == 1
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("argv, message", [
    (["--since", "2025-02-01", "--to", "2025-01-01"], "must be before --to"),
    (["--since", "yesterday-ish"], "--since: not a time"),
    (["--since", "1d", "--exchange", "nosuchexchange"], "unknown ccxt exchange id"),
    (["--since", "1d", "--timeframe", "7x"], "unknown timeframe"),
])
def test_bad_input_exits_2_with_one_line(run_cli, binance: FakeHttpServer, argv: list[str], message: str) -> None:
    code, out, err = run_cli("download", "candles", "--out", "x.csv", *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_refuses_to_resume_into_a_foreign_file(run_cli, binance: FakeHttpServer, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("date,price\n2025-01-01,1\n")
    code, _, err = run_cli("download", "candles", "--since", "1d", "--out", "x.csv")
    assert code == 2 and "cannot resume from x.csv: ts: not a candles download: missing column" in err
    assert (tmp_path / "x.csv").read_text() == "date,price\n2025-01-01,1\n"


def test_text_report_shows_the_gap_table(run_cli, binance: FakeHttpServer, market: FakeMarket) -> None:
    start = market.start_ms
    code, out, err = run_cli("download", "oi", "--since", _iso(start), "--to", _iso(start + 2 * DAY - 1),
                             "--out", "oi.csv", "--no-progress")
    assert code == 0, err
    assert "gap report for" in out and "1 gaps, 36 missing samples (step 5 min)" in out
    assert _iso(start + DAY + 6 * HOUR) in out
