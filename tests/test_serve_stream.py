"""The live stream: new rows written by a bot (a writer on the same state) reach an SSE client."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.serve.server import serve_in_thread
from bot.risk import RiskState, TradingState
from bot.store import Decision, SignalDecision, StepWrite, Store
from tests.serve_kit import SYM, app_for


def read_events(response: httpx.Response, want: int, out: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Parse SSE frames until ``want`` events arrived."""
    event, ident, data = "", "", []
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and data:
            out.append((event, ident, json.loads("".join(data))))
            event, ident, data = "", "", []
            if len(out) >= want:
                return


def test_new_signal_fill_and_risk_rows_are_streamed(state_copy: Path) -> None:
    with Store.open(state_copy, readonly=True) as ro:
        last = ro.decisions()[-1]
        fill = ro.fills()[-1]
    new = SignalDecision("sig-streamed-0001", last.ts + timedelta(minutes=5), SYM, last.strategy, last.direction,
                         Decision.DENIED, "max open positions")
    events: list[tuple[str, str, dict[str, Any]]] = []
    with serve_in_thread(app_for(state_copy, poll_s=0.05)) as base, \
            httpx.Client(base_url=base, timeout=httpx.Timeout(20.0)) as http, \
            http.stream("GET", "/api/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=read_events, args=(response, 2, events))
        reader.start()
        with Store.open(state_copy) as writer:  # the bot: a writer holding the folder's lock
            writer.commit_step(StepWrite(ts=new.ts, decisions=[new],
                                         risk=RiskState(TradingState.HALTED, "test halt", new.ts).to_record()))
            reader.join(15)
    kinds = {e[0]: e for e in events}
    assert set(kinds) == {"signal", "risk"}, events
    sig = kinds["signal"][2]
    assert (sig["signal_id"], sig["decision"], sig["decision_reason"]) == ("sig-streamed-0001", "denied",
                                                                            "max open positions")
    assert kinds["risk"][2]["state"] == "HALTED"
    # the event id resumes the stream: nothing before it is sent again
    resume = events[-1][1]
    assert resume.count(".") == 4
    assert fill.trade_id  # the fixture has fills: the FILL cursor is past them, so none was re-sent


def test_resume_from_an_event_id_sends_what_came_after(state_copy: Path) -> None:
    from bot.serve.state import Feed, StateReader
    cursors = StateReader(state_copy).cursors()
    back = dict(cursors)
    back[Feed.SIGNAL] -= 2  # pretend the client saw all but the last two signals
    since = ".".join(str(back[f]) for f in Feed)
    events: list[tuple[str, str, dict[str, Any]]] = []
    with serve_in_thread(app_for(state_copy, poll_s=0.05)) as base, \
            httpx.Client(base_url=base, timeout=httpx.Timeout(20.0)) as http, \
            http.stream("GET", "/api/stream", headers={"last-event-id": since}) as response:
        read_events(response, 2, events)
    with Store.open(state_copy, readonly=True) as ro:
        newest = [r[0] for r in ro.conn.execute("SELECT signal_id FROM signal_orders ORDER BY rowid DESC LIMIT 2")]
    assert [e[0] for e in events] == ["signal", "signal"]
    assert [e[2]["signal_id"] for e in events] == newest[::-1]
