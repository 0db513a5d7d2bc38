"""Golden files of the Signal JSON, one per strategy (tests/golden/<strategy>.json).

Regenerate only on purpose: ``LIQBOT_REGEN_GOLDEN=1 python -m pytest tests/test_engine_golden.py``,
then review the diff: a golden change is a change of the contract every consumer reads.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import jsonschema
import pytest

from bot.domain import Bias, Side
from strategies.engine import Engine
from strategies.signal import Signal, StrategyName, export_schema
from tests.conftest import REPO
from tests.strategy_fakes import cluster, context, magnets, settings, snapshot

GOLDEN = REPO / "tests" / "golden"
P = 89175.1


def hunt() -> Signal:
    clusters = [cluster("short-89427", 90245.2, Side.SHORT, strength=0.85, usd=3.5e6, price=P, leverage=50),
                cluster("long-88400", 88400.0, Side.LONG, strength=0.45, usd=2.1e6, price=P, leverage=25)]
    result = Engine(settings(enabled=["liquidation_hunt", "oi_sizing"])).run(
        snapshot(P), clusters, context(P, oi=5.2e9, ls=1.15, atr=140.0), magnets(Bias.BULLISH, 1.8))
    [sig] = result.signals
    return sig


def support_resistance() -> Signal:
    clusters = [cluster("long-88750", 88750.0, Side.LONG, strength=0.7, usd=4e6, price=P, leverage=50),
                cluster("short-90600", 90600.0, Side.SHORT, strength=0.5, usd=2.5e6, price=P, leverage=25)]
    result = Engine(settings(enabled=["support_resistance", "oi_sizing"])).run(
        snapshot(P), clusters, context(P, oi=3e9, ls=0.7), magnets(Bias.NEUTRAL, 0.9))
    [sig] = result.signals
    return sig


def breakout() -> Signal:
    clusters = [cluster("long-89400", 89400.0, Side.LONG, usd=6e6, strength=0.8, broken_min_ago=5, leverage=100),
                cluster("long-87300", 87300.0, Side.LONG, strength=0.6, usd=3e6, price=P, leverage=25)]
    result = Engine(settings(enabled=["breakout", "oi_sizing"])).run(
        snapshot(P), clusters, context(P, oi=8e8, ls=1.4), magnets(Bias.BEARISH, 0.5))
    [sig] = result.signals
    return sig


CASES: dict[StrategyName, Callable[[], Signal]] = {
    StrategyName.LIQUIDATION_HUNT: hunt,
    StrategyName.SUPPORT_RESISTANCE: support_resistance,
    StrategyName.BREAKOUT: breakout,
}


@pytest.mark.parametrize("name", list(CASES))
def test_signal_json_matches_the_golden_file(name: StrategyName) -> None:
    sig = CASES[name]()
    assert sig.strategy == name
    text = json.dumps(sig.to_json_dict(), indent=2) + "\n"
    path = GOLDEN / f"{name.value}.json"
    if os.environ.get("LIQBOT_REGEN_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}: run with LIQBOT_REGEN_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8")
    golden = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(golden, export_schema())
    assert Signal.model_validate(golden) == sig
