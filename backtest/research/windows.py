"""Walk-forward windows: ``train=90d,test=30d[,step=30d][,anchored]`` cut over a history.

Each window's train span ends where its test span starts; the next window starts ``step``
later (rolling) or keeps the first train start (anchored). A test span never reaches past the
history's end, so every window is complete. Spans are half-open ``[start, end)`` in UTC: a bar
belongs to a span when it opens at or after the start and closes at or before the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import DataError
from bot.feeds.base import parse_duration


@dataclass(frozen=True, slots=True)
class WalkForward:
    """How windows are cut."""

    train: timedelta
    test: timedelta
    step: timedelta
    anchored: bool = False

    @classmethod
    def parse(cls, text: str) -> "WalkForward":
        """From ``train=90d,test=30d[,step=30d][,anchored]`` (step defaults to test)."""
        parts: dict[str, str] = {}
        anchored = False
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            if item == "anchored":
                anchored = True
                continue
            key, sep, value = item.partition("=")
            if not sep or key not in ("train", "test", "step") or key in parts:
                raise DataError(f"bad item '{item}' (want train=D,test=D[,step=D][,anchored])", field="--walk-forward")
            parts[key] = value
        if "train" not in parts or "test" not in parts:
            raise DataError("needs train=D and test=D", field="--walk-forward")
        spans = {k: parse_duration(v, f"--walk-forward {k}") for k, v in parts.items()}
        for k, v in spans.items():
            if v <= timedelta(0):
                raise DataError(f"{k} must be positive", field="--walk-forward")
        return cls(spans["train"], spans["test"], spans.get("step", spans["test"]), anchored)


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window: parameters are chosen on ``train`` only, then scored on ``test``."""

    index: int
    train_start: datetime
    train_end: datetime
    test_start: datetime
    test_end: datetime

    def to_dict(self) -> dict[str, object]:
        """JSON-ready spans (ISO-8601 UTC)."""
        return {"index": self.index, "train": [_iso(self.train_start), _iso(self.train_end)],
                "test": [_iso(self.test_start), _iso(self.test_end)]}


def cut(start: datetime, end: datetime, wf: WalkForward) -> list[Window]:
    """Every complete window between ``start`` (the first train start) and ``end``."""
    out: list[Window] = []
    k = 0
    while True:
        train_start = start if wf.anchored else start + k * wf.step
        train_end = start + wf.train + k * wf.step
        test_end = train_end + wf.test
        if test_end > end:
            break
        out.append(Window(k, train_start, train_end, train_end, test_end))
        k += 1
    if not out:
        raise DataError(f"the history {_iso(start)} to {_iso(end)} is shorter than one train + test span",
                        field="--walk-forward")
    return out


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
