"""Property tests: for random snapshots, clusters and market contexts, every emitted signal keeps
the contract (invariants, exported schema, honest exits), and equal inputs give equal outputs."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st, target

from bot.domain import Bias, Side
from strategies.engine import Engine, EngineResult
from strategies.filters import Rule
from strategies.levels import cluster_table
from strategies.signal import Direction, Signal, StrategyName, export_schema
from tests.strategy_fakes import T0, cluster, context, magnets, settings, snapshot

VALIDATOR = jsonschema.Draft202012Validator(export_schema())


@st.composite
def market(draw: st.DrawFn) -> dict:
    """Keyword arguments that rebuild one engine input from scratch (so equality is by value)."""
    price = draw(st.floats(0.01, 2e5, allow_nan=False).map(lambda p: float(f"{p:.6g}")))
    specs = []
    for k in range(draw(st.integers(0, 12))):
        # mostly near price and strong, so that most examples emit something
        offset = draw(st.one_of(st.floats(-0.025, 0.025), st.floats(-0.06, 0.06)).filter(lambda x: abs(x) > 1e-4))
        consistent = draw(st.booleans()) or draw(st.booleans())
        broken = draw(st.one_of(st.none(), st.none(), st.floats(0, 30)))
        # a live cluster sits on its own side of price; a broken one was crossed, so it is on the other
        natural = (Side.SHORT if offset > 0 else Side.LONG) if broken is None else (
            Side.LONG if offset > 0 else Side.SHORT)
        side = natural if consistent else draw(st.sampled_from(list(Side)))
        specs.append(dict(cid=f"c{k}", level=price * (1 + offset), side=side,
                          strength=draw(st.one_of(st.floats(0.5, 1), st.floats(0, 1))),
                          usd=draw(st.one_of(st.floats(2e6, 2e7), st.floats(0, 2e7))),
                          width_pct=draw(st.one_of(st.floats(0, 0.3), st.floats(0, 1))),
                          active=broken is None, broken_min_ago=broken,
                          price=price, leverage=draw(st.sampled_from([5.0, 10.0, 25.0, 50.0, 100.0]))))
    atr = draw(st.one_of(st.none(), st.floats(0, 0.005).map(lambda f: f * price),
                         st.floats(0, 0.03).map(lambda f: f * price)))
    return dict(price=price, clusters=specs, atr=atr,
                oi=draw(st.one_of(st.floats(0, 1e10), st.just(math.nan))),
                ls=draw(st.floats(0.2, 5.0)), bias=draw(st.sampled_from(list(Bias))),
                asym=draw(st.one_of(st.floats(0, 10), st.just(math.inf))),
                min_rr=draw(st.sampled_from([0.5, 1.0, 1.5, 1.5, 3.0])))


def run(m: dict) -> EngineResult:
    engine = Engine(settings(min_rr=m["min_rr"]))
    return engine.run(snapshot(m["price"]), [cluster(**c) for c in m["clusters"]],
                      context(m["price"], oi=m["oi"], ls=m["ls"], atr=m["atr"]), magnets(m["bias"], m["asym"]))


def as_data(result: EngineResult) -> tuple[list[dict], list[dict]]:
    return [s.to_json_dict() for s in result.signals], [r.to_dict() for r in result.rejected]


@given(market())
@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_emitted_signal_keeps_the_contract(m: dict) -> None:
    result = run(m)
    target(float(len(result.signals)))
    clusters = [cluster(**c) for c in m["clusters"]]
    assert len(result.signals) <= 1  # one position per symbol
    assert not [r for r in result.rejected if r.rule == Rule.INVALID]
    for s in result.signals:
        doc = s.to_json_dict()
        VALIDATOR.validate(doc)
        assert Signal.model_validate(json.loads(json.dumps(doc))) == s
        e, sl, tp = s.entry_price, s.stop_loss, s.take_profit
        assert all(math.isfinite(x) and x > 0 for x in (e, sl, tp))
        assert (sl < e < tp) if s.signal == Direction.LONG else (tp < e < sl)
        assert abs(s.risk_reward - abs(tp - e) / abs(e - sl)) <= 0.005 + 1e-9
        assert s.risk_reward >= m["min_rr"]
        assert 0 <= s.confidence <= 1
        # the stop is never inside a live cluster's zone (its range, capped around its level)
        zones = cluster_table(clusters, T0, settings().cluster_zone_pct)
        assert not np.any(zones.active & (zones.low <= sl) & (sl <= zones.high))
        cause = next(c for c in clusters if c.cluster_id == s.cluster_data.cluster_id)
        if s.strategy == StrategyName.LIQUIDATION_HUNT:
            # the take-profit comes before the hunted cluster's weighted level
            assert tp < cause.price_level if s.signal == Direction.LONG else tp > cause.price_level
        assert s.position_size.notional_usd == pytest.approx(s.position_size.base_usd * s.position_size.multiplier)


@given(market())
@hyp_settings(max_examples=150, deadline=None)
def test_equal_inputs_give_equal_outputs(m: dict) -> None:
    assert as_data(run(m)) == as_data(run(m))


@given(market())
@hyp_settings(max_examples=100, deadline=None)
def test_candidate_order_does_not_change_the_result(m: dict) -> None:
    reordered = dict(m, clusters=list(reversed(m["clusters"])))
    assert as_data(run(m))[0] == as_data(run(reordered))[0]


def test_ids_depend_on_time_strategy_and_cluster() -> None:
    p = 100.0
    clusters = [cluster("s1", 101.2, Side.SHORT, price=p, strength=0.9)]
    a = Engine(settings(min_rr=0.1)).run(snapshot(p), clusters, context(p, atr=0.2), magnets())
    later = T0 + timedelta(minutes=5)
    b = Engine(settings(min_rr=0.1)).run(snapshot(p, ts=later), [cluster("s1", 101.2, Side.SHORT, price=p,
                                                                          strength=0.9, now=later)],
                                         context(p, atr=0.2, ts=later), magnets())
    assert a.signals and b.signals
    assert a.signals[0].id != b.signals[0].id
    assert a.signals[0].id == Engine(settings(min_rr=0.1)).run(snapshot(p), clusters, context(p, atr=0.2),
                                                               magnets()).signals[0].id
