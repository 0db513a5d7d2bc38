"""A rich progress bar on stderr for long downloads (a no-op when disabled)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class ProgressBar:
    """``with ProgressBar("candles BTC", total) as bar: bar.update(done, rows=n, requests=k)``.

    ``total`` is in any unit (ms of the range, days, pages); ``rows`` accumulates, ``requests``
    is the running count. stdout stays clean for ``--json``.
    """

    def __init__(self, label: str, total: float, *, enabled: bool = True, unit: str = "") -> None:
        self.label = label
        self.total = max(float(total), 1.0)
        self.enabled = enabled
        self.rows = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._unit = unit

    def __enter__(self) -> "ProgressBar":
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rows]} rows"), TextColumn("{task.fields[requests]} req"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, rows=0, requests=0)
        return self

    def update(self, completed: float, *, rows: int = 0, requests: int = 0) -> None:
        """Progress is ``completed`` of ``total``; ``rows`` more rows arrived."""
        self.rows += rows
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=min(float(completed), self.total), rows=self.rows,
                                  requests=requests)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
