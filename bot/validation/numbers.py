"""JSON-ready numbers of the report card: finite floats rounded, NaN as null, CIs as pairs."""

from __future__ import annotations

import numpy as np


def rnd(x: float, digits: int = 6) -> float | None:
    """``x`` rounded, or None when it is not finite."""
    return round(float(x), digits) if np.isfinite(x) else None


def ci_pair(ci: tuple[float, float] | None, digits: int = 6) -> list[float | None] | None:
    """A CI as ``[low, high]`` (None when there is none)."""
    return None if ci is None else [rnd(ci[0], digits), rnd(ci[1], digits)]
