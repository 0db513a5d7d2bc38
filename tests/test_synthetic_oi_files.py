"""Several OI files are one series: a run continues across two dumps (issue 11, defect 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from bot.synthetic.model import SyntheticParams, build_heatmaps
from bot.synthetic.oi_series import merge_open_interest
from tests.synthetic_fakes import market


def test_two_overlapping_dumps_equal_the_whole_series() -> None:
    candles, oi, _ = market(n=2000, seed=9)
    first, second = oi.iloc[:40], oi.iloc[30:]
    revised = second.copy()
    revised.iloc[:10, 0] *= 1.01            # the newer dump revises the overlap
    merged = merge_open_interest([first, revised])
    assert merged.index.is_monotonic_increasing and not merged.index.duplicated().any()
    assert len(merged) == len(oi)
    assert np.allclose(merged["oi_usd"].to_numpy()[30:40], revised["oi_usd"].to_numpy()[:10])
    whole = build_heatmaps(candles, merge_open_interest([oi.iloc[:40], oi.iloc[30:]]), SyntheticParams(), every="1h")
    ref = build_heatmaps(candles, oi, SyntheticParams(), every="1h")
    assert np.array_equal(whole.long_usd, ref.long_usd)


def test_validate_joins_repeated_oi_files(tmp_path: Path, run_cli) -> None:
    candles, oi, _ = market(n=4000, seed=9)
    c = candles.reset_index(names="ts")
    c["ts"] = c["ts"].astype("int64") // 10**6
    c.to_csv(tmp_path / "c.csv", index=False)
    for name, part in (("a.csv", oi.iloc[:60]), ("b.csv", oi.iloc[50:])):
        p = part.reset_index(names="ts")
        p["ts"] = p["ts"].astype("int64") // 10**6
        p.to_csv(tmp_path / name, index=False)
    bars = candles.resample("4h").agg({"high": "max", "low": "min"})
    liq = pd.DataFrame({"ts": bars.index.astype("int64") // 10**6,
                        "long_usd": 1e9 * (bars["high"] / bars["low"] - 1).to_numpy(),
                        "short_usd": 2e9 * (bars["high"] / bars["low"] - 1).to_numpy()})
    liq.to_csv(tmp_path / "liq.csv", index=False)
    args = ["validate", "--candles", str(tmp_path / "c.csv"), "--liquidations", str(tmp_path / "liq.csv"),
            "--bootstrap", "20", "--warmup-h", "24", "--json"]
    code, out, err = run_cli(*args, "--oi", str(tmp_path / "a.csv"), "--oi", str(tmp_path / "b.csv"))
    assert code == 0, err
    joined = json.loads(out)
    code, out, err = run_cli(*args, "--oi", str(tmp_path / "a.csv"))
    assert code == 0, err
    alone = json.loads(out)
    # the first file alone stops scoring when its OI goes stale; joined, the run continues
    assert joined["bars"] > alone["bars"]
