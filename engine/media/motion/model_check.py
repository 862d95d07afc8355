"""What a motion model must declare for :class:`~engine.media.motion.codec.MotionCodec` to use it.

Run once when the model is found (``MediumSpec.check_model``): a zero frame rate or
token size, a window the token grid does not match, an encoder or decoder with
other inputs than the codec feeds, or a ``skeleton.json`` that is not a rig the
skeleton mapper knows would otherwise fail mid-edit; here they make the model
broken, reported in one line. The rig is checked by writing it as BVH text and
reading it back, so it meets every limit a BVH file must meet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from engine.manifest import FLOAT_TENSORS, INT_TENSORS, ModelManifest, check_tensor
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.bvh_writer import format_bvh
from engine.media.motion.clip import rig_from_record
from engine.media.motion.codec import _MAX_FPS, _MIN_FPS, MotionCodec
from engine.media.motion.features import FEATURE_SIZE
from engine.media.motion.limits import MAX_DEPTH, MAX_JOINTS
from engine.media.motion.retarget import mean_pose_from_record
from engine.media.motion.skeleton import map_skeleton

MAX_WINDOW_FRAMES = 4096


def _whole(facts: Mapping[str, Any], key: str, high: int) -> int:
    value = facts.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"medium_facts.{key} must be a whole number 1..{high}, got {value!r}")
    return value


def _check_facts(manifest: ModelManifest) -> tuple[float, int]:
    facts = manifest.medium_facts
    fps = facts.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not _MIN_FPS <= fps <= _MAX_FPS:
        raise ValueError(
            f"medium_facts.fps must be a number {_MIN_FPS:g}..{_MAX_FPS:g}, got {fps!r}"
        )
    window = _whole(facts, "window_frames", MAX_WINDOW_FRAMES)
    per_token = _whole(facts, "frames_per_token", window)
    if window % per_token:
        raise ValueError(f"medium_facts.window_frames {window} is not a multiple of {per_token}")
    if tuple(manifest.shape) != (2, window // per_token):
        raise ValueError(
            f"tokens.shape {list(manifest.shape)} must be [2, {window // per_token}] "
            f"(window_frames / frames_per_token)"
        )
    return float(fps), window


def _check_graphs(manifest: ModelManifest, window: int) -> None:
    encoder, decoder = manifest.graph("encoder"), manifest.graph("decoder")
    features = [None, None, FEATURE_SIZE]
    check_tensor("encoder input 'features'", encoder.input("features"), FLOAT_TENSORS, features)
    first_out = encoder.outputs[0] if encoder.outputs else None
    check_tensor("encoder output", first_out, INT_TENSORS, [None, 2, None])
    check_tensor(
        "decoder input 'tokens'", decoder.input("tokens"), ("tensor(int64)",), [None, 2, None]
    )
    check_tensor("decoder input 'context'", decoder.input("context"), FLOAT_TENSORS, features)
    check_tensor("decoder input 'known'", decoder.input("known"), FLOAT_TENSORS, [None, None, 2])
    first_out = decoder.outputs[0] if decoder.outputs else None
    check_tensor("decoder output", first_out, FLOAT_TENSORS, features)
    sides = {"context": FEATURE_SIZE, "known": 2}
    transformer = manifest.graph("transformer")
    for name in manifest.side_inputs:
        node = transformer.input(name)
        check_tensor(
            f"transformer input {name!r}", node, FLOAT_TENSORS, [None, window, sides.get(name)]
        )


def _check_size(parents: Sequence[int]) -> None:
    """The BVH limits on joints and nesting depth (parents come before their children)."""
    if len(parents) > MAX_JOINTS:
        raise ValueError(f"more than {MAX_JOINTS} joints (limits.MAX_JOINTS)")
    depth: list[int] = []
    for parent in parents:
        depth.append(depth[parent] + 1 if 0 <= parent < len(depth) else 1)
    if max(depth, default=0) > MAX_DEPTH:
        raise ValueError(f"joints nested more than {MAX_DEPTH} deep (limits.MAX_DEPTH)")


def _check_skeleton(manifest: ModelManifest, fps: float) -> None:
    """``files.skeleton``, when there is one: a rig the mapper knows, within the BVH limits."""
    if "skeleton" not in manifest.files:
        return
    where = f"files.skeleton {manifest.files['skeleton']}"
    try:
        record = json.loads(manifest.path("skeleton").read_text(encoding="utf-8"))
        rig = rig_from_record(record, 1.0 / fps)
        _check_size(rig.parents)  # before the writer walks the hierarchy recursively
        map_skeleton(parse_bvh(format_bvh(rig), source="skeleton"))
        if "mean_pose" in record:
            mean_pose_from_record(record["mean_pose"])
        floor = record.get("foot_floor_cm", 0.0)
        if (
            isinstance(floor, bool)
            or not isinstance(floor, int | float)
            or not math.isfinite(floor)
        ):
            raise ValueError(f"foot_floor_cm must be a number, got {floor!r}")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as exc:
        reason = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{where} is not a usable rig: {reason}") from None


def check_model(manifest: ModelManifest) -> None:
    """Raise ValueError (one line) unless facts, graphs and rig fit the codec."""
    fps, window = _check_facts(manifest)
    MotionCodec(cast(Any, manifest))  # its protocol wants settable fields; checks the rest
    _check_graphs(manifest, window)
    _check_skeleton(manifest, fps)
