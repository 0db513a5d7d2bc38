"""The ``liqbot`` command: parse arguments, build settings once, dispatch to a command.

Each module in ``bot.cli.commands`` defines ``register(subparsers)`` which adds its
sub-command and sets ``func(args, settings) -> int``. Conventions every command gets here:
``--config`` and ``--log-level`` before or after the sub-command, no abbreviated options
(``--conf`` is an error, never ``--confirm-live``), one ``liqbot: error:`` line on stderr for
every refusal, and the exit codes of ``bot.cli.exits``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import bot.cli.commands as commands_pkg
from bot.cli import interrupt
from bot.cli.exits import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, exit_code, message_of
from bot.errors import LiqbotError

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "build_parser", "main"]

# commands that run numba kernels: their first run on an empty cache announces the compiles
KERNEL_COMMANDS = frozenset({"paper", "live", "backtest", "heatmap", "validate", "bench"})
# options every sub-command accepts too (dest, flags, help)
GLOBAL_OPTIONS = (("config", ("--config",), "user TOML settings file"),
                  ("log_level", ("--log-level",), "override logging.level"))


class UsageError(Exception):
    """Bad command-line usage (argparse)."""


class _Parser(argparse.ArgumentParser):
    """argparse with liqbot's conventions: no abbreviations, errors as one line (exit 2, no usage dump)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        where = self.prog.removeprefix("liqbot").strip()  # "heatmap show": which sub-command refused
        raise UsageError(f"{where}: {message}" if where else message)


class _Version(argparse.Action):
    """``--version``: read from the installed metadata only when asked (it costs an import)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"liqbot {version()}")
        parser.exit()


def version() -> str:
    """liqbot's version: the installed distribution's, else pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version
    try:
        return dist_version("liqbot")
    except PackageNotFoundError:
        import tomllib
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def command_names() -> list[str]:
    """The sub-commands: one module of ``bot.cli.commands`` each, named as the command (a directory listing)."""
    return sorted(m.name for m in pkgutil.iter_modules(commands_pkg.__path__) if not m.name.startswith("_"))


def summary_of(name: str) -> str:
    """A command's one-line summary from its module's docstring, read without importing the module."""
    text = (Path(commands_pkg.__path__[0]) / f"{name}.py").read_text(encoding="utf-8")
    match = re.search(r'"""(.*?)(?:\n|""")', text, re.S)
    line = match.group(1).strip() if match else ""
    return re.sub(r"^``liqbot [^`]*``:\s*", "", line).replace("``", "").rstrip(".")


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every sub-command fully registered, or only ``commands`` (the others by name and summary).

    ``main`` registers only the command it was given: importing every command module cost most of
    a second before ``liqbot --help`` or a one-line error could print anything.
    """
    parser = _Parser(prog="liqbot", description="Trade the magnets of a liquidation heatmap.")
    parser.add_argument("--version", action=_Version, help="print liqbot's version and exit")
    for dest, flags, text in GLOBAL_OPTIONS:
        parser.add_argument(*flags, dest=dest, type=Path if dest == "config" else str, default=None, help=text)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in command_names():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=summary_of(name), add_help=False)  # named in the help; never parsed
            continue
        module = importlib.import_module(f"{commands_pkg.__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    for child in _subparsers(parser):
        _conventions(child)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (skipping the global options and their values), if any."""
    names = set(command_names())
    takes_value = {flag for _, flags, _ in GLOBAL_OPTIONS for flag in flags}
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in takes_value:
            skip = True
        elif not token.startswith("-"):
            return token if token in names else None
    return None


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser`` (sub-commands and their actions), depth first."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.append(child)
                found.extend(_subparsers(child))
    return found


def _conventions(parser: argparse.ArgumentParser) -> None:
    """No abbreviations (a sub-parser a command built itself too) and the global options after the sub-command."""
    parser.allow_abbrev = False
    for dest, flags, text in GLOBAL_OPTIONS:
        if not any(flag in parser._option_string_actions for flag in flags):
            # SUPPRESS: absent after the sub-command keeps the value given before it
            parser.add_argument(*flags, dest=dest, type=Path if dest == "config" else str,
                                default=argparse.SUPPRESS, help=f"{text} (also accepted before the command)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``liqbot`` console script; returns the exit code."""
    interrupt.reset()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        command = command_of(argv)
        parser = build_parser([command] if command else [])
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):  # one line, like every other usage error (--help lists more)
            chosen = getattr(args, "command", None)
            need_subcommand(parser._subparsers._group_actions[0].choices[chosen] if chosen else parser)
        from config.settings import load_settings
        settings = load_settings(args.config)
        if args.log_level:
            from config.settings import with_log_level
            settings = with_log_level(settings, args.log_level)
        quiet = bool(getattr(args, "json", False))
        setup_logging(settings, args, console=settings.logging.console and not quiet)
        code = _dispatch(args, settings)
        return EXIT_INTERRUPTED if interrupt.was_interrupted() and code == EXIT_OK else code
    except UsageError as exc:
        print(f"liqbot: error: {message_of(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LiqbotError as exc:
        print(f"liqbot: error: {message_of(exc)}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("liqbot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help, --version: argparse printed and exits
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError:
        # the reader went away (``| head``): nothing more can be said there; keep Python quiet at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace, settings: Any) -> int:
    """Run the command; the ones that run kernels announce numba's compiles (a first run on an empty cache)."""
    if args.command in KERNEL_COMMANDS and settings.logging.compile_notice:
        from bot.jitprogress import compile_notice
        with compile_notice():
            return int(args.func(args, settings) or 0)
    return int(args.func(args, settings) or 0)


def need_subcommand(parser: argparse.ArgumentParser) -> None:
    """The one-line usage error of a command group called without its sub-command."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # parser.error raises the UsageError of the module that built the parser (also under python -m)
    parser.error(f"a {'command' if parser.prog == 'liqbot' else 'sub-command'} is needed: "
                 f"{', '.join(sub.choices)} ({parser.prog} --help)")


def setup_logging(settings: Any, args: argparse.Namespace, *, console: bool) -> None:
    """Logging as the settings say: the rotated file in the state folder, readable lines on stderr if ``console``."""
    from bot.logs import configure_logging
    configure_logging(level=settings.logging.level, file=log_file(settings, args), console=console,
                      secrets=secrets_of(settings), max_bytes=settings.logging.max_bytes,
                      backups=settings.logging.backups)


def log_file(settings: Any, args: argparse.Namespace) -> Path | None:
    """The log file: ``logging.file``; a relative path lives in the state folder (``--state`` or ``state_dir``)."""
    file: Path | None = settings.logging.file
    if file is None or file.is_absolute():
        return file
    state = getattr(args, "state", None) or settings.state_dir
    return Path(state) / file


def secrets_of(settings: object) -> list[SecretStr]:
    """Every SecretStr anywhere in the settings tree."""
    from pydantic import BaseModel, SecretStr
    found: list[SecretStr] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value)
            elif isinstance(value, BaseModel):
                walk(value)
    walk(settings)  # type: ignore[arg-type]
    return found


_secrets = secrets_of  # the name other modules used before


if __name__ == "__main__":
    sys.exit(main())
