"""Issue 16.7: no configured secret reaches the terminal, even when a provider echoes the request."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.fakes.http_server import FakeHttpServer, Reply, Request

KEY = "kX9vQ2mL7pR4tZ8wN3bJ6hF1cD5gS0aE"
PAD = [0]  # padding before the echoed headers: moves where the 200-byte cut of the body falls


@pytest.fixture()
def echoing() -> Iterator[FakeHttpServer]:
    """A provider whose error bodies echo the request's headers, key included (as some do)."""
    def echo(req: Request) -> Reply:
        return Reply(status=400, body={"error": "bad request" + "x" * PAD[0], "echo": dict(req.headers),
                                       "query": dict(req.query)})
    with FakeHttpServer() as srv:
        srv.route_prefix("/", echo)
        yield srv


def test_a_key_cut_by_the_body_limit_is_redacted_too() -> None:
    """Error bodies are cut at 200 bytes: the cut may fall inside an echoed key; its prefix is masked too."""
    from bot.logs import configure_logging, redact_cut
    configure_logging(console=False, secrets=[KEY])
    for cut in range(4, len(KEY)):
        text = redact_cut('{"echo": {"x-key": "' + KEY[:cut])
        assert KEY[:cut] not in text and text.endswith("**redacted**")
    assert redact_cut("no secret here") == "no secret here"


@pytest.mark.parametrize("pad", [0, 20, 37, 61])
@pytest.mark.parametrize(("provider", "env"), [("kiyotaka", "KIYOTAKA"), ("coinglass", "COINGLASS")])
def test_provider_error_echoing_the_key_is_redacted(run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    echoing: FakeHttpServer, provider: str, env: str,
                                                    pad: int) -> None:
    monkeypatch.setattr("tests.test_bad_inputs_secrets.PAD", [pad])
    monkeypatch.setenv(f"LIQBOT_PROVIDERS__{env}_API_KEY", KEY)
    monkeypatch.setenv(f"LIQBOT_PROVIDERS__{env}_BASE_URL", echoing.url)
    monkeypatch.setenv("LIQBOT_DOWNLOAD__RETRY_ATTEMPTS", "1")
    code, out, err = run_cli("heatmap", "import", "--provider", provider, "--symbol", "BTC", "--since", "1d",
                             "--out", str(tmp_path / "store"), "--price-from", "mid")
    assert code in (1, 2) and out == "" and len(err.splitlines()) == 1, err
    assert "x-kiyotaka-key" in err or "cg-api-key" in err or "user-agent" in err  # the echo reached the line
    assert KEY[:4] not in err  # the key, nor any 4+ character prefix the 200-byte body limit cut it to
    log = tmp_path / "liqbot.log"
    assert not log.exists() or KEY not in log.read_text()
