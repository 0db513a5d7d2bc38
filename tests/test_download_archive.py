"""The public archive's daily metrics zips: URL, strict parsing, 404 gaps, retries (fake server)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Iterator

import pytest

from bot.errors import DataError, RetryableError
from bot.marketdata.archive import (METRICS_COLUMNS, MetricsArchive, archive_symbol, metrics_url,
                                    parse_metrics_csv, parse_metrics_zip)
from bot.retry import RetryPolicy
from tests.fakes.binance_public import ARCHIVE_PREFIX, METRICS_HEADER, FakeMarket, install, metrics_zip
from tests.fakes.http_server import FakeHttpServer, Reply

DAY = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)
ROW = "2025-01-01 00:05:00,BTCUSDT,80000.5,7.6e9,1.52,1.31,1.85,0.97"


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture()
def archive_server() -> Iterator[FakeHttpServer]:
    """Archive with 2025-01-01 .. 2025-01-04, 2025-01-02 missing."""
    with FakeHttpServer() as server:
        install(server, FakeMarket(T0, T0 + 4 * DAY - 1, gaps=[(T0 + DAY, T0 + 2 * DAY)]))
        yield server


@pytest.mark.parametrize("symbol, expected", [("BTC/USDT:USDT", "BTCUSDT"), ("eth/usdt", "ETHUSDT"),
                                              ("btcusdt", "BTCUSDT")])
def test_archive_symbol(symbol: str, expected: str) -> None:
    assert archive_symbol(symbol) == expected


def test_metrics_url_matches_the_archive_layout() -> None:
    assert metrics_url("https://data.binance.vision/", "BTC/USDT:USDT", date(2024, 3, 9)) == (
        "https://data.binance.vision/data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-03-09.zip")


def test_parse_metrics_zip_keeps_the_text_and_adds_ts() -> None:
    frame = parse_metrics_zip(_zip({"BTCUSDT-metrics-2025-01-01.csv": METRICS_HEADER + "\n" + ROW + "\n"}), "t")
    assert list(frame.columns) == ["ts", *METRICS_COLUMNS]
    assert frame["ts"].tolist() == [T0 + 300_000]
    assert frame["sum_open_interest"].tolist() == ["80000.5"]


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04 not really", "not a zip archive"),
    (b"<Error>NoSuchKey</Error>", "not a zip archive"),
    (_zip({"a.csv": METRICS_HEADER, "b.csv": METRICS_HEADER}), "expected one CSV"),
    (_zip({"a.csv": "create_time,symbol\n2025-01-01 00:00:00,BTCUSDT\n"}), "sum_open_interest: missing column"),
    (_zip({"a.csv": METRICS_HEADER + "\nyesterday,BTCUSDT,1,1,1,1,1,1\n"}), r"create_time\[2\]: unparseable time"),
    (_zip({"a.csv": METRICS_HEADER + "\n" + ROW.replace("80000.5", "abc") + "\n"}),
     r"sum_open_interest\[2\]: not a finite number"),
])
def test_parse_metrics_zip_is_strict(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_metrics_zip(data, "archive BTCUSDT metrics 2025-01-01")


def test_parse_metrics_csv_accepts_blank_optional_ratios() -> None:
    frame = parse_metrics_csv(METRICS_HEADER + "\n" + ROW.replace(",1.52,", ",,") + "\n", "t")
    assert frame["count_toptrader_long_short_ratio"].tolist() == [""]


def test_days_report_a_404_as_a_gap(archive_server: FakeHttpServer) -> None:
    archive = MetricsArchive(archive_server.url, timeout_s=2.0, policy=FAST)
    got = list(archive.days("BTC/USDT:USDT", date(2025, 1, 1), date(2025, 1, 5)))
    assert [g.day for g in got] == [date(2025, 1, d) for d in range(1, 6)]
    assert [None if g.frame is None else len(g.frame) for g in got] == [288, None, 288, 288, None]
    assert archive.requests == 5
    paths = [r.path for r in archive_server.requests]
    assert paths[0] == ARCHIVE_PREFIX + "BTCUSDT/BTCUSDT-metrics-2025-01-01.zip"


def test_a_429_then_a_5xx_are_retried(archive_server: FakeHttpServer) -> None:
    path = ARCHIVE_PREFIX + "BTCUSDT/BTCUSDT-metrics-2025-01-03.zip"
    archive_server.script(path, Reply(status=429, headers={"Retry-After": "0"}), Reply(status=503))
    archive = MetricsArchive(archive_server.url, timeout_s=2.0, policy=FAST, sleep=lambda s: None)
    day = archive.fetch_day("BTCUSDT", date(2025, 1, 3))
    assert day.frame is not None and len(day.frame) == 288
    assert len(archive_server.hits(path)) == 3


def test_a_slow_archive_times_out_and_gives_up(archive_server: FakeHttpServer) -> None:
    path = ARCHIVE_PREFIX + "BTCUSDT/BTCUSDT-metrics-2025-01-01.zip"
    archive_server.script(path, *[Reply(body=metrics_zip("BTCUSDT", "2025-01-01", [T0]), delay_s=2.0)] * 3)
    archive = MetricsArchive(archive_server.url, timeout_s=0.5, policy=FAST, sleep=lambda s: None)
    with pytest.raises(RetryableError, match="archive BTCUSDT metrics 2025-01-01: gave up after 3 attempts"):
        archive.fetch_day("BTCUSDT", date(2025, 1, 1))


def test_a_malformed_zip_from_the_server_is_a_data_error(archive_server: FakeHttpServer) -> None:
    path = ARCHIVE_PREFIX + "BTCUSDT/BTCUSDT-metrics-2025-01-01.zip"
    archive_server.script(path, Reply(body=b"truncated-zip-body"))
    with pytest.raises(DataError, match="archive BTCUSDT metrics 2025-01-01: not a zip archive"):
        MetricsArchive(archive_server.url, policy=FAST).fetch_day("BTCUSDT", date(2025, 1, 1))
