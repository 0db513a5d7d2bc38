"""``liqbot optimize``: Optuna search with an honest walk-forward (the command lives in ``research.cli``).

The research package holds no numba kernels; keeping the command there means editing it never
invalidates the compiled-kernel cache that is stamped with the sources of bot/strategies/backtest.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``optimize`` (see ``research.cli``)."""
    from backtest.research.cli import register as register_optimize
    register_optimize(sub)
