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
from engine.media.bvh import BvhError, Clip, read_bvh, write_bvh
from engine.media.motion import MotionError, interpolate_range
from engine.media.skeleton import PARTS, SkeletonError, SkeletonMap, map_skeleton
from engine.models import ModelManifest
from engine.sampling.types import Step

MEDIUM = "motion"
PREFERRED_MODEL = "motion-mmm"
METHODS = ("model", "interpolate")
_log = logging.getLogger(__name__)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


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
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.bvh")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=_positive, default=None, help="sampler steps")
    parser.add_argument(
        "--variations", type=_positive, default=1, help="K > 1 writes OUT-1.bvh .. OUT-K.bvh"
    )
    parser.add_argument("--model", default=None, help=f"model name (default: {PREFERRED_MODEL})")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="model",
        help="model (default) or interpolate: the linear position + SLERP rotation baseline",
    )


def choose_model(name: str | None) -> ModelManifest:
    """The named model, else the shipped motion model, else the only motion model."""
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
        raise CliError(
            "no motion model installed (see 'remask models'); "
            "--method interpolate gives the linear + SLERP baseline instead"
        )
    names = ", ".join(m.name for m in candidates)
    raise CliError(f"several motion models ({names}): choose one with --model")


def output_paths(output: Path, variations: int) -> list[Path]:
    """``OUT.bvh`` for one variation, ``OUT-1.bvh .. OUT-K.bvh`` for K."""
    if variations == 1:
        return [output]
    suffix = output.suffix or ".bvh"
    return [output.with_name(f"{output.stem}-{k}{suffix}") for k in range(1, variations + 1)]


def _check_outputs(paths: list[Path], source: Path) -> None:
    for path in paths:
        if path.resolve() == source.resolve():
            raise CliError(f"{path}: would overwrite the input; choose another -o")
        if not path.parent.is_dir():
            raise CliError(f"{path.parent}: no such folder")


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

    manifest = choose_model(args.model)
    codec, payload = _codec_and_payload(manifest, clip, smap, args)
    overrides: dict[str, Any] = {"seed": args.seed, "variations": args.variations}
    if args.steps is not None:
        overrides["steps"] = args.steps
    request = GenerateRequest(
        1, manifest.name, manifest.default_settings(**overrides), payload, codec
    )
    model = load_transformer(manifest)
    clips, _tokens = run_model_generation(request, model, manifest.mask_id, _report, lambda: False)
    return [_checked_clip(result, clip) for result in clips]


def _codec_and_payload(
    manifest: ModelManifest, clip: Clip, smap: SkeletonMap, args: argparse.Namespace
) -> tuple[Any, Any]:
    try:
        from engine.media.motion_codec import MotionCodec, MotionPayload
    except ModuleNotFoundError as exc:
        if exc.name != "engine.media.motion_codec":
            raise
        raise CliError("the motion model's codec is not part of this build yet") from None
    first, last = parse_frames(args.frames)
    codec = MotionCodec(cast(Any, manifest))  # its MotionModelFiles protocol wants settable fields
    return codec, MotionPayload(clip, first, last, args.parts, smap)


def _checked_clip(result: object, source: Clip) -> Clip:
    if not isinstance(result, Clip) or result.joints != source.joints:
        raise CliError("the motion codec returned something other than a clip of this skeleton")
    return result


def run_inbetween(args: argparse.Namespace) -> int:
    """Handler of ``remask inbetween``; motion problems become one-line CLI errors (exit 2)."""
    paths = output_paths(args.output, args.variations)
    _check_outputs(paths, args.input)
    parse_frames(args.frames)  # fail on a typo before reading or loading anything
    try:
        clip, smap = _load(args.input)
        method = _interpolate if args.method == "interpolate" else _generate
        results = method(args, clip, smap)
    except (BvhError, SkeletonError, MotionError) as exc:
        raise CliError(str(exc)) from None
    for result, path in zip(results, paths, strict=True):
        write_bvh(result, path)
        print(path)
    return 0


COMMANDS = (
    Command(
        "inbetween",
        "regenerate frames A-B (of one body part) of a BVH clip with the motion model",
        add_arguments,
        run_inbetween,
    ),
)
