"""The kernels' float64 parameter array, built once from the typed settings (indices in ``strategies.kernel``)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from bot.domain import Bias
from strategies import kernel as K

if TYPE_CHECKING:
    from config.settings import StrategySettings
    from strategies.breakout import BreakoutParams
    from strategies.hunt import HuntParams
    from strategies.levels import LevelParams
    from strategies.sizing import OISizingParams
    from strategies.support_resistance import SupportResistanceParams

BIAS_CODE = {Bias.BEARISH: K.BIAS_BEARISH, Bias.NEUTRAL: K.BIAS_NEUTRAL, Bias.BULLISH: K.BIAS_BULLISH}


def fill_hunt(p: np.ndarray, hunt: "HuntParams") -> None:
    """Write the liquidation hunt's parameters into ``p``."""
    p[[K.P_HUNT_MIN_STRENGTH, K.P_HUNT_MAX_DISTANCE_PCT, K.P_HUNT_MIN_USD, K.P_HUNT_ATR_MULT,
       K.P_HUNT_ATR_FALLBACK_PCT, K.P_HUNT_AGAINST_BIAS, K.P_HUNT_SL_BUFFER_PCT, K.P_HUNT_TP_BUFFER_PCT]] = (
        hunt.min_strength, hunt.max_distance_pct, hunt.min_usd, hunt.atr_mult, hunt.atr_fallback_pct,
        hunt.against_bias_factor, hunt.sl_buffer_pct, hunt.tp_buffer_pct)


def fill_sr(p: np.ndarray, sr: "SupportResistanceParams") -> None:
    """Write the support/resistance parameters into ``p``."""
    p[[K.P_SR_MIN_STRENGTH, K.P_SR_BAND_PCT, K.P_SR_SL_BUFFER_PCT, K.P_SR_TP_BUFFER_PCT,
       K.P_SR_TARGET_MIN_STRENGTH]] = (sr.min_strength, sr.band_pct, sr.sl_buffer_pct, sr.tp_buffer_pct,
                                       sr.target_min_strength)


def fill_breakout(p: np.ndarray, bo: "BreakoutParams") -> None:
    """Write the breakout's parameters into ``p``."""
    p[[K.P_BO_LOOKBACK_BARS, K.P_BO_BAR_MINUTES, K.P_BO_MIN_USD, K.P_BO_MIN_STRENGTH, K.P_BO_SL_BUFFER_PCT,
       K.P_BO_TP_BUFFER_PCT, K.P_BO_TARGET_MIN_STRENGTH]] = (
        bo.lookback_bars, bo.bar_minutes, bo.min_usd, bo.min_strength, bo.sl_buffer_pct, bo.tp_buffer_pct,
        bo.target_min_strength)


def fill_sizing(p: np.ndarray, sizing: "OISizingParams", symbol: str = "") -> None:
    """Write the OI sizing parameters (with ``symbol``'s thresholds) into ``p``."""
    high, mid = sizing.thresholds(symbol)
    p[[K.P_OI_HIGH_USD, K.P_OI_MID_USD, K.P_HIGH_MULT, K.P_MID_MULT, K.P_LOW_MULT, K.P_CROWDED_LONG_RATIO,
       K.P_CROWDED_SHORT_RATIO, K.P_FAVOURED_MULT]] = (
        high, mid, sizing.high_mult, sizing.mid_mult, sizing.low_mult, sizing.crowded_long_ratio,
        sizing.crowded_short_ratio, sizing.favoured_mult)


def fill_levels(p: np.ndarray, levels: "LevelParams") -> None:
    """Write the support/resistance listing parameters into ``p``."""
    p[[K.P_LEVELS_COUNT, K.P_LEVELS_MIN_STRENGTH, K.P_LEVELS_MAX_DISTANCE_PCT]] = (
        levels.count, levels.min_strength, levels.max_distance_pct)


@lru_cache(maxsize=1)
def _defaults() -> np.ndarray:
    from config.settings import StrategySettings
    p = engine_params(StrategySettings())
    p[[K.P_HUNT_ON, K.P_SR_ON, K.P_BO_ON, K.P_SIZING_ON]] = 0.0
    return p


def default_params() -> np.ndarray:
    """A fresh array with every parameter at its default, every strategy and sizing off."""
    return _defaults().copy()


def engine_params(settings: "StrategySettings", symbol: str = "") -> np.ndarray:
    """The ``(N_PARAMS,)`` float64 array of ``settings`` (OI thresholds of ``symbol`` when set per symbol)."""
    p = np.zeros(K.N_PARAMS, dtype=np.float64)
    enabled = set(settings.enabled)
    p[K.P_HUNT_ON] = "liquidation_hunt" in enabled
    p[K.P_SR_ON] = "support_resistance" in enabled
    p[K.P_BO_ON] = "breakout" in enabled
    p[K.P_SIZING_ON] = "oi_sizing" in enabled
    fill_hunt(p, settings.liquidation_hunt)
    fill_sr(p, settings.support_resistance)
    fill_breakout(p, settings.breakout)
    fill_sizing(p, settings.oi_sizing, symbol)
    fill_levels(p, settings.levels)
    p[[K.P_MIN_RR, K.P_MIN_CONFIDENCE, K.P_MAX_STOP_PCT, K.P_MIN_TARGET_PCT, K.P_ZONE_PCT]] = (
        settings.min_rr, settings.min_confidence, settings.max_stop_pct, settings.min_target_pct,
        settings.cluster_zone_pct)
    return p
