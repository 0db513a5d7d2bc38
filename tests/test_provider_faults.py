"""Faults of a remote heatmap source, one row per fault: what the bot did (paused, resumed, recorded).

Each row runs the cluster-API source (5 s cadence, stale after 3 cadences) against its fake on
127.0.0.1: a good poll, then the fault for a minute of polls, then the provider healthy again. A
bar closing inside the fault window gets no map once the last good one is stale (entries paused);
the first bar after a good poll has a map again (resumed); a faulty reply never adds a snapshot.
The table is printed (pytest -s) and checked row by row. The same faults against a whole paper
run: ``test_a_paper_run_through_an_outage_pauses_resumes_and_stays_in_parity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

import pytest

from bot.feeds.base import Bar
from bot.feeds.provider_maps import ProviderHeatmaps
from bot.heatmap.providers.sources import make_source
from config.settings import load_settings
from tests.fakes.heatmap_providers import perp_doc
from tests.fakes.http_server import Reply
from tests.provider_kit import SYM, T0, World, world

PATH = "/api/heatmap/BTCUSDT"


@dataclass
class Row:
    fault: str
    polls: int = 0
    fault_kinds: tuple[str, ...] = ()
    paused: bool = False
    resumed: bool = False
    recorded_during_fault: int = 0
    notice: str = ""
    next_poll_after_s: float = 0.0


def _bar(close: datetime, price: float = 60_000.0) -> Bar:
    return Bar(SYM, close - timedelta(minutes=5), close, price, price, price, price, 1.0)


def run_row(w: World, fault: str, monkeypatch: pytest.MonkeyPatch) -> Row:
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LIQBOT_PROVIDERS__TIMEOUT_S", "0.3")
    settings = load_settings(env_file=None)
    source = make_source("perp-api", settings, live=True, sleep=lambda s: None)
    maps = ProviderHeatmaps(source, (SYM,), live=True, stale_after_intervals=3, backoff_initial_s=1.0,
                            backoff_max_s=20.0)
    row = Row(fault)
    t = T0 + timedelta(seconds=1)
    w.clock.set(t)
    maps.poll(t)
    assert len(maps.lines[SYM].snaps) == 1
    good = len(maps.lines[SYM].snaps)
    start = t
    replies = {
        "outage": None,  # the server is unreachable: nothing listens on the port
        "stale map": Reply(body=perp_doc(int(t.timestamp()), "BTCUSDT")),  # same document over and over
        "429 Retry-After": Reply(status=429, body={"detail": "slow down"}, headers={"Retry-After": "30"}),
        "5xx": Reply(status=503, body={"detail": "unavailable"}),
        "timeout": Reply(body=perp_doc(int(t.timestamp()), "BTCUSDT"), delay_s=1.0),
        "malformed body": Reply(body=b'{"success": true, "symbol": "BTCUSDT", "clusters": [{"price_le'),
    }
    reply = replies[fault]
    if fault == "outage":
        source.client.base_url = "http://127.0.0.1:9"  # discard port: connection refused
    else:
        w.server.script(PATH, *([reply] * 200))
    first_next = None
    while t < start + timedelta(seconds=60):
        t = max(t + timedelta(seconds=1), maps.next_poll or t)
        w.clock.set(t)
        maps.poll(t)
        row.polls += 1
        first_next = first_next if first_next is not None else (maps.next_poll - t).total_seconds()
        row.notice = row.notice or (maps.notice or "")
    row.next_poll_after_s = first_next or 0.0
    row.fault_kinds = tuple(sorted(set(maps.faults)))
    row.recorded_during_fault = len(maps.lines[SYM].snaps) - good
    row.paused = maps.snapshot(_bar(start + timedelta(seconds=59))) is None  # last map 58 s old > 15 s
    if maps.stale_symbols():
        row.notice = row.notice or f"{maps.stale_symbols()[0]}: heatmap stale, entries paused"
    # healthy again
    with w.server._lock:
        w.server._scripts.clear()
    if fault == "outage":
        source.client.base_url = w.server.url
    t = maps.next_poll + timedelta(seconds=1)
    w.clock.set(t)
    maps.poll(t)
    row.resumed = maps.snapshot(_bar(t + timedelta(seconds=1))) is not None and maps.notice is None
    return row


FAULTS = ("outage", "stale map", "429 Retry-After", "5xx", "timeout", "malformed body")
EXPECTED_KIND = {"outage": ("unavailable",), "stale map": (), "429 Retry-After": ("rate limited",),
                 "5xx": ("unavailable",), "timeout": ("unavailable",), "malformed body": ("malformed reply",)}


@pytest.fixture()
def w() -> Iterator[World]:
    yield from world(T0)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_table(fault: str, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    row = run_row(w, fault, monkeypatch)
    print(f"| {row.fault} | polls {row.polls} | faults {','.join(row.fault_kinds) or '-'} | next poll after "
          f"{row.next_poll_after_s:.0f} s | paused {row.paused} | resumed {row.resumed} | snapshots added during "
          f"fault {row.recorded_during_fault} | notice {row.notice[:70]!r} |")
    assert row.fault_kinds == EXPECTED_KIND[fault]
    assert row.recorded_during_fault == 0  # nothing half-recorded, nothing stale re-stamped as new
    assert row.paused and row.resumed
    if fault == "429 Retry-After":
        assert row.next_poll_after_s >= 30 and row.polls <= 3  # Retry-After honoured, no hammering
    else:
        assert row.notice and row.polls < 20  # backoff: 1, 2, 4, 8 ... s, not a poll a second
