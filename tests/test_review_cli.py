"""``liqbot signals review`` and ``liqbot signals show`` end to end (in-process CLI)."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pandas as pd

from bot.domain import Side
from bot.signallog import SignalLogWriter
from strategies.engine import Engine
from tests.strategy_fakes import T0, cluster, context, magnets, settings, snapshot

P = 100_000.0


def write_log(path: Path, hours: int = 4) -> list[str]:
    """One signal per hour (LONG hunts on even hours, SHORT hunts on odd ones) plus their rejections."""
    ids = []
    with SignalLogWriter(path, fsync="never") as log:
        for h in range(hours):
            ts = T0 + timedelta(hours=h)
            up = cluster("s", P * 1.012, Side.SHORT, strength=0.9 if h % 2 == 0 else 0.6, price=P, now=ts)
            down = cluster("l", P * 0.988, Side.LONG, strength=0.6 if h % 2 == 0 else 0.9, price=P, now=ts)
            r = Engine(settings()).run(snapshot(P, ts=ts), [up, down], context(P, atr=200.0, ts=ts), magnets())
            log.write_result(r)
            ids += [s.id for s in r.signals]
    return ids


def test_review_of_a_log_with_a_garbage_line_and_a_torn_tail(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    write_log(log)
    lines = log.read_bytes().split(b"\n")[:-1]
    damaged = b"\n".join(lines[:3] + [b"\x00\x01 not json"] + lines[3:]) + b"\n" + lines[0][:30]
    log.write_bytes(damaged)
    code, out, err = run_cli("signals", "review", str(log), "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["signals_read"], doc["rejected_read"], doc["selected"], doc["lines"]) == (4, 4, 4, 10)
    assert [(p["line"], p["kind"]) for p in doc["problems"]] == [(4, "malformed"), (10, "torn")]
    assert f"{log}:4: malformed" in err and f"{log}:10: torn" in err
    assert doc["rejected_by_rule"] == {"conflict": 4}
    [stats] = doc["stats"]
    assert (stats["strategy"], stats["count"], stats["longs"], stats["shorts"]) == ("liquidation_hunt", 4, 2, 2)


def test_review_table_filters_and_csv(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    write_log(log)
    code, out, err = run_cli("signals", "review", str(log), "--side", "short", "--since", "2025-03-08T15:00:00Z",
                             "--csv", str(tmp_path / "out.csv"))
    assert code == 0 and err == ""
    assert "liquidation_hunt" in out and "per strategy" in out
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["signal"] for r in rows] == ["SHORT", "SHORT"]
    code, out, _ = run_cli("signals", "review", str(log), "--until", "2025-03-08T15:35:00Z", "--json")
    assert json.loads(out)["selected"] == 1


def test_review_with_candles_gives_outcomes(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    write_log(log, hours=2)  # LONG at T0 (stop 99700), SHORT at T0+1h (stop 100300)
    idx = pd.date_range(T0, periods=24, freq="5min")
    low = [99600.0 if i == 3 else P - 50 for i in range(24)]  # the LONG is stopped at 14:50
    high = [P + 50] * 24
    pd.DataFrame({"ts": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": P, "high": high, "low": low, "close": P,
                  "volume": 1.0}).to_csv(tmp_path / "candles.csv", index=False)
    code, out, err = run_cli("signals", "review", str(log), "--candles", str(tmp_path / "candles.csv"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [s["result"] for s in doc["signals"]] == ["stop_loss", "open"]
    assert doc["signals"][0]["r_multiple"] == -1.0
    everything = {r["strategy"]: r for r in doc["outcomes"]}["all"]
    assert (everything["stop_loss"], everything["open"], everything["take_profit"]) == (1, 1, 0)
    code, out, err = run_cli("signals", "review", str(log), "--candles", str(tmp_path / "candles.csv"),
                             "--since", "2030-01-01")  # nothing selected: empty tables, not a crash
    assert code == 0 and "outcomes" in out, err


def test_show_prints_one_signal_in_full(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    ids = write_log(log)
    code, out, _ = run_cli("signals", "show", ids[1][:12], str(log))
    assert code == 0 and json.loads(out)["id"] == ids[1]
    code, _, err = run_cli("signals", "show", "sig-nope", str(log))
    assert code == 2 and err.count("\n") == 1 and "sig-nope" in err
    code, _, err = run_cli("signals", "show", "sig-", str(log))
    assert code == 2 and "matches 4" in err


def test_show_reads_the_configured_log_by_default(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBOT_STATE_DIR", str(tmp_path / "state"))
    ids = write_log(tmp_path / "state" / "signals.jsonl", hours=1)
    code, out, _ = run_cli("signals", "show", ids[0])
    assert code == 0 and json.loads(out)["id"] == ids[0]


def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    write_log(log, hours=1)
    for argv in (["signals", "review", str(tmp_path / "missing.jsonl")],
                 ["signals", "review", str(log), "--since", "not-a-time"],
                 ["signals", "review", str(log), "--strategy", "scalp"],
                 ["signals", "review", str(log), "--candles", str(tmp_path / "none.csv")]):
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "" and err.count("\n") == 1, argv


def test_review_table_has_ids_and_labelled_gross_and_net_r(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    ids = write_log(log, hours=2)
    idx = pd.date_range(T0, periods=24, freq="5min")
    low = [99600.0 if i == 3 else P - 50 for i in range(24)]
    pd.DataFrame({"ts": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": P, "high": [P + 50] * 24, "low": low,
                  "close": P, "volume": 1.0}).to_csv(tmp_path / "candles.csv", index=False)
    code, out, err = run_cli("signals", "review", str(log), "--candles", str(tmp_path / "candles.csv"))
    assert code == 0 and err == ""
    assert all(i in out for i in ids) and "R gross" in out and "R net" in out
    code, out, _ = run_cli("signals", "review", str(log), "--candles", str(tmp_path / "candles.csv"), "--json")
    doc = json.loads(out)
    stopped = doc["signals"][0]
    assert stopped["r_multiple"] == -1.0 and stopped["r_net"] < -1.0  # fees and slippage make a loss larger
    assert set(doc["r_units"]) == {"r_multiple", "r_net"} and doc["warnings"] == []
    everything = {r["strategy"]: r for r in doc["outcomes"]}["all"]
    assert everything["total_r_net_closed"] < everything["total_r_closed"]


def test_review_against_other_candles_warns(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "signals.jsonl"
    write_log(log, hours=2)
    later = pd.date_range(T0 + timedelta(days=3), periods=24, freq="5min")
    pd.DataFrame({"ts": later.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": P, "high": P + 50, "low": P - 50,
                  "close": P, "volume": 1.0}).to_csv(tmp_path / "ETHUSDT-5m.csv", index=False)
    code, out, err = run_cli("signals", "review", str(log), "--candles", str(tmp_path / "ETHUSDT-5m.csv"), "--json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert len(warnings) == 2 and "ETH/USDT:USDT" in warnings[0] and "2 of 2 signals are outside" in warnings[1]
    assert err.count("liqbot: warning:") == 2


def test_show_says_what_the_bot_did_with_the_signal(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBOT_FEED__SIM_START", "2025-01-06T00:00:00Z")
    state = tmp_path / "st"
    code, _, err = run_cli("paper", "--state", str(state), "--duration", "12h", "--warmup", "2h", "--seed", "3",
                           "--no-status", "--json")
    assert code == 0, err
    from bot.store import Store
    with Store.open(state, readonly=True) as store:
        decisions: dict = {}
        for d in store.decisions():
            decisions.setdefault(d.decision.value, d)  # the first of each kind (an early entry has filled)
        traded = {t.signal_id for t in store.trades()}
    assert "submitted" in decisions and "skipped" in decisions
    for kind, d in decisions.items():
        code, out, err = run_cli("signals", "show", d.signal_id, str(state / "signals.jsonl"))
        assert code == 0, err
        bot = json.loads(out)["bot"]
        assert bot["decision"] == kind and bot["state"] == str(state)
        if kind == "skipped":
            assert bot["traded"] is False and bot["why"] == d.reason
        else:
            assert bot["order"]["client_id"] == d.client_id and bot["traded"] is True
            assert (bot["trade"] is not None) == (d.signal_id in traded)
    code, out, _ = run_cli("signals", "show", d.signal_id, str(state / "signals.jsonl"), "--state",
                           str(tmp_path / "nowhere"))
    assert json.loads(out)["bot"]["decision"] is None
