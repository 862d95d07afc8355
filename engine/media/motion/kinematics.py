"""Forward kinematics of a :class:`~engine.media.motion.clip.Clip`, its rest pose and its units.

Everything reads the raw BVH channel values through the conventions of
``engine.media.motion.rotations`` (column vectors, intrinsic Euler in channel order,
degrees). Y is up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.rotations import euler_to_matrix
from engine.media.motion.skeleton import SkeletonMap, map_skeleton

FloatArray = npt.NDArray[np.float64]


def local_rotations(clip: Clip) -> FloatArray:
    """Each joint's rotation relative to its parent, ``[F, J, 3, 3]`` (identity if it has none)."""
    rotations = np.broadcast_to(np.eye(3), (clip.n_frames, len(clip.joints), 3, 3)).copy()
    for index, joint in enumerate(clip.joints):
        if joint.rotation_order:
            angles = clip.motion[:, clip.channel_columns(index, "rotation")]
            rotations[:, index] = euler_to_matrix(angles, joint.rotation_order)
    return rotations


def local_translations(clip: Clip) -> FloatArray:
    """Each joint's translation from its parent, ``[F, J, 3]``.

    BVH semantics (as Blender reads them): a position channel *replaces* the
    offset on its axis; axes without a channel keep the OFFSET value.
    """
    translations = np.broadcast_to(clip.offsets, (clip.n_frames, len(clip.joints), 3)).copy()
    for index, joint in enumerate(clip.joints):
        for axis, column in zip(
            joint.position_axes, clip.channel_columns(index, "position"), strict=True
        ):
            translations[:, index, "XYZ".index(axis)] = clip.motion[:, column]
    return translations


def forward_kinematics(clip: Clip) -> tuple[FloatArray, FloatArray]:
    """Global joint positions ``[F, J, 3]`` and rotations ``[F, J, 3, 3]`` in the clip's units."""
    return _chain(local_rotations(clip), local_translations(clip), clip.parents)


def global_positions(clip: Clip) -> FloatArray:
    """Global joint positions ``[F, J, 3]`` (see :func:`forward_kinematics`)."""
    return forward_kinematics(clip)[0]


def _chain(
    rotations: FloatArray, translations: FloatArray, parents: Sequence[int]
) -> tuple[FloatArray, FloatArray]:
    """Compose local transforms down the hierarchy (parents precede children)."""
    positions = np.empty(translations.shape)
    globals_ = np.empty(rotations.shape)
    for joint, parent in enumerate(parents):
        if parent < 0:
            globals_[:, joint] = rotations[:, joint]
            positions[:, joint] = translations[:, joint]
        else:
            globals_[:, joint] = globals_[:, parent] @ rotations[:, joint]
            positions[:, joint] = positions[:, parent] + apply_rotation(
                globals_[:, parent], translations[:, joint]
            )
    return positions, globals_


def apply_rotation(rotation: FloatArray, vector: FloatArray) -> FloatArray:
    """``rotation @ vector`` for stacks of matrices ``[..., 3, 3]`` and vectors ``[..., 3]``."""
    return np.asarray(np.einsum("...ij,...j->...i", rotation, vector), dtype=np.float64)


def rest_positions(clip: Clip) -> FloatArray:
    """Global joint positions ``[J, 3]`` of the rest pose (all rotations zero, offsets only)."""
    offsets = clip.offsets
    positions = np.zeros_like(offsets)
    for joint, parent in enumerate(clip.parents):
        positions[joint] = offsets[joint] + (positions[parent] if parent >= 0 else 0.0)
    return positions


_UNIT_CANDIDATES = {0.1: "mm", 1.0: "cm", 2.54: "inch", 100.0: "m"}
_TYPICAL_LEG_CM = 90.0


def guess_cm_per_unit(clip: Clip, skeleton_map: SkeletonMap | None = None) -> float:
    """Centimetres per clip unit (0.1, 1, 2.54 or 100), judged from the rest-pose leg length.

    BVH has no unit field; Bandai and the CC rig use cm, ReActIdle metres. Thresholds
    and metrics are stated in cm, so they need this factor.
    """
    leg = rest_leg_length(clip, skeleton_map or map_skeleton(clip))
    if leg <= 0:
        raise MotionError("cannot judge the clip's units: the rest-pose leg has zero length")
    return min(_UNIT_CANDIDATES, key=lambda unit: abs(np.log(leg * unit / _TYPICAL_LEG_CM)))


def rest_leg_length(clip: Clip, skeleton_map: SkeletonMap) -> float:
    """Thigh + shin length at rest, mean of both legs, in clip units (legs are required joints)."""
    rest = rest_positions(clip)
    total = 0.0
    for side in "LR":
        names = (f"UpperLeg_{side}", f"LowerLeg_{side}", f"Foot_{side}")
        chain = [skeleton_map.source_of(name) for name in names]
        hip, knee, ankle = (rest[i] for i in chain if i is not None)
        total += float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))
    return total / 2


def frame_speed(points: FloatArray, axes: Sequence[int] = (0, 1, 2)) -> FloatArray:
    """Per-frame displacement length ``[F, ...]``; frame 0 uses the step to frame 1."""
    if points.shape[0] < 2:
        return np.zeros(points.shape[:-1])
    step = np.linalg.norm(np.diff(points[..., list(axes)], axis=0), axis=-1)
    return np.concatenate([step[:1], step], axis=0)
