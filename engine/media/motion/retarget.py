"""Rig alignment: read another rig's joint rotations in the model rig's joint frames.

Why it is needed: motion features are global joint rotations measured from the rig's
rest frames, and rigs choose those frames freely. The Bandai rig the model was trained
on runs each bone along its local X axis; the Character Creator rig runs bones along
local Y; CMU and ReActIdle files have world-aligned frames in a T-pose. The same pose
therefore gives different rotations on each rig, and the model reads a foreign rig's
motion as nonsense: its in-betweens land further off than plain interpolation would.

A :class:`RigFit` reads a clip as if it were on the model's rig:

- a constant rotation per canonical joint turns the source joint's frame into the
  model's (``engine.media.motion.rig_alignment`` finds them);
- units and body size scale by leg length (thigh + shin), so neither has to be guessed;
- the floor is the lowest foot joint (:func:`foot_floor`), so the Hips height reads as
  the model learnt it.

A rig with the model rig's own bone directions gets no alignment at all (None), so
clips on the training rig go through exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.features import MotionFeatures, feature_globals, foot_joints
from engine.media.motion.kinematics import global_positions, rest_leg_length
from engine.media.motion.rig_alignment import (
    ModelRig,
    rig_alignment,
    sampled_frames,
)
from engine.media.motion.rotations import nearest_rotation
from engine.media.motion.skeleton import CANONICAL_JOINTS, SkeletonMap

FloatArray = npt.NDArray[np.float64]

FLOOR_PERCENTILE = 5.0
"""The floor is the lowest foot joint's height at this percentile of the clip's frames."""

_N_JOINTS = len(CANONICAL_JOINTS)


@dataclass(frozen=True)
class RigFit:
    """How a clip on a foreign rig is read as if it were on the model's rig."""

    corrections: FloatArray  # [22, 3, 3]: G_model = G_source @ C per canonical joint
    cm_per_unit: float  # model centimetres per clip unit: the clip's units and body size
    height_offset_cm: float  # taken off the Hips height so the floor lies where it did in training


def foot_floor(clip: Clip, smap: SkeletonMap) -> float:
    """Height (clip units) of the lowest foot or toe joint (:data:`FLOOR_PERCENTILE`).

    Rigs put the ground anywhere relative to their origin, and the model learnt the Hips
    height above its own training rig's floor, so heights are compared through this floor.
    """
    positions = global_positions(sampled_frames(clip))
    lowest = positions[:, foot_joints(smap), 1].min(axis=1)
    return float(np.percentile(lowest, FLOOR_PERCENTILE))


def fit_rig(clip: Clip, smap: SkeletonMap, model: ModelRig) -> RigFit | None:
    """The :class:`RigFit` of ``clip``, or None on the model's own rig.

    The scale is the model's leg length over the clip's, which covers both the file's
    units and the body's size (a child, a giant) without guessing either.
    """
    corrections = rig_alignment(clip, smap, model)
    if corrections is None:
        return None
    scale = model.leg_cm / rest_leg_length(clip, smap)
    offset = foot_floor(clip, smap) * scale - model.foot_floor_cm
    return RigFit(corrections, scale, offset)


def mean_pose_from_features(features: Sequence[npt.ArrayLike]) -> FloatArray:
    """Chordal mean ``[22, 3, 3]`` of the heading-relative global rotation of every joint.

    ``features`` are model feature arrays ``[F, 132]`` (Hips heading-relative, the other
    joints relative to their canonical parents), as the training takes hold them.
    """
    sums = np.zeros((_N_JOINTS, 3, 3))
    for array in features:
        decoded = MotionFeatures.from_array(array, start_position=np.zeros(2), start_heading=0.0)
        sums += feature_globals(decoded, np.zeros(decoded.n_frames)).sum(axis=0)
    mean = nearest_rotation(sums)
    mean[0] = np.eye(3)
    return mean


def mean_pose_record(mean_pose: FloatArray) -> dict[str, list[list[float]]]:
    """``mean_pose`` as JSON-ready data keyed by canonical joint name (for ``skeleton.json``)."""
    return {name: np.round(mean_pose[i], 6).tolist() for i, name in enumerate(CANONICAL_JOINTS)}


def mean_pose_from_record(record: Mapping[str, Any]) -> FloatArray:
    """Inverse of :func:`mean_pose_record`; a joint missing from the record is identity."""
    pose = np.broadcast_to(np.eye(3), (_N_JOINTS, 3, 3)).copy()
    for i, name in enumerate(CANONICAL_JOINTS):
        if name in record:
            pose[i] = nearest_rotation(np.asarray(record[name], dtype=np.float64))
    return pose
