"""The shared decision step: cooldown gate, ATR, state round trip (fake engine, hand-made snapshots)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.decide import CooldownGate, Decider, Prescreen, atr_of
from bot.domain import Side, iso
from bot.errors import DataError
from config.settings import Settings
from strategies.engine import Engine, EngineResult
from strategies.signal import Signal, signal_id
from tests.strategy_fakes import cluster, context, magnets, snapshot

GOLDEN = Path(__file__).parent / "golden" / "liquidation_hunt.json"
T0 = datetime(2025, 3, 8, 14, 35, tzinfo=timezone.utc)
BAR = timedelta(minutes=5)


def signal_at(ts: datetime, cluster_id: str = "short-89427", strategy: str = "liquidation_hunt",
              direction: str = "LONG") -> Signal:
    """The golden hunt signal moved to ``ts`` (and another cluster / strategy / direction)."""
    d = json.loads(GOLDEN.read_text())
    d["timestamp"] = d["heatmap"]["snapshot_ts"] = iso(ts)
    d["strategy"] = strategy
    d["cluster_data"]["cluster_id"] = cluster_id
    if direction == "SHORT":
        d["signal"], d["stop_loss"], d["take_profit"] = "SHORT", 89385.1, 88195.3
    d["id"] = signal_id(d["symbol"], strategy, ts, cluster_id)
    return Signal.model_validate(d)


def settings(cooldown: int = 12) -> Settings:
    s = Settings()
    return s.model_copy(update={"strategies": s.strategies.model_copy(update={"cooldown_bars": cooldown})})


class EchoEngine:
    """A fake engine: one signal per bar for each configured cluster, at the snapshot's time (the
    hand-made snapshots hold no qualifying cluster, so these tests switch the prescreen off)."""

    def __init__(self, clusters: tuple[str, ...] = ("short-89427",)) -> None:
        self.clusters = clusters
        self.contexts: list[Any] = []

    def run(self, snap: Any, clusters: Any, ctx: Any, magnets: Any) -> EngineResult:
        self.contexts.append(ctx)
        return EngineResult(signals=[signal_at(snap.ts, c) for c in self.clusters])


def test_gate_emits_a_lasting_setup_once_per_cooldown() -> None:
    gate = CooldownGate(12, 300.0)
    emitted = [k for k in range(40) if gate.admit([signal_at(T0 + k * BAR)])[0]]
    assert emitted == [0, 13, 26, 39]


def test_gate_keys_on_strategy_cluster_and_direction() -> None:
    gate = CooldownGate(12, 300.0)
    assert len(gate.admit([signal_at(T0)])[0]) == 1
    later = T0 + BAR
    others = [signal_at(later, cluster_id="other"), signal_at(later, strategy="breakout"),
              signal_at(later, direction="SHORT"), signal_at(later)]
    kept, dropped = gate.admit(others)
    assert kept == others[:3] and dropped == others[3:]


def test_gate_zero_bars_lets_everything_through() -> None:
    gate = CooldownGate(0, 300.0)
    assert all(gate.admit([signal_at(T0 + k * BAR)])[0] for k in range(5))
    with pytest.raises(DataError):
        CooldownGate(-1, 300.0)


def test_atr_is_the_mean_true_range_of_the_window() -> None:
    assert atr_of([]) is None and atr_of([(10.0, 9.0, 9.5)]) is None
    rows = [(10.0, 9.0, 9.5), (10.5, 9.8, 10.2), (10.0, 8.0, 8.5)]
    assert atr_of(rows) == pytest.approx(((10.5 - 9.5) + (10.2 - 8.0)) / 2)


def run_bars(decider: Decider, start: int, stop: int) -> list[tuple[int, list[str], int]]:
    out = []
    for k in range(start, stop):
        price = 89_000.0 + 10.0 * (k % 7)
        d = decider.step(snapshot(price, ts=T0 + k * BAR), price + 30.0, price - 30.0, price, oi_usd=6e9,
                         ls_ratio=1.1, trade=k >= 3)
        out.append((k, [s.id for s in d.signals], len(d.suppressed)))
    return out


def test_decider_runs_the_engine_only_on_trading_bars_and_gates_repeats() -> None:
    engine = EchoEngine()
    decider = Decider(settings(12), "BTC/USDT:USDT", 300.0, engine=engine, prescreen=False)
    rows = run_bars(decider, 0, 30)
    assert [k for k, ids, _ in rows if ids] == [3, 16, 29]
    assert decider.suppressed == 27 - 3 and len(engine.contexts) == 27
    ctx = engine.contexts[0]
    assert (ctx.total_oi_usd, ctx.long_short_ratio) == (6e9, 1.1)
    assert ctx.atr == pytest.approx(60.0, rel=0.5)  # the ATR window advanced through the warmup bars


def echo_decider(cooldown: int = 5) -> Decider:
    return Decider(settings(cooldown), "BTC/USDT:USDT", 300.0, engine=EchoEngine(("a", "b")), prescreen=False)


def test_decider_state_round_trip_resumes_exactly() -> None:
    whole = run_bars(echo_decider(), 0, 40)
    first = echo_decider()
    head = run_bars(first, 0, 17)
    state = json.loads(json.dumps(first.state()))
    resumed = Decider.from_state(settings(5), "BTC/USDT:USDT", 300.0, state, engine=EchoEngine(("a", "b")),
                                 prescreen=False)
    assert head + run_bars(resumed, 17, 40) == whole
    assert resumed.tracker.state() == Decider.from_state(settings(5), "BTC/USDT:USDT", 300.0,
                                                         resumed.state()).tracker.state()
    with pytest.raises(DataError):
        Decider.from_state(settings(5), "ETH/USDT:USDT", 300.0, state)


# --- the engine prescreen: when it says "nothing can fire", the engine proposes nothing --------

PRICE = 90_000.0
cluster_args = st.tuples(
    st.floats(-4.0, 4.0), st.sampled_from([Side.LONG, Side.SHORT]), st.floats(0.0, 1.0), st.floats(0.0, 8e6),
    st.one_of(st.none(), st.floats(0.0, 40.0)))


@hsettings(max_examples=300, deadline=None)
@given(st.lists(cluster_args, min_size=0, max_size=8))
def test_prescreen_never_hides_a_candidate(rows: list[tuple[float, Side, float, float, float | None]]) -> None:
    clusters = [cluster(f"c{i}", PRICE * (1 + pct / 100), side, strength=strength, usd=usd, broken_min_ago=broken,
                        price=PRICE) for i, (pct, side, strength, usd, broken) in enumerate(rows)]
    s = Settings().strategies
    if not Prescreen(s).may_fire(clusters, PRICE, T0):
        assert Engine(s).candidates(snapshot(PRICE), clusters, context(PRICE, atr=120.0), magnets()) == []


def test_prescreen_lets_a_qualifying_cluster_through() -> None:
    s = Settings().strategies
    near = [cluster("hunt", PRICE * 1.01, Side.SHORT, strength=0.9, usd=5e6, price=PRICE)]
    far = [cluster("far", PRICE * 1.08, Side.SHORT, strength=0.9, usd=5e6, price=PRICE)]
    assert Prescreen(s).may_fire(near, PRICE, T0)
    assert not Prescreen(s).may_fire(far, PRICE, T0)
    unknown = s.model_copy(update={"enabled": ["liquidation_hunt", "some_future_strategy"]})
    assert Prescreen(unknown).may_fire(far, PRICE, T0)  # a strategy it cannot reason about: never skip
