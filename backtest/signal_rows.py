"""Emitted signals as plain rows, with the ``Signal`` objects built only when someone reads them.

A 14-month backtest emits thousands of signals; the portfolio and the statistics need only their
numbers (bar, strategy, side, entry, stop, target, notional, id), while the validated pydantic
``Signal`` (reason text, cluster data, levels, sentiment) matters to whoever looks at a signal:
the report, the lookahead check, ``--signals``. ``LazySignals`` holds both: the rows at once and a
builder per signal that runs on first access (then cached), so a bench run that never reads a
signal does not pay ~0.15 ms of validation for each.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence, overload

from strategies.signal import Direction, Signal


class SignalRow(NamedTuple):
    """The numbers of one emitted signal."""

    bar: int            # valid-bar index of the bar that emitted it
    strategy: str       # StrategyName value
    sign: float         # +1 LONG, -1 SHORT
    entry: float
    stop: float
    target: float
    notional: float     # position_size.notional_usd
    id: str


def row_of(bar: int, s: Signal) -> SignalRow:
    """The row of a built signal."""
    return SignalRow(bar, s.strategy.value, 1.0 if s.signal == Direction.LONG else -1.0, s.entry_price, s.stop_loss,
                     s.take_profit, s.position_size.notional_usd, s.id)


class LazySignals(Sequence[tuple[int, Signal]]):
    """``(bar, Signal)`` pairs whose signals are built on first access; ``rows`` are known at once."""

    def __init__(self) -> None:
        self.rows: list[SignalRow] = []
        self._build: list[Callable[[], Signal] | None] = []
        self._built: list[Signal | None] = []

    def add(self, row: SignalRow, build: Callable[[], Signal]) -> None:
        """Append a signal by its row and the function that builds it."""
        self.rows.append(row)
        self._build.append(build)
        self._built.append(None)

    def add_built(self, bar: int, s: Signal) -> None:
        """Append an already built signal."""
        self.rows.append(row_of(bar, s))
        self._build.append(None)
        self._built.append(s)

    def __len__(self) -> int:
        return len(self.rows)

    def _signal(self, k: int) -> Signal:
        s = self._built[k]
        if s is None:
            build = self._build[k]
            assert build is not None
            s = self._built[k] = build()
            self._build[k] = None
            if s.id != self.rows[k].id:  # the rows and the objects must never disagree
                raise RuntimeError(f"signal {s.id} built differently from its row {self.rows[k].id}")
        return s

    @overload
    def __getitem__(self, k: int) -> tuple[int, Signal]: ...

    @overload
    def __getitem__(self, k: slice) -> list[tuple[int, Signal]]: ...

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = range(len(self))[k]
        return self.rows[k].bar, self._signal(k)

    def __iter__(self) -> Iterator[tuple[int, Signal]]:
        for k in range(len(self)):
            yield self.rows[k].bar, self._signal(k)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def signal_rows(signals: Sequence[tuple[int, Signal]]) -> list[SignalRow]:
    """Rows of any ``(bar, Signal)`` sequence (without building a lazy one's signals)."""
    if isinstance(signals, LazySignals):
        return signals.rows
    return [row_of(j, s) for j, s in signals]
