"""Issue 16.7: no configured secret reaches the terminal, even when a provider echoes the request."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.fakes.http_server import FakeHttpServer, Reply, Request

KEY = "kX9vQ2mL7pR4tZ8wN3bJ6hF1cD5gS0aE"


@pytest.fixture()
def echoing() -> Iterator[FakeHttpServer]:
    """A provider whose error bodies echo the request's headers, key included (as some do)."""
    def echo(req: Request) -> Reply:
        return Reply(status=400, body={"error": "bad request", "echo": dict(req.headers), "query": dict(req.query)})
    with FakeHttpServer() as srv:
        srv.route_prefix("/", echo)
        yield srv


@pytest.mark.parametrize(("provider", "env"), [("kiyotaka", "KIYOTAKA"), ("coinglass", "COINGLASS")])
def test_provider_error_echoing_the_key_is_redacted(run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    echoing: FakeHttpServer, provider: str, env: str) -> None:
    monkeypatch.setenv(f"LIQBOT_PROVIDERS__{env}_API_KEY", KEY)
    monkeypatch.setenv(f"LIQBOT_PROVIDERS__{env}_BASE_URL", echoing.url)
    monkeypatch.setenv("LIQBOT_DOWNLOAD__RETRY_ATTEMPTS", "1")
    code, out, err = run_cli("heatmap", "import", "--provider", provider, "--symbol", "BTC", "--since", "1d",
                             "--out", str(tmp_path / "store"), "--price-from", "mid")
    assert code in (1, 2) and out == "" and len(err.splitlines()) == 1, err
    assert "**redacted**" in err  # the provider did echo the key; the line shows it redacted
    assert KEY not in err
    log = tmp_path / "liqbot.log"
    assert not log.exists() or KEY not in log.read_text()
