"""The per-joint rotations that read a foreign rig's joint frames as the model rig's.

For each canonical joint ``k`` a constant rotation ``C_k`` maps the source joint's
frame onto the model's: ``G_model = G_source @ C_k`` (global rotations). Joints are
solved parents first.

- The bone fixes ``C_k`` up to a twist: ``C_k u = w`` for the direction to the next
  joint (``u`` in the model rig's frame, from its offsets; ``w`` in the source's, from
  the clip's frames, which also covers joints reached through twist or extra spine bones).
- The twist comes, in this order, from: the left/right direction of the joints below
  (hips: the thighs, chest: the shoulders; exact, from the rig); the bone leading in
  (knee, ankle) or the bones further down (elbow, knee, ankle), averaged over the clip,
  since those hinges bend one way on every rig; else from matching the clip's mean twist
  to the training data's (``mean_pose`` in the model's ``skeleton.json``). End joints
  (head, hands, toes), which have no bone in the model rig, are matched to that mean
  pose about the bone leading to them.
- The hips are the exception: their lateral axis comes from the thighs, their forward
  tilt from the data's mean pose, because rigs place the first spine joint differently.
- A canonical joint the source lacks takes its parent's correction times the model's
  mean local rotation, so it rests where the training data usually had it.

The directions a rig gives exactly (bones, the left/right axis) are trusted first; the
clip's motion only decides what the rig leaves open, which is why the joints whose pose
varies most between clips (forearms, hands) are the least certain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.features import canonical_pose
from engine.media.motion.kinematics import rest_leg_length, rest_positions
from engine.media.motion.rotations import (
    axis_angle_matrix,
    matrix_to_quat,
    nearest_rotation,
    rotation_between,
    yaw_matrix,
)
from engine.media.motion.skeleton import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    SkeletonMap,
    map_skeleton,
)

FloatArray = npt.NDArray[np.float64]
RestVectors = dict[int, dict[int, FloatArray]]
"""Canonical joint -> {mapped canonical descendant: rest-pose vector in the joint's frame}."""


@dataclass(frozen=True)
class ModelRig:
    """What alignment needs of the model: its rig (cm) and facts about its training data."""

    vectors: RestVectors
    leg_cm: float  # thigh + shin length of the model rig
    mean_pose: FloatArray  # [22, 3, 3] heading-relative global rotations, Root = identity
    foot_floor_cm: float  # the training clips' :func:`foot_floor`

    @staticmethod
    def from_rig(rig: Clip, mean_pose: npt.ArrayLike, foot_floor_cm: float) -> ModelRig:
        smap = map_skeleton(rig)
        return ModelRig(
            rest_vectors(rig, smap),
            rest_leg_length(rig, smap),
            np.asarray(mean_pose, dtype=np.float64),
            float(foot_floor_cm),
        )


SAME_RIG_DEGREES = 1.0
"""Every shared bone within this many degrees of the model rig's: the clip is on our rig."""
MAX_MEAN_FRAMES = 512
"""Clip statistics are taken over at most this many evenly spaced frames (speed)."""
TWIST_WEIGHT_POWER = 4.0
"""Frames far from the data's mean pose say little about twist; weight = closeness ** this."""

_N_JOINTS = len(CANONICAL_JOINTS)
_MIN_SIDE = 0.25
"""A secondary direction fixes a bone's twist only this far off the bone (sine, ~15 deg);
a nearly straight knee or elbow says little about which way it bends."""
_BENDS_BELOW = frozenset({"UpperArm", "UpperLeg", "LowerLeg"})
"""Bones whose twist the hinges below them fix: where the forearm, shin or foot points."""
_BENDS_ABOVE = frozenset({"LowerLeg", "Foot"})
"""Bones whose twist the hinge above them fixes: where the thigh or shin points on average.
(The forearm is left to the twist fit: its pronation moves the upper arm's apparent
direction as much as the elbow does, so the elbow tells no more than the fit.)"""
_MIN_LENGTH = 1e-6
_TILT_FROM_DATA = frozenset({"Hips"})
"""Joints whose forward tilt comes from the data's mean pose, not from a bone: rigs put the
first spine joint anywhere from the pelvis centre to the waist, so the hips-to-spine bone
leans differently on each. The left/right thigh direction still fixes the lateral axis
exactly."""


def _children(joint: int) -> list[int]:
    return [c for c, parent in enumerate(CANONICAL_PARENTS) if parent == joint]


def _descendants(joint: int) -> list[int]:
    """Every canonical joint below ``joint``, nearest first (breadth first)."""
    found, frontier = [], _children(joint)
    while frontier:
        found.extend(frontier)
        frontier = [c for parent in frontier for c in _children(parent)]
    return found


def _nearest_mapped(joint: int, smap: SkeletonMap) -> list[int]:
    """The mapped canonical joints right below ``joint`` (looking through unmapped ones).

    Only these are used: a child's offset is written in its parent's frame, so its
    direction relates two rigs' frames exactly; a grandchild's rest position also
    depends on how the joint in between is framed.
    """
    found = []
    for child in _children(joint):
        if smap.sources[child] is not None:
            found.append(child)
        else:
            found.extend(_nearest_mapped(child, smap))
    return found


def _chain(joint: int) -> list[int]:
    """The joints along the main line below ``joint``: the spine/neck for the trunk, the
    limb for a limb joint (a joint's first child in canonical order is its main child)."""
    chain = []
    while children := _children(joint):
        joint = children[0]
        chain.append(joint)
    return chain


def _pairs(joint: int) -> list[tuple[int, int]]:
    """Left/right descendant pairs of ``joint``, nearest first (the body's lateral axis)."""
    names = [CANONICAL_JOINTS[d] for d in _descendants(joint)]
    return [
        (CANONICAL_JOINTS.index(n), CANONICAL_JOINTS.index(n[:-2] + "_R"))
        for n in names
        if n.endswith("_L") and n[:-2] + "_R" in names
    ]


def rest_vectors(clip: Clip, smap: SkeletonMap) -> RestVectors:
    """Rest-pose vectors from each mapped canonical joint to its nearest mapped descendants.

    At rest (every rotation zero) BVH joint frames are world-aligned, so the vector
    between rest positions is also the vector in the joint's own frame. A joint whose
    only canonical child the rig lacks uses its end site, if it has one, for that child.
    """
    rest = rest_positions(clip)
    vectors: RestVectors = {}
    for joint, source in enumerate(smap.sources):
        if source is None or joint == 0:  # Root is not a model joint
            continue
        found = {d: rest[smap.sources[d]] - rest[source] for d in _nearest_mapped(joint, smap)}
        children = _children(joint)
        end_site = clip.joints[source].end_site
        if not found and len(children) == 1 and end_site is not None:
            found[children[0]] = np.asarray(end_site, dtype=np.float64)
        vectors[joint] = {d: v for d, v in found.items() if np.linalg.norm(v) > _MIN_LENGTH}
    return vectors


def _unit(vector: FloatArray) -> FloatArray:
    return vector / np.linalg.norm(vector)


def same_rig(a: RestVectors, b: RestVectors) -> bool:
    """Whether two rigs' shared bones point the same way (within :data:`SAME_RIG_DEGREES`)."""
    limit = np.cos(np.deg2rad(SAME_RIG_DEGREES))
    shared = 0
    for joint, targets in a.items():
        for target, vector in targets.items():
            other = b.get(joint, {}).get(target)
            if other is None:
                continue
            if float(_unit(vector) @ _unit(other)) < limit:
                return False
            shared += 1
    return shared > 0


def sampled_frames(clip: Clip) -> Clip:
    """At most :data:`MAX_MEAN_FRAMES` evenly spaced frames (the statistics need no more)."""
    stride = max(1, int(np.ceil(clip.n_frames / MAX_MEAN_FRAMES)))
    return clip.with_motion(clip.motion[::stride])


def rig_alignment(clip: Clip, smap: SkeletonMap, model: ModelRig) -> FloatArray | None:
    """Per-joint corrections ``[22, 3, 3]`` for ``clip``'s rig, or None on the model's rig.

    Joints are solved parents first, so each joint's rotations can be read relative to
    its parent already expressed in the model's frame.
    """
    rest = rest_vectors(clip, smap)
    if same_rig(rest, model.vectors):
        return None
    positions, globals_, heading = canonical_pose(sampled_frames(clip), smap)
    clues = _Clues(
        model,
        _moving_vectors(rest, positions, globals_, smap),
        _mean_locals(model.mean_pose),
        _source_locals(globals_),
    )
    corrections = np.broadcast_to(np.eye(3), (_N_JOINTS, 3, 3)).copy()
    for joint in range(1, _N_JOINTS):  # Root is not a model joint
        parent = CANONICAL_PARENTS[joint]
        if smap.sources[joint] is None:
            corrections[joint] = corrections[parent] @ clues.model_locals[joint]
        elif parent == 0:  # Hips: relative to the heading, as the features hold it
            relative = np.swapaxes(yaw_matrix(heading), -1, -2) @ globals_[:, joint]
            corrections[joint] = _joint_correction(joint, relative, clues)
        else:
            parent_global = globals_[:, parent] @ corrections[parent]
            relative = np.swapaxes(parent_global, -1, -2) @ globals_[:, joint]
            corrections[joint] = _joint_correction(joint, relative, clues)
    return corrections


@dataclass(frozen=True)
class _Clues:
    """What both rigs say about their joints: bone vectors and mean relative rotations."""

    model: ModelRig
    source_vectors: RestVectors  # averaged over the clip's frames
    model_locals: FloatArray  # [22, 3, 3] training data's mean rotation relative to the parent
    source_locals: FloatArray  # [F, 22, 3, 3] the clip's rotations relative to the parent


def _joint_correction(joint: int, relative: FloatArray, clues: _Clues) -> FloatArray:
    """``C`` of one joint; ``relative`` ``[F, 3, 3]`` is the clip's rotation of the joint
    relative to its parent already read in the model's frame (Hips: to the heading)."""
    ours = clues.model.vectors.get(joint, {})
    theirs = clues.source_vectors.get(joint, {})
    model_local = clues.model_locals[joint]
    base = CANONICAL_JOINTS[joint].removesuffix("_L").removesuffix("_R")
    lateral = _lateral(joint, ours, theirs)
    if base in _TILT_FROM_DATA and lateral is not None:
        return _twist_fit(*lateral, relative, model_local)
    secondaries = [lateral]
    if base in _BENDS_ABOVE:
        secondaries.append(_parent_bone(joint, clues))
    if base in _BENDS_BELOW:
        secondaries.extend(_bones_below(joint, clues))
    # an end joint (head, hand, toes) has no bone of its own in the model rig: the bone
    # leading to it, seen from its frame, stands in for one
    primary = _primary(joint, ours, theirs) or _parent_bone(joint, clues)
    found = [pair for pair in secondaries if pair is not None]
    return _correction(primary, found, relative, model_local)


def _moving_vectors(
    rest: RestVectors, positions: FloatArray, globals_: FloatArray, smap: SkeletonMap
) -> RestVectors:
    """The same vectors averaged over the clip's frames, each in its joint's moving frame.

    A direct child's offset is the same in every frame; a descendant reached through
    joints the model does not have (twist bones, a second spine joint) is not, and rigs
    whose zero pose is no real pose (the CC rig's bones all point up) put those joints at
    odd rest angles. Vectors from an end site (no position) keep their rest value.
    """
    moving: RestVectors = {}
    for joint, targets in rest.items():
        here = positions[:, smap.sources[joint]]
        inverse = np.swapaxes(globals_[:, joint], -1, -2)
        moving[joint] = {}
        for target, vector in targets.items():
            source = smap.sources[target]
            if source is None:
                moving[joint][target] = vector
                continue
            step = (inverse @ (positions[:, source] - here)[..., None])[..., 0].mean(axis=0)
            moving[joint][target] = step if np.linalg.norm(step) > _MIN_LENGTH else vector
    return moving


def _source_locals(globals_: FloatArray) -> FloatArray:
    """Each canonical joint's rotation relative to its canonical parent ``[F, 22, 3, 3]``."""
    locals_ = globals_.copy()
    for joint in range(1, _N_JOINTS):
        parent = globals_[:, CANONICAL_PARENTS[joint]]
        locals_[:, joint] = np.swapaxes(parent, -1, -2) @ globals_[:, joint]
    return locals_


def _bones_below(joint: int, clues: _Clues) -> list[DirectionPair]:
    """The bones further down the limb (forearm; shin, then foot), on average, in this
    joint's frame: elbows, knees and ankles bend one way, so where the next bones point
    fixes this bone's twist, whatever the clip does."""
    found: list[DirectionPair] = []
    ours_turn, theirs_turn = np.eye(3), np.eye(3)[None]
    here = joint
    for below in _chain(joint)[:2]:
        if CANONICAL_PARENTS[below] != here or below not in clues.source_vectors:
            break
        ours_turn = ours_turn @ clues.model_locals[below]
        theirs_turn = theirs_turn @ clues.source_locals[:, below]
        bone = _primary(below, clues.model.vectors.get(below, {}), clues.source_vectors[below])
        if bone is not None:
            ours = ours_turn @ bone[0]
            theirs = (theirs_turn @ bone[1]).mean(axis=0)
            found.append((_unit(ours), _unit(theirs)))
        here = below
    return found


def _parent_bone(joint: int, clues: _Clues) -> DirectionPair | None:
    """The bone leading to this joint (the shin for a foot), on average, in its own frame."""
    parent = CANONICAL_PARENTS[joint]
    ours = clues.model.vectors.get(parent, {}).get(joint)
    theirs = clues.source_vectors.get(parent, {}).get(joint)
    if parent <= 0 or ours is None or theirs is None:
        return None
    model_side = clues.model_locals[joint].T @ ours
    source_side = (np.swapaxes(clues.source_locals[:, joint], -1, -2) @ theirs).mean(axis=0)
    return _unit(model_side), _unit(source_side)


def _mean_locals(mean_pose: FloatArray) -> FloatArray:
    """Each joint's mean rotation relative to its parent (Hips: relative to the heading)."""
    locals_ = mean_pose.copy()
    for joint in range(2, _N_JOINTS):
        locals_[joint] = mean_pose[CANONICAL_PARENTS[joint]].T @ mean_pose[joint]
    return locals_


DirectionPair = tuple[FloatArray, FloatArray]
"""The same direction in the model rig's frame and in the source rig's frame (unit vectors)."""


def _primary(
    joint: int, ours: Mapping[int, FloatArray], theirs: Mapping[int, FloatArray]
) -> DirectionPair | None:
    """The bone direction: towards the nearest joint of the main line both rigs have."""
    for target in _chain(joint):
        if target in ours and target in theirs:
            return _unit(ours[target]), _unit(theirs[target])
    return None


def _lateral(
    joint: int, ours: Mapping[int, FloatArray], theirs: Mapping[int, FloatArray]
) -> DirectionPair | None:
    """Left minus right of the nearest left/right pair both rigs have apart (hips, shoulders)."""
    for left, right in _pairs(joint):
        if all(side in ours and side in theirs for side in (left, right)):
            a, b = ours[left] - ours[right], theirs[left] - theirs[right]
            if min(np.linalg.norm(a), np.linalg.norm(b)) > _MIN_LENGTH:
                return _unit(a), _unit(b)
    return None


def _correction(
    primary: DirectionPair | None,
    secondaries: Sequence[DirectionPair],
    relative: FloatArray,
    model_local: FloatArray,
) -> FloatArray:
    """``C`` with ``C u = w`` for the bone direction; its twist from the first secondary
    direction not along the bone, else from the motion; with no bone, all from the motion.

    ``relative`` ``[F, 3, 3]`` are the clip's rotations of this joint relative to its
    (already corrected) parent; ``model_local`` is the training data's mean of the same.
    """
    axis = primary
    for secondary in secondaries:
        if axis is None:
            axis = secondary
            continue
        frame = _triad(*axis, *secondary)
        if frame is not None:
            return frame
    if axis is not None:
        return _twist_fit(*axis, relative, model_local)
    return nearest_rotation(relative.sum(axis=0).T @ model_local)


def _triad(
    model_primary: FloatArray,
    source_primary: FloatArray,
    model_lateral: FloatArray,
    source_lateral: FloatArray,
) -> FloatArray | None:
    """The rotation taking the model's (primary, lateral) frame onto the source's (TRIAD):
    the primary direction exactly, the lateral one as closely as the primary allows."""

    def frame(primary: FloatArray, lateral: FloatArray) -> FloatArray | None:
        side = lateral - (lateral @ primary) * primary
        if np.linalg.norm(side) < _MIN_SIDE:  # nearly along the bone: no twist information
            return None
        side = _unit(side)
        return np.stack([primary, side, np.cross(primary, side)], axis=-1)

    ours, theirs = frame(model_primary, model_lateral), frame(source_primary, source_lateral)
    if ours is None or theirs is None:
        return None
    return np.asarray(theirs @ ours.T, dtype=np.float64)


def _twist_fit(
    model_direction: FloatArray,
    source_direction: FloatArray,
    relative: FloatArray,
    model_local: FloatArray,
) -> FloatArray:
    """The ``C`` taking the model's bone axis onto the source's, twisted like the training data.

    ``C = R(w, t) B`` with ``B u = w``. Reading the clip with ``C`` turns each relative
    rotation ``L B`` into ``L B R(u, t)``: its twist about the bone grows by ``t``. ``t``
    cancels the clip's mean twist away from the data's mean ``M`` (of ``M^T L B``).
    """
    base = rotation_between(model_direction, source_direction)
    # Measured from the data's mean, the twist stays well defined even where the joint
    # sits a half turn from its parent's frame (Bandai's thighs hang opposite the hips' X).
    clip_twist = _mean_twist(model_local.T @ relative @ base, model_direction)
    return axis_angle_matrix(source_direction, -clip_twist) @ base


def _mean_twist(rotations: FloatArray, axis: FloatArray) -> float:
    """Circular mean of the twist angle about ``axis`` (swing-twist split, ``R = S T``).

    Frames near a half-turn swing, where the split is undefined, carry little weight.
    """
    quat = matrix_to_quat(rotations)
    along = quat[:, 1:] @ axis
    weight = np.hypot(quat[:, 0], along) ** TWIST_WEIGHT_POWER
    twist = 2.0 * np.arctan2(along, quat[:, 0])
    return float(np.arctan2((weight * np.sin(twist)).sum(), (weight * np.cos(twist)).sum()))
