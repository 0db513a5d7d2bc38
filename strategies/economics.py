"""Trade economics a search can tune (issue 14, item 2): what a round trip costs against the risk,
the nearest a stop may sit, the entry order type, and OI size tiers from the symbol's own history.

Pure functions over numbers and arrays, not yet called by the engine: the strategy kernels are
being reworked, so the hooks are left to that work. Where each plugs in:

- ``passes_cost_filter`` and ``min_stop_distance``: the engine's filter stage, beside the
  max-stop rule (``strategies.kernel``, new ``P_*`` parameters in ``strategies.kernel_params``
  and ``Rule`` members in ``strategies.filters``), fed by ``round_trip_cost`` of the venue's fees;
- ``EntryOrder``/``entry_fee``: the entry fill rule and fee of ``backtest.portfolio`` and the paper
  venue (a limit entry fills only when a later bar trades through it, at the maker fee);
- ``trailing_percentile``/``tier_multipliers``: the OI sizing stage (``strategies.sizing``), with the
  percentile computed point in time from the symbol's own OI history instead of the absolute
  $5B/$1B tiers (which stay as an option).

A threshold of 0 means "off", so wiring them with default parameters changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class EntryOrder(StrEnum):
    """How an entry is placed: a market order (taker, fills at once) or a limit at the entry (maker, may not fill)."""

    MARKET = "market"
    LIMIT = "limit"


def entry_fee(order: EntryOrder, taker_fee: float, maker_fee: float) -> float:
    """The fee rate an entry pays."""
    return maker_fee if order is EntryOrder.LIMIT else taker_fee


def round_trip_cost(entry_fee_rate: float, exit_fee_rate: float, slippage_bps: float,
                    entry_slips: bool = True) -> float:
    """Cost of a round trip as a fraction of the entry price: both fees plus slippage on the exit (a stop
    fills at market) and on the entry unless it is a resting limit."""
    slip = slippage_bps * 1e-4
    return entry_fee_rate + exit_fee_rate + slip * (2.0 if entry_slips else 1.0)


def cost_per_r(entry: np.ndarray | float, stop: np.ndarray | float, cost_frac: float) -> np.ndarray:
    """The round trip's cost in R: cost (fraction of entry) x entry / the stop distance."""
    e = np.asarray(entry, np.float64)
    d = np.abs(e - np.asarray(stop, np.float64))
    with np.errstate(divide="ignore"):
        return np.where(d > 0, cost_frac * e / np.where(d > 0, d, 1.0), np.inf)


def passes_cost_filter(entry: np.ndarray | float, stop: np.ndarray | float, cost_frac: float,
                       max_cost_r: float) -> np.ndarray:
    """Candidates whose round trip costs at most ``max_cost_r`` of their risk (0 = off: all pass)."""
    c = cost_per_r(entry, stop, cost_frac)
    return np.ones(c.shape, bool) if max_cost_r <= 0 else c <= max_cost_r


def min_stop_distance(price: np.ndarray | float, atr: np.ndarray | float, min_atr: float, cost_frac: float,
                      min_cost_mult: float) -> np.ndarray:
    """The nearest a stop may sit: ``min_atr`` ATRs, or ``min_cost_mult`` round-trip costs, whichever is farther
    (0 turns a rule off)."""
    p = np.asarray(price, np.float64)
    a = np.nan_to_num(np.asarray(atr, np.float64), nan=0.0)
    return np.maximum(min_atr * a, min_cost_mult * cost_frac * p)


def trailing_percentile(values: np.ndarray, window: int) -> np.ndarray:
    """Point-in-time percentile rank (0..1) of each value among the ``window`` values up to and including it
    (NaN values are skipped; NaN until two valid values are known). Uses only the past, never later values."""
    v = np.asarray(values, np.float64)
    out = np.full(v.size, np.nan)
    for i in range(v.size):
        if not np.isfinite(v[i]):
            continue
        past = v[max(0, i - window + 1): i + 1]
        past = past[np.isfinite(past)]
        if past.size >= 2:
            out[i] = (np.sum(past < v[i]) + 0.5 * (np.sum(past == v[i]) - 1)) / (past.size - 1)
    return out


def tier_multipliers(percentile: np.ndarray, high_q: float, low_q: float, high_mult: float, mid_mult: float,
                     low_mult: float) -> np.ndarray:
    """OI size multiplier from the trailing percentile: high above ``high_q``, low below ``low_q``, else mid;
    unknown (NaN) OI is the low tier, as with the absolute thresholds."""
    q = np.asarray(percentile, np.float64)
    out = np.full(q.shape, mid_mult)
    out[q > high_q] = high_mult
    out[(q < low_q) | ~np.isfinite(q)] = low_mult
    return out
