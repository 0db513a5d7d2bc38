"""Benchmark ``validate_14m``: the whole report card of the synthetic model over 14 months of BTC.

Shared data (``LIQBOT_SHARED_DATA`` or ``../shared/data``): Binance BTC 5m candles (14 months),
CoinGlass OI and liquidations (AUTO mode: OI while it lasts, volume after), split 2025-03-15.
Times one cold and one warm run of ``synthetic_inputs`` + ``report_card`` (1000 bootstrap draws per
CI). Target: warm < 30 s. Without the shared folder it reports that and measures nothing.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import pandas as pd

from bot.synthetic.bench import CANDLES, OI, _data_dir

TARGET_S = 30.0
LIQ = "coinglass-btc/api_futures_liquidation_aggregated_coin_history_BTC.parquet"
SPLIT = "2025-03-15"


def validate_14m(repeats: int = 1) -> dict[str, Any]:
    """Wall time of the card, cold and warm, with the headline figures it printed."""
    from bot.marketdata import files
    from bot.synthetic.model import SyntheticParams
    from bot.validation.card import report_card, synthetic_inputs
    from config.settings import ClusterSettings

    root = _data_dir()
    if not (root / CANDLES).is_file():
        return {"data": "missing", "measured": False, "reason": f"shared data folder not found: {root}"}
    candles, oi, liq = files.load_candles(root / CANDLES), files.load_open_interest(root / OI), files.load_liquidations(
        root / LIQ)
    clusters = ClusterSettings()
    params = SyntheticParams()
    split = pd.Timestamp(SPLIT, tz="UTC")

    def once() -> dict[str, Any]:
        inputs = synthetic_inputs(candles, oi, liq, params, clusters, symbol="BTC/USDT:USDT")
        return report_card(inputs, split, bias_threshold=clusters.bias_threshold, source="synthetic")

    start = time.perf_counter()
    card = once()
    first = time.perf_counter() - start
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        card = once()
        times.append(time.perf_counter() - start)
    warm = min(times)
    return {"data": "shared", "bars": len(candles), "split": SPLIT,
            "sampled_rows": int(card["map"]["sampled_rows_test"]),
            "direction_test_n": card["magnets"]["direction"]["test"]["n"],
            "breaks_4h_test_n": card["magnets"]["breaks"]["4h"]["test"]["n"],
            "first_run_s": round(first, 2), "warm_s": round(warm, 2),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "target_s": TARGET_S, "meets_target": warm < TARGET_S}
