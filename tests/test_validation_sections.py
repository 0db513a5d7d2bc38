"""The report card's sections on constructed inputs whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.validation.bootstrap import DAY_NS, block_ci, day_blocks
from bot.validation.breaks import breaks_section
from bot.validation.direction import direction_samples, direction_section, fit_tilt
from bot.validation.history import ClusterHistory, Magnets
from bot.validation.mapstats import map_section, settled_from
from bot.validation.outcomes import FirstHit, close_after, first_hit
from bot.validation.scale import scale_section
from bot.validation.touch import touch_section

HOUR = 3600 * 10**9
BAR = 300 * 10**9
T0 = int(pd.Timestamp("2025-01-01", tz="UTC").value)


def test_day_blocks_resample_whole_days() -> None:
    ts = T0 + np.array([0, HOUR, DAY_NS + HOUR, 2 * DAY_NS, 2 * DAY_NS + 5 * HOUR, 2 * DAY_NS + 6 * HOUR])
    blocks = day_blocks(ts)
    assert blocks.days == 3 and blocks.starts.tolist() == [0, 2, 3, 6]
    draw = blocks.resample(np.random.default_rng(1))
    day = ts[draw] // DAY_NS
    # a drawn day comes with all its samples
    for d, count in zip(*np.unique(day, return_counts=True)):
        assert count % int((ts // DAY_NS == d).sum()) == 0
    assert block_ci(ts[:2], lambda i: 0.0) is None  # one day: no interval


def test_block_ci_covers_the_mean_of_iid_days() -> None:
    rng = np.random.default_rng(3)
    ts = T0 + np.arange(24 * 60) * HOUR
    x = rng.normal(0.5, 1.0, ts.size)
    lo, hi = block_ci(ts, lambda i: float(x[i].mean()))
    assert lo < 0.5 < hi and hi - lo < 0.25


def _market(up: np.ndarray, move: float = 0.015, bars: int = 12) -> tuple[np.ndarray, ...]:
    """Episodes of ``bars`` 5m bars at price 100: the first bar of episode k reaches +move (up[k]) or -move."""
    n = up.size * bars
    open_ns = T0 + np.arange(n) * BAR
    high, low, close = np.full(n, 100.0), np.full(n, 100.0), np.full(n, 100.0)
    first = np.arange(up.size) * bars
    high[first[up]] = 100 * (1 + move)
    low[first[~up]] = 100 * (1 - move)
    return open_ns, high, low, close


def _magnets(ts: np.ndarray, usd_above: np.ndarray, usd_below: np.ndarray, gap: float = 0.01) -> Magnets:
    n = ts.size
    return Magnets(row=np.arange(n), ts=ts, price=np.full(n, 100.0), above_level=np.full(n, 100 * (1 + gap)),
                   above_usd=usd_above, above_strength=np.ones(n), above_key=np.arange(n),
                   below_level=np.full(n, 100 * (1 - gap)), below_usd=usd_below, below_strength=np.ones(n),
                   below_key=np.arange(n))


def test_first_hit_codes() -> None:
    open_ns = T0 + np.arange(4) * BAR
    high = np.array([100.0, 102.0, 100.0, 100.0])
    low = np.array([100.0, 100.0, 97.0, 100.0])
    t = np.array([T0, T0, T0 + 2 * BAR, T0])
    code, when = first_hit(open_ns, high, low, t, np.array([101.0, 103.0, 101.0, 101.5]),
                           np.array([99.0, 96.0, 96.0, 99.0]), 10 * BAR)
    assert code.tolist() == [FirstHit.UP, FirstHit.UNDECIDED, FirstHit.UNDECIDED, FirstHit.UP]
    assert when.tolist() == [1, -1, -1, 1]
    code, _ = first_hit(open_ns, np.array([102.0] * 4), np.array([98.0] * 4), t[:1], np.array([101.0]),
                        np.array([99.0]), BAR)
    assert code.tolist() == [FirstHit.TIE]
    assert close_after(open_ns, np.arange(4.0), np.array([T0, T0 + 3 * BAR]), 2 * BAR).tolist()[0] == 1.0


@pytest.mark.parametrize("informative", [True, False])
def test_direction_skill_is_positive_only_when_the_map_knows(informative: bool) -> None:
    rng = np.random.default_rng(11)
    days = 40
    up = rng.random(days * 24) < 0.5
    open_ns, high, low, _ = _market(up)
    ts = T0 + np.arange(up.size) * HOUR
    tilt = np.where(up, 3.0, 1 / 3.0) if informative else np.exp(rng.normal(0, 1, up.size))
    m = _magnets(ts, 1e6 * tilt, np.full(up.size, 1e6))
    samples = direction_samples(m, open_ns, high, low)
    split = T0 + 20 * 86_400 * 10**9
    sec = direction_section(samples, split, 1.2, n_boot=200)
    test = sec["test"]
    assert sec["counts"]["decided"] == up.size and test["n"] == up.size // 2
    if informative:
        assert sec["b"] > 1 and test["skill_logloss"] > 0.3 and test["ci"][0] > 0
        assert test["bull_minus_bear"] > 0.9 and test["bull_minus_bear_ci"][0] > 0.5
    else:
        assert abs(test["skill_logloss"]) < 0.05 and test["ci"][0] < 0 < test["ci"][1]
        # no information: the excess is small (its 95 % CI may still miss 0 in one draw out of 20)
        assert abs(test["bull_minus_bear"]) < 0.15


def test_fit_tilt_recovers_a_known_coefficient() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 20000)
    p0 = rng.uniform(0.2, 0.8, x.size)
    z = np.log(p0 / (1 - p0)) + 0.7 * x
    y = (rng.random(x.size) < 1 / (1 + np.exp(-z))).astype(float)
    assert fit_tilt(p0, x, y) == pytest.approx(0.7, abs=0.05)


def _history(ts: np.ndarray, price: np.ndarray, rec: dict[str, np.ndarray], brk: dict[str, np.ndarray] | None = None,
             assumptions: dict | None = None) -> ClusterHistory:
    cols = ("row", "key", "side", "active", "broken_at", "first_seen", "truncated", "log_bin", "salt", "level", "low",
            "high", "usd", "strength", "peak_usd", "dist_pct")
    n = rec["row"].size
    full = {c: rec.get(c, np.zeros(n, np.bool_ if c in ("active", "truncated") else np.int64)) for c in cols}
    full["active"] = rec.get("active", np.ones(n, np.bool_))
    for c in ("low", "high"):
        full[c] = rec.get(c, rec["level"])
    empty = {c: np.zeros(0, v.dtype) for c, v in full.items()}
    breaks = empty if brk is None else {c: brk.get(c, np.zeros(brk["row"].size, full[c].dtype)) for c in cols}
    return ClusterHistory(symbol="BTC/USDT:USDT", ts=ts, price=price, sampled=np.ones(ts.size, np.bool_),
                          records=full, breaks=breaks, assumptions=assumptions or {})


@pytest.mark.parametrize("informative", [True, False])
def test_touch_excess_of_clusters_placed_where_price_goes(informative: bool) -> None:
    rng = np.random.default_rng(2)
    up = rng.random(60) < 0.5
    open_ns, high, low, _ = _market(up, move=0.012, bars=288)   # one episode a day, sampled at its start
    ts = T0 + np.arange(up.size) * 24 * HOUR
    side_up = up if informative else rng.random(up.size) < 0.5
    level = np.where(side_up, 101.0, 99.0)
    rec = {"row": np.arange(up.size), "key": np.arange(up.size), "side": side_up.astype(np.int64), "level": level,
           "usd": np.full(up.size, 1e6), "strength": np.full(up.size, 0.9), "dist_pct": np.full(up.size, 1.0)}
    hist = _history(ts, np.full(up.size, 100.0), rec)
    sec = touch_section(hist, open_ns, high, low, None, n_boot=200)
    t4 = sec["4h"]["test"]
    assert t4["n"] == up.size
    if informative:
        # touched every time; a level 1 % away on a given side is reached half the time, its mirror never
        assert t4["touch_rate"] == 1.0 and t4["excess"] == pytest.approx(0.5, abs=0.05) and t4["ci"][0] > 0.4
        assert t4["excess_mirror"] == 1.0
    else:
        assert abs(t4["excess"]) < 0.06 and t4["ci"][0] < 0 < t4["ci"][1]
    curve = t4["curve"]
    assert [c["distance_pct"] for c in curve][:2] == [0.125, 0.375]


def test_breaks_continuation_beats_the_breakout_control() -> None:
    # a staircase: 30 days of flat hours; every 6 h a step; breaks on up-steps are followed by +1 % more
    n_days, per_day = 30, 288
    n = n_days * per_day
    open_ns = T0 + np.arange(n) * BAR
    close = np.full(n, 100.0)
    rows = []
    level = 100.0
    for k in range(0, n, 72):
        if (k // 72) % 2 == 0:
            close[k:] = level * 1.02             # breakout step
            rows.append(k)
            close[k + 1:] = level * 1.02 * 1.01  # continuation after a break
            level *= 1.02 * 1.01
    high, low = close * 1.0001, close * 0.9999
    ts = open_ns + BAR
    hist = _history(ts, close, {"row": np.zeros(0, np.int64), "level": np.zeros(0)},
                    brk={"row": np.array(rows), "side": np.ones(len(rows), np.int64)})
    sec = breaks_section(hist, open_ns, high, low, close, None, n_boot=200)
    b = sec["1h"]["test"]
    assert b["n"] == len(rows) - 1 or b["n"] == len(rows)
    assert b["n_control"] > 0 and b["excess_bp"] > 50 and b["ci"][0] > 0


def test_scale_ratio_and_train_calibration() -> None:
    idx = pd.date_range("2025-01-01", periods=24 * 6 * 20, freq="4h", tz="UTC", name="ts")
    rng = np.random.default_rng(0)
    real = rng.lognormal(16, 1, (idx.size, 2))
    frame = pd.DataFrame({"real_long": real[:, 0], "real_short": real[:, 1], "model_long": 200 * real[:, 0],
                          "model_short": 150 * real[:, 1]}, index=idx)
    sec = scale_section(frame, pd.Timestamp("2025-02-01", tz="UTC"), n_boot=100)
    assert sec["long"]["ratio"] == pytest.approx(200) and sec["short"]["ratio"] == pytest.approx(150)
    assert sec["long"]["calibrated_ratio"] == pytest.approx(1.0) and sec["short"]["calibration_factor"] == (
        pytest.approx(1 / 150))
    assert sec["per_month"][0]["month"] == "2025-01"


def test_map_shares_on_known_magnets() -> None:
    n = 100
    ts = T0 + np.arange(n) * HOUR
    strength = np.where(np.arange(n) < 30, 1.0, 0.5)   # 30 % saturated above, never below
    m = Magnets(row=np.arange(n), ts=ts, price=np.full(n, 100.0), above_level=np.full(n, 103.6),
                above_usd=np.full(n, 2e6), above_strength=strength, above_key=np.arange(n),
                below_level=np.full(n, 90.4), below_usd=np.full(n, 1e6), below_strength=np.full(n, 0.5),
                below_key=np.arange(n))
    rec = {"row": np.repeat(np.arange(n), 2), "level": np.tile([90.4, 103.6], n),
           "truncated": np.tile([True, False], n)}
    hist = _history(ts, np.full(n, 100.0), rec,
                    brk={"row": np.array([5, 6, 7]), "usd": np.array([0.99, 0.5, 1.0]), "peak_usd": np.ones(3)},
                    assumptions={"liquidation_distance_pct": {"10x": [9.6, 9.5], "25x": [3.6, 3.6],
                                                              "100x": [0.6, 0.6]}})
    out = map_section(hist, m, np.ones(n, np.bool_), 1.2, np.ones(n), None)
    assert out["strength_saturated_share"] == 0.3 and out["both_saturated_share"] == 0.0
    assert out["tier_offset_share"] == 1.0 and out["tier_offset_share_by_tier"]["10x"] == 0.5
    assert out["neutral_share"] == 0.0 and out["window_truncated_share"] == 0.5
    assert out["break_remnant_share_median"] == 0.99


def test_settled_from_is_where_the_ratio_reaches_its_run_level() -> None:
    ts = T0 + np.arange(200) * HOUR
    usd = np.minimum(np.arange(200) / 47.0, 1.0) * 1e9
    assert settled_from(ts, usd, np.full(200, 1e10)) == "2025-01-02T19:00:00Z"   # row 43: first >= 0.9 x plateau
