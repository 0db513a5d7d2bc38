"""When a historic replay commits: one SQLite transaction per batch of steps, not per step.

A replay at full speed is deterministic (files or the seeded simulator, a simulated venue), so
a ``kill -9`` may lose the open batch: the restarted run resumes from the last committed batch
and replays the same steps to the same result. A batch closes after ``bars`` steps, after
``seconds`` of wall time since the last commit (a paced replay that sleeps between bars commits
every step), and whenever the run stops. Live runs are never batched: every step is committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class CommitBatch:
    """Counts the steps of the open batch and says when it is due."""

    bars: int
    seconds: float
    steps: int = 0
    _since: float = field(default_factory=time.monotonic)

    def add(self) -> bool:
        """Count one step; True when the batch should be committed now."""
        self.steps += 1
        return self.steps >= self.bars or time.monotonic() - self._since >= self.seconds

    def committed(self) -> None:
        """The batch was committed: start the next one."""
        self.steps = 0
        self._since = time.monotonic()


def batch_for(historic: bool, bars: int, seconds: float) -> CommitBatch | None:
    """The batch policy of a run: ``None`` (commit every step) for live runs or ``bars <= 1``."""
    if not historic or bars <= 1:
        return None
    return CommitBatch(bars, seconds)
