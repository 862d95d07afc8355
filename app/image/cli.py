"""``remask inpaint``: fill the white part of a mask with the image model, from a script.

    remask inpaint IMAGE --mask MASK.png -o OUT.png [--steps N] [--seed S]
                   [--variations K] [--model NAME]

Mask white = fill (any mode; alpha-only masks work, see
:func:`engine.media.image.mask.decode_mask`). With K > 1 the results are
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
from app.cli_common import (
    add_common_arguments,
    checked_outputs,
    choose_model,
    report_progress,
    sampler_overrides,
    write_outputs,
)
from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.export import EXPORT_FORMATS, encode_image
from engine.media.image.files import ImageError, LoadedImage, load_image
from engine.media.image.mask import load_mask
from engine.models import ModelManifest

MEDIUM = "image"
PREFERRED_MODEL = "image-maskgit"
_log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, metavar="IMAGE", help="PNG, JPEG, WebP, BMP or TIFF")
    parser.add_argument(
        "--mask", type=Path, required=True, metavar="MASK.png", help="white = fill, same size"
    )
    add_common_arguments(parser, "png", PREFERRED_MODEL, output_help=".png, .jpg or .webp")
    parser.add_argument(
        "--strategy",
        choices=("regions", "union", "resize"),
        default="regions",
        help="crop windows around each hole (default), one around all, or the resized image",
    )


def _check_export_format(output: Path) -> None:
    if output.suffix.lower() not in EXPORT_FORMATS:
        raise CliError(f"{output.name}: write .png, .jpg or .webp")


def inpaint(
    image: LoadedImage, args: argparse.Namespace, manifest: ModelManifest
) -> list[LoadedImage]:
    """Every crop window of the edit, in order, through the runner the app's worker uses."""
    from engine.media.image.codec import ImageCodec
    from engine.media.image.edit import ImageEdit, ImageEditCodec
    from engine.runtime import load_transformer

    mask = load_mask(args.mask, (image.height, image.width))
    try:
        codec = ImageCodec(manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"model {manifest.name} cannot edit images: {exc}") from None
    edit = ImageEdit.plan(codec, image, mask, args.strategy)
    settings = manifest.default_settings(**sampler_overrides(args))
    request = GenerateRequest(0, manifest.name, settings, edit, ImageEditCodec(codec))
    model = load_transformer(manifest)
    variations, _tokens = run_model_windows(
        request, model, manifest.mask_id, report_progress, should_stop=lambda: False
    )
    return variations


def run_inpaint(args: argparse.Namespace) -> int:
    """Handler of ``remask inpaint``; image problems become one-line CLI errors (exit 2)."""
    _check_export_format(args.output)
    paths = checked_outputs(args.output, args.variations, ".png", [args.image, args.mask])
    try:
        image = load_image(args.image)
        results = inpaint(image, args, choose_model(args.model, MEDIUM, PREFERRED_MODEL))
        encoded = [_encode(result, path) for result, path in zip(results, paths, strict=True)]
    except ImageError as exc:
        raise CliError(str(exc)) from None
    write_outputs([(path, data) for path, (data, _notes) in zip(paths, encoded, strict=True)])
    for path, (_data, notes) in zip(paths, encoded, strict=True):
        for note in notes:
            _log.warning("%s: %s", path.name, note)
        print(path)
    return 0


def _encode(result: LoadedImage, path: Path) -> tuple[bytes, tuple[str, ...]]:
    """The file bytes of one result in the format its output's suffix names, and notes."""
    return encode_image(result, EXPORT_FORMATS[path.suffix.lower()])


COMMANDS = (
    Command(
        "inpaint",
        "fill the white part of a mask with the image model",
        add_arguments,
        run_inpaint,
        errors=(ImageError,),
    ),
)
