"""The engine kernels' parameter record, generated from the settings models and the registry.

One numpy record carries everything the engine kernel reads: ``on`` (a bool per registered
strategy and ``oi_sizing``), ``limits`` (the filters, ``strategies.filters.FilterLimits``),
``zone_pct``, ``levels`` (``LevelParams``), ``sizing`` (``OISizingParams``, the thresholds of the
symbol resolved) and one sub-record per strategy named after it (its ``Params`` model). Kernels
read fields by name (``p.levels.count``, ``p.liquidation_hunt.min_usd``); the layout is the
models' own, so a new parameter or strategy needs no index anywhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from strategies.filters import FilterLimits
from strategies.levels import ZONE_PCT, LevelParams
from strategies.records import fill, record_dtype
from strategies.registry import OI_SIZING, SPECS
from strategies.sizing import OISizingParams

if TYPE_CHECKING:
    from config.settings import StrategySettings


@lru_cache(maxsize=1)
def engine_dtype() -> np.dtype:
    """The record dtype of the engine parameters (see the module docstring)."""
    on = np.dtype([*((s.name.value, np.bool_) for s in SPECS), (OI_SIZING, np.bool_)])
    return np.dtype([("on", on), ("limits", record_dtype(FilterLimits)), ("zone_pct", np.float64),
                     ("levels", record_dtype(LevelParams)), ("sizing", record_dtype(OISizingParams)),
                     *((s.name.value, record_dtype(s.params)) for s in SPECS)])


def _record() -> Any:
    return np.zeros(1, engine_dtype())[0]


def engine_params(settings: "StrategySettings", symbol: str = "") -> Any:
    """The engine record of ``settings`` (OI thresholds of ``symbol`` when set per symbol)."""
    p = _record()
    enabled = set(settings.enabled)
    for name in p["on"].dtype.names:
        p["on"][name] = name in enabled
    fill(p["limits"], FilterLimits.of(settings))
    p["zone_pct"] = settings.cluster_zone_pct
    fill(p["levels"], settings.levels)
    fill(p["sizing"], settings.oi_sizing)
    p["sizing"]["high_oi_usd"], p["sizing"]["mid_oi_usd"] = settings.oi_sizing.thresholds(symbol)
    for s in SPECS:
        fill(p[s.name.value], getattr(settings, s.name.value))
    return p


def default_params() -> Any:
    """A fresh record with every parameter at its model's default, every strategy and sizing off."""
    p = _record()
    fill(p["limits"], FilterLimits())
    p["zone_pct"] = ZONE_PCT
    fill(p["levels"], LevelParams())
    fill(p["sizing"], OISizingParams())
    for s in SPECS:
        fill(p[s.name.value], s.params())
    return p
