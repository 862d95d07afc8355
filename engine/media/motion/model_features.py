"""Feature arrays as the motion model reads and writes them: in cm, at its rate, in its window.

A clip's :class:`~engine.media.motion.features.MotionFeatures` are in the clip's units
and at the clip's rate; the model was trained on arrays ``[frames, 132]`` in cm at its
own fps, on its own rig's joint frames. :func:`read_for_model` turns one into the
other, and the codec and the training data both go through it, so both sides read a
clip the same way. The rest repairs what comes back: a decoded array may hold
degenerate rotations (:func:`usable_rotations`) and a root that drifted away from
the kept trajectory (:func:`land_root`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.features import (
    FEATURE_JOINTS,
    FEATURE_SIZE,
    MotionFeatures,
    clip_features,
    rotate_xz,
)
from engine.media.motion.retarget import RigFit
from engine.media.motion.skeleton import UPPER_JOINTS, SkeletonMap

Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]

UNIT_COLUMNS = [0, 1, 2]
"""Root velocity x/z and height: the columns in clip units (cm for the model)."""
HEIGHT_COLUMN = 2
ROOT_VELOCITY_COLUMNS = [0, 1, 3]
"""Root and heading velocity: zero on a window's first frame and on held frames."""
_IDENTITY_6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


@dataclass(frozen=True)
class ModelReading:
    """A clip as the model reads it: features in the model rig's frames, cm, model rate."""

    features: MotionFeatures  # at the clip's rate and in its units (frames aligned)
    alignment: Float64Array | None  # the rig's frames -> the model's (None: its own)
    cm_per_unit: float  # model cm per clip unit (units, and body size on a foreign rig)
    height_offset_cm: float  # taken off the Hips height (the floor where training had it)
    model_rate: Float64Array  # [frames at the model's fps, FEATURE_SIZE]


def read_for_model(
    clip: Clip, smap: SkeletonMap, fit: RigFit | None, model_fps: float, cm_per_unit: float
) -> ModelReading:
    """``clip``'s features the way the model was trained on them.

    ``fit`` (None on the model's own rig) comes from the whole clip; ``cm_per_unit`` is
    the clip's unit (used as is on the model's rig, for foot contacts on any rig).
    Training reads clips on other rigs through this too, so both sides agree.
    """
    alignment = None if fit is None else fit.corrections
    features = clip_features(clip, smap, cm_per_unit=cm_per_unit, alignment=alignment)
    model_cm = cm_per_unit if fit is None else fit.cm_per_unit
    height_offset = 0.0 if fit is None else fit.height_offset_cm
    clip_rate = features.to_array()
    clip_rate[:, UNIT_COLUMNS] *= model_cm
    clip_rate[:, HEIGHT_COLUMN] -= height_offset
    ratio = clip.fps / model_fps
    model_rate = resample_features(clip_rate, ratio, math.ceil(len(clip_rate) / ratio))
    return ModelReading(features, alignment, model_cm, height_offset, model_rate)


def resample_features(array: Float64Array, step: float, count: int) -> Float64Array:
    """``count`` rows of ``array`` sampled every ``step`` rows (linear); per-frame velocities
    are scaled by ``step``. With ``step`` 1 the rows are copied exactly."""
    if step == 1.0:
        return np.array(array[:count], dtype=np.float64)
    positions = np.minimum(np.arange(count) * step, len(array) - 1)
    low = np.floor(positions).astype(np.intp)
    high = np.minimum(low + 1, len(array) - 1)
    weight = (positions - low)[:, None]
    out = array[low] * (1.0 - weight) + array[high] * weight
    out[:, ROOT_VELOCITY_COLUMNS] *= step
    out[:, -2:] = np.round(out[:, -2:])  # contacts stay 0/1
    return np.asarray(out, dtype=np.float64)


def pad_edge_hold(features: Float32Array, frames: int) -> Float32Array:
    """Extend to at least ``frames`` frames by holding the last pose (root velocities 0).

    A clip shorter than the model's window then reads as a character standing still
    after its last frame, not as one that keeps walking.
    """
    missing = frames - len(features)
    if missing <= 0:
        return features
    tail = np.repeat(features[-1:], missing, axis=0)
    tail[:, ROOT_VELOCITY_COLUMNS] = 0.0
    return np.concatenate([features, tail]).astype(np.float32)


def part_columns(part: str) -> npt.NDArray[np.intp]:
    """Feature columns of a body part (``engine.media.motion.skeleton.PARTS``).

    ``upper`` is the 6D rotations of the upper-body joints; ``lower`` everything else,
    root trajectory and contacts included.
    """
    upper = [
        c
        for i, n in enumerate(FEATURE_JOINTS)
        if n in UPPER_JOINTS
        for c in range(4 + 6 * i, 10 + 6 * i)
    ]
    if part == "full":
        return np.arange(FEATURE_SIZE, dtype=np.intp)
    if part == "upper":
        return np.array(upper, dtype=np.intp)
    return np.array([c for c in range(FEATURE_SIZE) if c not in set(upper)], dtype=np.intp)


def usable_rotations(array: Float64Array) -> Float64Array:
    """Replace degenerate 6D rotations (zero or parallel columns) of a decoded array by identity."""
    out = array.copy()
    six = out[:, 4:-2].reshape(len(out), -1, 6)
    a, b = six[..., :3], six[..., 3:]
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    scale = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    bad = ~(cross > 1e-3 * np.maximum(scale, 1e-12)) | ~np.isfinite(six).all(axis=-1)
    six[bad] = _IDENTITY_6D
    out[:, 4:-2] = six.reshape(len(out), -1)
    return out


def _headings(features: Float64Array, start: float) -> Float64Array:
    return start + np.cumsum(np.concatenate([[0.0], features[1:, 3]]))


def land_root(
    mixed: Float64Array,
    original: Float64Array,
    anchor: MotionFeatures,
    first: int,
    last: int,
) -> Float64Array:
    """Spread the generated root's heading and position drift over the range.

    After the range the kept (original) velocities resume, so the root lands on the
    kept trajectory exactly when heading and position at ``last`` match the original's.
    """
    out = mixed.copy()
    lo = max(first, 1)  # frame 0's velocity is not used
    count = last - lo + 1
    if count <= 0:
        return out
    drift = (
        _headings(out, anchor.start_heading)[last] - _headings(original, anchor.start_heading)[last]
    )
    drift = (drift + np.pi) % (2 * np.pi) - np.pi
    out[lo : last + 1, 3] -= drift / count
    heading = _headings(out, anchor.start_heading)
    steps = np.zeros((len(out), 2))
    steps[1:] = rotate_xz(out[1:, 0:2], heading[:-1])
    target_steps = np.zeros((len(out), 2))
    target_steps[1:] = rotate_xz(original[1:, 0:2], _headings(original, anchor.start_heading)[:-1])
    error = steps[: last + 1].sum(axis=0) - target_steps[: last + 1].sum(axis=0)
    steps[lo : last + 1] -= error / count
    out[lo : last + 1, 0:2] = rotate_xz(steps[lo : last + 1], -heading[lo - 1 : last])
    return out
