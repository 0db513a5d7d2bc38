"""Pure fill rules of the paper broker (docs/architecture.md §5), shared with the backtester.

The price functions take numpy arrays as well as scalars, so a vectorized backtest and the
paper broker apply the same arithmetic. ``sign`` is +1 for a long position, -1 for a short.

- market orders fill at the next price with adverse slippage, taker fee;
- a stop fills at its trigger, or at the open when the bar gapped through it, with adverse
  slippage, taker fee;
- a take-profit is a resting limit: it fills at its price, maker fee, only when price trades
  *through* it (touching is not enough to be sure the queue reached us);
- when one bar touches both, the stop wins (we cannot know the order inside the bar);
- funding is paid at the venue's funding instants: ``-sign x qty x mark x rate``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.domain import utc
from bot.execution.orders import OrderLeg, OrderSide, PositionSide

NO_EXIT, STOP_EXIT, TARGET_EXIT = 0, 1, 2


def side_sign(side: OrderSide) -> float:
    """+1 for a buy, -1 for a sell: the direction slippage moves the price against us."""
    return 1.0 if side is OrderSide.BUY else -1.0


def slipped(price: Any, order_sign: Any, slippage_bps: float) -> Any:
    """``price`` moved against an order of ``order_sign`` (+1 buy, -1 sell) by ``slippage_bps``."""
    return price * (1.0 + order_sign * slippage_bps * 1e-4)


def market_fill_price(price: float, side: OrderSide, slippage_bps: float) -> float:
    """Fill price of a market order arriving at ``price``."""
    return float(slipped(price, side_sign(side), slippage_bps))


def fee(notional: Any, rate: float) -> Any:
    """Fee of a fill: ``|notional| x rate`` (a negative maker rate is a rebate)."""
    return np.abs(notional) * rate


def stop_fill_price(sign: Any, stop: Any, open_: Any, slippage_bps: float) -> Any:
    """Exit price of a triggered stop: the trigger, or the open if the bar gapped beyond it.

    A long's stop sells (``sign`` +1), so slippage and the gap both push the price down.
    """
    gapped = np.where(sign > 0, np.minimum(stop, open_), np.maximum(stop, open_))
    return slipped(gapped, -sign, slippage_bps)


def bracket_exits(sign: Any, stop: Any, target: Any, open_: Any, high: Any, low: Any,
                  slippage_bps: float) -> tuple[np.ndarray, np.ndarray]:
    """Which bracket leg a bar fills and at what price, for arrays of positions.

    Returns ``(code, price)``: code 0 none, 1 stop, 2 take-profit; price NaN when none.
    A NaN stop or target means that leg is not placed.
    """
    sign, stop, target = np.asarray(sign, float), np.asarray(stop, float), np.asarray(target, float)
    open_, high, low = np.asarray(open_, float), np.asarray(high, float), np.asarray(low, float)
    with np.errstate(invalid="ignore"):
        stop_hit = np.where(sign > 0, low <= stop, high >= stop) & ~np.isnan(stop)
        target_hit = np.where(sign > 0, high > target, low < target) & ~np.isnan(target)
    code = np.where(stop_hit, STOP_EXIT, np.where(target_hit, TARGET_EXIT, NO_EXIT))
    price = np.where(stop_hit, stop_fill_price(sign, stop, open_, slippage_bps),
                     np.where(target_hit, target, np.nan))
    return code, price


def bracket_exit(side: PositionSide, stop: float | None, target: float | None, open_: float, high: float,
                 low: float, slippage_bps: float) -> tuple[OrderLeg, float] | None:
    """Scalar form of :func:`bracket_exits` for one position: ``(leg, price)`` or ``None``."""
    code, price = bracket_exits(side.sign, np.nan if stop is None else stop,
                                np.nan if target is None else target, open_, high, low, slippage_bps)
    if int(code) == STOP_EXIT:
        return OrderLeg.STOP_LOSS, float(price)
    if int(code) == TARGET_EXIT:
        return OrderLeg.TAKE_PROFIT, float(price)
    return None


def funding_times(after: datetime, until: datetime, interval_h: int) -> list[datetime]:
    """Funding instants ``t`` with ``after < t <= until``, every ``interval_h`` hours from 00:00 UTC."""
    after, until = utc(after), utc(until)
    if until <= after:
        return []
    step = timedelta(hours=interval_h)
    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    first = day + step * ((after - day) // step + 1)
    out = []
    t = first
    while t <= until:
        out.append(t)
        t += step
    return out


def funding_amount(sign: Any, qty: Any, mark: Any, rate: Any) -> Any:
    """Wallet change from one funding payment (positive rate: longs pay, shorts receive)."""
    return -sign * qty * mark * rate
