"""Motion clips: forward kinematics, model features, range in-betweening, compositing, metrics.

A :class:`~engine.media.motion.bvh.Clip` holds raw BVH channel values; everything here
reads them through the same conventions (``engine.media.motion.rotations``: column
vectors, intrinsic Euler in channel order, degrees). Y is up.

The model-facing features (:class:`MotionFeatures`) are expressed in the
canonical skeleton (``engine.media.motion.skeleton``), so a model trained on one rig can
be fed from any rig the alias table maps. Editing never rewrites what the user
kept: :func:`composite` and :func:`interpolate_range` copy every value outside the
edited frames and body part bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.bvh import Clip, Joint
from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    euler_to_matrix,
    geodesic_angle_deg,
    matrix_slerp,
    matrix_to_6d,
    matrix_to_euler,
    sixd_to_matrix,
    unwrap_degrees,
    yaw_matrix,
)
from engine.media.motion.skeleton import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    PARTS,
    SkeletonMap,
    map_skeleton,
)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

__all__ = [
    "Clip", "Joint", "MotionError", "MotionFeatures", "MotionMetrics",
    "FEATURE_JOINTS", "FEATURE_SIZE",
    "local_rotations", "local_translations", "forward_kinematics", "global_positions",
    "rest_positions", "rest_leg_length", "guess_cm_per_unit", "canonical_pose", "clip_features",
    "features_to_clip", "feature_globals", "foot_contacts", "foot_joints",
    "interpolate_range", "composite", "motion_metrics", "foot_skating_cm",
]  # fmt: skip


class MotionError(ValueError):
    """An edit that cannot be done on this clip (bad range, part, or skeleton); one-line message."""


# ----------------------------------------------------------------------------- kinematics


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
            positions[:, joint] = positions[:, parent] + _apply(
                globals_[:, parent], translations[:, joint]
            )
    return positions, globals_


def _apply(rotation: FloatArray, vector: FloatArray) -> FloatArray:
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


# ----------------------------------------------------------------------------- features

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

    The contact defaults (8 cm, 80 cm/s) gave 55-60 % contact per foot on Bandai
    and CMU walks and 100 % on ReActIdle idles; ``cm_per_unit`` is guessed from
    the rig when not given. ``alignment`` ``[22, 3, 3]`` turns each canonical joint's
    frame into the model rig's (``engine.media.motion.retarget``); None keeps the clip's own.
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


def _rotate_2d(xz: FloatArray, yaw: FloatArray) -> FloatArray:
    """Rotate (x, z) vectors about +Y by ``yaw`` (the same rotation :func:`yaw_matrix` makes)."""
    cos, sin = np.cos(yaw), np.sin(yaw)
    return np.stack([cos * xz[:, 0] + sin * xz[:, 1], -sin * xz[:, 0] + cos * xz[:, 1]], axis=-1)


def _root_velocity(root_xz: FloatArray, heading: FloatArray) -> FloatArray:
    velocity = np.zeros_like(root_xz)
    velocity[1:] = _rotate_2d(np.diff(root_xz, axis=0), -heading[:-1])
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
        slow = _speed(feet) / frame_time < speed_cm_s
        contacts[:, column] = np.any(low & slow, axis=1)
    return contacts


def _speed(points: FloatArray, axes: Sequence[int] = (0, 1, 2)) -> FloatArray:
    """Per-frame displacement length ``[F, ...]``; frame 0 uses the step to frame 1."""
    if points.shape[0] < 2:
        return np.zeros(points.shape[:-1])
    step = np.linalg.norm(np.diff(points[..., list(axes)], axis=0), axis=-1)
    return np.concatenate([step[:1], step], axis=0)


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
    steps[1:] = _rotate_2d(velocity[1:], heading[:-1])
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
    translation = _apply(np.swapaxes(frame, -1, -2), hips_position - at_zero)
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
            else _apply(source_globals[:, parent], translations[:, node])
        )
        position = position + step
    return position


# ----------------------------------------------------------------------------- editing


def _check_range(clip: Clip, first: int, last: int, parts: str, min_frames: int) -> None:
    if parts not in PARTS:
        raise MotionError(f"unknown body part {parts!r}; expected one of {', '.join(PARTS)}")
    if clip.n_frames < min_frames:
        raise MotionError(
            f"the clip has {clip.n_frames} frames; at least {min_frames} are needed as context"
        )
    if first > last:
        raise MotionError(f"empty range: first frame {first} is after last frame {last}")
    if first < 0 or last >= clip.n_frames:
        raise MotionError(
            f"range {first}..{last} lies outside the clip's frames 0..{clip.n_frames - 1}"
        )


def _part_joints(clip: Clip, parts: str, skeleton_map: SkeletonMap | None) -> IndexArray:
    if parts == "full":
        return np.arange(len(clip.joints), dtype=np.intp)
    return (skeleton_map or map_skeleton(clip)).part_joints(parts)


def interpolate_range(
    clip: Clip,
    first: int,
    last: int,
    parts: str = "full",
    skeleton_map: SkeletonMap | None = None,
    *,
    min_frames: int = 2,
) -> Clip:
    """Baseline in-betweening: regenerate frames ``first..last`` (inclusive) of one body part.

    Between the kept frames ``first - 1`` and ``last + 1``, position channels are
    interpolated linearly (so the root moves in a straight line) and each joint's
    rotation by shortest-arc SLERP. A range touching a clip end holds the nearest
    kept pose. Channels of other parts and every frame outside the range are
    copied unchanged.
    """
    _check_range(clip, first, last, parts, min_frames)
    before, after = first - 1, last + 1
    if before < 0 and after >= clip.n_frames:
        raise MotionError("the range covers the whole clip: no kept frame to interpolate from")
    motion = clip.motion.copy()
    frames = np.arange(first, last + 1)
    for joint in _part_joints(clip, parts, skeleton_map):
        _interpolate_joint(clip, int(joint), frames, before, after, motion)
    return clip.with_motion(motion)


def _interpolate_joint(
    clip: Clip, joint: int, frames: IndexArray, before: int, after: int, motion: FloatArray
) -> None:
    columns = clip.channel_columns(joint)
    if columns.size == 0:
        return
    if before < 0 or after >= clip.n_frames:
        held = after if before < 0 else before
        motion[np.ix_(frames, columns)] = clip.motion[held, columns]
        return
    weight = (frames - before) / (after - before)
    start, end = clip.motion[before], clip.motion[after]
    positions = clip.channel_columns(joint, "position")
    motion[np.ix_(frames, positions)] = start[positions] + weight[:, None] * (
        end[positions] - start[positions]
    )
    rotations = clip.channel_columns(joint, "rotation")
    order = clip.joints[joint].rotation_order
    if order in TAIT_BRYAN_ORDERS:
        a, b = (euler_to_matrix(row[rotations], order) for row in (start, end))
        between = matrix_slerp(a, b, weight)
        motion[np.ix_(frames, rotations)] = _continuous_euler(between, order, start[rotations])
    elif rotations.size:
        # one axis (or an odd channel list): lerping the angles follows the rotation path
        motion[np.ix_(frames, rotations)] = start[rotations] + weight[:, None] * (
            end[rotations] - start[rotations]
        )


def _continuous_euler(matrices: FloatArray, order: str, previous: FloatArray) -> FloatArray:
    """Euler angles for ``matrices`` [n, 3, 3], unwrapped to continue from the ``previous`` row."""
    angles = matrix_to_euler(matrices, order)
    return unwrap_degrees(np.concatenate([previous[None, :], angles]), axis=0)[1:]


def _nearest_equivalent(angles: FloatArray, reference: FloatArray) -> FloatArray:
    """Per-channel angles shifted by multiples of 360 to lie closest to ``reference``."""
    return reference + (angles - reference + 180.0) % 360.0 - 180.0


def _ease_weights(
    count: int, blend_frames: int, before: bool, after: bool
) -> tuple[FloatArray, FloatArray]:
    """How much of the start and end boundary offsets frame ``k`` of the range carries.

    Smoothstep from 1 at the boundary frame itself (``k = 0`` or ``count - 1``) down to
    0 after ``blend_frames`` frames: the boundary frame continues the kept pose exactly.
    A side without a kept neighbour (``before``/``after`` False at a clip end) gets 0.
    In a range shorter than two blends the weights are scaled to sum to at most 1, so
    both neighbours pull (a one-frame range lands halfway) instead of adding up.
    """
    k = np.arange(count, dtype=np.float64)
    span = max(blend_frames, 1)
    w_start = (1.0 - _smoothstep(np.clip(k / span, 0.0, 1.0))) * before
    w_end = (1.0 - _smoothstep(np.clip((count - 1 - k) / span, 0.0, 1.0))) * after
    total = np.maximum(w_start + w_end, 1.0)
    return w_start / total, w_end / total


def _smoothstep(x: FloatArray) -> FloatArray:
    return x * x * (3.0 - 2.0 * x)


def composite(
    original: Clip,
    generated: Clip,
    first: int,
    last: int,
    parts: str = "full",
    blend_frames: int = 4,
    skeleton_map: SkeletonMap | None = None,
    *,
    min_frames: int = 2,
) -> Clip:
    """Put ``generated``'s frames ``first..last`` of one body part into ``original``.

    Only frames ``first..last`` of ``generated`` are read (it has the original's
    length, or exactly the range's). Every other value is copied from ``original``
    bit for bit, including the other parts' channels inside the range.

    Boundaries are blended inside the range so there is no pop. At each kept
    neighbour (``first - 1``, ``last + 1``) the offset between the kept value and the
    generated path extrapolated one frame outward is measured (a rotation for
    rotation channels, a vector for position channels, i.e. the root trajectory);
    that offset is applied in full at the boundary frame and eased to nothing over
    ``blend_frames`` frames (smoothstep weights, rotations by SLERP from the offset
    toward identity). So the edit starts exactly where the kept motion leaves off,
    keeps the generated velocities (no stall of the root), and a generated clip
    that already joins smoothly, such as :func:`interpolate_range`'s, is unchanged.
    ``blend_frames=0`` is a hard cut.
    """
    _check_range(original, first, last, parts, min_frames)
    gen_motion = _generated_rows(original, generated, first, last)
    if blend_frames < 0:
        raise MotionError(f"blend_frames must be 0 or more, got {blend_frames}")
    motion = original.motion.copy()
    rows = np.arange(first, last + 1)
    w_start, w_end = _ease_weights(
        len(rows), blend_frames, before=first > 0, after=last < original.n_frames - 1
    )
    for joint in _part_joints(original, parts, skeleton_map):
        columns = original.channel_columns(int(joint))
        motion[np.ix_(rows, columns)] = gen_motion[:, columns]
        if blend_frames:
            _blend_joint(original, int(joint), gen_motion, first, last, (w_start, w_end), motion)
    return original.with_motion(motion)


def _generated_rows(original: Clip, generated: Clip, first: int, last: int) -> FloatArray:
    if generated.joints != original.joints:
        raise MotionError("the generated clip's skeleton differs from the original's")
    count = last - first + 1
    if generated.n_frames == original.n_frames:
        return generated.motion[first : last + 1]
    if generated.n_frames == count:
        return generated.motion
    raise MotionError(
        f"the generated clip has {generated.n_frames} frames; "
        f"expected {original.n_frames} or {count}"
    )


def _blend_joint(
    original: Clip, joint: int, gen: FloatArray, first: int, last: int,
    weights: tuple[FloatArray, FloatArray], motion: FloatArray,
) -> None:  # fmt: skip
    """Ease one joint's boundary offsets into ``motion`` (rows where a weight is non-zero)."""
    w_start, w_end = weights
    active = (w_start > 0) | (w_end > 0)
    if not active.any():
        return
    rows = np.arange(first, last + 1)[active]
    kept_before = original.motion[max(first - 1, 0)]
    kept_after = original.motion[min(last + 1, original.n_frames - 1)]
    positions = original.channel_columns(joint, "position")
    rotations = original.channel_columns(joint, "rotation")
    order = original.joints[joint].rotation_order
    linear = positions if order in TAIT_BRYAN_ORDERS else np.concatenate([positions, rotations])
    if linear.size:  # vectors, and angles of one-axis or odd channel lists
        values = gen[:, linear]
        start_gap = kept_before[linear] - _extrapolate(values, at_start=True)
        end_gap = kept_after[linear] - _extrapolate(values, at_start=False)
        shifted = values + w_start[:, None] * start_gap + w_end[:, None] * end_gap
        motion[np.ix_(rows, linear)] = shifted[active]
    if rotations.size and order in TAIT_BRYAN_ORDERS:
        local = euler_to_matrix(gen[:, rotations], order)
        start_offset = euler_to_matrix(kept_before[rotations], order) @ _transpose(
            _extrapolate_rotation(local, at_start=True)
        )
        end_offset = euler_to_matrix(kept_after[rotations], order) @ _transpose(
            _extrapolate_rotation(local, at_start=False)
        )
        eye = np.eye(3)
        blended = matrix_slerp(eye, start_offset, w_start[active]) @ local[active]
        blended = matrix_slerp(eye, end_offset, w_end[active]) @ blended
        angles = matrix_to_euler(blended, order)
        motion[np.ix_(rows, rotations)] = _nearest_equivalent(angles, gen[active][:, rotations])


def _transpose(matrix: FloatArray) -> FloatArray:
    return np.swapaxes(matrix, -1, -2)


def _extrapolate(values: FloatArray, at_start: bool) -> FloatArray:
    """The generated path continued one frame past its start (or end), at its own velocity."""
    if len(values) < 2:
        edge = values[0] if at_start else values[-1]
    else:
        edge = 2 * values[0] - values[1] if at_start else 2 * values[-1] - values[-2]
    return np.asarray(edge, dtype=np.float64)


def _extrapolate_rotation(local: FloatArray, at_start: bool) -> FloatArray:
    """The generated rotation one frame past its start (or end), at its own angular velocity."""
    if len(local) < 2:
        return np.asarray(local[0] if at_start else local[-1], dtype=np.float64)
    if at_start:
        step = local[1] @ _transpose(local[0])  # local[1] = step @ local[0]
        return np.asarray(_transpose(step) @ local[0], dtype=np.float64)
    step = local[-1] @ _transpose(local[-2])
    return np.asarray(step @ local[-1], dtype=np.float64)


# ----------------------------------------------------------------------------- metrics


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


def foot_joints(smap: SkeletonMap) -> list[int]:
    """Source indices of the mapped foot and toe joints."""
    names = _FOOT_JOINTS["L"] + _FOOT_JOINTS["R"]
    return [j for j in (smap.source_of(n) for n in names) if j is not None]


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
    speed = _speed(feet, axes=(0, 2))[rows] * scale
    contact = (feet[rows, :, 1] - floors) * scale < height_cm
    return float(speed[contact].mean()) if contact.any() else 0.0
