"""Cluster strength in [0, 1], comparable over time.

strength = cluster USD / reference, clipped to [0, 1], where the reference is the
``quantile`` (default 0.95) of the sizes of past clusters: a ring of the last ``window`` cluster
sizes, every active cluster of every update pushed once per update. The reference is computed
*before* the current snapshot's sizes are pushed, so a quiet snapshot after a busy history is
read against the busy history (no cluster of a 10x quieter map reaches 0.6).

Cold start: with no history yet, the reference is seeded with the current snapshot's own sizes
(so the biggest clusters read near 1.0 and the rest proportionally, instead of everything
reading 1.0 against an empty reference); those sizes then become the first history.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bot.clusters.kernel import quantile_kernel, ring_push, strength_reference, strength_values


class StrengthReference:
    """Rolling quantile reference of past cluster sizes (a fixed-size ring buffer; numba kernels)."""

    def __init__(self, window: int, quantile: float, sizes: Sequence[float] = ()) -> None:
        self._q = float(quantile)
        self._buf = np.zeros(int(window))
        self._n = 0
        self._pos = 0
        if len(sizes):
            self.push(np.asarray(sizes, dtype=np.float64))

    def __len__(self) -> int:
        return self._n

    def reference(self, current: np.ndarray) -> float:
        """The quantile of past sizes, or of ``current`` when there is no history (cold start)."""
        return float(strength_reference(self._buf, self._n, _f64(current), self._q))

    def strengths(self, usd: np.ndarray) -> np.ndarray:
        """USD / reference, clipped to [0, 1] (0 when the reference is 0)."""
        usd = _f64(usd)
        return strength_values(usd, strength_reference(self._buf, self._n, usd, self._q))

    def push(self, usd: np.ndarray) -> None:
        """Append sizes, dropping the oldest beyond the window."""
        self._n, self._pos = ring_push(self._buf, self._n, self._pos, _f64(usd))

    def sizes(self) -> list[float]:
        """The held sizes, oldest first."""
        return ring_sizes(self._buf, self._n, self._pos).tolist()

    def state(self) -> dict[str, Any]:
        """JSON-ready state; ``from_state`` restores an identical reference."""
        return {"sizes": self.sizes()}

    @classmethod
    def from_state(cls, window: int, quantile: float, state: dict[str, Any]) -> "StrengthReference":
        """Rebuild from ``state()`` output (oldest first, so the ring overwrites the same sizes)."""
        return cls(window, quantile, state.get("sizes", ()))


def ring_sizes(ring: np.ndarray, n: int, pos: int) -> np.ndarray:
    """The sizes a ring holds, oldest first."""
    if n < ring.size:
        return ring[:n].copy()
    return np.roll(ring, -pos)


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation), computed by the numba kernel."""
    return float(quantile_kernel(_f64(values), float(q)))


def _f64(values: Any) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).ravel()
