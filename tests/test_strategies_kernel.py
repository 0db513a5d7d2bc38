"""The numba strategy kernels: rounding equals Python's, zone rules, empty runs, tie flag, params, reasons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from bot.domain import Bias, Side
from config.settings import StrategySettings
from strategies import kernel as K
from strategies.candidate import BIAS_CODE, row_reason
from strategies.engine import Engine
from strategies.engine_params import engine_params
from strategies.hunt import hunt_reason
from strategies.kernel_round import round_decimals, round_level, round_price_nb
from strategies.levels import cluster_table
from strategies.registry import CODE
from strategies.signal import Direction, StrategyName
from tests.strategy_fakes import T0, cluster, context, magnets, settings, snapshot

P = 100_000.0


@hyp_settings(deadline=None)  # the first call may compile the kernel
@given(st.floats(-1e5, 1e5, allow_nan=False), st.integers(0, 10))
def test_round_decimals_is_pythons_round(x: float, n: int) -> None:
    assert round_decimals(x, n) == round(x, n)


@hyp_settings(deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 8))
def test_round_decimals_on_decimal_ties_is_pythons_round(k: int, n: int) -> None:
    x = (k + 0.5) / 10**n  # as close to a tie as a double gets: the exact decimal value decides
    assert round_decimals(x, n) == round(x, n)


def test_round_price_modes_and_levels() -> None:
    assert round_price_nb(100.123456, 2, -1) == 100.12 and round_price_nb(100.121, 2, 1) == 100.13
    assert round_price_nb(0.1 + 0.2, 1, 1) == 0.3
    assert round_level(89427.0123) == 89427.0 and round_level(3.14159265) == 3.14159


def test_zone_kernel_clips_to_the_zone_and_reads_nan_as_level_or_zero() -> None:
    raw = np.array([[100.0, 90.0, np.nan, np.nan, 5.0, 0, 1, np.nan, np.inf, 0.5],
                    [200.0, 199.9, 201.0, 0.7, np.nan, 1, 1, np.nan, 1e6, np.nan]])
    tab = K.zone_kernel(raw, 0.5)
    assert tab[0, K.T_LOW] == 100.0 * (1 - 0.005) and tab[0, K.T_HIGH] == 100.0
    assert tab[1, K.T_LOW] == 199.9 and tab[1, K.T_HIGH] == 200.0 * 1.005
    assert (tab[0, K.T_STRENGTH], tab[1, K.T_USD], tab[0, K.T_PEAK_USD], tab[1, K.T_PEAK_STRENGTH]) == (0, 0, 0, 0)
    assert math.isnan(tab[0, K.T_AGE_S])


def test_an_empty_table_proposes_nothing() -> None:
    rows, tie = K.engine_kernel(np.empty((0, K.N_TAB)), P, math.nan, 0, 6e9, 1.0, engine_params(StrategySettings()))
    assert rows.shape == (0, K.N_COL) and not tie
    assert Engine(settings()).run(snapshot(P), [], context(P), magnets()).signals == []


def test_engine_params_carry_the_settings_under_their_model_field_names() -> None:
    s = StrategySettings(enabled=["breakout"], min_rr=2.0, cluster_zone_pct=1.5)
    p = engine_params(s)
    assert {name: bool(p["on"][name]) for name in p["on"].dtype.names} == {
        name: name == "breakout" for name in (*StrategySettings.model_fields["enabled"].default_factory(), "cascade")}
    assert (p["limits"]["min_rr"], p["zone_pct"], p["liquidation_hunt"]["min_usd"]) == (2.0, 1.5, 2e6)
    assert p["breakout"]["lookback_bars"] == s.breakout.lookback_bars and p["levels"]["count"] == s.levels.count
    # every numeric field of every strategy's Params model is in its sub-record, by name
    for name in ("liquidation_hunt", "support_resistance", "breakout", "cascade"):
        model = getattr(s, name)
        assert {f: p[name][f] for f in p[name].dtype.names} == model.model_dump()


def _rows(clusters, **over):
    table = cluster_table(clusters, T0)
    p = engine_params(settings(**over))
    rows, tie = K.engine_kernel(table.tab, P, 200.0, BIAS_CODE[Bias.NEUTRAL], 6e9, 1.0, p)
    return table, p, rows, tie


def test_kernel_rows_decide_what_the_engine_emits() -> None:
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.9, price=P)
    down = cluster("l", P * 0.988, Side.LONG, strength=0.7, price=P)
    table, p, rows, tie = _rows([up, down])
    assert not tie
    outcome = {table.clusters[int(r[K.C_CLUSTER])].cluster_id: int(r[K.C_OUTCOME]) for r in rows}
    assert outcome == {"s": K.O_WINNER, "l": K.O_CONFLICT}
    win = rows[rows[:, K.C_OUTCOME] == K.O_WINNER][0]
    assert (win[K.C_STRATEGY], win[K.C_DIRECTION], win[K.C_RANK], win[K.C_MULT]) == (CODE[StrategyName.LIQUIDATION_HUNT], K.D_LONG, 0, 1.5)
    [sig] = Engine(settings()).run(snapshot(P), [up, down], context(P, atr=200.0), magnets()).signals
    assert (sig.entry_price, sig.stop_loss, sig.take_profit) == (win[K.C_ENTRY], win[K.C_STOP], win[K.C_TARGET])
    # the reason is built from the row's numbers alone and matches the engine's text
    assert sig.reason.startswith(row_reason(win, table.tab, P, p))
    assert row_reason(win, table.tab, P, p) == hunt_reason("short", P * 1.012, 0.9, 5e6, 1.2000000000000028, True,
                                                           Direction.LONG, 1.5)


def test_equal_rank_candidates_raise_the_id_tiebreak_flag_and_the_engine_breaks_it_by_id() -> None:
    # two identical short clusters above: same strategy, confidence and rr, only the id differs
    a = cluster("a", P * 1.012, Side.SHORT, strength=0.9, price=P)
    b = cluster("b", P * 1.012, Side.SHORT, strength=0.9, price=P)
    *_, tie = _rows([a, b])
    assert tie
    result = Engine(settings()).run(snapshot(P), [b, a], context(P, atr=200.0), magnets())
    [sig] = result.signals
    [lost] = result.rejected
    assert sorted([sig.id, lost.candidate.id]) == [sig.id, lost.candidate.id]  # the smaller id wins


@pytest.mark.parametrize("bias,conf", [(Bias.BEARISH, 0.72), (Bias.BULLISH, 0.9)])
def test_the_bias_code_scales_confidence_against_the_trade(bias: Bias, conf: float) -> None:
    up = cluster("s", P * 1.012, Side.SHORT, strength=0.9, price=P)
    table = cluster_table([up], T0)
    rows = K.candidates_kernel(table.tab, P, 200.0, BIAS_CODE[bias], engine_params(settings()))
    assert rows[0, K.C_CONFIDENCE] == conf


def test_levels_kernel_lists_nearest_first() -> None:
    cl = [cluster(f"l{k}", P * (1 - 0.01 * k), Side.LONG, strength=0.5, price=P) for k in range(1, 4)]
    cl += [cluster(f"s{k}", P * (1 + 0.01 * k), Side.SHORT, strength=0.5, price=P) for k in range(1, 4)]
    sup, res = K.levels_kernel(cluster_table(cl, T0).tab, P, engine_params(settings()))
    assert sup.tolist() == sorted(sup.tolist(), reverse=True) and len(sup) == 3 and sup[0] == P * 0.99
    assert res.tolist() == sorted(res.tolist()) and res[0] == P * 1.01
