"""The samplers ``--sampler`` offers (seeded): TPE (default), random, and a grid over the declared ranges."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Mapping

from bot.search_space import Dimension
from backtest.research.space import grid


class SamplerKind(StrEnum):
    """Optuna samplers ``--sampler`` offers."""

    TPE = "tpe"
    RANDOM = "random"
    GRID = "grid"


def sampler_of(kind: SamplerKind, space: Mapping[str, Dimension], trials: int, seed: int) -> Any:
    """The Optuna sampler of ``kind`` (a grid of about ``trials`` points over ``space``)."""
    import optuna
    if kind is SamplerKind.GRID:
        return optuna.samplers.GridSampler(grid(space, trials), seed=seed)
    if kind is SamplerKind.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)
