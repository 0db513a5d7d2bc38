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


class StrengthReference:
    """Rolling quantile reference of past cluster sizes (a fixed-size ring buffer)."""

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
        sample = self._buf[: self._n] if self._n else np.asarray(current, dtype=np.float64)
        return quantile(sample, self._q) if sample.size else 0.0

    def strengths(self, usd: np.ndarray) -> np.ndarray:
        """USD / reference, clipped to [0, 1] (0 when the reference is 0)."""
        usd = np.asarray(usd, dtype=np.float64)
        ref = self.reference(usd)
        if ref <= 0:
            return np.zeros(usd.size)
        return np.clip(usd / ref, 0.0, 1.0)

    def push(self, usd: np.ndarray) -> None:
        """Append sizes, dropping the oldest beyond the window."""
        usd = np.asarray(usd, dtype=np.float64).ravel()
        size = self._buf.size
        if usd.size >= size:
            self._buf[:] = usd[-size:]
            self._n, self._pos = size, 0
            return
        slots = (self._pos + np.arange(usd.size)) % size
        self._buf[slots] = usd
        self._pos = (self._pos + usd.size) % size
        self._n = min(self._n + usd.size, size)

    def sizes(self) -> list[float]:
        """The held sizes, oldest first."""
        if self._n < self._buf.size:
            return self._buf[: self._n].tolist()
        return np.roll(self._buf, -self._pos).tolist()

    def state(self) -> dict[str, Any]:
        """JSON-ready state; ``from_state`` restores an identical reference."""
        return {"sizes": self.sizes()}

    @classmethod
    def from_state(cls, window: int, quantile: float, state: dict[str, Any]) -> "StrengthReference":
        """Rebuild from ``state()`` output (oldest first, so the ring overwrites the same sizes)."""
        return cls(window, quantile, state.get("sizes", ()))


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) by one partial sort, without its overhead."""
    k = q * (values.size - 1)
    lo = int(k)
    if lo + 1 >= values.size:
        return float(np.partition(values, lo)[lo])
    part = np.partition(values, (lo, lo + 1))
    return float(part[lo] + (k - lo) * (part[lo + 1] - part[lo]))
