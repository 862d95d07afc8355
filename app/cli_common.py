"""What ``remask inpaint``, ``remask repaint`` and ``remask inbetween`` share.

The common arguments (``-o``, ``--seed``, ``--steps``, ``--variations``,
``--model``) and what is done with them: picking the model, naming the K
output files, refusing outputs that would overwrite an input or land in a
missing folder, and logging sampler progress. Every problem is a
:class:`app.cli.CliError` with the same one-line message whichever command
hits it. Not a medium module: it defines no ``COMMANDS`` and ``app.cli`` does
not load it as one. Imports no Qt.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import CliError
from app.registry import medium_label
from engine.atomic import same_file, write_set_atomic

if TYPE_CHECKING:
    from engine.jobs import Progress
    from engine.models import ModelManifest, ModelRegistry

_log = logging.getLogger(__name__)


def positive_int(text: str) -> int:
    """argparse ``type`` for a whole number of at least 1 (``--steps``, ``--variations``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def seed_int(text: str) -> int:
    """argparse ``type`` for ``--seed``: a whole number from 0 to 2**63 - 1 (numpy's seed range)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} must be from 0 to 2**63 - 1")
    return value


def add_common_arguments(
    parser: argparse.ArgumentParser,
    extension: str,
    preferred_model: str,
    output_help: str | None = None,
) -> None:
    """Add ``-o/--output OUT.<extension>``, ``--seed``, ``--steps``, ``--variations``, ``--model``.

    ``extension`` is written without the dot (``"png"``); it names the output
    in the usage line and in the ``--variations`` help.
    """
    out = f"OUT.{extension}"
    parser.add_argument("-o", "--output", type=Path, required=True, metavar=out, help=output_help)
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (0 or more)")
    parser.add_argument("--steps", type=positive_int, default=None, help="sampler steps")
    parser.add_argument(
        "--variations",
        type=positive_int,
        default=1,
        help=f"K > 1 writes OUT-1.{extension} .. OUT-K.{extension}",
    )
    parser.add_argument("--model", default=None, help=f"model name (default: {preferred_model})")


def sampler_overrides(args: argparse.Namespace) -> dict[str, int]:
    """The model's default sampler settings to override: seed, variations, and steps if given."""
    overrides = {"seed": int(args.seed), "variations": int(args.variations)}
    if args.steps is not None:
        overrides["steps"] = int(args.steps)
    return overrides


def choose_model(
    name: str | None, medium: str, preferred: str, missing_hint: str = ""
) -> ModelManifest:
    """The named model, else ``preferred``, else the only model of ``medium``.

    Raises :class:`CliError` when the named model is missing or for another
    medium, when no model of ``medium`` is installed (``missing_hint``, if
    given, is appended to that message), or when several are and none is
    ``preferred``.
    """
    from engine.models import ModelRegistry

    registry = ModelRegistry.discover()
    if name is not None:
        return _named_model(registry, name, medium)
    candidates = registry.for_medium(medium)
    for manifest in candidates:
        if manifest.name == preferred:
            return manifest
    if len(candidates) == 1:
        return candidates[0]
    label = medium_label(medium)
    if not candidates:
        hint = f"; {missing_hint}" if missing_hint else ""
        raise CliError(f"no {label} model installed (see 'remask models'){hint}")
    names = ", ".join(m.name for m in candidates)
    raise CliError(f"several {label} models ({names}): choose one with --model")


def _named_model(registry: ModelRegistry, name: str, medium: str) -> ModelManifest:
    try:
        manifest = registry.get(name)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if manifest.medium != medium:
        raise CliError(f"model {name!r} is for {manifest.medium}, not {medium}")
    return manifest


def output_paths(output: Path, variations: int, default_suffix: str) -> list[Path]:
    """``OUT.ext`` for one variation, ``OUT-1.ext .. OUT-K.ext`` for K.

    ``default_suffix`` (with the dot) numbers the K files when ``output`` has
    no suffix; a single output is written exactly where ``-o`` says.
    """
    if variations == 1:
        return [output]
    suffix = output.suffix or default_suffix
    return [output.with_name(f"{output.stem}-{k}{suffix}") for k in range(1, variations + 1)]


def check_outputs_differ(outputs: Sequence[Path], inputs: Sequence[Path]) -> None:
    """Refuse an output that is one of the inputs, or that two outputs are one file.

    Files are compared by device and inode as well as by resolved path, so a
    hard link or a symlink to an input is refused too.
    """
    sources = {source.resolve() for source in inputs}
    which = "the input" if len(inputs) == 1 else "an input"
    for path in outputs:
        if path.resolve() in sources or same_file(path, inputs):
            raise CliError(f"{path}: would overwrite {which}; choose another -o")
    for index, path in enumerate(outputs):
        earlier = outputs[:index]
        if path.resolve() in {other.resolve() for other in earlier} or same_file(path, earlier):
            raise CliError(f"{path}: named twice among the outputs; choose another -o")


def write_outputs(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write every output as one atomic set (:func:`engine.atomic.write_set_atomic`).

    Called once all results are computed: a failure writes none of them, and
    no file is left half written or beside them as a temporary.
    """
    try:
        write_set_atomic(files)
    except OSError as exc:
        where = exc.filename or (files[0][0] if files else "output")
        raise CliError(f"{where}: cannot write: {exc.strerror or exc}") from None


def check_output_folders(outputs: Sequence[Path]) -> None:
    """Refuse outputs whose folder is missing, before any model is loaded or run."""
    for path in outputs:
        if not path.parent.is_dir():
            raise CliError(f"{path.parent}: no such folder")


def checked_outputs(
    output: Path, variations: int, default_suffix: str, inputs: Sequence[Path]
) -> list[Path]:
    """The files a command will write (:func:`output_paths`), refused at once if one would
    overwrite an input or lands in a missing folder: before anything is loaded or run."""
    paths = output_paths(output, variations, default_suffix)
    check_outputs_differ(paths, inputs)
    check_output_folders(paths)
    return paths


def report_progress(progress: Progress) -> None:
    """Log one sampler step of one window (shown with ``remask -v``)."""
    step = progress.step
    _log.info(
        "window %d/%d, step %d/%d", progress.window + 1, progress.windows, step.index, step.total
    )
