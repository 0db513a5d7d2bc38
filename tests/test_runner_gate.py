"""The data-quality gate: malformed bars never reach anything, gaps and stale data pause entries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.feeds.base import Bar
from bot.feeds.quality import QualityGate

T0 = datetime(2025, 1, 6, tzinfo=timezone.utc)
TF = timedelta(minutes=5)


def bar(i: int, **kw: float) -> Bar:
    base = dict(open=100.0, high=101.0, low=99.0, close=100.5, volume=1.0)
    base.update(kw)
    return Bar("X", T0 + i * TF, T0 + (i + 1) * TF, **base)  # type: ignore[arg-type]


def gate() -> QualityGate:
    return QualityGate(TF, stale_after_s=900, resume_after=2)


def test_contiguous_fresh_bars_trade() -> None:
    g = gate()
    verdicts = [g.check(bar(i), T0 + (i + 1) * TF) for i in range(3)]
    assert all(v.valid and v.trade for v in verdicts)


def test_malformed_bars_are_dropped() -> None:
    g = gate()
    for bad in (dict(close=float("nan")), dict(high=99.5), dict(low=0.0), dict(volume=-1.0)):
        v = g.check(bar(0, **bad), T0 + TF)
        assert not v.valid and not v.trade and v.reason
    assert g.check(bar(0), T0 + TF).trade  # the gate state did not move on a bad bar


def test_duplicates_and_out_of_order_bars_are_dropped() -> None:
    g = gate()
    g.check(bar(5), T0 + 6 * TF)
    assert not g.check(bar(5), T0 + 6 * TF).valid
    assert not g.check(bar(4), T0 + 6 * TF).valid


def test_a_gap_pauses_entries_until_enough_contiguous_bars() -> None:
    g = gate()
    g.check(bar(0), T0 + TF)
    after = [g.check(bar(i), T0 + (i + 1) * TF) for i in (4, 5, 6)]
    assert [v.valid for v in after] == [True, True, True]
    assert [v.trade for v in after] == [False, False, True]
    assert "gap of 3 bar(s)" in (after[0].reason or "")


def test_stale_bars_move_the_venue_but_not_the_strategies() -> None:
    g = gate()
    v = g.check(bar(0), T0 + TF + timedelta(seconds=901))
    assert v.valid and not v.trade and "stale" in (v.reason or "")


def test_state_round_trip() -> None:
    g = gate()
    g.check(bar(0), T0 + TF)
    h = gate()
    h.restore(g.state())
    assert h.state() == g.state()
    assert not h.check(bar(0), T0 + TF).valid
