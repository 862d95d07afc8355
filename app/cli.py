"""The ``remask`` command: the GUI when called bare, batch subcommands otherwise.

Subcommands are :class:`Command` values. The built-in ones live here; each
medium adds its own through the ``commands`` reference of its
:class:`app.registry.AppMediumSpec` (``app.image.cli:COMMANDS``) — no edit
here needed.

Conventions for every command: bad input raises :class:`CliError` (or
:class:`engine.models.ModelError`, ``OSError``, or one of the command's own
``errors``, such as a medium's file error), which becomes one line
``remask: error: ...`` on stderr and exit status 2. Text that came from a file
(a model name, a path) is printed with its control characters escaped
(:func:`printable`), so a file cannot move the cursor or recolour the terminal.
No traceback reaches the user unless ``REMASK_DEBUG=1``. Qt is imported only
when the GUI starts.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, cast

from app import __version__
from app.registry import AppMediumSpec, app_media, resolve
from engine.media.registry import media

PROG = "remask"
DEBUG_ENV = "REMASK_DEBUG"

_log = logging.getLogger(__name__)


class CliError(Exception):
    """A problem the user can fix; printed as ``remask: error: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments`` fills its parser, ``handler`` returns the exit status.

    With ``passthrough`` the arguments the parser does not know are handed on
    in ``args.extra_args`` (the GUI passes them to Qt) instead of being an error.
    ``errors`` are the exception types that mean bad input for this command (a
    medium's file errors, whose messages are one line): wherever the handler
    raises them, reading or writing, they are reported like :class:`CliError`.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]
    passthrough: bool = False
    errors: tuple[type[Exception], ...] = ()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is the same single line as every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (``\\x1b``, ``\\u202e``).

    Model names, paths and messages can come from files; printed raw, an escape
    sequence in one would drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


# --------------------------------------------------------------------------- built-in commands


def _add_models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 2 if any model is broken"
    )


def _format_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _models(args: argparse.Namespace) -> int:
    """List installed models, then the broken ones (stderr), so a user sees why one is missing."""
    from engine.models import ModelRegistry
    from engine.runtime import choose_providers

    registry = ModelRegistry.discover()
    provider = choose_providers()[0]
    rows = [["NAME", "MEDIUM", "SIZE_MB", "PROVIDER", "FOLDER"]]
    for manifest in sorted(registry.models.values(), key=lambda m: (m.medium, m.name)):
        size = f"{manifest.size_bytes / 1e6:.1f}"
        cells = [manifest.name, manifest.medium, size, provider, str(manifest.folder)]
        rows.append([printable(cell) for cell in cells])
    if len(rows) > 1:
        print("\n".join(_format_table(rows)))
    else:
        searched = os.pathsep.join(str(d) for d in registry.searched)
        print(f"{PROG}: no models found (searched {printable(searched)})", file=sys.stderr)
    for note in registry.notes:
        print(f"{PROG}: note: {printable(note)}", file=sys.stderr)
    for line in registry.errors:
        kind = "error" if args.strict else "warning"
        print(f"{PROG}: {kind}: {printable(' '.join(line.split()))}", file=sys.stderr)
    return 2 if args.strict and registry.errors else 0


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "remask gui [FILE ...] [Qt options]"
    kinds = ", ".join(ext for spec in media() for ext in spec.extensions)
    parser.epilog = (
        f"Existing files ({kinds}) are opened; other arguments are passed on to Qt "
        "(e.g. -platform offscreen)."
    )


def _gui(args: argparse.Namespace) -> int:
    """Split the pass-through arguments: files to open, the rest for Qt."""
    extra: list[str] = list(args.extra_args)
    files = [Path(a) for a in extra if not a.startswith("-") and Path(a).is_file()]
    qt_args = [a for a in extra if a.startswith("-") or not Path(a).is_file()]
    return run_gui(qt_args, files)


def run_gui(qt_args: Sequence[str] = (), files: Sequence[Path] = ()) -> int:
    """Start the window; ``app.main_window.run_gui`` gets a ``sys.argv``-style list."""
    try:
        main_window = importlib.import_module("app.main_window")
    except ImportError as exc:  # no PySide6, or no libGL/libEGL for it
        raise CliError(f"cannot start the GUI: {exc}", code=1) from None
    return int(main_window.run_gui([PROG, *qt_args], files))


def _files_mean_gui(arguments: list[str], commands: Sequence[Command]) -> list[str]:
    """``remask photo.png`` (what a file manager runs) means ``remask gui photo.png``."""
    names = {command.name for command in commands}
    if arguments and arguments[0] not in names and Path(arguments[0]).is_file():
        return ["gui", *arguments]
    return arguments


BUILTIN_COMMANDS: tuple[Command, ...] = (
    Command(
        "models", "list installed models and the execution provider", _add_models_arguments, _models
    ),
    Command(
        "gui", "open the editor window (the default)", _add_gui_arguments, _gui, passthrough=True
    ),
)


# --------------------------------------------------------------------------- assembly


def medium_commands(specs: Sequence[AppMediumSpec] | None = None) -> list[Command]:
    """The commands of each medium (default: every registered one), in tab order.

    A medium whose commands fail to import (a missing dependency, a bug) is
    reported as a warning so the other commands still work and the problem
    is not hidden.
    """
    commands: list[Command] = []
    for spec in app_media() if specs is None else specs:
        if not spec.commands:
            continue
        try:
            commands.extend(cast("Sequence[Command]", resolve(spec.commands)))
        except Exception as exc:  # noqa: BLE001 - any broken medium must not take down the rest
            _warn_broken_module(spec.commands.partition(":")[0], exc)
    return commands


def _warn_broken_module(name: str, exc: BaseException) -> None:
    if os.environ.get(DEBUG_ENV):
        raise exc
    print(f"{PROG}: warning: {name} not loaded: {type(exc).__name__}: {exc}", file=sys.stderr)


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command (names must be unique)."""
    parser = _Parser(prog=PROG, description="Masked editing of images, MIDI and motion.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    seen: set[str] = set()
    for command in commands:
        if command.name in seen:
            raise ValueError(f"two subcommands are called {command.name!r}")
        seen.add(command.name)
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(
            handler=command.handler, passthrough=command.passthrough, errors=command.errors
        )
    return parser


class _LowercaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {printable(record.getMessage())}"


def _configure_logging(verbosity: int) -> None:
    """Log to stderr, unless an embedding program (or pytest) already configured logging."""
    if logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowercaseLevel())
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    logging.basicConfig(level=level, handlers=[handler])


def _error(message: str) -> None:
    """One line, always: multi-line exception texts are folded so scripts can grep stderr."""
    print(f"{PROG}: error: {printable(' '.join(message.split()))}", file=sys.stderr)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Call a handler, turning every failure into one stderr line and an exit status."""
    from engine.models import ModelError

    user_errors: tuple[type[Exception], ...] = (ModelError, *getattr(args, "errors", ()))
    try:
        return int(handler(args))
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except user_errors as exc:
        _error(str(exc))
        return 2
    except BrokenPipeError:  # `remask models | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        _error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for a traceback)")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``remask`` script; returns the exit status."""
    commands = [*BUILTIN_COMMANDS, *medium_commands()]
    arguments = _files_mean_gui(list(sys.argv[1:] if argv is None else argv), commands)
    parser = build_parser(commands)
    try:
        args, extra = parser.parse_known_args(arguments)
        if extra and not getattr(args, "passthrough", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else 0
    args.extra_args = extra
    _configure_logging(args.verbose)
    handler = getattr(args, "handler", None)
    return _run(handler or (lambda _: run_gui()), args)


if __name__ == "__main__":
    # Re-enter through the package module so medium modules that import
    # `app.cli` share this registry rather than a second copy under `__main__`.
    from app.cli import main as _main

    raise SystemExit(_main())
