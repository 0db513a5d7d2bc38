"""The Signal model: invariants, deterministic ids, JSON round trip, and the exported schema."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from strategies.signal import (SCHEMA_PATH, Signal, exact_risk_reward, export_schema, price_decimals, round_price,
                               schema_text, signal_id, Direction)
from tests.conftest import REPO

TS = datetime(2025, 3, 8, 14, 35, tzinfo=timezone.utc)


def doc(**changes: Any) -> dict[str, Any]:
    """The docs/architecture.md §4 example, with a risk/reward its prices really give."""
    d = {"schema_version": 1, "timestamp": "2025-03-08T14:35:00Z", "symbol": "BTC/USDT:USDT",
         "strategy": "liquidation_hunt", "signal": "LONG",
         "entry_price": 89175.1, "stop_loss": 88620.0, "take_profit": 89980.0, "risk_reward": 1.45,
         "confidence": 0.85, "position_size": {"base_usd": 1000.0, "multiplier": 1.5, "notional_usd": 1500.0},
         "reason": "short liquidation cluster at 89,427 (strength 0.85, $3.5M) 0.28% above",
         "cluster_data": {"cluster_id": "c-1", "price_level": 89427.01, "side": "short", "strength": 0.85,
                          "open_interest": 3500000.0, "distance_from_price": 0.28, "leverage_tier": 50},
         "support_levels": [88750.0, 88400.0], "resistance_levels": [89427.01, 89650.0],
         "market_sentiment": {"sentiment": "BULLISH_BIAS", "long_short_ratio": 1.15, "total_oi_usd": 5.2e9,
                              "magnet_asymmetry": 1.8,
                              "cascade_up": {"clusters": 2, "usd": 5.1e6, "first_price": 89427.01,
                                             "end_price": 89650.0},
                              "cascade_down": None},
         "heatmap": {"source": "synthetic", "snapshot_ts": "2025-03-08T14:35:00Z"}}
    d.update(changes)
    if "id" not in d:
        d["id"] = signal_id(d["symbol"], d["strategy"], datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00")),
                            d["cluster_data"]["cluster_id"])
    return d


def short_doc() -> dict[str, Any]:
    return doc(signal="SHORT", stop_loss=89730.2, take_profit=88370.3,
               risk_reward=round(exact_risk_reward(Direction.SHORT, 89175.1, 89730.2, 88370.3), 2))


def test_the_design_example_validates_and_round_trips() -> None:
    s = Signal.model_validate(doc())
    assert s.to_json_dict() == {**doc(), "cluster_data": {**doc()["cluster_data"], "leverage_tier": 50.0}}
    # a signal written before the cascade read existed still loads (both sides read as unknown)
    old = doc()
    old["market_sentiment"] = {k: v for k, v in old["market_sentiment"].items() if not k.startswith("cascade")}
    assert Signal.model_validate(old).market_sentiment.cascade_up is None
    assert Signal.model_validate_json(s.model_dump_json()) == s
    assert s.to_json_dict()["timestamp"] == "2025-03-08T14:35:00Z"
    assert Signal.model_validate(short_doc()).signal == Direction.SHORT


def test_the_copied_example_that_claims_rr_2_5_for_a_0_39_ratio_is_refused() -> None:
    with pytest.raises(ValidationError, match="risk_reward 2.5 does not match"):
        Signal.model_validate(doc(stop_loss=87386.99, take_profit=89874.15, risk_reward=2.5))
    assert Signal.model_validate(doc(stop_loss=87386.99, take_profit=89874.15, risk_reward=0.39))


@pytest.mark.parametrize("changes,match", [
    (dict(stop_loss=89200.0), "LONG needs"),
    (dict(take_profit=89100.0), "LONG needs"),
    (dict(entry_price=float("nan")), "finite"),
    (dict(entry_price=float("inf")), "finite"),
    (dict(stop_loss=-1.0), "greater than 0"),
    (dict(confidence=1.01), "less than or equal to 1"),
    (dict(confidence=-0.1), "greater than or equal to 0"),
    (dict(risk_reward=1.46), "does not match"),
    (dict(id="sig-made-up"), "deterministic id"),
    (dict(schema_version=2), "1"),
    (dict(extra_field=1), "Extra inputs"),
    (dict(position_size={"base_usd": 1000.0, "multiplier": 1.5, "notional_usd": 1400.0}), "notional_usd"),
])
def test_invariants_are_enforced(changes: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Signal.model_validate(doc(**changes))


def test_short_geometry_is_the_mirror() -> None:
    with pytest.raises(ValidationError, match="SHORT needs"):
        Signal.model_validate({**short_doc(), "stop_loss": 89000.0})


def test_signal_is_frozen() -> None:
    s = Signal.model_validate(doc())
    with pytest.raises(ValidationError):
        s.entry_price = 1.0  # type: ignore[misc]


def test_ids_are_deterministic_and_distinct() -> None:
    a = signal_id("BTC/USDT:USDT", "liquidation_hunt", TS, "c-1")
    assert a == signal_id("BTC/USDT:USDT", "liquidation_hunt", TS, "c-1")
    assert len({a, signal_id("ETH/USDT:USDT", "liquidation_hunt", TS, "c-1"),
                signal_id("BTC/USDT:USDT", "breakout", TS, "c-1"),
                signal_id("BTC/USDT:USDT", "liquidation_hunt", TS.replace(minute=40), "c-1"),
                signal_id("BTC/USDT:USDT", "liquidation_hunt", TS, "c-2")}) == 5


@pytest.mark.parametrize("price,decimals", [(89175.1, 1), (3012.55, 2), (0.51234, 6), (1.0, 5), (2.5e6, -1)])
def test_tick_has_six_significant_digits(price: float, decimals: int) -> None:
    assert price_decimals(price) == decimals


def test_directed_rounding_never_improves_an_exit() -> None:
    assert round_price(100.123456, 2, up=False) == 100.12
    assert round_price(100.121, 2, up=True) == 100.13
    assert round_price(100.12, 2, up=True) == 100.12  # already on the tick
    assert round_price(0.1 + 0.2, 1, up=True) == 0.3  # float noise is not a tick
    assert math.isinf(exact_risk_reward(Direction.LONG, 100.0, 101.0, 102.0))


def test_exported_schema_matches_the_model() -> None:
    """Fails when the model changes without `python -m strategies.signal --export`."""
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == export_schema()
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()


def test_schema_accepts_signals_and_refuses_broken_ones() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    validator.validate(doc())
    validator.validate(short_doc())
    missing_reason = {k: v for k, v in doc().items() if k != "reason"}
    for bad in (doc(confidence=2), doc(strategy="scalp", id="sig-x"), doc(entry_price=0), missing_reason):
        assert not validator.is_valid(bad)


def test_export_script_writes_the_schema(tmp_path) -> None:
    out = tmp_path / "schema.json"
    proc = subprocess.run([sys.executable, "-m", "strategies.signal", "--export", str(out)], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == schema_text()
