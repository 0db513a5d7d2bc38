"""The runner loop on the simulator with an injected clock: fast, resumable, guarded."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock, FakeSleeper
from bot.cli.commands.paper import PaperPlan, build_runner
from bot.execution.orders import OrderLeg, OrderState
from bot.feeds.base import BarBatch
from bot.risk import TradingState
from bot.store import Decision, Store
from config.settings import FeedSettings, RiskSettings, load_settings

START = datetime(2025, 1, 6, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def quiet_logs(tmp_path: Path) -> None:
    """Runner logs go to a file, as under the CLI (structlog's default would print to stdout)."""
    from bot.logs import configure_logging
    configure_logging(level="INFO", file=tmp_path / "bot.log", console=False)


def settings(**overrides: Any):  # type: ignore[no-untyped-def]
    return load_settings(env_file=None, **overrides)


def plan(state: Path, hours: float = 12, symbols: tuple[str, ...] = ("BTC/USDT:USDT",), seed: int = 3,
         speed: float = math.inf) -> PaperPlan:
    return PaperPlan(feed="sim", symbols=symbols, speed=speed, duration=timedelta(hours=hours),
                     warmup=timedelta(hours=2), state=state, seed=seed)


def run(state: Path, cfg=None, **kw: Any):  # type: ignore[no-untyped-def]
    clock = FakeClock(START)
    sleeper = FakeSleeper(clock)
    runner = build_runner(cfg or settings(), plan(state, **kw), clock=clock, sleeper=sleeper)
    try:
        result = runner.run()
    finally:
        runner.signal_log.close()
        runner.store.close()
    return runner, result, sleeper


def test_a_day_at_real_time_runs_in_fake_time(tmp_path: Path) -> None:
    runner, result, sleeper = run(tmp_path / "s", hours=24, speed=1.0)
    assert result.steps == 24 * 12 + 24 and not result.stopped
    # trading bars are paced at one bar per 5 minutes of (fake) real time; warmup is not paced
    assert sum(sleeper.slept) == pytest.approx(24 * 12 * 300)
    with Store.open(tmp_path / "s", readonly=True) as store:
        assert store.fills() and store.trades()
        wallet = store.equity_curve()[-1][1]
        trades = store.trades()
        positions = store.positions()
        expected = 10_000.0 + sum(t.net_pnl for t in trades) + sum(p.funding - p.fees for p in positions)
        assert wallet == pytest.approx(expected)
        for t in trades:  # every trade was protected by a stop and closed by one of its legs
            legs = {o.intent.leg for o in store.orders() if o.intent.position_id == t.position_id}
            assert {OrderLeg.ENTRY, OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT} <= legs
        for p in positions:
            working = {o.intent.leg for o in store.open_orders() if o.intent.position_id == p.position_id}
            assert working == {OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT}


def test_stop_request_ends_after_the_step_and_a_restart_finishes_identically(tmp_path: Path) -> None:
    _, full, _ = run(tmp_path / "full")
    clock = FakeClock(START)
    stopper: dict[str, Any] = {}

    def on_step(info: Any) -> None:
        if not info.warmup and info.ts >= START + timedelta(hours=6):
            stopper["runner"].stop()

    runner = build_runner(settings(), plan(tmp_path / "split"), clock=clock, sleeper=FakeSleeper(clock),
                          on_step=on_step)
    stopper["runner"] = runner
    first = runner.run()
    runner.signal_log.close()
    runner.store.close()
    assert first.stopped and first.last_ts == START + timedelta(hours=6)
    _, second, _ = run(tmp_path / "split")
    assert first.steps + second.steps == full.steps
    with Store.open(tmp_path / "full", readonly=True) as a, Store.open(tmp_path / "split", readonly=True) as b:
        assert a.fills() == b.fills() and a.trades() == b.trades() and a.orders() == b.orders()
        assert a.equity_curve() == b.equity_curve()


def test_a_resumed_folder_must_hold_the_same_run(tmp_path: Path) -> None:
    from bot.errors import ConfigError
    run(tmp_path / "s", hours=1)
    with pytest.raises(ConfigError):
        run(tmp_path / "s", hours=1, seed=4)


def test_several_symbols_in_one_loop(tmp_path: Path) -> None:
    _, result, _ = run(tmp_path / "s", hours=6, symbols=("BTC/USDT:USDT", "ETH/USDT:USDT"))
    with Store.open(tmp_path / "s", readonly=True) as store:
        symbols = {d.symbol for d in store.decisions()}
        tracker_states = [store.kv_get(f"decider:{s}") for s in ("BTC/USDT:USDT", "ETH/USDT:USDT")]
    assert symbols == {"BTC/USDT:USDT", "ETH/USDT:USDT"} and all(tracker_states)


def test_drawdown_halts_entries_and_the_halt_persists(tmp_path: Path) -> None:
    cfg = settings(risk=RiskSettings(max_drawdown_pct=0.05, max_daily_loss_pct=50.0))
    run(tmp_path / "s", cfg=cfg)
    with Store.open(tmp_path / "s", readonly=True) as store:
        risk = store.risk_state()
        assert risk is not None and risk["state"] == TradingState.HALTED.value
        halted_at = datetime.fromisoformat(risk["since"].replace("Z", "+00:00"))
        after = [d for d in store.decisions() if d.ts > halted_at]
        assert after and all(d.decision is not Decision.SUBMITTED for d in after)
        assert any(d.decision is Decision.DENIED for d in after)
        assert not [o for o in store.orders() if o.intent.leg is OrderLeg.ENTRY and o.intent.created_at > halted_at]


def test_risk_reset_command(tmp_path: Path, run_cli: Any) -> None:
    cfg = settings(risk=RiskSettings(max_drawdown_pct=0.05, max_daily_loss_pct=50.0))
    run(tmp_path / "s", cfg=cfg, hours=4)
    code, out, _ = run_cli("risk", "show", "--state", str(tmp_path / "s"), "--json")
    assert code == 0 and json.loads(out)["state"] == "HALTED"
    code, out, _ = run_cli("risk", "reset", "--state", str(tmp_path / "s"), "--json")
    assert code == 0 and json.loads(out)["state"] == "ACTIVE" and json.loads(out)["previous"]["state"] == "HALTED"
    code, _, err = run_cli("risk", "reset", "--state", str(tmp_path / "missing"))
    assert code == 2 and "no liqbot store" in err


def test_status_reads_the_store(tmp_path: Path, run_cli: Any) -> None:
    run(tmp_path / "s", hours=6)
    code, out, _ = run_cli("status", "--state", str(tmp_path / "s"), "--json")
    status = json.loads(out)
    with Store.open(tmp_path / "s", readonly=True) as store:
        assert status["trades"] == len(store.trades()) and status["fills"] == len(store.fills())
        assert len(status["open_positions"]) == len(store.positions())
        assert {o["client_id"] for o in status["open_orders"]} == {o.client_id for o in store.open_orders()}
    assert code == 0 and status["equity"] > 0 and status["risk"]["state"] == "ACTIVE"
    code, out, _ = run_cli("status", "--state", str(tmp_path / "s"))
    assert code == 0 and "equity" in out


class _Broken:
    """A heatmap provider that fails for one symbol: a fault in one pipeline."""

    def __init__(self, inner: Any, symbol: str) -> None:
        self.inner, self.symbol = inner, symbol

    def snapshot(self, bar: Any) -> Any:
        if bar.symbol == self.symbol:
            raise RuntimeError("provider down")
        return self.inner.snapshot(bar)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_consecutive_errors_halt_but_other_symbols_keep_running(tmp_path: Path) -> None:
    clock = FakeClock(START)
    runner = build_runner(settings(), plan(tmp_path / "s", hours=2, symbols=("BTC/USDT:USDT", "ETH/USDT:USDT")),
                          clock=clock, sleeper=FakeSleeper(clock))
    runner.heatmaps = _Broken(runner.heatmaps, "ETH/USDT:USDT")
    runner.run()
    runner.signal_log.close()
    assert runner.guard.trading_state is TradingState.HALTED and "consecutive errors" in runner.guard.state.reason
    assert runner.store.kv_get("decider:BTC/USDT:USDT")["tracker"]["last_ts"] is not None
    assert runner.store.kv_get("decider:ETH/USDT:USDT") is None or \
        runner.store.kv_get("decider:ETH/USDT:USDT")["tracker"]["last_ts"] is None
    runner.store.close()


def test_gapped_data_never_feeds_the_strategies(tmp_path: Path) -> None:
    clock = FakeClock(START)
    runner = build_runner(settings(), plan(tmp_path / "s", hours=8), clock=clock, sleeper=FakeSleeper(clock))
    gap_from, gap_to = START + timedelta(hours=4), START + timedelta(hours=5)
    inner = runner.feed.batches

    def with_gap() -> Any:
        for b in inner():
            if not (gap_from < b.close_ts <= gap_to):
                yield b
    runner.feed.batches = with_gap  # type: ignore[method-assign]
    runner.run()
    runner.signal_log.close()
    paused_until = gap_to + timedelta(minutes=5 * runner.settings.feed.resume_after_bars)
    decided = [d.ts for d in runner.store.decisions()]
    runner.store.close()
    assert decided and not [t for t in decided if gap_from < t <= paused_until]


@pytest.mark.parametrize("batch", [1, 500])
def test_an_intent_that_never_reached_the_broker_is_placed_once_on_restart(tmp_path: Path, batch: int) -> None:
    """A crash between the intent commit and the broker call: the restarted step places it, once.

    Committing every step (as live runs do) the intent is in the store, PENDING_SUBMIT; in a batched
    replay it rolls back with its batch (the simulated venue never saw it either), and the restarted
    run replays the batch.
    """
    clock = FakeClock(START)
    cfg = settings(feed=FeedSettings(commit_every_bars=batch))
    runner = build_runner(cfg, plan(tmp_path / "s", hours=8), clock=clock, sleeper=FakeSleeper(clock))
    crashed: dict[str, Any] = {}
    submit = runner.broker.submit

    def crash_once(intent: Any) -> Any:
        if not crashed and intent.leg is OrderLeg.ENTRY:
            crashed["cid"] = intent.client_id
            crashed["at"] = intent.created_at
            raise SystemExit("power cut")  # nothing after the intent commit happens
        return submit(intent)
    runner.manager.broker.submit = crash_once  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        runner.run()
    runner.signal_log.close()
    with Store.open(tmp_path / "s", readonly=True) as store:
        if batch == 1:
            assert store.get_order(crashed["cid"]).state is OrderState.PENDING_SUBMIT  # type: ignore[union-attr]
        else:
            cursor = store.kv_get("cursor")
            assert store.get_order(crashed["cid"]) is None  # rolled back: the store is at the last whole batch
            assert cursor is None or datetime.fromisoformat(cursor) < crashed["at"]
    runner.store.close()
    _, _, _ = run(tmp_path / "s", cfg, hours=8)
    _, _, _ = run(tmp_path / "ref", cfg, hours=8)
    with Store.open(tmp_path / "s", readonly=True) as a, Store.open(tmp_path / "ref", readonly=True) as b:
        assert a.orders() == b.orders() and a.fills() == b.fills()
        assert [e.kind for e in a.events()] == [e.kind for e in b.events()]


def test_batches_are_point_in_time(tmp_path: Path) -> None:
    runner, _, _ = run(tmp_path / "s", hours=1)
    batches: list[BarBatch] = list(runner.feed.batches())
    assert all(b.close_ts == bar.close_ts for b in batches for bar in b.bars)
    with Store.open(tmp_path / "s", readonly=True) as store:
        assert all(d.ts <= datetime.fromisoformat(store.kv_get("cursor")) for d in store.decisions())


def test_a_stop_during_warmup_keeps_the_warmup_done(tmp_path: Path) -> None:
    clock = FakeClock(START)
    holder: dict[str, Any] = {}

    def on_step(info: Any) -> None:
        if info.ts >= START + timedelta(minutes=50):
            holder["r"].stop()

    runner = build_runner(settings(), plan(tmp_path / "s", hours=1), clock=clock, sleeper=FakeSleeper(clock),
                          on_step=on_step)
    holder["r"] = runner
    runner.run()
    runner.signal_log.close()
    assert runner.store.kv_get("cursor") == (START + timedelta(minutes=50)).isoformat()
    runner.store.close()
