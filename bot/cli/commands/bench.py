"""``liqbot bench``: run the registered benchmarks and print their figures."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add the ``bench`` sub-command."""
    parser = sub.add_parser("bench", help="measure performance targets (never asserted by tests)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--only", action="extend", nargs="+", metavar="NAME", default=None,
                        help="run only these benchmarks (--only A B, or repeated)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, settings: Any) -> int:
    """Run the benchmarks; JSON ``{"benchmarks": {name: figures}, "machine": {...}}`` or a table."""
    from backtest.bench import run_benchmarks

    result = run_benchmarks(args.only)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from bot.cli.console import stdout_console
    from rich.table import Table

    table = Table(title="liqbot bench")
    table.add_column("benchmark")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, figures in result["benchmarks"].items():
        for i, (key, value) in enumerate(figures.items()):
            table.add_row(name if i == 0 else "", key, str(value))
    console = stdout_console()
    console.print(table)
    machine = result["machine"]
    console.print(f"{machine['cpu']} ({machine['usable_cpus']} usable CPUs), Python {machine['python']}, "
                  f"numpy {machine['numpy']}")
    return 0
