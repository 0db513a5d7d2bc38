"""``liqbot config show``: the effective settings after every override, secrets masked."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import Settings  # annotations only: settings load once, in main


def register(sub: Any) -> None:
    """Add the ``config`` command group."""
    parser = sub.add_parser("config", help="show the effective settings (secrets masked)")
    group = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    show = group.add_parser("show", help="print the effective settings")
    show.add_argument("--json", action="store_true", help="one JSON document on stdout")
    show.set_defaults(func=show_config)


def show_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print the settings tree; SecretStr values print as ``**********``."""
    doc = json.loads(settings.model_dump_json())
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    for line in _flatten(doc):
        print(line)
    return 0


def _flatten(doc: dict[str, Any], prefix: str = "") -> list[str]:
    lines: list[str] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            lines += _flatten(value, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key} = {json.dumps(value)}")
    return lines
