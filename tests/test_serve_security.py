"""`liqbot serve` security: loopback by default, a token for any other bind, read-only, CORS closed, no secret out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.errors import ConfigError
from bot.serve.security import check_bind, is_loopback
from bot.serve.server import serve_in_thread
from tests.serve_kit import app_for

TOKEN = "tok-7f3a9c1e-serve-secret"
SECRETS = {"LIQBOT_EXCHANGE__API_KEY": "key-d41d8cd98f00b204e980",
           "LIQBOT_EXCHANGE__API_SECRET": "sec-0cc175b9c0f1b6a831c399e2",
           "LIQBOT_PROVIDERS__KIYOTAKA_API_KEY": "kiy-92eb5ffee6ae2fec3ad7",
           "LIQBOT_PROVIDERS__COINGLASS_API_KEY": "cgl-4a8a08f09d37b73795649038",
           "LIQBOT_SERVE__TOKEN": TOKEN}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_binds_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_other_binds_are_refused_without_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="needs a token"):
        check_bind(host, None)
    with pytest.raises(ConfigError, match="needs a token"):
        check_bind(host, SecretStr(""))
    check_bind(host, SecretStr(TOKEN))


def test_cli_refuses_a_public_bind_without_a_token_in_one_line(run_cli, sim_state: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQBOT_SERVE__TOKEN", raising=False)
    code, out, err = run_cli("serve", "--state", str(sim_state), "--host", "0.0.0.0", "--port", "18999")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("liqbot: error: serve: binding 0.0.0.0") and "token" in err


def test_cli_bad_state_and_port_are_one_line_errors(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("serve", "--state", str(tmp_path / "nowhere"))
    assert code == 2 and err.startswith("liqbot: error: ") and "no liqbot store" in err and err.count("\n") == 1
    code, _, err = run_cli("serve", "--state", str(tmp_path), "--port", "70000")
    assert code == 2 and "--port" in err


@pytest.fixture()
def guarded(sim_state: Path) -> TestClient:
    return TestClient(app_for(sim_state, token=SecretStr(TOKEN)))


def test_a_token_is_required_on_every_route(guarded: TestClient) -> None:
    for path in ("/", "/api/stats", "/api/heatmap/BTCUSDT", "/api/bot/status", "/openapi.json", "/static/app.js"):
        assert guarded.get(path).status_code == 401, path
        assert guarded.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert guarded.get(path, headers={"authorization": f"Basic {TOKEN}"}).status_code == 401
        assert guarded.get(path, params={"token": TOKEN[:-1]}).status_code == 401
    assert guarded.get("/api/stats", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.get("/api/stats", params={"token": TOKEN}).status_code == 200
    refused = guarded.get("/api/stats")
    assert refused.json() == {"success": False,
                              "detail": "a valid token is required (Authorization: Bearer ... or ?token=...)"}


def test_the_comparison_is_constant_time() -> None:
    import inspect

    from bot.serve import security
    assert "hmac.compare_digest" in inspect.getsource(security.token_matches)
    assert security.token_matches(TOKEN, SecretStr(TOKEN)) and not security.token_matches("x", SecretStr(TOKEN))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_read_only_methods_only(sim_state: Path, method: str) -> None:
    client = TestClient(app_for(sim_state))
    r = client.request(method, "/api/bot/positions")
    assert r.status_code == 405 and "read-only" in r.json()["detail"]


def test_serving_never_writes_the_state(state_copy: Path) -> None:
    def digest() -> str:
        return hashlib.sha256((state_copy / "liqbot.sqlite").read_bytes()).hexdigest()
    before = digest()
    client = TestClient(app_for(state_copy))
    for path in ("/api/stats", "/api/heatmap/BTCUSDT", "/api/bot/status", "/api/bot/signals", "/api/bot/risk",
                 "/api/bot/chart/BTCUSDT", "/api/bot/heatmap/BTCUSDT", "/api/bot/trades", "/api/bot/equity"):
        assert client.get(path).status_code == 200, path
    assert digest() == before
    from bot.serve.state import StateReader
    import sqlite3
    with StateReader(state_copy).open() as store, pytest.raises(sqlite3.OperationalError):
        store.conn.execute("DELETE FROM trades")


def test_cors_is_closed_by_default_and_opens_only_to_configured_origins(sim_state: Path) -> None:
    origin = {"origin": "https://evil.example"}
    closed = TestClient(app_for(sim_state))
    r = closed.get("/api/stats", headers=origin)
    assert "access-control-allow-origin" not in r.headers
    pre = closed.options("/api/stats", headers={**origin, "access-control-request-method": "GET"})
    assert "access-control-allow-origin" not in pre.headers
    opened = TestClient(app_for(sim_state, cors_origins=("https://ok.example",)))
    assert opened.get("/api/stats", headers={"origin": "https://ok.example"}).headers[
        "access-control-allow-origin"] == "https://ok.example"
    assert "access-control-allow-origin" not in opened.get("/api/stats", headers=origin).headers


def test_security_headers_on_every_answer(sim_state: Path) -> None:
    client = TestClient(app_for(sim_state))
    for path in ("/", "/api/stats", "/api/heatmap/NOPE"):
        h = client.get(path).headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in h["content-security-policy"]


def test_no_secret_in_any_response(sim_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinctive secrets in the settings; every GET route (and the stream's first bytes) is grepped."""
    from config.settings import load_settings
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=None)
    assert settings.exchange.api_key.get_secret_value() == SECRETS["LIQBOT_EXCHANGE__API_KEY"]
    from bot.serve.app import ServeConfig, create_app
    app = create_app(ServeConfig(state_dir=sim_state, token=settings.serve.token,
                                 bias_threshold=settings.clusters.bias_threshold))
    auth = {"authorization": f"Bearer {TOKEN}"}
    fills = {"symbol": "BTCUSDT"}
    with serve_in_thread(app) as base, httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        routes = http.get("/openapi.json").json()["paths"]
        bodies = {"/openapi.json": http.get("/openapi.json").text}
        for path in list(routes) + ["/", "/docs", "/static/app.js", "/static/app.css", "/static/index.html",
                                    "/api/heatmap/NOPE", "/api/heatmap/BTCUSDT?min_strength=9"]:
            url = path.format(**fills)
            if url.startswith("/api/stream"):
                with http.stream("GET", url) as r:
                    bodies[url] = next(r.iter_text())
                continue
            r = http.get(url)
            bodies[url] = r.text + "".join(f"{k}: {v}\n" for k, v in r.headers.items())
        refused = httpx.get(base + "/api/stats", params={"token": "guess"})
        bodies["refused"] = refused.text
    assert len(bodies) >= 18
    for url, body in bodies.items():
        for value in SECRETS.values():
            assert value not in body, f"{url} leaks a secret"
