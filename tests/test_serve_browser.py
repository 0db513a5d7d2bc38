"""The dashboard in a real browser (Playwright driving Debian's Chromium): drawn from the state, updated live."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from bot.heatmap.liquidations import LiquidationStore
from bot.serve.server import serve_in_thread
from bot.signallog import SignalLogWriter
from bot.store import Decision, SignalDecision, StepWrite, Store
from strategies.signal import Signal, signal_id
from tests.serve_kit import CHROMIUM, CHROMIUM_ARGS, SYM, app_for


def realized_events(state: Path) -> int:
    """Realized liquidations beside the snapshots: a long liquidated at each 12th bar's low, a short at its high."""
    with Store.open(state, readonly=True) as ro:
        rows = ro.conn.execute("SELECT ts, low, high FROM bars WHERE rowid % 12 = 0").fetchall()
    ts = pd.to_datetime([r[0] for r in rows] * 2, utc=True) + pd.Timedelta(minutes=2)
    prices = [r[1] for r in rows] + [r[2] for r in rows]
    events = pd.DataFrame({"ts": ts, "side": ["long"] * len(rows) + ["short"] * len(rows), "price": prices,
                           "qty": 0.5, "usd": [p * 0.5 for p in prices], "source": "file:test"})
    return LiquidationStore(state / "snapshots").write(SYM, events)


@pytest.fixture()
def page(state_copy: Path) -> Iterator[object]:
    assert realized_events(state_copy) > 10
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} missing under CI=true (.ci/run installs it)")
        pytest.skip(f"{CHROMIUM} missing")
    from playwright.sync_api import sync_playwright
    with serve_in_thread(app_for(state_copy, poll_s=0.2)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(f"{base}/#heatmap")
            tab.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
            tab.errors = errors  # type: ignore[attr-defined]
            yield tab
        finally:
            browser.close()


def count(page: object, selector: str) -> int:
    return int(page.locator(selector).count())  # type: ignore[attr-defined]


def new_signal(state: Path) -> tuple[Signal, SignalDecision]:
    """A valid signal five minutes after the run's last one (same setup, its own deterministic id)."""
    with Store.open(state, readonly=True) as ro:
        last = ro.decisions()[-1]
    lines = [json.loads(x) for x in (state / "signals.jsonl").read_text().splitlines() if x.strip()]
    doc = next(d for d in reversed(lines) if d.get("id") == last.signal_id)
    ts = last.ts + timedelta(minutes=5)
    doc["timestamp"] = ts.isoformat()
    doc["reason"] = "live-test: a signal written while the page is open"
    doc["id"] = signal_id(doc["symbol"], doc["strategy"], ts, doc["cluster_data"]["cluster_id"])
    sig = Signal.model_validate(doc)
    return sig, SignalDecision(sig.id, ts, sig.symbol, sig.strategy.value, sig.signal.value, Decision.SKIPPED,
                               "a position or entry is already open on the symbol")


def test_dashboard_draws_the_state_and_follows_it_live(page: object, state_copy: Path) -> None:
    p = page
    assert count(p, "#chart .heatmaplayer image") >= 1                      # the heatmap
    assert count(p, "#chart .traceclusters-active-long path, #chart .traceclusters-active-short path") >= 1
    assert count(p, "#chart .traceclusters-broken path, #chart .traceclusters-faded path") >= 1
    assert count(p, "#chart .traceentries .point") >= 1                     # a trade marker
    assert count(p, "#chart .traceexits .point") >= 1
    assert count(p, "#chart .trace.boxes path") > 100                       # candles
    with Store.open(state_copy, readonly=True) as ro:
        signals = len(ro.decisions())
    assert count(p, "#signals tr[data-id]") == min(signals, 200)           # the signal feed
    drawn = p.evaluate("window.liqbot.drawn")  # type: ignore[attr-defined]
    assert drawn["heatmapCells"] > 1000 and drawn["clusterLines"] >= 2
    assert p.locator("#live").inner_text() == "live"  # type: ignore[attr-defined]

    sig, decision = new_signal(state_copy)
    with SignalLogWriter(state_copy / "signals.jsonl") as log, Store.open(state_copy) as writer:
        log.write_signal(sig)
        writer.commit_step(StepWrite(ts=decision.ts, decisions=[decision]))
    row = p.locator(f'#signals tr[data-id="{sig.id}"]')  # type: ignore[attr-defined]
    row.wait_for(timeout=15_000)
    assert "live-test" in row.inner_text() and "skipped" in row.inner_text()
    assert p.locator("#signals tbody tr").first.get_attribute("data-id") == sig.id  # type: ignore[attr-defined]
    assert p.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("view, present, absent", [
    ("raw", [".trace.boxes", ".tracerealized-long .point", ".barlayer .point"],
     [".heatmaplayer image", ".traceclusters-active-long"]),
    ("synthetic", [".traceclusters-active-long path", ".barlayer .point"],
     [".heatmaplayer image", ".tracerealized-long"]),
    ("hybrid", [".heatmaplayer image", ".tracerealized-short .point", ".barlayer .point"], []),
])
def test_each_view_draws_its_layers(page: object, view: str, present: list[str], absent: list[str]) -> None:
    p = page
    p.click(f"#views button[data-view={view}]")  # type: ignore[attr-defined]
    p.wait_for_selector(f"#views button.on[data-view={view}]", timeout=10_000)  # type: ignore[attr-defined]
    p.wait_for_timeout(300)  # type: ignore[attr-defined]
    for sel in present:
        assert count(p, f"#chart {sel}") >= 1, sel
    for sel in absent:
        assert count(p, f"#chart {sel}") == 0, sel
