"""``liqbot live``: refuses without the flag or real keys; keys never leave the process."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakes.binance_exchange import API_KEY, API_SECRET, FakeBinance


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    with FakeBinance() as ex:
        monkeypatch.setenv("LIQBOT_LIVE__API_BASE", ex.url)
        yield ex


def keys_in_dotenv(path: Path, key: str = API_KEY, secret: str = API_SECRET) -> None:
    (path / ".env").write_text(f"LIQBOT_EXCHANGE__API_KEY={key}\nLIQBOT_EXCHANGE__API_SECRET={secret}\n")


def test_refuses_without_the_confirmation_flag(run_cli, tmp_path: Path) -> None:
    keys_in_dotenv(tmp_path)
    code, out, err = run_cli("live")
    assert code == 2 and "--confirm-live" in err and out == ""


def test_refuses_without_keys(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQBOT_EXCHANGE__API_KEY", raising=False)
    monkeypatch.delenv("LIQBOT_EXCHANGE__API_SECRET", raising=False)
    code, _, err = run_cli("live", "--confirm-live")
    assert code == 2 and "LIQBOT_EXCHANGE__API_KEY" in err


@pytest.mark.parametrize("key", ["your_api_key_here", "xxxxxxxxxxxxxxxxxxxxxxxx", "short"])
def test_refuses_placeholder_keys(run_cli, tmp_path: Path, key: str) -> None:
    keys_in_dotenv(tmp_path, key=key)
    code, out, err = run_cli("live", "--confirm-live")
    assert code == 2 and "placeholder" in err and key not in err + out


def test_starts_reconciles_and_never_leaks_the_keys(run_cli, tmp_path: Path, fake: FakeBinance) -> None:
    keys_in_dotenv(tmp_path)
    code, out, err = run_cli("live", "--confirm-live", "--once", "--json")
    report = json.loads(out)
    assert code == 0 and report["trading_state"] == "ACTIVE" and report["problems"] == []
    assert fake.calls("GET", "/fapi/v1/openOrders") and fake.calls("GET", "/fapi/v3/positionRisk")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
    logged = (tmp_path / "liqbot.log").read_text() if (tmp_path / "liqbot.log").exists() else ""
    for secret in (API_KEY, API_SECRET):
        assert secret not in out + err + logged and secret.encode() not in stored


def test_sandbox_switch(run_cli, tmp_path: Path, fake: FakeBinance) -> None:
    keys_in_dotenv(tmp_path)
    code, out, _ = run_cli("live", "--confirm-live", "--sandbox", "--once", "--json")
    assert code == 0 and json.loads(out)["sandbox"] is True


def test_an_unknown_order_at_the_exchange_halts(run_cli, tmp_path: Path, fake: FakeBinance) -> None:
    keys_in_dotenv(tmp_path)
    fake.venue.place("BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0, False, "someone-else")
    code, out, _ = run_cli("live", "--confirm-live", "--once", "--json")
    report = json.loads(out)
    assert code == 1 and report["trading_state"] == "HALTED"
    assert any("someone-else" in p for p in report["problems"])
    code, out, _ = run_cli("risk", "show", "--json")
    assert json.loads(out)["state"] == "HALTED"  # the halt is stored and survives a restart


def test_runs_the_strategy_loop_on_live_market_data(run_cli, tmp_path: Path, fake: FakeBinance) -> None:
    import time
    keys_in_dotenv(tmp_path)
    now = int(time.time()) // 300 * 300 * 1000
    fake.tape.candles["BTCUSDT"] = [(t, 60_000.0, 60_010.0, 59_990.0, 60_000.0, 40.0)
                                    for t in range(now - 3 * 3_600_000, now + 300_000, 300_000)]
    code, out, err = run_cli("live", "--confirm-live", "--duration", "1s", "--warmup", "2h", "--json")
    report = json.loads(out)
    assert code == 0, err
    assert report["trading_state"] == "ACTIVE" and report["problems"] == [] and report["positions"] == []
    assert fake.calls("GET", "/fapi/v1/klines") and fake.calls("GET", "/fapi/v1/openInterest")
    from bot.store import Store
    with Store.open(tmp_path / "state", readonly=True) as store:  # the model saw the feed's bars
        closes = {datetime.fromtimestamp(t / 1000, timezone.utc).isoformat() for t in (now, now + 300_000)}
        assert store.kv_get("cursor") in closes  # the last closed bar (the clock may cross a boundary)
        assert store.kv_get("run")["broker"] == "ccxt"
