"""``remask inbetween``: regenerate a frame range (of one body part) of a BVH clip.

    remask inbetween IN.bvh --frames 40-70 [--parts upper] -o OUT.bvh [--variations 3]

Frames are 0-based and inclusive (``40-70`` regenerates 31 frames); everything
outside them, and the other body part's channels inside them, is written back
bit for bit. With no motion model installed this is an error, never a silent
fallback: ``--method interpolate`` asks for the linear + SLERP baseline
explicitly. All results are computed before anything is written, so a failure
leaves no partial output. Registered by ``app.cli`` through :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, cast

from app.cli import CliError, Command
from app.cli_common import (
    add_common_arguments,
    checked_outputs,
    choose_model,
    sampler_overrides,
    write_outputs,
)
from engine.media.motion.bvh import BvhError, read_bvh
from engine.media.motion.bvh_writer import format_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.editing import interpolate_range
from engine.media.motion.skeleton import PARTS, SkeletonError, SkeletonMap, map_skeleton
from engine.models import ModelManifest
from engine.sampling.types import Step

MEDIUM = "motion"
PREFERRED_MODEL = "motion-mmm"
METHODS = ("model", "interpolate")
NO_MODEL_HINT = "--method interpolate gives the linear + SLERP baseline instead"
_log = logging.getLogger(__name__)


def parse_frames(text: str) -> tuple[int, int]:
    """``"40-70"`` -> (40, 70); ``"12"`` -> (12, 12). Frames are 0-based and inclusive."""
    first, _, last = text.partition("-")
    try:
        frames = (int(first), int(last or first))
    except ValueError:
        raise CliError(
            f"--frames {text!r}: expected A-B, e.g. 40-70 (0-based, inclusive)"
        ) from None
    if frames[1] < frames[0]:
        raise CliError(f"--frames {text!r}: A must not exceed B")
    return frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN.bvh", help="BVH clip")
    parser.add_argument(
        "--frames", required=True, help="frames to regenerate, A-B (0-based, inclusive)"
    )
    parser.add_argument("--parts", choices=PARTS, default="full", help="body part (default full)")
    add_common_arguments(parser, "bvh", PREFERRED_MODEL)
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="model",
        help="model (default) or interpolate: the linear position + SLERP rotation baseline",
    )


def _load(path: Path) -> tuple[Clip, SkeletonMap]:
    clip = read_bvh(path)
    return clip, map_skeleton(clip)


def _interpolate(args: argparse.Namespace, clip: Clip, smap: SkeletonMap) -> list[Clip]:
    if args.variations != 1:
        raise CliError("--method interpolate has one answer: --variations must be 1")
    first, last = parse_frames(args.frames)
    return [interpolate_range(clip, first, last, args.parts, smap)]


def _report(step: Step) -> None:
    _log.info("step %d/%d", step.index, step.total)


def _generate(args: argparse.Namespace, clip: Clip, smap: SkeletonMap) -> list[Clip]:
    """Encode -> sample -> decode through the motion codec, as the GUI's engine thread does."""
    from engine.jobs import GenerateRequest, run_model_generation
    from engine.runtime import load_transformer

    manifest = choose_model(args.model, MEDIUM, PREFERRED_MODEL, NO_MODEL_HINT)
    codec, payload = _codec_and_payload(manifest, clip, smap, args)
    settings = manifest.default_settings(**sampler_overrides(args))
    request = GenerateRequest(1, manifest.name, settings, payload, codec)
    model = load_transformer(manifest)
    clips, _tokens = run_model_generation(request, model, manifest.mask_id, _report, lambda: False)
    return [_checked_clip(result, clip) for result in clips]


def _codec_and_payload(
    manifest: ModelManifest, clip: Clip, smap: SkeletonMap, args: argparse.Namespace
) -> tuple[Any, Any]:
    from engine.media.motion.codec import MotionCodec, MotionPayload  # loads onnxruntime

    first, last = parse_frames(args.frames)
    codec = MotionCodec(cast(Any, manifest))  # its MotionModelFiles protocol wants settable fields
    return codec, MotionPayload(clip, first, last, args.parts, smap)


def _checked_clip(result: object, source: Clip) -> Clip:
    if not isinstance(result, Clip) or result.joints != source.joints:
        raise CliError("the motion codec returned something other than a clip of this skeleton")
    return result


def run_inbetween(args: argparse.Namespace) -> int:
    """Handler of ``remask inbetween``; motion problems become one-line CLI errors (exit 2)."""
    paths = checked_outputs(args.output, args.variations, ".bvh", [args.input])
    parse_frames(args.frames)  # fail on a typo before reading or loading anything
    try:
        clip, smap = _load(args.input)
        method = _interpolate if args.method == "interpolate" else _generate
        results = method(args, clip, smap)
        texts = [format_bvh(result).encode() for result in results]
    except (BvhError, SkeletonError, MotionError) as exc:
        raise CliError(str(exc)) from None
    write_outputs(list(zip(paths, texts, strict=True)))
    for path in paths:
        print(path)
    return 0


COMMANDS = (
    Command(
        "inbetween",
        "regenerate frames A-B (of one body part) of a BVH clip with the motion model",
        add_arguments,
        run_inbetween,
        errors=(BvhError, SkeletonError, MotionError),
    ),
)
