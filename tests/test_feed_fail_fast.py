"""17.8: a live feed that has never reached the exchange fails fast with one line (exit 2, a hint);
after a first success, failures are notices and the feed retries; ``download`` that cannot reach
the exchange says what to check and exits 2."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.feeds.live import LiveFeed
from bot.marketdata.fetch import make_exchange
from bot.unreachable import UnreachableError
from tests.fakes.binance_public import FakeMarket, install
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.test_runner_livefeed import SYM, T0, TF, install_live_routes, ms


def closed_port() -> str:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_the_first_poll_that_cannot_connect_raises_one_line_with_a_hint() -> None:
    feed = LiveFeed(make_exchange("binanceusdm", timeout_ms=500, api_base=closed_port()), (SYM,), TF,
                    warmup=timedelta(hours=1))
    with pytest.raises(UnreachableError) as err:
        feed.poll(T0)
    text = str(err.value)
    assert text.startswith("cannot reach the exchange (binanceusdm)") and "exchange_api_base" in text
    assert "\n" not in text


def test_after_a_first_success_failures_are_notices_and_retried() -> None:
    with FakeHttpServer() as srv:
        install(srv, FakeMarket(ms(T0 - timedelta(days=1)), ms(T0 + timedelta(days=1))))
        install_live_routes(srv)
        feed = LiveFeed(make_exchange("binanceusdm", timeout_ms=500, api_base=srv.url), (SYM,), TF,
                        warmup=timedelta(hours=1), prices_s=10, oi_s=30)
        assert feed.poll(T0 + timedelta(seconds=5)).batches
        srv.script("/fapi/v1/klines", Reply(status=503, body={"code": -1, "msg": "down"}))
        poll = feed.poll(T0 + timedelta(minutes=5, seconds=20))
        assert poll.notice and "candles" in poll.notice and not poll.batches  # a notice, no exception
        (batch,) = feed.poll(T0 + timedelta(minutes=5, seconds=30)).batches  # retried at the next poll
        assert batch.close_ts == T0 + TF


def test_paper_live_without_the_exchange_exits_2_at_once(tmp_path: Path, run_cli: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_DOWNLOAD__EXCHANGE_API_BASE", closed_port())
    monkeypatch.setenv("LIQBOT_EXCHANGE__TIMEOUT_MS", "500")
    code, out, err = run_cli("paper", "--feed", "live", "--duration", "1h", "--state", str(tmp_path / "st"),
                             "--no-status")
    lines = [x for x in err.splitlines() if x.startswith("liqbot: error:")]
    assert code == 2 and len(lines) == 1 and "cannot reach the exchange" in lines[0]
    assert "check the network" in lines[0]


def test_download_that_cannot_reach_the_exchange_exits_2_with_what_to_check(tmp_path: Path, run_cli: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_DOWNLOAD__EXCHANGE_API_BASE", closed_port())
    monkeypatch.setenv("LIQBOT_EXCHANGE__TIMEOUT_MS", "500")
    monkeypatch.setenv("LIQBOT_DOWNLOAD__RETRY_ATTEMPTS", "1")
    code, out, err = run_cli("download", "candles", "--exchange", "binanceusdm", "--symbol", SYM,
                             "--since", "2025-01-01", "--to", "2025-01-02", "--out", str(tmp_path / "c.feather"))
    lines = [x for x in err.splitlines() if x.startswith("liqbot: error:")]
    assert code == 2, err
    assert len(lines) == 1 and "cannot reach the exchange" in lines[0] and "exchange_api_base" in lines[0]
    assert not (tmp_path / "c.feather").exists()
