"""The card's headline figures as text rows (the CLI table and the HTML report print the same rows)."""

from __future__ import annotations

from typing import Any


def _fmt(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(ci: Any, digits: int = 3) -> str:
    return "n/a" if not ci else f"[{_fmt(ci[0], digits)}, {_fmt(ci[1], digits)}]"


def card_rows(card: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The card's headline figures of the test part as (section, n, value, CI) rows."""
    rows = []
    sc = card["scale"]
    for side in ("long", "short"):
        rows.append((f"scale.{side}.ratio", str(sc["bars_test"]), _fmt(sc[side]["ratio"], 2), _ci(sc[side]["ci"], 2)))
        rows.append((f"scale.{side}.calibrated_ratio", str(sc["bars_test"]), _fmt(sc[side]["calibrated_ratio"], 3),
                     _ci(sc[side]["calibrated_ci"], 3)))
    d = card["magnets"]["direction"]
    t = d["test"]
    rows.append(("direction.b (train)", str(d["train"]["n"]) if "train" in d else "", _fmt(d["b"], 4),
                 _ci(d["b_ci"], 3)))
    rows.append(("direction.skill_logloss", str(t["n"]), _fmt(t["skill_logloss"], 4), _ci(t["ci"], 4)))
    rows.append(("direction.skill_brier", str(t["n"]), _fmt(t["skill_brier"], 4), _ci(t["brier_ci"], 4)))
    rows.append(("direction.bull_minus_bear", f"{t['bull_n']}/{t['bear_n']}", _fmt(t["bull_minus_bear"], 4),
                 _ci(t["bull_minus_bear_ci"], 4)))
    for h in ("4h", "24h"):
        tt = card["magnets"]["touch"][h]["test"]
        rows.append((f"touch[{h}].excess", str(tt["n"]), _fmt(tt["excess"], 4), _ci(tt["ci"], 4)))
        rows.append((f"touch[{h}].excess_mirror", str(tt["n"]), _fmt(tt["excess_mirror"], 4), _ci(tt["mirror_ci"], 4)))
    for h in ("1h", "4h", "24h"):
        b = card["magnets"]["breaks"][h]["test"]
        rows.append((f"breaks[{h}].excess_bp", f"{b['n']}/{b['n_control']}", _fmt(b["excess_bp"], 2), _ci(b["ci"], 2)))
    m = card["map"]
    for key in ("strength_saturated_share", "both_saturated_share", "tier_offset_share", "neutral_share",
                "asym_vs_past_72h_spearman", "window_truncated_share", "break_remnant_share_median",
                "magnet_usd_median"):
        rows.append((f"map.{key}", str(m["rows"]), _fmt(m[key], 0 if key == "magnet_usd_median" else 4), ""))
    rows.append(("map.settled_from", "", str(m["settled_from"]), ""))
    return rows
