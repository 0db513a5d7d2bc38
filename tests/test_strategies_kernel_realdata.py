"""The kernel engine on 3 days of real BTC 5m bars reproduces the pre-numba engine, id for id.

The pinned figures were verified against the Python engine of commit be7a758 (signals, rejections,
their rules and order, prices and reasons compared JSON for JSON on 2025-02-01..04 and 03-01..15).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from config.settings import load_settings
from tests.test_engine_realdata import replay


@pytest.mark.shared_data
def test_three_days_of_real_data_give_the_verified_signals_and_rejections(shared_data: Path) -> None:
    run = replay(shared_data, "2025-02-01", "2025-02-04", load_settings(env_file=None))
    ids = [s.id for s in run.signals]
    rejected = [(r.candidate.id, r.rule.value) for r in run.rejected]
    # re-pinned by issue 11 (synthetic window +-15 % -> +-22 %, strength reference 0.99 of 20,000,
    # churn 1.0 -> 0.3): the maps changed, so the signals did; the verified pre-fix pins were
    # (864, 398, 369), hunt 320 / breakout 55 / s&r 23, min_rr 348 / conflict 21, hash 0504492045e529b2
    assert (run.bars, len(ids), len(rejected)) == (864, 256, 144)
    assert dict(Counter(s.strategy.value for s in run.signals)) == {
        "liquidation_hunt": 183, "breakout": 59, "support_resistance": 14}
    assert dict(Counter(rule for _, rule in rejected)) == {"min_rr": 103, "conflict": 31, "conflict_cancel": 10}
    assert hashlib.sha256(json.dumps([ids, rejected]).encode()).hexdigest()[:16] == "2f1e074a58e455ac"
