"""The registry is the one list of strategies: codes, generated dispatch, reasons, prescreen, buffer, cooldown key."""

from __future__ import annotations

import numpy as np

from backtest.fused_replay import cooldown_key
from strategies import dispatch
from strategies.registry import CODE, N_CODES, SPECS, STRATEGIES, dispatch_source, main, spec_of_code
from strategies.signal import StrategyName


def test_the_generated_dispatch_is_current() -> None:
    # regenerate with `python -m strategies.registry` after adding or reordering a strategy
    assert open(dispatch.__file__, encoding="utf-8").read() == dispatch_source()
    assert main(["--check"]) == 0


def test_codes_are_the_registry_order_and_every_strategy_name_has_a_spec() -> None:
    assert tuple(s.name for s in SPECS) == tuple(StrategyName)
    assert [CODE[s.name] for s in SPECS] == list(range(N_CODES)) and dispatch.N_STRATEGIES == N_CODES
    assert all(spec_of_code(CODE[name]) is spec for name, spec in STRATEGIES.items())


def test_the_candidate_buffer_is_the_sum_of_the_specs_bounds() -> None:
    assert dispatch.ROWS_PER_CLUSTER == sum(s.rows_per_cluster for s in SPECS)
    assert dispatch.ROWS_FIXED == sum(s.rows_fixed for s in SPECS)


def test_the_cooldown_key_is_unique_per_strategy_direction_and_cluster_for_any_number_of_codes() -> None:
    codes, longs, clusters = np.meshgrid(np.arange(N_CODES), [0, 1], np.arange(50), indexing="ij")
    keys = cooldown_key(codes.ravel(), longs.ravel(), clusters.ravel())
    assert np.unique(keys).size == keys.size
