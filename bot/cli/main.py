"""The ``liqbot`` command: parse arguments, build settings once, dispatch to a command.

Each module in ``bot.cli.commands`` defines ``register(subparsers)`` which adds its
sub-command and sets ``func(args, settings) -> int``. Exit codes: 0 success, 2 bad usage
or bad input (one line on stderr), 1 an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Sequence

import bot.cli.commands as commands_pkg
from bot.errors import ConfigError, DataError, LiqbotError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad command-line usage (argparse)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:  # never expand --conf to --confirm-live
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = _Parser(prog="liqbot", description="Trade the magnets of a liquidation heatmap.")
    parser.add_argument("--config", type=Path, default=None, help="user TOML settings file")
    parser.add_argument("--log-level", default=None, help="override logging.level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``liqbot`` console script; returns the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):  # one line, like every other usage error (--help lists more)
            chosen = getattr(args, "command", None)
            need_subcommand(parser._subparsers._group_actions[0].choices[chosen] if chosen else parser)
        from config.settings import load_settings
        settings = load_settings(args.config)
        if args.log_level:
            from config.settings import with_log_level
            settings = with_log_level(settings, args.log_level)
        from bot.logs import configure_logging
        quiet = bool(getattr(args, "json", False))
        configure_logging(level=settings.logging.level, file=settings.logging.file,
                          console=settings.logging.console and not quiet,
                          secrets=_secrets(settings))
        return int(args.func(args, settings) or 0)
    except (UsageError, ConfigError, DataError) as exc:
        print(f"liqbot: error: {_redacted(_one_line(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LiqbotError as exc:
        print(f"liqbot: error: {_redacted(_one_line(exc))}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("liqbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def need_subcommand(parser: argparse.ArgumentParser) -> None:
    """The one-line usage error of a command group called without its sub-command."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # parser.error raises the UsageError of the module that built the parser (also under python -m)
    parser.error(f"a {'command' if parser.prog == 'liqbot' else 'sub-command'} is needed: "
                 f"{', '.join(sub.choices)} ({parser.prog} --help)")


def _redacted(text: str) -> str:
    """No configured secret reaches the terminal, even inside a provider's error body that echoes it."""
    from bot.logs import redact
    return redact(text)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _secrets(settings: object) -> list[object]:
    """Every SecretStr anywhere in the settings tree."""
    from pydantic import BaseModel, SecretStr
    found: list[object] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value)
            elif isinstance(value, BaseModel):
                walk(value)
    walk(settings)  # type: ignore[arg-type]
    return found


if __name__ == "__main__":
    sys.exit(main())
