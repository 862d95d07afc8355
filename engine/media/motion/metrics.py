"""Errors of a predicted clip against a reference, as the model cards report them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.features import foot_joints
from engine.media.motion.kinematics import (
    forward_kinematics,
    frame_speed,
    global_positions,
    guess_cm_per_unit,
)
from engine.media.motion.rotations import geodesic_angle_deg
from engine.media.motion.skeleton import CANONICAL_JOINTS, SkeletonMap, map_skeleton

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class MotionMetrics:
    """Errors of a prediction against a reference over chosen frames (for model cards).

    ``position_error_cm``: mean global joint position distance; ``rotation_error_deg``:
    mean geodesic angle between global joint rotations; both over the frames and the
    mapped canonical joints (Hips to Toes). ``foot_skating_cm``: the prediction's mean
    horizontal foot speed (cm/frame) while a foot is in contact;
    ``reference_foot_skating_cm`` is the same for the reference, the floor to compare with.
    """

    position_error_cm: float
    rotation_error_deg: float
    foot_skating_cm: float
    reference_foot_skating_cm: float


def motion_metrics(
    reference: Clip,
    prediction: Clip,
    frames: npt.ArrayLike,
    skeleton_map: SkeletonMap | None = None,
    *,
    cm_per_unit: float | None = None,
    contact_height_cm: float = 5.0,
) -> MotionMetrics:
    """Compare ``prediction`` with ``reference`` (same skeleton and length) on ``frames``."""
    if prediction.joints != reference.joints or prediction.n_frames != reference.n_frames:
        raise MotionError("prediction and reference must share skeleton and frame count")
    smap = skeleton_map or map_skeleton(reference)
    scale = cm_per_unit if cm_per_unit is not None else guess_cm_per_unit(reference, smap)
    rows = _frame_indices(frames, reference.n_frames)
    joints = np.array(
        [
            s
            for c, s in zip(CANONICAL_JOINTS, smap.sources, strict=True)
            if s is not None and c != "Root"
        ],
        dtype=np.intp,
    )
    ref_pos, ref_rot = forward_kinematics(reference)
    pred_pos, pred_rot = forward_kinematics(prediction)
    distance = np.linalg.norm(
        pred_pos[np.ix_(rows, joints)] - ref_pos[np.ix_(rows, joints)], axis=-1
    )
    angle = geodesic_angle_deg(ref_rot[np.ix_(rows, joints)], pred_rot[np.ix_(rows, joints)])
    floors = _foot_floors(ref_pos, smap)
    return MotionMetrics(
        position_error_cm=float(distance.mean() * scale),
        rotation_error_deg=float(angle.mean()),
        foot_skating_cm=_skating(pred_pos, smap, rows, floors, scale, contact_height_cm),
        reference_foot_skating_cm=_skating(ref_pos, smap, rows, floors, scale, contact_height_cm),
    )


def foot_skating_cm(
    clip: Clip,
    frames: npt.ArrayLike,
    skeleton_map: SkeletonMap | None = None,
    *,
    cm_per_unit: float | None = None,
    contact_height_cm: float = 5.0,
) -> float:
    """Mean horizontal foot speed (cm/frame) on ``frames`` while a foot joint is near its floor."""
    smap = skeleton_map or map_skeleton(clip)
    scale = cm_per_unit if cm_per_unit is not None else guess_cm_per_unit(clip, smap)
    positions = global_positions(clip)
    rows = _frame_indices(frames, clip.n_frames)
    return _skating(positions, smap, rows, _foot_floors(positions, smap), scale, contact_height_cm)


def _frame_indices(frames: npt.ArrayLike, n_frames: int) -> IndexArray:
    rows = np.unique(np.asarray(frames, dtype=np.intp).reshape(-1))
    if rows.size == 0:
        raise MotionError("no frames to measure")
    if rows[0] < 0 or rows[-1] >= n_frames:
        raise MotionError(
            f"frames {rows[0]}..{rows[-1]} lie outside the clip's frames 0..{n_frames - 1}"
        )
    return rows


def _foot_floors(positions: FloatArray, smap: SkeletonMap) -> FloatArray:
    """Each foot joint's lowest height over the clip; contact is judged relative to it."""
    return np.asarray(positions[:, foot_joints(smap), 1].min(axis=0), dtype=np.float64)


def _skating(
    positions: FloatArray,
    smap: SkeletonMap,
    rows: IndexArray,
    floors: FloatArray,
    scale: float,
    height_cm: float,
) -> float:
    feet = positions[:, foot_joints(smap)]
    speed = frame_speed(feet, axes=(0, 2))[rows] * scale
    contact = (feet[rows, :, 1] - floors) * scale < height_cm
    return float(speed[contact].mean()) if contact.any() else 0.0
