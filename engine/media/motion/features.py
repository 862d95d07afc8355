"""Model features of a clip, in the canonical skeleton, and the clip they decode back into.

The features (:class:`MotionFeatures`) are expressed in the canonical skeleton
(``engine.media.motion.skeleton``), so a model trained on one rig can be fed from any
rig the alias table maps; :func:`features_to_clip` writes them back onto a template
rig, leaving every channel the features do not drive as the template has it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.kinematics import (
    apply_rotation,
    forward_kinematics,
    frame_speed,
    guess_cm_per_unit,
    local_rotations,
    local_translations,
)
from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    matrix_to_6d,
    matrix_to_euler,
    sixd_to_matrix,
    unwrap_degrees,
    yaw_matrix,
)
from engine.media.motion.skeleton import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    SkeletonMap,
    map_skeleton,
)

FloatArray = npt.NDArray[np.float64]

FEATURE_JOINTS: tuple[str, ...] = CANONICAL_JOINTS[1:]
"""Joints whose rotations are features: all canonical joints but ``Root`` (whose channels
the decoded clip takes from its template; the trajectory lives in ``Hips``)."""

FEATURE_SIZE = 2 + 1 + 1 + 6 * len(FEATURE_JOINTS) + 2
"""Per-frame feature width: root velocity (2), height (1), heading velocity (1),
6D rotations (21 x 6), contacts (2) = 132."""

_HIPS = CANONICAL_JOINTS.index("Hips")
_FOOT_JOINTS = {"L": ("Foot_L", "Toes_L"), "R": ("Foot_R", "Toes_R")}


@dataclass(frozen=True, eq=False)
class MotionFeatures:
    """Per-frame model features of a clip, in the canonical skeleton.

    - ``root_velocity`` ``[F, 2]``: Hips (x, z) displacement since the previous frame,
      expressed in the previous frame's heading frame (so walking forward is +z
      whichever way the character faces); clip units per frame; row 0 is 0.
    - ``root_height`` ``[F]``: Hips y.
    - ``heading_velocity`` ``[F]``: change of heading since the previous frame, radians
      in (-pi, pi]; row 0 is 0. Heading is the yaw of the hip line (left minus right
      thigh) turned 90 degrees, so it depends on the lower body only and an upper-body
      edit cannot change it.
    - ``rotations_6d`` ``[F, 21, 6]`` in :data:`FEATURE_JOINTS` order: Hips as its global
      rotation with the heading taken off, every other joint relative to its canonical
      parent (intermediate source joints composed in). Joints the rig lacks hold identity.
    - ``contacts`` ``[F, 2]``: 1.0 where the left / right foot is planted.
    - ``start_position`` (x, z) and ``start_heading`` (radians) anchor frame 0, so the
      velocities integrate back to the exact trajectory.
    """

    root_velocity: FloatArray
    root_height: FloatArray
    heading_velocity: FloatArray
    rotations_6d: FloatArray
    contacts: FloatArray
    start_position: FloatArray
    start_heading: float

    @property
    def n_frames(self) -> int:
        return int(self.root_height.shape[0])

    def to_array(self) -> FloatArray:
        """The flat per-frame vector ``[F, FEATURE_SIZE]`` a tokenizer consumes."""
        frames = self.n_frames
        return np.concatenate(
            [self.root_velocity, self.root_height[:, None], self.heading_velocity[:, None],
             self.rotations_6d.reshape(frames, -1), self.contacts], axis=1,
        )  # fmt: skip

    @staticmethod
    def from_array(
        array: npt.ArrayLike, start_position: npt.ArrayLike, start_heading: float
    ) -> MotionFeatures:
        """Inverse of :meth:`to_array` (a model's output plus the anchor of its first frame)."""
        flat = np.asarray(array, dtype=np.float64)
        if flat.ndim != 2 or flat.shape[1] != FEATURE_SIZE:
            raise MotionError(
                f"feature array has shape {flat.shape}; expected [frames, {FEATURE_SIZE}]"
            )
        return MotionFeatures(
            root_velocity=flat[:, 0:2], root_height=flat[:, 2], heading_velocity=flat[:, 3],
            rotations_6d=flat[:, 4:-2].reshape(len(flat), len(FEATURE_JOINTS), 6),
            contacts=flat[:, -2:],
            start_position=np.asarray(start_position, dtype=np.float64).reshape(2),
            start_heading=float(start_heading),
        )  # fmt: skip


def canonical_pose(
    clip: Clip, skeleton_map: SkeletonMap | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Joint positions ``[F, J, 3]``, canonical global rotations ``[F, 22, 3, 3]`` in the
    clip's own joint frames, and the heading ``[F]`` (radians) of every frame."""
    smap = skeleton_map or map_skeleton(clip)
    positions, rotations = forward_kinematics(clip)
    return positions, _canonical_globals(rotations, smap), _heading(positions, smap)


def clip_features(
    clip: Clip,
    skeleton_map: SkeletonMap | None = None,
    *,
    contact_height_cm: float = 8.0,
    contact_speed_cm_s: float = 80.0,
    cm_per_unit: float | None = None,
    alignment: FloatArray | None = None,
) -> MotionFeatures:
    """The model features of ``clip`` (see :class:`MotionFeatures`).

    The contact defaults (8 cm, 80 cm/s) are loose enough that a standing foot counts
    as planted throughout and tight enough that a swinging one does not; ``cm_per_unit``
    is guessed from the rig when not given. ``alignment`` ``[22, 3, 3]`` turns each
    canonical joint's frame into the model rig's (``engine.media.motion.retarget``);
    None keeps the clip's own.
    """
    smap = skeleton_map or map_skeleton(clip)
    positions, canonical, heading = canonical_pose(clip, smap)
    if alignment is not None:
        canonical = canonical @ alignment
    hips = positions[:, _source(smap, "Hips")]
    relative_hips = np.swapaxes(yaw_matrix(heading), -1, -2) @ canonical[:, _HIPS]
    locals_ = _canonical_locals(canonical)
    locals_[:, 0] = relative_hips
    scale = cm_per_unit if cm_per_unit is not None else guess_cm_per_unit(clip, smap)
    contacts = foot_contacts(
        positions, smap, clip.frame_time, scale, contact_height_cm, contact_speed_cm_s
    )
    return MotionFeatures(
        root_velocity=_root_velocity(hips[:, [0, 2]], heading),
        root_height=hips[:, 1].copy(),
        heading_velocity=np.concatenate([[0.0], _wrap_angle(np.diff(heading))]),
        rotations_6d=matrix_to_6d(locals_),
        contacts=contacts,
        start_position=hips[0, [0, 2]].copy(),
        start_heading=float(heading[0]),
    )


def _source(smap: SkeletonMap, canonical: str) -> int:
    index = smap.source_of(canonical)
    if index is None:
        raise MotionError(f"the skeleton has no {canonical} joint")
    return index


def _canonical_globals(rotations: FloatArray, smap: SkeletonMap) -> FloatArray:
    """Global rotations ``[F, 22, 3, 3]`` of canonical joints; a missing joint copies its parent."""
    frames = rotations.shape[0]
    canonical = np.empty((frames, len(CANONICAL_JOINTS), 3, 3))
    for index, source in enumerate(smap.sources):
        parent = CANONICAL_PARENTS[index]
        if source is not None:
            canonical[:, index] = rotations[:, source]
        elif parent >= 0:
            canonical[:, index] = canonical[:, parent]
        else:
            canonical[:, index] = np.eye(3)
    return canonical


def _canonical_locals(canonical: FloatArray) -> FloatArray:
    """Rotations of the feature joints relative to their canonical parents, ``[F, 21, 3, 3]``."""
    parents = [CANONICAL_PARENTS[CANONICAL_JOINTS.index(name)] for name in FEATURE_JOINTS]
    children = canonical[:, 1:]
    return np.swapaxes(canonical[:, parents], -1, -2) @ children


def _heading(positions: FloatArray, smap: SkeletonMap) -> FloatArray:
    """Yaw (radians) of the facing direction: the hip line (left - right thigh) crossed with +Y."""
    across = positions[:, _source(smap, "UpperLeg_L")] - positions[:, _source(smap, "UpperLeg_R")]
    return np.arctan2(-across[:, 2], across[:, 0])


def _wrap_angle(radians: FloatArray) -> FloatArray:
    """Angles mapped into (-pi, pi]."""
    return np.pi - np.mod(np.pi - radians, 2 * np.pi)


def rotate_xz(xz: FloatArray, yaw: FloatArray) -> FloatArray:
    """Rotate (x, z) vectors about +Y by ``yaw`` (the same rotation :func:`yaw_matrix` makes)."""
    cos, sin = np.cos(yaw), np.sin(yaw)
    return np.stack([cos * xz[:, 0] + sin * xz[:, 1], -sin * xz[:, 0] + cos * xz[:, 1]], axis=-1)


def _root_velocity(root_xz: FloatArray, heading: FloatArray) -> FloatArray:
    velocity = np.zeros_like(root_xz)
    velocity[1:] = rotate_xz(np.diff(root_xz, axis=0), -heading[:-1])
    return velocity


def foot_contacts(
    positions: FloatArray,
    smap: SkeletonMap,
    frame_time: float,
    cm_per_unit: float,
    height_cm: float = 8.0,
    speed_cm_s: float = 80.0,
) -> FloatArray:
    """Planted feet ``[F, 2]`` (left, right) as 0.0/1.0.

    A foot is planted when its ankle or toe joint is within ``height_cm`` of that
    joint's lowest point in the clip and moves slower than ``speed_cm_s``. The
    per-joint floor makes the test independent of where the rig puts the ground.
    """
    contacts = np.zeros((positions.shape[0], 2))
    for column, side in enumerate("LR"):
        joints = [j for j in (smap.source_of(name) for name in _FOOT_JOINTS[side]) if j is not None]
        feet = positions[:, joints] * cm_per_unit  # [F, k, 3]
        low = feet[..., 1] - feet[..., 1].min(axis=0) < height_cm
        slow = frame_speed(feet) / frame_time < speed_cm_s
        contacts[:, column] = np.any(low & slow, axis=1)
    return contacts


def foot_joints(smap: SkeletonMap) -> list[int]:
    """Source indices of the mapped foot and toe joints."""
    names = _FOOT_JOINTS["L"] + _FOOT_JOINTS["R"]
    return [j for j in (smap.source_of(n) for n in names) if j is not None]


def features_to_clip(
    features: MotionFeatures,
    template: Clip,
    skeleton_map: SkeletonMap | None = None,
    alignment: FloatArray | None = None,
) -> Clip:
    """Decode features into a clip on ``template``'s skeleton.

    Channels the features do not drive (unmapped joints such as fingers and twist
    bones, joints above Hips, position channels below Hips) are copied from
    ``template``, which has the same number of frames or exactly one (then repeated).
    Mapped joints get rotations whose globals equal the canonical ones, so
    intermediate source joints keep their template rotations and the mapped joint
    below them compensates. The Hips position is written to the nearest joint at
    or above Hips that has X, Y and Z position channels. ``alignment`` is the one
    :func:`clip_features` used for this rig; its inverse brings the model's frames back.
    """
    smap = skeleton_map or map_skeleton(template)
    motion = _template_motion(template, features.n_frames)
    heading = features.start_heading + np.cumsum(
        np.concatenate([[0.0], features.heading_velocity[1:]])
    )
    hips_xz = _integrate_root(features.start_position, features.root_velocity, heading)
    hips_position = np.stack([hips_xz[:, 0], features.root_height, hips_xz[:, 1]], axis=-1)
    target = feature_globals(features, heading)
    if alignment is not None:
        target = target @ np.swapaxes(alignment, -1, -2)
    work = Clip(template.joints, template.frame_time, motion, template.decimals)
    source_globals = _solve_rotations(work, smap, target, motion)
    _place_root(work, smap, source_globals, hips_position, motion)
    return Clip(template.joints, template.frame_time, motion, template.decimals)


def _template_motion(template: Clip, frames: int) -> FloatArray:
    if template.n_frames == frames:
        return template.motion.copy()
    if template.n_frames == 1:
        return np.repeat(template.motion, frames, axis=0)
    raise MotionError(f"template has {template.n_frames} frames; the features have {frames}")


def _integrate_root(start: FloatArray, velocity: FloatArray, heading: FloatArray) -> FloatArray:
    steps = np.zeros_like(velocity)
    steps[1:] = rotate_xz(velocity[1:], heading[:-1])
    return np.asarray(start, dtype=np.float64)[None, :] + np.cumsum(steps, axis=0)


def feature_globals(features: MotionFeatures, heading: FloatArray) -> FloatArray:
    """Global rotations ``[F, 22, 3, 3]`` the features describe (Root identity): what a
    decoded clip must reproduce; with ``heading`` 0, the heading-relative pose."""
    locals_ = sixd_to_matrix(features.rotations_6d)
    target = np.broadcast_to(np.eye(3), (features.n_frames, len(CANONICAL_JOINTS), 3, 3)).copy()
    target[:, _HIPS] = yaw_matrix(heading) @ locals_[:, 0]
    for offset, name in enumerate(FEATURE_JOINTS[1:], start=1):
        index = CANONICAL_JOINTS.index(name)
        target[:, index] = target[:, CANONICAL_PARENTS[index]] @ locals_[:, offset]
    return target


def _solve_rotations(
    work: Clip, smap: SkeletonMap, target: FloatArray, motion: FloatArray
) -> FloatArray:
    """Write rotation channels of mapped joints into ``motion``; return all source globals."""
    template_locals = local_rotations(work)
    canonical_of = {s: c for c, s in enumerate(smap.sources) if s is not None and c != 0}
    source_globals = np.empty_like(template_locals)
    for joint, spec in enumerate(work.joints):
        parent = source_globals[:, spec.parent] if spec.parent >= 0 else np.eye(3)
        if joint in canonical_of:
            source_globals[:, joint] = target[:, canonical_of[joint]]
            local = np.swapaxes(parent, -1, -2) @ target[:, canonical_of[joint]]
            _write_rotation(work, joint, local, motion)
        else:
            source_globals[:, joint] = parent @ template_locals[:, joint]
    return source_globals


def _write_rotation(clip: Clip, joint: int, local: FloatArray, motion: FloatArray) -> None:
    spec = clip.joints[joint]
    if spec.rotation_order not in TAIT_BRYAN_ORDERS:
        raise MotionError(
            f"joint {spec.name!r} has rotation channels {spec.rotation_order or 'none'}; "
            f"a decoded rotation needs three distinct axes"
        )
    motion[:, clip.channel_columns(joint, "rotation")] = unwrap_degrees(
        matrix_to_euler(local, spec.rotation_order)
    )


def _place_root(
    work: Clip,
    smap: SkeletonMap,
    source_globals: FloatArray,
    hips_position: FloatArray,
    motion: FloatArray,
) -> None:
    """Solve the translation channels that put Hips at ``hips_position``.

    Hips' global position is affine in the carrier's translation: evaluate it at
    zero, then the missing step is the target minus that, seen in the carrier's parent frame.
    """
    hips = _source(smap, "Hips")
    carrier = _translation_carrier(work, hips)
    columns = work.channel_columns(carrier, "position")
    order = ["XYZ".index(axis) for axis in work.joints[carrier].position_axes]
    motion[:, columns] = 0.0
    placed = Clip(work.joints, work.frame_time, motion, work.decimals)
    at_zero = _position_along_chain(placed, source_globals, hips)
    parent = work.joints[carrier].parent
    frame = (
        source_globals[:, parent]
        if parent >= 0
        else np.broadcast_to(np.eye(3), source_globals[:, 0].shape)
    )
    translation = apply_rotation(np.swapaxes(frame, -1, -2), hips_position - at_zero)
    motion[:, columns] = translation[:, order]


def _translation_carrier(clip: Clip, hips: int) -> int:
    node = hips
    while node >= 0:
        if sorted(clip.joints[node].position_axes) == ["X", "Y", "Z"]:
            return node
        node = clip.joints[node].parent
    raise MotionError(
        f"cannot place the root: no joint at or above {clip.joints[hips].name!r} "
        "has X, Y and Z position channels"
    )


def _position_along_chain(clip: Clip, source_globals: FloatArray, joint: int) -> FloatArray:
    """Global position ``[F, 3]`` of one joint, walking only its ancestors."""
    chain = []
    node = joint
    while node >= 0:
        chain.append(node)
        node = clip.joints[node].parent
    translations = local_translations(clip)
    position = np.zeros((clip.n_frames, 3))
    for node in reversed(chain):
        parent = clip.joints[node].parent
        step = (
            translations[:, node]
            if parent < 0
            else apply_rotation(source_globals[:, parent], translations[:, node])
        )
        position = position + step
    return position
