"""Writing a :class:`~engine.media.motion.clip.Clip` as BVH text.

Numbers are written in the style they were read in where that is lossless: with the
clip's fixed number of decimals when the file had one (see ``engine.media.motion.bvh``),
otherwise as the shortest text that reads back to the identical float (``repr``), so a
clip read and written back gives the same file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from engine.atomic import write_atomic
from engine.media.motion.bvh import BvhError
from engine.media.motion.clip import Clip, FloatArray, Joint, Vec3


def write_bvh(clip: Clip, path: str | os.PathLike[str]) -> None:
    """Write ``clip`` as BVH text (see :func:`format_bvh`), atomically (:mod:`engine.atomic`).

    A failed or killed write leaves the old file whole; an OS error is one
    :class:`BvhError` line.
    """
    write_bvh_bytes(format_bvh(clip).encode("utf-8"), path)


def write_bvh_bytes(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write BVH file bytes atomically; an OS error is one :class:`BvhError` line."""
    try:
        write_atomic(path, data)
    except OSError as error:
        raise BvhError(f"{path}: cannot write: {error.strerror or error}") from None


def format_bvh(clip: Clip) -> str:
    """BVH text for ``clip``: tab-indented HIERARCHY, then MOTION with one line per frame."""
    if not np.all(np.isfinite(clip.motion)):
        raise BvhError("cannot write a clip with non-finite channel values")
    children: list[list[int]] = [[] for _ in clip.joints]
    for index, joint in enumerate(clip.joints):
        if joint.parent >= 0:
            children[joint.parent].append(index)
    out = ["HIERARCHY"]
    for index, joint in enumerate(clip.joints):
        if joint.parent < 0:
            _write_joint(clip.joints, children, index, 0, out)
    out += ["MOTION", f"Frames: {clip.n_frames}", f"Frame Time: {_shortest(clip.frame_time)}"]
    out += _format_rows(clip.motion, clip.decimals)
    return "\n".join(out) + "\n"


def _write_joint(
    joints: Sequence[Joint],
    children: Sequence[Sequence[int]],
    index: int,
    depth: int,
    out: list[str],
) -> None:
    joint = joints[index]
    pad = "\t" * depth
    out.append(f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
    out.append(f"{pad}{{")
    out.append(f"{pad}\tOFFSET {_vec(joint.offset)}")
    out.append(f"{pad}\tCHANNELS {len(joint.channels)}" + "".join(f" {c}" for c in joint.channels))
    for child in children[index]:
        _write_joint(joints, children, child, depth + 1, out)
    if joint.end_site is not None:
        out += [
            f"{pad}\tEnd Site",
            f"{pad}\t{{",
            f"{pad}\t\tOFFSET {_vec(joint.end_site)}",
            f"{pad}\t}}",
        ]
    out.append(f"{pad}}}")


def _vec(values: Vec3) -> str:
    return " ".join(_shortest(v) for v in values)


def _shortest(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``repr``), without a bare ``.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _format_rows(motion: FloatArray, decimals: int | None) -> list[str]:
    if decimals is not None:
        row_format = " ".join([f"%.{decimals}f"] * motion.shape[1])
        return [row_format % tuple(row) for row in motion.tolist()]
    return [" ".join(map(_shortest, row)) for row in motion.tolist()]
