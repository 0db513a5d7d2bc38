"""``liqbot jit warm``: compile (or load) every numba kernel now, not on first use (bot.cli.jitwarm)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``jit``."""
    p = sub.add_parser("jit", help="numba's compiled kernels: warm fills the cache up front",
                       description="numba compiles liqbot's kernels on their first use and caches them. "
                                   "'jit warm' runs a tiny simulated paper run and backtest so that every later "
                                   "command starts from the cache; set NUMBA_CACHE_DIR to choose the cache folder.")
    jit_sub = p.add_subparsers(dest="jit_command", metavar="ACTION", required=True, parser_class=type(p))
    warm = jit_sub.add_parser("warm", help="compile (or load) every kernel now, with progress on stderr")
    warm.add_argument("--json", action="store_true", help="print the report as one JSON document")
    warm.set_defaults(func=handle_warm)


def handle_warm(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``liqbot jit warm``."""
    from bot.cli.jitwarm import run_warm

    return run_warm(args, settings)
