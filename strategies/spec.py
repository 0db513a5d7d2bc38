"""What one strategy is: everything the engine, the fused backtest, the prescreen and the reasons need.

Each strategy module exports one ``SPEC``; ``strategies.registry`` lists them, and the registry
order is the strategy code the kernels write (and rank ties by). Nothing else in the code base
names a strategy: the dispatch kernel (``strategies.dispatch``, generated), the reason text, the
prescreen, the candidate buffer size and the backtest's cooldown key all derive from the specs.

The candidate kernel's signature is fixed, so the generated dispatch can call every strategy:
``candidates_nb(tab, price, atr, bias, p, out, k, code) -> k``, where ``tab`` is the cluster
table (``strategies.kernel_lib``), ``p`` the strategy's parameter record (its ``Params`` model as
a numpy record, ``strategies.records``), ``out`` the candidate rows (it writes rows from ``k`` on
with ``kernel_lib.emit``, tagging them ``code``) and the return value the next free row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from strategies.params import Params

if TYPE_CHECKING:
    from bot.domain import Cluster
    from strategies.signal import StrategyName

ReasonFn = Callable[[np.ndarray, np.ndarray, float, Any], str]
"""``reason(row, tab, price, p)``: the text of candidate ``row`` over table ``tab`` (``p``: the params record)."""
MayFireFn = Callable[["Cluster", float, float, datetime, Any], bool]
"""``may_fire(cluster, price, distance_pct, now, params)``: a necessary condition of a candidate on ``cluster``."""


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """One strategy: its name, typed parameters, compiled candidate kernel, reason text, prescreen, buffer."""

    name: "StrategyName"
    params: type[Params]
    kernel: Any  # a numba dispatcher with the signature in the module docstring
    reason: ReasonFn
    may_fire: MayFireFn
    rows_per_cluster: int  # at most this many candidate rows per cluster of the table ...
    rows_fixed: int = 0  # ... plus this many

    @property
    def kernel_module(self) -> str:
        """The module the kernel is defined in (the generated dispatch imports it from there)."""
        return str(self.kernel.py_func.__module__)

    @property
    def kernel_name(self) -> str:
        """The kernel's name in its module."""
        return str(self.kernel.py_func.__name__)


SLACK = 1e-9  # relative slack of a prescreen: it may let a bar through needlessly, never hold one back


def finite_or_zero(x: float) -> float:
    """Non-finite numbers read as 0, as the cluster table (``kernel_lib.zone_kernel``) reads them."""
    return x if np.isfinite(x) else 0.0
