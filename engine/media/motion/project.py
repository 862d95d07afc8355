"""The motion document in a project file: the clip as BVH text, exact values, masks, history.

The BVH member is what any tool can read; BVH text may round numbers (it keeps
the input's number style), so the channel values are also stored exactly as
``motion.npy`` and read back from there. The frame mask and the generated
track are arrays; the history holds diffs of all three. Kept variations
(:mod:`engine.project_variations`) are stored the exact way too, one
``variations/<n>.npy`` of channel values each, with the frame range and part
they regenerated in the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.bvh_writer import format_bvh
from engine.media.motion.clip import Clip
from engine.media.motion.document import PARTS, MotionDocument, MotionPayload
from engine.project_history import ProjectReader, ProjectWriter
from engine.project_variations import KeptVariations, is_int, member_name

__all__ = [
    "MotionVariations",
    "decode_object",
    "encode_object",
    "load_document",
    "load_variations",
    "save_document",
    "save_variations",
]

MotionVariations = KeptVariations[Clip, MotionPayload]
"""Whole-clip variations and the request (frames ``first..last`` of ``part``) they answer."""

CLIP = "document.bvh"
MOTION = "motion.npy"
MASKS = ("mask", "generated")


def save_document(document: MotionDocument, out: ProjectWriter) -> None:
    clip = document.clip  # read-only and rebuilt on change: safe to encode on another thread
    out.meta["name"] = document.name
    out.add_deferred(CLIP, lambda: format_bvh(clip).encode("utf-8"))
    out.add_array(MOTION, clip.motion, copy=False)
    out.add_array("mask.npy", document.mask)
    out.add_array("generated.npy", document.generated)
    out.write_history(document.history)


def load_document(source: ProjectReader) -> MotionDocument:
    clip = parse_bvh(source.bytes(CLIP), f"{source.name}: {CLIP}")
    motion = source.array(MOTION)
    if motion.dtype != np.float64 or motion.shape != clip.motion.shape:
        raise source.error(f"{MOTION} ({motion.shape}) does not fit the clip {clip.motion.shape}")
    if not np.all(np.isfinite(motion)):
        raise source.error(f"{MOTION} holds values that are not finite")
    document = MotionDocument(clip.with_motion(motion), source.meta_field("name", str))
    for target in MASKS:
        array = source.array(f"{target}.npy")
        if array.dtype != np.bool_ or array.shape != document.mask.shape:
            raise source.error(f"{target}.npy ({array.shape}) does not fit the clip")
        document.history.assign(array, target=target)
    source.restore_history(document.history)
    return document


def save_variations(kept: MotionVariations, out: ProjectWriter) -> dict[str, Any]:
    """Each variation's channel values, exactly; the range and part as manifest fields."""
    for index, clip in enumerate(kept.items):
        out.add_array(member_name(index, ".npy"), clip.motion, copy=False)  # never written
    request = kept.context
    return {"first": request.first, "last": request.last, "part": request.part}


def load_variations(
    record: dict[str, Any], count: int, shown: int, source: ProjectReader, document: MotionDocument
) -> MotionVariations:
    """The variations as clips of the document's skeleton; the request rebuilt around it."""
    first, last, part = record.get("first"), record.get("last"), record.get("part")
    frames = document.n_frames
    if not (is_int(first) and is_int(last) and 0 <= first <= last < frames):
        raise source.error(f"the variations' frame range is not inside the {frames} frames")
    if part not in PARTS:
        raise source.error("the variations' body part is not one remask knows")
    clips = []
    for index in range(count):
        member = member_name(index, ".npy")
        motion = source.array(member)
        if motion.dtype != np.float64 or motion.shape != document.clip.motion.shape:
            raise source.error(f"{member} ({motion.shape}) does not fit the clip")
        if not np.all(np.isfinite(motion)):
            raise source.error(f"{member} holds values that are not finite")
        clips.append(document.clip.with_motion(motion))
    request = MotionPayload(document.clip, first, last, part, document.skeleton_map)
    return KeptVariations(tuple(clips), request, shown)


def encode_object(value: Any, out: ProjectWriter) -> dict[str, Any]:
    raise TypeError(f"a motion history holds arrays only, not {type(value).__name__}")


def decode_object(record: dict[str, Any], source: ProjectReader) -> Any:
    raise source.error("a motion history holds arrays only")
