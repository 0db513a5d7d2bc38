"""A whole paper-live run through provider faults, with keys set to distinctive strings.

The cluster API (with a key) fails for stretches of the run: 5xx for 40 min, a frozen map for
40 min, a 429 with Retry-After. The run never crashes; bars inside a stale stretch get no map, so
no signal is emitted there (entries paused); trading resumes on the first fresh map; the recorded
store replays in ``backtest --heatmaps STORE`` to the same signals; and every provider key appears
0 times in the log file, the state folder (SQLite, snapshot store) and the signal log.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from config.settings import load_settings
from tests.fakes.heatmap_providers import perp_doc
from tests.fakes.http_server import Reply
from tests.provider_kit import T0, World, key, paper_live, signals, world, write_candles

PERP_KEY = "PERPKEY-zq8Xv1-distinctive"
KIYO_KEY = "KIYOKEY-mw4Lr7-distinctive"
CG_KEY = "CGKEY-tp2Hn5-distinctive"
HOURS = 9
WARMUP = timedelta(hours=2)
FIVE_XX = (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=40))
FROZEN = (T0 + timedelta(hours=5), T0 + timedelta(hours=5, minutes=40))
LIMITED = (T0 + timedelta(hours=8), T0 + timedelta(hours=8, minutes=2))


def fault_at(now_s: float) -> Reply | None:
    def inside(span: tuple[Any, Any]) -> bool:
        return span[0].timestamp() <= now_s < span[1].timestamp()
    if inside(FIVE_XX):
        return Reply(status=503, body={"detail": "down for maintenance"})
    if inside(FROZEN):
        return Reply(body=perp_doc(int(FROZEN[0].timestamp()), "BTCUSDT"))
    if inside(LIMITED):
        return Reply(status=429, body={"detail": "rate limit"}, headers={"Retry-After": "90"})
    return None


@pytest.fixture()
def w() -> Iterator[World]:
    yield from world(T0, perp_key=PERP_KEY, perp_fault_at=fault_at, kiyotaka_key=KIYO_KEY, coinglass_key=CG_KEY)


def test_a_paper_run_through_provider_faults_pauses_resumes_stays_in_parity_and_never_shows_a_key(
        w: World, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.main import _secrets
    from bot.logs import configure_logging
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LIQBOT_PROVIDERS__PERP_API_API_KEY", PERP_KEY)
    monkeypatch.setenv("LIQBOT_PROVIDERS__KIYOTAKA_API_KEY", KIYO_KEY)
    monkeypatch.setenv("LIQBOT_PROVIDERS__COINGLASS_API_KEY", CG_KEY)
    monkeypatch.setenv("LIQBOT_PROVIDERS__PERP_API_CADENCE_S", "30")
    settings = load_settings(env_file=None)
    log_file = tmp_path / "liqbot.log"
    configure_logging(level="DEBUG", file=log_file, console=False, secrets=_secrets(settings))
    state = tmp_path / "state"
    runner = paper_live(w, settings, "perp-api", state, HOURS, WARMUP)
    maps = runner.heatmaps
    assert {"unavailable", "rate limited"} <= set(maps.faults)
    paper = signals(state / "signals.jsonl")
    stale_from = {FIVE_XX[0] + timedelta(minutes=1), FROZEN[0] + timedelta(minutes=1)}
    for s in paper:  # no entry on a map older than its limit (3 x 30 s) inside the fault windows
        for lo, hi in (FIVE_XX, FROZEN):
            assert not (lo + timedelta(minutes=1) < s.timestamp < hi), (s.id, s.timestamp)
    assert stale_from
    assert any(s.timestamp > FROZEN[1] for s in paper)  # resumed after the faults
    logged = log_file.read_text()
    assert "heatmap.fault" in logged and "heatmap.stale" in logged and "heatmap.fresh" in logged
    # parity with the recorded store
    candles = write_candles(w, tmp_path / "candles.json", T0 - WARMUP, T0 + timedelta(hours=HOURS))
    code, out, err = run_cli("backtest", "--candles", str(candles), "--from", (T0 - WARMUP).isoformat(),
                             "--to", (T0 + timedelta(hours=HOURS)).isoformat(), "--warmup", "2h",
                             "--heatmaps", str(state / "snapshots"), "--signals", str(tmp_path / "bt.jsonl"), "--json")
    assert code == 0, err
    assert [key(s) for s in signals(tmp_path / "bt.jsonl")] == [key(s) for s in paper]
    # the keys: sent to the fake (it answered), never written anywhere
    assert all(r.headers.get("x-api-key") == PERP_KEY for r in w.server.requests if r.path.startswith("/api/heatmap"))
    files = [log_file, *[p for p in state.rglob("*") if p.is_file()], tmp_path / "bt.jsonl"]
    counts = {k: sum(p.read_bytes().count(k.encode()) for p in files) for k in (PERP_KEY, KIYO_KEY, CG_KEY)}
    print(f"signals {len(paper)}, faults {len(maps.faults)}, files searched {len(files)}, key counts {counts}")
    assert counts == {PERP_KEY: 0, KIYO_KEY: 0, CG_KEY: 0}
