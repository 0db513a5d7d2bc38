"""The risk guard: pure checks on new entries and a persisted trading state.

States (as Nautilus names them): ACTIVE trades normally; REDUCING places no new entries but
lets exits work; HALTED also places no new entries (brackets already at the venue stay).
A trip only ever escalates (ACTIVE -> REDUCING -> HALTED) and lasts until an explicit reset
(``liqbot risk reset``): a bot that stopped itself for a reason must not resume on its own
after a restart or at midnight.

Trips: daily loss from the UTC day's starting equity -> REDUCING; drawdown from the equity
peak -> HALTED; N consecutive failed steps -> HALTED.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from bot.clock import parse_ts
from bot.domain import iso, utc
from config.settings import RiskSettings


class TradingState(StrEnum):
    """What the bot may do."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class RiskState:
    """The guard's persisted memory."""

    state: TradingState = TradingState.ACTIVE
    reason: str | None = None
    since: datetime | None = None
    day: str | None = None
    day_start_equity: float | None = None
    peak_equity: float | None = None
    consecutive_errors: int = 0

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict (``state`` is the enum value)."""
        return {"state": self.state.value, "reason": self.reason, "since": iso(self.since) if self.since else None,
                "day": self.day, "day_start_equity": self.day_start_equity, "peak_equity": self.peak_equity,
                "consecutive_errors": self.consecutive_errors}

    @classmethod
    def from_record(cls, rec: Mapping[str, Any] | None) -> "RiskState":
        """Inverse of :meth:`to_record`; ``None`` gives a fresh ACTIVE state."""
        if not rec:
            return cls()
        since = rec.get("since")
        return cls(state=TradingState(rec["state"]), reason=rec.get("reason"),
                   since=parse_ts(since) if since else None,
                   day=rec.get("day"), day_start_equity=rec.get("day_start_equity"),
                   peak_equity=rec.get("peak_equity"), consecutive_errors=int(rec.get("consecutive_errors", 0)))


@dataclass(frozen=True, slots=True)
class Exposure:
    """The book as the guard sees it when an entry is proposed."""

    equity: float
    open_positions: int
    symbol_notional: float
    total_notional: float


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Whether an entry may go out, and if not, which limit said no."""

    allowed: bool
    reason: str | None = None


def trip(state: RiskState, to: TradingState, reason: str, ts: datetime) -> RiskState:
    """Escalate to ``to`` (never de-escalate); the first reason at a level is kept."""
    if _RANK[to] <= _RANK[state.state]:
        return state
    return replace(state, state=to, reason=reason, since=utc(ts))


def check_entry(state: RiskState, limits: RiskSettings, exposure: Exposure, notional: float) -> RiskDecision:
    """May a new entry of ``notional`` USD go out? Pure; checks in order of severity."""
    if state.state is not TradingState.ACTIVE:
        return RiskDecision(False, f"trading state {state.state.value}: {state.reason}")
    if exposure.equity <= 0:
        return RiskDecision(False, "equity is not positive")
    if exposure.open_positions + 1 > limits.max_open_positions:
        return RiskDecision(False, f"max_open_positions {limits.max_open_positions} reached")
    if exposure.symbol_notional + notional > limits.max_notional_per_symbol:
        return RiskDecision(False, f"max_notional_per_symbol {limits.max_notional_per_symbol:g} USD would be exceeded "
                                   f"({exposure.symbol_notional + notional:.2f})")
    leverage = (exposure.total_notional + notional) / exposure.equity
    if leverage > limits.max_leverage:
        return RiskDecision(False, f"max_leverage {limits.max_leverage:g} would be exceeded ({leverage:.2f})")
    return RiskDecision(True)


def on_equity(state: RiskState, limits: RiskSettings, ts: datetime, equity: float) -> RiskState:
    """Track the UTC day's start equity and the peak; trip on daily loss or drawdown."""
    ts = utc(ts)
    day = ts.date().isoformat()
    if state.day != day or state.day_start_equity is None:
        state = replace(state, day=day, day_start_equity=equity)
    peak = equity if state.peak_equity is None else max(state.peak_equity, equity)
    state = replace(state, peak_equity=peak)
    start = state.day_start_equity or equity
    daily_loss_pct = (start - equity) / start * 100.0 if start > 0 else 0.0
    drawdown_pct = (peak - equity) / peak * 100.0 if peak > 0 else 0.0
    if drawdown_pct >= limits.max_drawdown_pct:
        state = trip(state, TradingState.HALTED, f"drawdown {drawdown_pct:.2f}% >= {limits.max_drawdown_pct:g}%", ts)
    if daily_loss_pct >= limits.max_daily_loss_pct:
        state = trip(state, TradingState.REDUCING,
                     f"daily loss {daily_loss_pct:.2f}% >= {limits.max_daily_loss_pct:g}%", ts)
    return state


def on_step(state: RiskState, limits: RiskSettings, ts: datetime, error: str | None) -> RiskState:
    """Count consecutive failed steps (``error`` set); a clean step resets the count."""
    if error is None:
        return state if state.consecutive_errors == 0 else replace(state, consecutive_errors=0)
    count = state.consecutive_errors + 1
    state = replace(state, consecutive_errors=count)
    if count >= limits.max_consecutive_errors:
        state = trip(state, TradingState.HALTED, f"{count} consecutive errors, last: {error}", ts)
    return state


def reset(state: RiskState, ts: datetime, equity: float | None) -> RiskState:
    """Back to ACTIVE; the day's start and the peak restart from ``equity`` so the trip does not recur at once."""
    return RiskState(state=TradingState.ACTIVE, reason=None, since=utc(ts), day=utc(ts).date().isoformat(),
                     day_start_equity=equity, peak_equity=equity, consecutive_errors=0)


class RiskGuard:
    """The stateful shell around the pure checks: holds the limits and the current state."""

    def __init__(self, limits: RiskSettings, state: RiskState | None = None) -> None:
        self.limits = limits
        self.state = state or RiskState()

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self.state.state

    def check_entry(self, exposure: Exposure, notional: float) -> RiskDecision:
        """See :func:`check_entry`."""
        return check_entry(self.state, self.limits, exposure, notional)

    def on_equity(self, ts: datetime, equity: float) -> TradingState:
        """See :func:`on_equity`; returns the resulting trading state."""
        self.state = on_equity(self.state, self.limits, ts, equity)
        return self.state.state

    def on_step(self, ts: datetime, error: str | None = None) -> TradingState:
        """See :func:`on_step`; returns the resulting trading state."""
        self.state = on_step(self.state, self.limits, ts, error)
        return self.state.state
