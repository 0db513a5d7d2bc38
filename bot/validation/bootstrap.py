"""Day-block bootstrap: confidence intervals that respect the dependence between samples of one day.

Samples of one UTC day (hourly magnet reads, breaks, 4h liquidation bars) overlap in their
outcome windows, so resampling them one by one would make every interval too narrow. Every CI of
the report card resamples whole days with replacement (seeded numpy generator) and recomputes the
statistic on the resampled samples; the interval is the 2.5 / 97.5 percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

DAY_NS = 86_400 * 1_000_000_000
N_BOOT = 1000
SEED = 20250315


@dataclass(frozen=True, slots=True)
class DayBlocks:
    """Sample indices grouped by UTC day: ``order`` sorts samples by day, ``starts`` (days + 1) bound them."""

    order: np.ndarray
    starts: np.ndarray

    @property
    def days(self) -> int:
        """Number of days holding at least one sample."""
        return int(self.starts.size - 1)

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """Sample indices of one bootstrap draw (as many days as there are, drawn with replacement)."""
        pick = rng.integers(0, self.days, self.days)
        lengths = self.starts[pick + 1] - self.starts[pick]
        first = np.repeat(self.starts[pick], lengths)
        offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return self.order[first + offset]


def day_blocks(ts_ns: np.ndarray) -> DayBlocks:
    """Group samples by the UTC day of their time (ns)."""
    day = np.asarray(ts_ns, np.int64) // DAY_NS
    order = np.argsort(day, kind="stable")
    d = day[order]
    cuts = np.flatnonzero(np.diff(d)) + 1 if d.size else np.zeros(0, np.int64)
    starts = np.concatenate(([0], cuts, [d.size])).astype(np.int64) if d.size else np.zeros(1, np.int64)
    return DayBlocks(order=order, starts=starts)


def block_ci(ts_ns: np.ndarray, stat: Callable[[np.ndarray], float], *, n_boot: int = N_BOOT, seed: int = SEED,
             level: float = 0.95) -> tuple[float, float] | None:
    """Percentile CI of ``stat(indices)`` under the day-block bootstrap; None with fewer than 2 days
    or when no draw gives a finite value."""
    blocks = day_blocks(ts_ns)
    if blocks.days < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = np.array([stat(blocks.resample(rng)) for _ in range(n_boot)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [a, 1.0 - a])
    return float(lo), float(hi)
