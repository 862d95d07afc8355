"""``remask inpaint``: fill the white part of a mask with the image model, from a script.

    remask inpaint IMAGE --mask MASK.png -o OUT.png [--steps N] [--seed S]
                   [--variations K] [--model NAME]

Mask white = fill (any mode; alpha-only masks work, see
:func:`engine.media.image_mask.decode_mask`). With K > 1 the results are
OUT-1.png … OUT-K.png. Every input is read and checked, and the whole edit
generated, before the first output is written: bad input is one line
``remask: error: …`` and exit status 2 with nothing written. Registered by
``app.cli`` through :data:`COMMANDS`; imports no Qt.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from app.cli import CliError, Command
from engine.jobs import GenerateRequest, Progress, run_model_windows
from engine.media.image_io import EXPORT_FORMATS, ImageError, LoadedImage, load_image, save_image
from engine.media.image_mask import load_mask
from engine.models import ModelManifest

MEDIUM = "image"
PREFERRED_MODEL = "image-maskgit"
_log = logging.getLogger(__name__)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, metavar="IMAGE", help="PNG, JPEG, WebP, BMP or TIFF")
    parser.add_argument(
        "--mask", type=Path, required=True, metavar="MASK.png", help="white = fill, same size"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT.png", help=".png, .jpg or .webp"
    )
    parser.add_argument("--steps", type=_positive, default=None, help="sampler steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variations", type=_positive, default=1, help="K > 1 writes OUT-1.png .. OUT-K.png"
    )
    parser.add_argument("--model", default=None, help=f"model name (default: {PREFERRED_MODEL})")
    parser.add_argument(
        "--strategy",
        choices=("regions", "union", "resize"),
        default="regions",
        help="crop windows around each hole (default), one around all, or the resized image",
    )


def choose_model(name: str | None) -> ModelManifest:
    """The named model, else the shipped image model, else the only image model."""
    from engine.models import ModelRegistry

    registry = ModelRegistry.discover()
    if name is not None:
        try:
            manifest = registry.get(name)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
        if manifest.medium != MEDIUM:
            raise CliError(f"model {name!r} is for {manifest.medium}, not {MEDIUM}")
        return manifest
    candidates = registry.for_medium(MEDIUM)
    for manifest in candidates:
        if manifest.name == PREFERRED_MODEL:
            return manifest
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CliError("no image model installed (see 'remask models')")
    names = ", ".join(m.name for m in candidates)
    raise CliError(f"several image models ({names}): choose one with --model")


def output_paths(output: Path, variations: int) -> list[Path]:
    """``OUT.png`` for one variation, ``OUT-1.png .. OUT-K.png`` for K."""
    if output.suffix.lower() not in EXPORT_FORMATS:
        raise CliError(f"{output.name}: write .png, .jpg or .webp")
    if variations == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{k}{output.suffix}") for k in range(1, variations + 1)]


def _check_not_inputs(paths: list[Path], inputs: list[Path]) -> None:
    sources = {source.resolve() for source in inputs}
    for path in paths:
        if path.resolve() in sources:
            raise CliError(f"{path}: would overwrite an input; choose another -o")


def _report(progress: Progress) -> None:
    step = progress.step
    _log.info(
        "window %d/%d, step %d/%d", progress.window + 1, progress.windows, step.index, step.total
    )


def inpaint(
    image: LoadedImage, args: argparse.Namespace, manifest: ModelManifest
) -> list[LoadedImage]:
    """Every crop window of the edit, in order, through the runner the app's worker uses."""
    from engine.media.image import ImageCodec
    from engine.media.image_edit import ImageEdit, ImageEditCodec
    from engine.runtime import load_transformer

    mask = load_mask(args.mask, (image.height, image.width))
    try:
        codec = ImageCodec(manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"model {manifest.name} cannot edit images: {exc}") from None
    edit = ImageEdit.plan(codec, image, mask, args.strategy)
    overrides: dict[str, int] = {"seed": args.seed, "variations": args.variations}
    if args.steps is not None:
        overrides["steps"] = args.steps
    settings = manifest.default_settings(**overrides)
    request = GenerateRequest(0, manifest.name, settings, edit, ImageEditCodec(codec))
    model = load_transformer(manifest)
    variations, _tokens = run_model_windows(
        request, model, manifest.mask_id, _report, should_stop=lambda: False
    )
    return variations


def run_inpaint(args: argparse.Namespace) -> int:
    """Handler of ``remask inpaint``; image problems become one-line CLI errors (exit 2)."""
    paths = output_paths(args.output, args.variations)
    _check_not_inputs(paths, [args.image, args.mask])
    try:
        image = load_image(args.image)
        results = inpaint(image, args, choose_model(args.model))
        for result, path in zip(results, paths, strict=True):
            for note in save_image(result, path):
                _log.warning("%s: %s", path.name, note)
            print(path)
    except ImageError as exc:
        raise CliError(str(exc)) from None
    return 0


COMMANDS = (
    Command(
        "inpaint",
        "fill the white part of a mask with the image model",
        add_arguments,
        run_inpaint,
    ),
)
